#!/usr/bin/env bash
# End-to-end: curl -> Traefik 3.7 (ForwardAuth) -> gatehouse HTTP forward-auth frontend
# (--http-gateway traefik) -> echo upstream, with deploy/traefik/{traefik,dynamic}.yml.
# Usage: tests/e2e/traefik.sh   (E2E_SKIP_BUILD=1: no install, no cargo). Last line:
# "N passed, N failed"; non-zero exit on failure.
set -euo pipefail
GW_NAME=traefik GW_PROXY_PORT=18501 GW_ECHO_PORT=18502 GW_GRPC_PORT=18503
GW_GATEHOUSE_ADMIN_PORT=18504 GW_HTTP_PORT=18505 GW_SPOE_PORT=18506
GW_WANT_401_BODY=1   # ForwardAuth passes the auth answer back on deny
GW_WANT_DOWN=500     # the auth server is unreachable -> 500
GW_HTTP_GATEWAY=traefik
# shellcheck source=tests/e2e/gateway-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/gateway-lib.sh"

# The port opens before the file provider's routes are loaded (404 until then):
# ready when the always-deny route answers with Gatehouse's 403.
traefik_routes_loaded() {
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "${GW_URL}/deny/ready")" == 403 ]]
}

gw_start_proxy() {
  command -v traefik >/dev/null || { stack_log "traefik not found (scripts/install-peers.sh)"; return 1; }
  gw_render deploy/traefik/traefik.yml traefik.yml
  gw_render deploy/traefik/dynamic.yml dynamic.yml
  stack_spawn traefik "${STACK_DIR}/traefik.log" traefik --configFile="${STACK_DIR}/traefik.yml"
  stack_wait traefik "traefik routes on ${GW_URL}" traefik_routes_loaded
}
gw_main
