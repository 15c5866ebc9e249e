#!/usr/bin/env bash
# End-to-end: curl -> Envoy 1.40 (ext_authz HTTP mode) -> gatehouse HTTP forward-auth
# frontend -> echo upstream, with deploy/envoy/envoy-http.yaml.
# Usage: tests/e2e/envoy-http.sh   (E2E_SKIP_BUILD=1: no install, no cargo). Last line:
# "N passed, N failed"; non-zero exit on failure.
set -euo pipefail
GW_NAME=envoy-http GW_PROXY_PORT=18301 GW_ECHO_PORT=18302 GW_GRPC_PORT=18303
GW_GATEHOUSE_ADMIN_PORT=18304 GW_HTTP_PORT=18305 GW_SPOE_PORT=18306 GW_ADMIN_PORT=18307
GW_WANT_401_BODY=1
GW_WANT_DOWN=403     # failure_mode_allow: false -> 403
GW_HTTP_GATEWAY=envoy
# shellcheck source=tests/e2e/gateway-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/gateway-lib.sh"

gw_start_proxy() {
  command -v envoy >/dev/null || { stack_log "envoy not found (scripts/install-peers.sh)"; return 1; }
  gw_render deploy/envoy/envoy-http.yaml envoy-http.yaml
  stack_spawn envoy "${STACK_DIR}/envoy-http.log" envoy -c "${STACK_DIR}/envoy-http.yaml" \
    --base-id "${GW_PROXY_PORT}" --concurrency 1 --log-level error
  stack_wait envoy "envoy on ${GW_URL}" stack_port_open "${GW_PROXY_PORT}"
}
gw_main
