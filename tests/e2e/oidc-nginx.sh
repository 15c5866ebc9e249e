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
OIDC_GW_PORT=19430
OIDC_PROVIDER_PORT=19431
OIDC_ECHO_PORT=19432
OIDC_GRPC_PORT=19433
OIDC_HTTP_PORT=19434
OIDC_SPOE_PORT=19435
OIDC_ADMIN_PORT=19436
OIDC_LOGIN_STATUS=401
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

http login /app/curl -H 'accept: text/html'
expect_eq "browser without a session" status "${status}" 302 login
location="$(sed -n 's/^location: *//Ip' "${work}/login.headers" | tr -d '\r')"
if [[ "${location}" == "${OIDC_ISSUER}/auth?"* ]]; then pass "error_page turns the plugin's 401 + Location into a 302 to the provider"; else fail "location: ${location}"; fi
if grep -qi '^set-cookie: gh_session_login=v1\.' "${work}/login.headers"; then pass "the login state cookie crosses auth_request"; else fail "no login state cookie"; fi
http api /app/curl -H 'accept: application/json'
expect_eq "API client without a session" status "${status}" 401 api
if grep -qi '^location:' "${work}/api.headers"; then fail "an API client got a Location"; else pass "an API client gets no redirect"; fi
if reached_upstream /app/curl; then fail "the upstream saw an unauthenticated request"; else pass "an unauthenticated request never reaches the upstream"; fi

oidc_browser "${E2E_URL}"
if ((failed)); then oidc_dump_logs; tail -n 20 "${STACK_DIR}/nginx/nginx-error.log" 2>/dev/null || true; fi
summary
