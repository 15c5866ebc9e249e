#!/usr/bin/env bash
# Builds Gatehouse's container images without Docker and without an image registry,
# from the repository's Dockerfile, with buildah (chroot isolation):
#
#   1. base images made here and tagged with the names the FROM lines use (skipped
#      when present): debian:bookworm-slim (debootstrap --variant=minbase bookworm) and
#      busybox:1.36 (Debian's busybox-static and its applet links);
#   2. localhost/gatehouse:TAG          Dockerfile --target host
#      localhost/gatehouse-plugins:TAG  Dockerfile --target plugins (verified in the build)
#      both with --build-arg ARTIFACTS=prebuilt: the binaries come from target/PROFILE/,
#      staged as dist/bin and dist/plugins in a build context of their own, because the
#      Dockerfile's Rust builder stage needs an image no registry here can give;
#   3. localhost/gatehouse-plugin-template:TAG  plugins/template/Dockerfile (a
#      third-party plugin image) with the template plugin, verified by the host image.
#
# Usage:
#   scripts/images.sh [all]          steps 1-3
#   scripts/images.sh plugin IMAGE MANIFEST LIB.so...
#                                    a plugin image from plugins/template/Dockerfile
#                                    with these prebuilt libraries (fails, and makes no
#                                    image, when the host image's gatehouse-verify
#                                    refuses them)
#   scripts/images.sh clean          removes the images of TAG and the base images
#   scripts/images.sh default-build  the Dockerfile's default path, as a user with Docker
#                                    runs it (builder stage, release, from a clean export
#                                    of HEAD), with a local stand-in for rust:1-bookworm
#                                    (this machine's stable toolchain on the Debian base):
#                                    slow (a release build from scratch), not run by CI
#   scripts/images.sh env            prints the CONTAINERS_CONF line for podman/buildah
# Environment:
#   IMAGES_PROFILE  cargo profile the artifacts come from: debug (default: what
#                   `cargo build --workspace --all-targets` already built, stripped of
#                   DWARF) or release (scripts/build-host.sh and scripts/build-plugins.sh,
#                   as the Dockerfile's builder stage; scripts/test.sh uses this)
#   IMAGES_TAG      tag of the built images (ci)
#   IMAGES_DIR      work directory: containers.conf, build contexts (target/images)
#   IMAGES_SKIP_CARGO=1  never run cargo (the artifacts must exist)
# Needs root (buildah/podman storage in /var/lib/containers) and the Debian packages
# buildah, podman, runc, debootstrap, busybox-static (scripts/install-peers.sh).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
profile="${IMAGES_PROFILE:-debug}"
tag="${IMAGES_TAG:-ci}"
work="${IMAGES_DIR:-${repo_root}/target/images}"
host_image="localhost/gatehouse:${tag}"
plugins_image="localhost/gatehouse-plugins:${tag}"
template_image="localhost/gatehouse-plugin-template:${tag}"
# The names the FROM lines use, as Docker would resolve them.
debian_base="docker.io/library/debian:bookworm-slim"
busybox_base="docker.io/library/busybox:1.36"

log() { printf '[images] %s\n' "$*" >&2; }

# The bundled plugins, as scripts/build-plugins.sh picks them: "package lib.so" for each
# workspace package under plugins/ except the template, with its cdylib target.
bundled_plugins() {
  cargo metadata --no-deps --format-version 1 | python3 -c '
import json, os, sys
root = os.path.realpath("plugins")
for p in json.load(sys.stdin)["packages"]:
    d = os.path.dirname(os.path.realpath(p["manifest_path"]))
    if os.path.dirname(d) != root or os.path.basename(d) == "template":
        continue
    for t in p["targets"]:
        if "cdylib" in t["kind"]:
            print(p["name"], "lib" + t["name"].replace("-", "_") + ".so")'
}
plugin_rows=""
load_plugin_rows() {
  [[ -n "${plugin_rows}" ]] || plugin_rows="$(bundled_plugins)"
  [[ -n "${plugin_rows}" ]] || { log "no plugin crates under plugins/"; exit 1; }
}

# Podman's default ulimits cannot be set in this sandbox and crun needs cgroups v2:
# no default ulimits, runc, host networking.
containers_conf() {
  mkdir -p "${work}"
  local conf="${work}/containers.conf"
  cat >"${conf}.new" <<'EOF'
[containers]
default_ulimits = []
netns = "host"

[engine]
runtime = "runc"
EOF
  mv -f "${conf}.new" "${conf}"
  export CONTAINERS_CONF="${conf}"
}

image_exists() { podman image exists "$1"; }

