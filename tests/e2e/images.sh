#!/usr/bin/env bash
# End-to-end test of the container images (scripts/images.sh builds them with buildah),
# run with podman the way deploy/kubernetes/deployment.yaml runs them:
#
#   init steps   gatehouse-plugins (bundled), gatehouse-plugin-template (a third-party
#                plugin image from plugins/template/Dockerfile) and a libversioned.so
#                plugin image fill one volume, as the non-root user, read-only root;
#   host         gatehouse image, that volume read-only at /auth-plugins, the auth
#                configs as a directory at /etc/gatehouse (ConfigMap layout: ..data
#                symlink), /tmp a volume of its own, --read-only root, user 10001, all
#                capabilities dropped, no new privileges, host network;
#   peers        grpcurl straight at the host and a real Envoy 1.40 (host network) in
#                front of the echo upstream (scripts/stack.sh);
#
# then: gatehouse-verify from the host image against a plugin image's files (accepts it;
# refuses an incompatible library with exit 3), a plugin image build refused by
# gatehouse-verify (no image made), and a replaced plugin image whose new library the
# running host picks up (decision header, /config, gatehouse_reloads_total).
#
# Usage: tests/e2e/images.sh
#   E2E_SKIP_BUILD=1   no install-peers, no cargo (artifacts and fixtures must exist)
#   IMAGES_*           see scripts/images.sh (images are built, or reused when cached)
# Ports (unique among the e2e scripts): Envoy 18600, Envoy admin 18601, echo 18602,
# gatehouse gRPC 18603, gatehouse admin 18604. Needs root (podman).
# The last line of output is "N passed, N failed"; the exit status is non-zero on any
# failure.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "${repo_root}"

export STACK_DIR="${STACK_DIR:-${repo_root}/target/e2e-images}"
export STACK_ENVOY_PORT=18600 STACK_ENVOY_ADMIN_PORT=18601 STACK_ECHO_PORT=18602
export STACK_GATEHOUSE_PORT=18603 STACK_NO_TRAP=1
admin_port=18604
tag="${IMAGES_TAG:-ci}"
host_image="localhost/gatehouse:${tag}"
plugins_image="localhost/gatehouse-plugins:${tag}"
template_image="localhost/gatehouse-plugin-template:${tag}"
versioned_image="localhost/gatehouse-e2e-versioned"
refused_image="localhost/gatehouse-e2e-refused:${tag}"

if [[ -z "${E2E_SKIP_BUILD:-}" ]]; then
  scripts/install-peers.sh >&2
  scripts/build-fixtures.sh >&2
else
  export IMAGES_SKIP_CARGO=1
fi
scripts/images.sh >&2
export "$(scripts/images.sh env)"

# shellcheck source=scripts/stack.sh
source scripts/stack.sh
# shellcheck source=tests/e2e/checks-lib.sh
source tests/e2e/checks-lib.sh
E2E_URL="${STACK_ENVOY_URL}"
work="${STACK_DIR}/cases"
rm -rf "${STACK_DIR}"
mkdir -p "${work}"

run_id="$$"
host_name="gatehouse-e2e-${run_id}"
plugins_volume="gatehouse-e2e-plugins-${run_id}"
tmp_volume="gatehouse-e2e-tmp-${run_id}"
config_dir="${STACK_DIR}/configmap"
fixtures="${repo_root}/target/fixtures"

pm() { podman --runtime runc "$@"; }

