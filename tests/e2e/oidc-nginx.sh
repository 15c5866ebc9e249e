#!/usr/bin/env bash
# OIDC login end to end through a real nginx 1.22 auth_request (the shipped
# deploy/nginx/nginx-oidc.conf): the plugin's 401 + Location becomes the 302 through
# error_page, the callback and logout are proxied to Gatehouse; headless Chromium signs
# in at the real oidc-provider and runs the same checks as through Envoy
# (tests/e2e/oidc/browser.mjs).
#
# Usage: tests/e2e/oidc-nginx.sh   (E2E_SKIP_BUILD=1: use target/ as built)
set -euo pipefail
OIDC_NAME=oidc-nginx
OIDC_PORTS=19430
# auth_request passes only 401/403: the login redirect comes as 401 + Location.
OIDC_LOGIN_STATUS=401
# Access tokens live 65 s, refreshed 60 s before expiry: the refreshed cookie must
# cross the shipped config on an allowed response.
OIDC_ACCESS_TTL=65
# shellcheck source=tests/e2e/oidc/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/oidc/lib.sh"

start_nginx() {
  local dir="${STACK_DIR}/nginx"
  mkdir -p "${dir}/tmp"
  sed -e "s/\b10001\b/${OIDC_GW_PORT}/g; s/\b8084\b/${OIDC_HTTP_PORT}/g; s/\b8081\b/${STACK_ECHO_PORT}/g" \
    deploy/nginx/nginx-oidc.conf >"${dir}/nginx.conf"
  cp deploy/nginx/gatehouse-check-headers.conf "${dir}/"
  stack_spawn nginx "${STACK_DIR}/nginx.log" /usr/sbin/nginx -p "${dir}/" -c "${dir}/nginx.conf"
  stack_wait nginx "nginx listener" stack_port_open "${OIDC_GW_PORT}"
}

if ! oidc_start_backends || ! start_nginx; then
  fail "the OIDC stack started (provider, gatehouse, nginx, upstream)"
  oidc_dump_logs
  tail -n 20 "${STACK_DIR}/nginx/nginx-error.log" 2>/dev/null || true
  summary
  exit 1
fi

oidc_check_login_redirect nginx
OIDC_REFRESH_WAIT=6 oidc_browser "${E2E_URL}"
if ((failed)); then oidc_dump_logs; tail -n 20 "${STACK_DIR}/nginx/nginx-error.log" 2>/dev/null || true; fi
summary