# import_rootfs DIR IMAGE: a directory tree as a one-layer image.
import_rootfs() {
  tar --numeric-owner -C "$1" -c . | podman import - "$2" >/dev/null
  log "imported $2"
}

base_debian() {
  image_exists "${debian_base}" && return 0
  local root="${work}/rootfs-debian"
  rm -rf "${root}"
  log "debootstrap --variant=minbase bookworm (about 30 s)"
  if ! debootstrap --variant=minbase bookworm "${root}" http://deb.debian.org/debian \
    >"${work}/debootstrap.log" 2>&1 || ! import_rootfs "${root}" "${debian_base}"; then
    tail -n 20 "${work}/debootstrap.log" >&2
    rm -rf "${root}"
    return 1
  fi
  rm -rf "${root}"
}

base_busybox() {
  image_exists "${busybox_base}" && return 0
  local root="${work}/rootfs-busybox" applet
  rm -rf "${root}"
  mkdir -p "${root}/bin" "${root}/tmp"
  chmod 1777 "${root}/tmp"
  install -m 0755 /bin/busybox "${root}/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [[ "${applet}" == busybox ]] || ln -s busybox "${root}/bin/${applet}"
  done
  import_rootfs "${root}" "${busybox_base}"
  rm -rf "${root}"
}

# bud CONTEXT ARGS...: buildah bud as CI runs it (layers cached between runs).
bud() {
  local context="$1"
  shift
  buildah bud --isolation chroot --layers --force-rm --pull=never --quiet "$@" "${context}"
}

artifacts() {
  if [[ -n "${IMAGES_SKIP_CARGO:-}" ]]; then return 0; fi
  if [[ "${profile}" == release ]]; then
    DIST_DIR="${work}/release-dist" scripts/build-host.sh --pgo --locked >&2
    DIST_DIR="${work}/release-dist" scripts/build-plugins.sh --locked >&2
    cargo build --release --locked -p plugin-template >&2
  else
    local packages=(-p gatehouse -p gatehouse-verify -p plugin-template) package
    load_plugin_rows
    while read -r package _; do packages+=(-p "${package}"); done <<<"${plugin_rows}"
    cargo build "${packages[@]}" >&2
  fi
}

# link_or_copy FILE... DIR: debug artifacts without their DWARF sections (a debug
# gatehouse is 140 MB, 35 MB stripped; symbols and .dynsym stay); release ones as built,
# hard-linked when possible.
link_or_copy() {
  local dir="${*: -1}" f
  for f in "${@:1:$#-1}"; do
    if [[ "${profile}" == debug ]]; then
      strip --strip-debug -o "${dir}/${f##*/}" "${f}"
    else
      cp -l "${f}" "${dir}/" 2>/dev/null || cp "${f}" "${dir}/"
    fi
  done
}

# The build context of the repository Dockerfile with ARTIFACTS=prebuilt: exactly the
# files its stages COPY, in $ctx.
stage_host_context() {
  local from="target/${profile}" so
  ctx="${work}/context"
  [[ "${profile}" == release ]] && from="${work}/release-dist"
  rm -rf "${ctx}"
  mkdir -p "${ctx}/dist/bin" "${ctx}/dist/plugins" "${ctx}/deploy/demo" "${ctx}/verify"
  local bin_dir="${from}" lib_dir="${from}"
  [[ "${profile}" == release ]] && bin_dir="${from}/bin" lib_dir="${from}/plugins"
  link_or_copy "${bin_dir}/gatehouse" "${bin_dir}/gatehouse-verify" "${ctx}/dist/bin/"
  load_plugin_rows
  while read -r _ so; do link_or_copy "${lib_dir}/${so}" "${ctx}/dist/plugins/"; done \
    <<<"${plugin_rows}"
  cp -r verify/ci "${ctx}/verify/ci"
  cp deploy/demo/auth-configs.yaml "${ctx}/deploy/demo/"
  cp Dockerfile "${ctx}/Dockerfile"
}

build_host_and_plugins() {
  local ctx
  stage_host_context
  log "building ${host_image} (Dockerfile --target host, prebuilt ${profile} artifacts)"
  bud "${ctx}" -f "${ctx}/Dockerfile" --build-arg ARTIFACTS=prebuilt --target host \
    -t "${host_image}" >/dev/null
  log "building ${plugins_image} (Dockerfile --target plugins, verified by the host image)"
  bud "${ctx}" -f "${ctx}/Dockerfile" --build-arg ARTIFACTS=prebuilt --target plugins \
    -t "${plugins_image}" >/dev/null
  rm -rf "${ctx}"
}