cleanup() {
  stack_stop 2>/dev/null || true
  pm rm -f "${host_name}" >/dev/null 2>&1 || true
  pm volume rm -f "${plugins_volume}" "${tmp_volume}" >/dev/null 2>&1 || true
  podman rmi -f "${versioned_image}:1" "${versioned_image}:2" "${refused_image}" \
    >/dev/null 2>&1 || true
  podman image prune -f >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'cleanup; trap - INT TERM; exit 130' INT TERM

# contained ARGS...: podman run with the containment of deployment.yaml's containers.
contained() {
  pm run --rm --network host --user 10001:10001 --read-only --read-only-tmpfs=false \
    --cap-drop ALL --security-opt no-new-privileges "$@"
}

# init_step IMAGE: one init container filling the plugins volume.
init_step() {
  contained -v "${plugins_volume}:/auth-plugins" "$1" >>"${STACK_DIR}/init.log" 2>&1
}

# versioned_image N FIXTURE VERSION: a plugin image (plugins/template/Dockerfile) whose
# libversioned.so is the fixture built against interface VERSION.
build_versioned_image() {
  local dir="${STACK_DIR}/versioned-$1"
  mkdir -p "${dir}"
  cp "${fixtures}/$2" "${dir}/libversioned.so"
  sed "s/INTERFACE_VERSION/$3/" tests/e2e/images-versioned.yaml >"${dir}/verify.yaml"
  scripts/images.sh plugin "$4" "${dir}/verify.yaml" "${dir}/libversioned.so" \
    >"${dir}/build.log" 2>&1
}

# The auth configs as Kubernetes mounts a ConfigMap: a timestamped directory, the
# ..data symlink to it, and the key as a symlink through ..data.
write_configmap() {
  mkdir -p "${config_dir}/..2026_12_01_00_00_00.0001"
  cat deploy/demo/auth-configs.yaml tests/e2e/images-configs.yaml \
    >"${config_dir}/..2026_12_01_00_00_00.0001/auth-configs.yaml"
  ln -sfn ..2026_12_01_00_00_00.0001 "${config_dir}/..data"
  ln -sfn ..data/auth-configs.yaml "${config_dir}/auth-configs.yaml"
  chmod -R a+rX "${config_dir}"
}

# stack.sh's plugin step, as init containers into the volume.
stack_prepare_plugins() {
  pm volume create "${plugins_volume}" >/dev/null &&
    pm volume create "${tmp_volume}" >/dev/null &&
    init_step "${plugins_image}" &&
    init_step "${template_image}" &&
    init_step "${versioned_image}:1"
}

# stack.sh's gatehouse, as the host container (env and mounts of deployment.yaml).
stack_start_gatehouse() {
  stack_spawn gatehouse "${STACK_DIR}/gatehouse.log" \
    pm run --rm --name "${host_name}" --network host --user 10001:10001 \
    --read-only --read-only-tmpfs=false --cap-drop ALL --security-opt no-new-privileges \
    -v "${plugins_volume}:/auth-plugins:ro" \
    -v "${config_dir}:/etc/gatehouse:ro" \
    -v "${tmp_volume}:/tmp" \
    -e GATEHOUSE_CONFIG=/etc/gatehouse/auth-configs.yaml \
    -e GATEHOUSE_PLUGIN_DIR=/auth-plugins \
    -e GATEHOUSE_LISTEN="${STACK_GATEHOUSE_ADDR}" \
    -e GATEHOUSE_ADMIN_LISTEN="127.0.0.1:${admin_port}" \
    -e GATEHOUSE_LOG_FORMAT=json -e GATEHOUSE_CHAIN_DEADLINE_MS=180 \
    -e GATEHOUSE_WATCH_INTERVAL_MS=500 -e TMPDIR=/tmp \
    "${host_image}"
}

# check NAME CONFIG_ID HEADERS_JSON: grpcurl Check; writes $work/NAME.json.
check() {
  local request
  request="$(printf '{"attributes": {"request": {"http": {"method": "GET", "path": "/img", "headers": %s}}, "contextExtensions": {"config_id": "%s"}}}' "$3" "$2")"
  grpcurl -plaintext -max-time 5 -d "${request}" "${STACK_GATEHOUSE_ADDR}" \
    envoy.service.auth.v3.Authorization/Check >"${work}/$1.json" 2>&1 || true
}

# decision NAME [HEADER]: "allow HEADER=value" or "deny http=STATUS body=BODY".
decision() {
  python3 - "${work}/$1.json" "${2:-x-gatehouse-team}" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"unparsable: {e}")
    sys.exit()
if "okResponse" in r or ("deniedResponse" not in r and r.get("status", {}).get("code", 0) == 0):
    headers = {h["header"]["key"].lower(): h["header"].get("value", h["header"].get("rawValue", ""))
               for h in r.get("okResponse", {}).get("headers", [])}
    print(f"allow {sys.argv[2]}={headers.get(sys.argv[2], '')}")
else:
    d = r.get("deniedResponse", {})
    print(f"deny http={d.get('status', {}).get('code', '')} body={d.get('body', '')}")
PY
}

