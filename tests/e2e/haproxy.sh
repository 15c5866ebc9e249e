#!/usr/bin/env bash
# End-to-end: curl -> HAProxy 2.6 (Debian, SPOE filter) -> gatehouse SPOE agent ->
# echo upstream, with deploy/haproxy/{haproxy.cfg,spoe-gatehouse.conf}.
# Usage: tests/e2e/haproxy.sh   (E2E_SKIP_BUILD=1: no install, no cargo). Last line:
# "N passed, N failed"; non-zero exit on failure.
set -euo pipefail
GW_NAME=haproxy GW_PROXY_PORT=18201 GW_ECHO_PORT=18202 GW_GRPC_PORT=18203
GW_GATEHOUSE_ADMIN_PORT=18204 GW_HTTP_PORT=18205 GW_SPOE_PORT=18206
GW_WANT_401_BODY=1
GW_WANT_DOWN=500     # agent unreachable -> txn.auth.error -> 500 (haproxy.cfg)
# shellcheck source=tests/e2e/gateway-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/gateway-lib.sh"

gw_start_proxy() {
  command -v haproxy >/dev/null || { stack_log "haproxy not found (scripts/install-peers.sh)"; return 1; }
  gw_render deploy/haproxy/haproxy.cfg haproxy.cfg
  gw_render deploy/haproxy/spoe-gatehouse.conf spoe-gatehouse.conf
  sed -i "s#${repo_root}/deploy/haproxy/spoe-gatehouse.conf#${STACK_DIR}/spoe-gatehouse.conf#" "${STACK_DIR}/haproxy.cfg"
  stack_spawn haproxy "${STACK_DIR}/haproxy.log" haproxy -f "${STACK_DIR}/haproxy.cfg" -db
  stack_wait haproxy "haproxy on ${GW_URL}" stack_port_open "${GW_PROXY_PORT}"
}
gw_main
