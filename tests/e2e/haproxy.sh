#!/usr/bin/env bash
# End-to-end: curl -> HAProxy 2.6 (Debian, SPOE filter) -> gatehouse SPOE agent ->
# echo upstream, with deploy/haproxy/{haproxy.cfg,spoe-gatehouse.conf}. Besides the
# cases of every gateway: a chain's two Set-Cookie headers arrive as two Set-Cookie
# lines on an allowed and on a denied response, and 17 (over the agent's 16 copies)
# are denied with 500 and no cookie at all.
# Usage: tests/e2e/haproxy.sh   (E2E_SKIP_BUILD=1: no install, no cargo). Last line:
# "N passed, N failed"; non-zero exit on failure.
set -euo pipefail
GW_NAME=haproxy GW_PROXY_PORT=18201 GW_ECHO_PORT=18202 GW_GRPC_PORT=18203
GW_GATEHOUSE_ADMIN_PORT=18204 GW_HTTP_PORT=18205 GW_SPOE_PORT=18206
GW_WANT_401_BODY=1
GW_WANT_DOWN=500     # agent unreachable -> txn.auth.error -> 500 (haproxy.cfg)
# shellcheck source=tests/e2e/gateway-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/gateway-lib.sh"

# The demo configs plus three SetHeaders chains sending Set-Cookie headers.
cookie_config() { # NAME CONFIG
  printf -- '---\napiVersion: enterprise.gloo.solo.io/v1\nkind: AuthConfig\nmetadata: {name: %s}\n' "$1"
  printf 'spec:\n  configs:\n    - pluginAuth:\n        name: cookies\n'
  printf '        pluginFileName: libset_headers.so\n        exportedSymbolName: SetHeaders\n'
  printf '        config: %s\n' "$2"
}
cookies() { # N: N Set-Cookie response headers c1=v1 ...
  local i out=""
  for ((i = 1; i <= $1; i++)); do out+="${out:+, }{name: Set-Cookie, value: \"c${i}=v${i}; Path=/\"}"; done
  echo "${out}"
}
mkdir -p "${STACK_DIR}"
STACK_AUTH_CONFIG="${STACK_DIR}/auth-configs.yaml"
{
  cat deploy/demo/auth-configs.yaml
  cookie_config cookies "{responseHeaders: [$(cookies 2)]}"
  cookie_config cookies-denied "{deny: {status: 401, body: sign in}, responseHeaders: [$(cookies 2)]}"
  cookie_config cookies-over "{responseHeaders: [$(cookies 17)]}"
} >"${STACK_AUTH_CONFIG}"

gw_start_proxy() {
  command -v haproxy >/dev/null || { stack_log "haproxy not found (scripts/install-peers.sh)"; return 1; }
  gw_render deploy/haproxy/haproxy.cfg haproxy.cfg
  gw_render deploy/haproxy/spoe-gatehouse.conf spoe-gatehouse.conf
  sed -i "s#${repo_root}/deploy/haproxy/spoe-gatehouse.conf#${STACK_DIR}/spoe-gatehouse.conf#" "${STACK_DIR}/haproxy.cfg"
  # Routes to the cookie chains, next to the demo's.
  sed -i '/str(no-such-config)/a\    http-request set-var(txn.config_id) str(cookies-denied) if { path_beg /cookies-denied }\n    http-request set-var(txn.config_id) str(cookies-over) if { path_beg /cookies-over }\n    http-request set-var(txn.config_id) str(cookies) if { path_beg /cookies/ }' \
    "${STACK_DIR}/haproxy.cfg"
  stack_spawn haproxy "${STACK_DIR}/haproxy.log" haproxy -f "${STACK_DIR}/haproxy.cfg" -db
  stack_wait haproxy "haproxy on ${GW_URL}" stack_port_open "${GW_PROXY_PORT}"
}

# set_cookies NAME: the Set-Cookie values of response NAME, one a line.
set_cookies() {
  sed -n 's/^[Ss]et-[Cc]ookie: *//p' "${work}/$1.headers" | tr -d '\r'
}

gw_extra_cases() {
  local run_id="$1" want p
  want="$(printf 'c1=v1; Path=/\nc2=v2; Path=/')"
  http cookies "/cookies/${run_id}"
  expect_eq "two Set-Cookie, allowed" status "${status}" 200 cookies
  expect_eq "two Set-Cookie, allowed" "Set-Cookie lines" "$(set_cookies cookies)" "${want}" cookies
  http cookies_denied "/cookies-denied/${run_id}"
  expect_eq "two Set-Cookie, denied" status "${status}" 401 cookies_denied
  expect_eq "two Set-Cookie, denied" "Set-Cookie lines" "$(set_cookies cookies_denied)" "${want}" cookies_denied
  p="/cookies-over/${run_id}"
  http cookies_over "${p}"
  expect_eq "17 Set-Cookie (bound 16)" status "${status}" 500 cookies_over
  expect_eq "17 Set-Cookie (bound 16)" "Set-Cookie lines" "$(set_cookies cookies_over)" "" cookies_over
  if reached_upstream "${p}"; then fail "17 Set-Cookie: the upstream saw ${p}"; else pass "17 Set-Cookie: never reached the upstream"; fi
  if grep -qi "more than 16 copies of response header set-cookie" "${STACK_DIR}/gatehouse.log"; then
    pass "17 Set-Cookie: the agent's log names the header and the bound"
  else
    fail "17 Set-Cookie: no log line naming the bound" "$(tail -n 5 "${STACK_DIR}/gatehouse.log")"
  fi
}
gw_main