expect_decision() { # CASE NAME CONFIG_ID HEADERS WANT [HEADER]
  check "$2" "$3" "$4"
  expect_eq "$1" "decision" "$(decision "$2" "${6:-}")" "$5"
}

# library_interface FILE: the interfaces /config reports for the libraries loaded from
# FILE (a replaced library stays mapped next to its successor).
library_interface() {
  curl -fsS --max-time 2 "http://127.0.0.1:${admin_port}/config" | python3 -c '
import json, sys
libs = json.load(sys.stdin)["libraries"]
print(" ".join(sorted(str(l["interface"]) for l in libs if l["file"].endswith("/" + sys.argv[1]))))' "$1"
}

reloads_ok() {
  curl -fsS --max-time 2 "http://127.0.0.1:${admin_port}/metrics" |
    sed -n 's/^gatehouse_reloads_total{result="ok"} //p'
}

# --- images that only this test needs -------------------------------------------------
c="plugin image build (plugins/template/Dockerfile)"
if build_versioned_image 1 libversioned_v1_1.so 1.1.0 "${versioned_image}:1" &&
  build_versioned_image 2 libversioned_v1_2.so 1.2.0 "${versioned_image}:2"; then
  pass "${c}: ${versioned_image}:1 (interface 1.1) and :2 (1.2) verified and built"
else
  fail "${c}: versioned images not built" "$(tail -n 5 "${STACK_DIR}"/versioned-*/build.log)"
fi

c="plugin image build refuses an incompatible plugin"
if build_versioned_image refused libversioned_v2_0.so 2.0.0 "${refused_image}"; then
  fail "${c}: a library built against interface 2.0 became ${refused_image}"
elif podman image exists "${refused_image}"; then
  fail "${c}: the build failed but ${refused_image} exists"
elif grep -q "gatehouse-verify: FAILED (exit 3.*interface 2.0.0" "${STACK_DIR}/versioned-refused/build.log"; then
  pass "${c}: gatehouse-verify failed the build (exit 3, names interface 2.0.0), no image"
else
  fail "${c}: the build failed without naming the version" \
    "$(tail -n 5 "${STACK_DIR}/versioned-refused/build.log")"
fi

# --- the pod: init steps, then the host, Envoy and the echo upstream ------------------
write_configmap
if ! stack_start; then
  fail "the stack started (init steps, host container, Envoy, echo upstream)" \
    "$(tail -n 20 "${STACK_DIR}/init.log" 2>/dev/null)"
  summary
  exit 1
fi
pass "init steps filled the volume; the host container is SERVING on gRPC health"

c="plugins volume after the init steps"
volume_dir="$(pm volume inspect --format '{{.Mountpoint}}' "${plugins_volume}")"
listing="$(cd "${volume_dir}" && ls -A | tr '\n' ' ')"
for so in librequired_header.so libset_headers.so libjwt.so libplugin_template.so libversioned.so; do
  if [[ -f "${volume_dir}/${so}" ]]; then pass "${c}: ${so}"; else fail "${c}: no ${so}" "${listing}"; fi
done
expect_eq "${c}" "no temporary files left" "$(cd "${volume_dir}" && ls -A | grep -c '^\.' || true)" 0
expect_eq "${c}" "owner (the non-root copy)" "$(stat -c %u "${volume_dir}/libset_headers.so")" 10001

