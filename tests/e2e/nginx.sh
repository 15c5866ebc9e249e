#!/usr/bin/env bash
# End-to-end: curl -> nginx (Debian nginx-light, auth_request) -> gatehouse HTTP
# forward-auth frontend -> echo upstream, with deploy/nginx/nginx.conf.
# Usage: tests/e2e/nginx.sh   (E2E_SKIP_BUILD=1: no install, no cargo). Last line:
# "N passed, N failed"; non-zero exit on failure.
set -euo pipefail
GW_NAME=nginx GW_PROXY_PORT=18101 GW_ECHO_PORT=18102 GW_GRPC_PORT=18103
GW_GATEHOUSE_ADMIN_PORT=18104 GW_HTTP_PORT=18105 GW_SPOE_PORT=18106
GW_WANT_401_BODY=0   # auth_request cannot carry the plugin's body
GW_WANT_DOWN=500     # auth subrequest failed -> 500
GW_HTTP_GATEWAY=nginx
# shellcheck source=tests/e2e/gateway-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/gateway-lib.sh"

gw_start_proxy() {
  command -v nginx >/dev/null || { stack_log "nginx not found (scripts/install-peers.sh)"; return 1; }
  mkdir -p "${STACK_DIR}/nginx/tmp"
  gw_render deploy/nginx/nginx.conf nginx.conf
  stack_spawn nginx "${STACK_DIR}/nginx.log" nginx -p "${STACK_DIR}/nginx/" -c "${STACK_DIR}/nginx.conf"
  stack_wait nginx "nginx on ${GW_URL}" stack_port_open "${GW_PROXY_PORT}"
}
gw_main
