#!/usr/bin/env bash
# OIDC login end to end through a real HAProxy 2.6 with the Gatehouse SPOE agent (the
# shipped deploy/haproxy/haproxy-oidc.cfg + spoe-gatehouse-oidc.conf): the agent's
# variables become the 302, Location and every Set-Cookie (one variable per copy);
# headless Chromium signs in at the real oidc-provider and runs the same checks as through
# Envoy (tests/e2e/oidc/browser.mjs), the login cookie's removal on the callback included.
#
# Usage: tests/e2e/oidc-haproxy.sh   (E2E_SKIP_BUILD=1: use target/ as built)
set -euo pipefail
OIDC_NAME=oidc-haproxy
OIDC_PORTS=19440
# Access tokens live 65 s, refreshed 60 s before expiry: the refreshed cookie must
# cross the shipped config on an allowed response.
OIDC_ACCESS_TTL=65
# shellcheck source=tests/e2e/oidc/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/oidc/lib.sh"

start_haproxy() {
  sed -e "s/\b10002\b/${OIDC_GW_PORT}/g; s/\b8085\b/${OIDC_SPOE_PORT}/g; s/\b8081\b/${STACK_ECHO_PORT}/g" \
    -e "s#deploy/haproxy/spoe-gatehouse-oidc.conf#${STACK_DIR}/spoe-gatehouse-oidc.conf#" \
    deploy/haproxy/haproxy-oidc.cfg >"${STACK_DIR}/haproxy.cfg"
  cp deploy/haproxy/spoe-gatehouse-oidc.conf "${STACK_DIR}/"
  stack_spawn haproxy "${STACK_DIR}/haproxy.log" /usr/sbin/haproxy -f "${STACK_DIR}/haproxy.cfg" -db
  stack_wait haproxy "haproxy listener" stack_port_open "${OIDC_GW_PORT}"
}

if ! oidc_start_backends || ! start_haproxy; then
  fail "the OIDC stack started (provider, gatehouse, HAProxy, upstream)"
  oidc_dump_logs
  summary
  exit 1
fi

oidc_check_login_redirect HAProxy

OIDC_REFRESH_WAIT=6 oidc_browser "${E2E_URL}"
if ((failed)); then oidc_dump_logs; fi
summary
