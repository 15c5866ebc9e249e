#!/usr/bin/env bash
# OIDC with a misbehaving provider (tests/e2e/oidc/bad-provider.mjs) behind a real
# Envoy: the login is driven with curl (redirect -> provider -> callback) once per
# mode; only a correct ID token may create a session. Wrong iss, wrong aud, bad
# signature, expired, wrong nonce, iat in the future, bad at_hash, alg none, no ID
# token, a token answer over the 256 KB cap and a token endpoint slower than the
# deadline all deny: no session cookie, no redirect to the app, the upstream never
# reached.
#
# Usage: tests/e2e/oidc-negative.sh   (E2E_SKIP_BUILD=1: use target/ as built)
set -euo pipefail
OIDC_NAME=oidc-negative
OIDC_PORTS=19420
# shellcheck source=tests/e2e/oidc/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/oidc/lib.sh"

start() {
  oidc_keys
  oidc_auth_config "${STACK_DIR}/auth-configs.yaml"
  cp -f tests/e2e/oidc/*.mjs "${OIDC_NODE}/"
  stack_prepare_plugins && stack_start_echo &&
    stack_wait echo "echo upstream" stack_port_open "${STACK_ECHO_PORT}" || return 1
  stack_spawn provider "${STACK_DIR}/provider.log" node "${OIDC_NODE}/bad-provider.mjs" "${OIDC_PROVIDER_PORT}"
  stack_wait provider "bad provider" curl -sf "${OIDC_ISSUER}/.well-known/openid-configuration" || return 1
  oidc_start_gatehouse gatehouse "${STACK_DIR}/auth-configs.yaml" "${OIDC_GRPC_PORT}" \
    "${OIDC_HTTP_PORT}" "${OIDC_SPOE_PORT}" "${OIDC_ADMIN_PORT}" || return 1
  oidc_start_envoy
}

# header NAME HEADER: a header of case NAME's response.
header() { sed -n "s/^$2: *//Ip" "${work}/$1.headers" | tr -d '\r' | head -n 1; }

# login MODE: one whole login with the provider in MODE; sets $cb_status and writes
# $work/MODE-cb.headers (the callback's answer).
login() {
  local mode="$1" jar="${work}/$1.jar" loc
  curl -sf "${OIDC_ISSUER}/_mode?m=${mode}" >/dev/null
  rm -f "${jar}"
  http "${mode}-start" "/app/${mode}" -H 'accept: text/html' -c "${jar}" -b "${jar}"
  loc="$(header "${mode}-start" location)"
  [[ "${loc}" == "${OIDC_ISSUER}/auth?"* ]] || { fail "${mode}: no redirect to the provider (${status})"; return; }
  loc="$(curl -s -o /dev/null -w '%{redirect_url}' "${loc}")"
  E2E_URL="" http "${mode}-cb" "${loc}" -c "${jar}" -b "${jar}" --max-time 8
  cb_status="${status}"
}

if ! start; then
  fail "the stack with the misbehaving provider started"
  oidc_dump_logs
  summary
  exit 1
fi

login good
expect_eq "good provider" "callback status" "${cb_status}" 302 good-cb
expect_eq "good provider" "callback location" "$(header good-cb location)" "${E2E_URL}/app/good" good-cb
if grep -qi '^set-cookie: gh_session=v1\.' "${work}/good-cb.headers"; then pass "good provider: a session cookie is set"; else fail "good provider: no session cookie"; fi
http good-app /app/good -b "${work}/good.jar" -H 'accept: application/json'
expect_eq "good provider" "the session opens /app/good" "${status}" 200 good-app
expect_eq "good provider" "upstream x-auth-sub" "$(upstream_header good-app x-auth-sub)" mallory

for mode in wrong-iss wrong-aud bad-sig expired wrong-nonce future-iat bad-at-hash alg-none no-id-token huge slow; do
  started=${SECONDS}
  login "${mode}"
  if [[ "${cb_status}" != 302 && "${cb_status}" != 200 && -n "${cb_status}" ]]; then
    pass "${mode}: the callback is denied (${cb_status}: $(head -c 80 "${work}/${mode}-cb.body"))"
  else
    fail "${mode}: callback status '${cb_status}'" "$(head -c 200 "${work}/${mode}-cb.body")"
  fi
  if grep -qi '^set-cookie: gh_session=' "${work}/${mode}-cb.headers"; then fail "${mode}: a session cookie was set"; else pass "${mode}: no session cookie"; fi
  http "${mode}-app" "/app/${mode}" -b "${work}/${mode}.jar" -H 'accept: application/json'
  expect_eq "${mode}" "the app afterwards" "${status}" 401 "${mode}-app"
  if reached_upstream "/app/${mode}"; then fail "${mode}: the upstream saw /app/${mode}"; else pass "${mode}: the upstream never saw it"; fi
  if [[ "${mode}" == huge ]]; then
    if grep -q 'length limit exceeded' "${work}/${mode}-cb.body"; then pass "huge: the token answer over the body cap is refused"; else fail "huge: not refused by the cap" "$(head -c 200 "${work}/${mode}-cb.body")"; fi
  fi
  if [[ "${mode}" == slow ]]; then
    if ((SECONDS - started < 3)); then pass "slow: denied before the provider answered (within the 1 s timeout / 1.5 s deadline)"; else fail "slow: took $((SECONDS - started)) s"; fi
  fi
done

# The plugin logs why through the host (interface 1.3 log sink), with its step.
for reason in "wrong issuer" "wrong audience" "bad signature" "nonce does not match the login"; do
  if grep -q "OIDC sign-in failed reason=${reason} plugin=Oidc step=login" "${STACK_DIR}/gatehouse.log"; then
    pass "the host's log says: sign-in failed, ${reason}"
  else
    fail "no log line for ${reason}"
  fi
done

if ((failed)); then oidc_dump_logs; fi
summary
