#!/usr/bin/env bash
# OIDC login end to end through a real Envoy 1.40 (ext_authz gRPC): headless Chromium
# signs in at the real oidc-provider (tests/e2e/oidc/provider.mjs), lands on the
# original URL with the identity headers at the upstream, rides the cookie, is refused
# with tampered, expired and foreign-key cookies and replayed or forged states, and
# logs out (tests/e2e/oidc/browser.mjs); near the access token's expiry a request refreshes
# the tokens and the new session cookie rides on the allowed response. Config: deploy/envoy/envoy-oidc.yaml.
#
# Usage: tests/e2e/oidc-envoy.sh   (E2E_SKIP_BUILD=1: use target/ as built)
# The last line is "N passed, N failed"; non-zero exit on any failure.
set -euo pipefail
OIDC_NAME=oidc-envoy
OIDC_GW_PORT=19410
# Access tokens live 65 s and are refreshed 60 s before expiry: due after 5 s.
OIDC_ACCESS_TTL=65
# shellcheck source=tests/e2e/oidc/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/oidc/lib.sh"

envoy_admin=19411
start_envoy() {
  sed -e "s/port_value: 10000\b/port_value: ${OIDC_GW_PORT}/" \
    -e "s/port_value: 9901\b/port_value: ${envoy_admin}/" \
    -e "s/port_value: 8081\b/port_value: ${STACK_ECHO_PORT}/" \
    -e "s/port_value: 8083\b/port_value: ${OIDC_GRPC_PORT}/" \
    deploy/envoy/envoy-oidc.yaml >"${STACK_DIR}/envoy.yaml"
  stack_spawn envoy "${STACK_DIR}/envoy.log" envoy -c "${STACK_DIR}/envoy.yaml" \
    --base-id "${OIDC_GW_PORT}" --concurrency 1 --log-level error
  stack_wait envoy "envoy listener" stack_port_open "${OIDC_GW_PORT}"
}

if ! oidc_start_backends || ! start_envoy; then
  fail "the OIDC stack started (provider, gatehouse, Envoy, upstream)"
  oidc_dump_logs
  summary
  exit 1
fi

# curl-level checks of what Envoy carries from the plugin's denial.
http login /app/curl -H 'accept: text/html'
expect_eq "browser without a session" status "${status}" 302 login
location="$(sed -n 's/^location: *//Ip' "${work}/login.headers" | tr -d '\r')"
if [[ "${location}" == "${OIDC_ISSUER}/auth?"* ]]; then pass "the 302 goes to the provider's authorization endpoint"; else fail "location: ${location}"; fi
if grep -qi '^set-cookie: gh_session_login=v1\..*HttpOnly; SameSite=Lax' "${work}/login.headers"; then
  pass "the login state cookie reaches the browser through Envoy's denied response"
else
  fail "no login state cookie" "$(grep -i set-cookie "${work}/login.headers")"
fi
if reached_upstream /app/curl; then fail "the upstream saw an unauthenticated request"; else pass "an unauthenticated request never reaches the upstream"; fi

OIDC_REFRESH_WAIT=6 oidc_browser "${E2E_URL}"
if ((failed)); then oidc_dump_logs; fi
summary
