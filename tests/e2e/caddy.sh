#!/usr/bin/env bash
# End-to-end: curl -> Caddy 2.11 (forward_auth) -> gatehouse HTTP forward-auth frontend
# (--http-gateway caddy) -> echo upstream, with deploy/caddy/Caddyfile.
# Usage: tests/e2e/caddy.sh   (E2E_SKIP_BUILD=1: no install, no cargo). Last line:
# "N passed, N failed"; non-zero exit on failure.
set -euo pipefail
GW_NAME=caddy GW_PROXY_PORT=18401 GW_ECHO_PORT=18402 GW_GRPC_PORT=18403
GW_GATEHOUSE_ADMIN_PORT=18404 GW_HTTP_PORT=18405 GW_SPOE_PORT=18406
GW_WANT_401_BODY=1   # forward_auth copies the auth answer back on deny
GW_WANT_DOWN=502     # the auth upstream is unreachable -> 502
GW_HTTP_GATEWAY=caddy
# shellcheck source=tests/e2e/gateway-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/gateway-lib.sh"

gw_start_proxy() {
  command -v caddy >/dev/null || { stack_log "caddy not found (scripts/install-peers.sh)"; return 1; }
  gw_render deploy/caddy/Caddyfile Caddyfile
  stack_spawn caddy "${STACK_DIR}/caddy.log" caddy run --config "${STACK_DIR}/Caddyfile" --adapter caddyfile
  stack_wait caddy "caddy on ${GW_URL}" stack_port_open "${GW_PROXY_PORT}"
}
gw_main