c="host container containment"
in_host() { pm exec "${host_name}" "$@" >/dev/null 2>&1; }
expect_eq "${c}" "uid of the host process" "$(pm exec "${host_name}" id -u 2>&1)" 10001
if in_host touch /probe; then fail "${c}: the root filesystem is writable"; else pass "${c}: root filesystem read-only"; fi
if in_host touch /auth-plugins/probe; then fail "${c}: /auth-plugins is writable"; else pass "${c}: /auth-plugins read-only"; fi
if in_host touch /etc/gatehouse/probe; then fail "${c}: /etc/gatehouse is writable"; else pass "${c}: /etc/gatehouse read-only"; fi
if in_host touch /tmp/probe; then pass "${c}: /tmp (its own volume) writable"; else fail "${c}: /tmp is not writable"; fi
expect_eq "${c}" "capabilities (CapEff)" \
  "$(pm exec "${host_name}" sh -c 'sed -n "s/^CapEff:\t//p" /proc/1/status' 2>&1)" 0000000000000000

# A release image is built as the Dockerfile's builder stage builds it: profile-guided
# (scripts/build-host.sh --pgo); a debug one is not. --version and the running host's
# gatehouse_build_info name the training profile.
c="host image build (IMAGES_PROFILE=${IMAGES_PROFILE:-debug})"
version="$(contained "${host_image}" --version 2>&1)"
build_info="$(curl -fsS --max-time 2 "http://127.0.0.1:${admin_port}/metrics" | grep '^gatehouse_build_info{' || true)"
if [[ "${IMAGES_PROFILE:-debug}" == release ]]; then
  if [[ "${version}" =~ \(profile-guided\ build,\ profile\ ([0-9a-f]{12})\)$ ]]; then
    pass "${c}: --version '${version}'"
    expect_eq "${c}" "gatehouse_build_info" "${build_info}" \
      "gatehouse_build_info{pgo_profile=\"${BASH_REMATCH[1]}\",version=\"0.1.0\"} 1"
  else
    fail "${c}: --version does not name a PGO profile" "${version}"
  fi
  # Its instrumented twin is removed once trained (disk: CI once ran out).
  if [[ -e "${CARGO_TARGET_DIR:-target}/pgo-generate" ]]; then
    fail "${c}: the instrumented build ${CARGO_TARGET_DIR:-target}/pgo-generate was left behind"
  else
    pass "${c}: instrumented build removed after training"
  fi
else
  expect_eq "${c}" "--version" "${version}" "gatehouse 0.1.0"
  expect_eq "${c}" "gatehouse_build_info" "${build_info}" \
    'gatehouse_build_info{pgo_profile="",version="0.1.0"} 1'
fi

# --- decisions: grpcurl straight at the host --------------------------------------------
expect_decision "grpcurl gatehouse.demo (x-team: platform)" g-demo gatehouse.demo \
  '{"x-team": "platform"}' "allow x-gatehouse-team=verified"
expect_decision "grpcurl gatehouse.demo (no x-team)" g-demo-401 gatehouse.demo '{}' \
  "deny http=Unauthorized body=missing header x-team"
expect_decision "grpcurl always-deny" g-deny always-deny '{}' \
  "deny http=Forbidden body=denied by policy"
expect_decision "grpcurl template plugin image (x-team: security)" g-tpl template \
  '{"x-team": "security"}' "allow x-allow-list=passed" x-allow-list
expect_decision "grpcurl template plugin image (x-team: sales)" g-tpl-403 template \
  '{"x-team": "sales"}' "deny http=Forbidden body=x-team is missing or not allowed"
expect_decision "grpcurl versioned plugin image :1" g-v1 versioned '{}' \
  "allow x-interface-version=1.1.0" x-interface-version