# plugin_image IMAGE MANIFEST LIB.so...: plugins/template/Dockerfile, prebuilt libraries.
plugin_image() {
  local image="$1" manifest="$2" name ctx
  shift 2
  name="$(tr -c 'a-zA-Z0-9\n' - <<<"${image##*/}")"
  ctx="${work}/plugin-context-${name}"
  rm -rf "${ctx}"
  mkdir -p "${ctx}/dist/plugins"
  link_or_copy "$@" "${ctx}/dist/plugins/"
  cp "${manifest}" "${ctx}/verify.yaml"
  cp plugins/template/Dockerfile "${ctx}/Dockerfile"
  log "building ${image} (plugins/template/Dockerfile, verified by ${host_image})"
  local rc=0
  bud "${ctx}" -f "${ctx}/Dockerfile" --build-arg ARTIFACTS=prebuilt \
    --build-arg GATEHOUSE_IMAGE="${host_image}" -t "${image}" >&2 || rc=$?
  rm -rf "${ctx}"
  return "${rc}"
}

build_all() {
  local t0="${SECONDS}"
  artifacts
  base_debian
  base_busybox
  build_host_and_plugins
  plugin_image "${template_image}" plugins/template/verify.yaml \
    "target/${profile}/libplugin_template.so"
  # Layers an earlier build left behind (new artifacts make new layers each run).
  podman image prune -f >/dev/null
  podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' \
    | grep -E "gatehouse|debian|busybox" >&2 || true
  log "done in $((SECONDS - t0)) s"
}

# rust:1-bookworm stand-in: the Debian base, a C toolchain and curl (as in the real
# image), this machine's rustc/cargo (with its llvm-tools, when installed: the PGO
# build's llvm-profdata) and CA bundle.
base_rust() {
  local image="docker.io/library/rust:1-bookworm" toolchain ctr
  image_exists "${image}" && return 0
  toolchain="$(rustc --print sysroot)"
  ctr="$(buildah from --pull=never "${debian_base}")"
  buildah run --isolation chroot "${ctr}" sh -c 'apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ca-certificates gcc libc6-dev make git curl >/dev/null && rm -rf /var/lib/apt/lists/*'
  buildah copy "${ctr}" "${toolchain}" /usr/local/rust >/dev/null
  # This machine's CA bundle, so cargo reaches crates.io the way the machine does.
  buildah copy "${ctr}" /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt \
    >/dev/null
  buildah config --env PATH=/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    "${ctr}"
  buildah commit --quiet "${ctr}" "${image}" >/dev/null
  buildah rm "${ctr}" >/dev/null
  log "made ${image} from ${toolchain}"
}

# The default path of the Dockerfile: `docker build --target host|plugins .` on a clone.
default_build() {
  local src="${work}/default-src" t0
  base_debian
  base_busybox
  base_rust
  rm -rf "${src}"
  mkdir -p "${src}"
  git archive HEAD | tar -x -C "${src}"
  t0="${SECONDS}"
  # buildah 1.28 resolves the stages a target needs before it applies ARG defaults, so
  # it skips `builder` unless the argument is given; Docker (BuildKit) needs no
  # --build-arg here.
  bud "${src}" --build-arg ARTIFACTS=builder --target host -t "localhost/gatehouse:default" \
    >/dev/null
  log "default --target host: $((SECONDS - t0)) s (builder stage: release build from scratch)"
  t0="${SECONDS}"
  bud "${src}" --build-arg ARTIFACTS=builder --target plugins \
    -t "localhost/gatehouse-plugins:default" >/dev/null
  log "default --target plugins: $((SECONDS - t0)) s (builder cached, plugins verified)"
}

clean() {
  local image
  for image in "${template_image}" "${plugins_image}" "${host_image}" "${busybox_base}" \
    "${debian_base}"; do
    if image_exists "${image}"; then podman rmi -f "${image}" >/dev/null && log "removed ${image}"; fi
  done
  buildah rm --all >/dev/null 2>&1 || true
  podman image prune -f >/dev/null 2>&1 || true
}

containers_conf
# Build contexts are only needed while building (a failed build leaves none behind).
trap 'rm -rf "${work}/context" "${work}"/plugin-context-*' EXIT
case "${1:-all}" in
  all) build_all ;;
  plugin)
    shift
    (($# >= 3)) || { log "usage: scripts/images.sh plugin IMAGE MANIFEST LIB.so..."; exit 2; }
    plugin_image "$@"
    ;;
  clean) clean ;;
  default-build) default_build ;;
  env) printf 'CONTAINERS_CONF=%s\n' "${CONTAINERS_CONF}" ;;
  *)
    log "unknown command $1 (all, plugin, clean, default-build, env)"
    exit 2
    ;;
esac