# --- decisions: through a real Envoy on the host network ---------------------------------
c="Envoy /demo (x-team: platform)"
http e-demo "/demo/img-${run_id}" -H 'x-team: platform'
expect_eq "${c}" "status" "${status}" 200 e-demo
expect_eq "${c}" "upstream x-gatehouse-checked" "$(upstream_header e-demo x-gatehouse-checked)" true
c="Envoy /demo (no x-team)"
http e-401 "/demo/img-401-${run_id}"
expect_eq "${c}" "status" "${status}" 401 e-401
expect_eq "${c}" "body" "$(cat "${work}/e-401.body")" "missing header x-team"
if reached_upstream "/demo/img-401-${run_id}"; then fail "${c}: the upstream saw it"; else pass "${c}: the upstream never saw it"; fi
c="Envoy /deny"
http e-deny "/deny/img-${run_id}"
expect_eq "${c}" "status" "${status}" 403 e-deny

# --- gatehouse-verify from the host image against a plugin image's files -----------------
extract() { # IMAGE DIR: what the plugin image's command copies, into DIR
  mkdir -p "$2" && chown 10001:10001 "$2"
  contained -v "$2:/auth-plugins" "$1" >/dev/null 2>&1
}
host_verify() { # DIR MANIFEST: gatehouse-verify of the host image; sets verify_rc
  verify_rc=0
  contained --entrypoint gatehouse-verify --tmpfs /tmp \
    -v "$1:/plugins:ro" -v "$2:/manifest.yaml:ro" \
    "${host_image}" --plugin-dir /plugins --manifest /manifest.yaml \
    >"${work}/verify.out" 2>&1 || verify_rc=$?
}
c="gatehouse-verify (host image) on the template plugin image's files"
extract "${template_image}" "${STACK_DIR}/extracted-template"
host_verify "${STACK_DIR}/extracted-template" "${repo_root}/plugins/template/verify.yaml"
expect_eq "${c}" "exit" "${verify_rc}" 0
if grep -q "3 request cases passed" "${work}/verify.out"; then pass "${c}: 3 request cases passed"; else fail "${c}: cases" "$(tail -n 3 "${work}/verify.out")"; fi
c="gatehouse-verify (host image) on an incompatible library"
mkdir -p "${STACK_DIR}/incompatible"
cp "${fixtures}/libversioned_v2_0.so" "${STACK_DIR}/incompatible/libversioned.so"
host_verify "${STACK_DIR}/incompatible" "${STACK_DIR}/versioned-refused/verify.yaml"
expect_eq "${c}" "exit (3: could not load)" "${verify_rc}" 3

# --- replace a plugin image: the running host picks up the new library ---------------------
c="replaced plugin image (versioned :1 -> :2)"
expect_eq "${c}" "/config interface before" "$(library_interface libversioned.so)" 1.1.0
reloads_before="$(reloads_ok)"
init_step "${versioned_image}:2"
got=""
for _ in $(seq 1 60); do
  check g-v2 versioned '{}'
  got="$(decision g-v2 x-interface-version)"
  [[ "${got}" == "allow x-interface-version=1.2.0" ]] && break
  sleep 0.25
done
expect_eq "${c}" "decision after the reload" "${got}" "allow x-interface-version=1.2.0"
expect_eq "${c}" "/config interfaces after (old, new)" "$(library_interface libversioned.so)" \
  "1.1.0 1.2.0"
if (($(reloads_ok) > ${reloads_before:-0})); then
  pass "${c}: gatehouse_reloads_total{result=\"ok\"} grew (${reloads_before} -> $(reloads_ok))"
else
  fail "${c}: no successful reload counted (${reloads_before} -> $(reloads_ok))"
fi
expect_decision "${c}" g-demo-after gatehouse.demo '{"x-team": "platform"}' \
  "allow x-gatehouse-team=verified"

if ((failed)); then stack_dump_logs; tail -n 20 "${STACK_DIR}/init.log" >&2 || true; fi
summary
