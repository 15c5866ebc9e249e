# shellcheck shell=bash
# Shared by tests/e2e/{nginx,haproxy,envoy-http,caddy,traefik}.sh: echo upstream +
# gatehouse (with --http-listen and --spoe-listen) on loopback, then one proxy in front,
# and the cases every gateway must pass. Source after setting GW_NAME and the GW_*_PORT
# variables; the script defines gw_start_proxy (start it; wait for it) and the
# expectations GW_WANT_401_BODY (1 when the plugin's body reaches the client) and
# GW_WANT_DOWN (the status when gatehouse is down). A forward-auth gateway sets
# GW_HTTP_GATEWAY (gatehouse --http-gateway) and gets the spoofing cases too.

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "${repo_root}"
profile="${STACK_PROFILE:-debug}"
if [[ -z "${E2E_SKIP_BUILD:-}" ]]; then
  scripts/install-peers.sh >&2
  cargo_flags=()
  if [[ "${profile}" == release ]]; then cargo_flags=(--release); fi
  cargo build "${cargo_flags[@]}" -p gatehouse -p required-header -p set-headers >&2
fi
export STACK_DIR="${STACK_DIR:-${repo_root}/target/e2e-${GW_NAME}}"
export STACK_ECHO_PORT="${GW_ECHO_PORT}"
export STACK_NO_TRAP=1
# shellcheck source=scripts/stack.sh
source scripts/stack.sh
GW_URL="http://127.0.0.1:${GW_PROXY_PORT}"
# shellcheck source=tests/e2e/checks-lib.sh
source tests/e2e/checks-lib.sh
E2E_URL="${GW_URL}"
work="${STACK_DIR}/cases"
trap 'stack_stop 2>/dev/null || true' EXIT

# Renders FILE with this test's ports into $STACK_DIR/NAME.
gw_render() {
  sed -e "s/\b1000[1-5]\b/${GW_PROXY_PORT}/g" \
    -e "s#deploy/traefik/#${STACK_DIR}/#g" \
    -e "s/\b9903\b/${GW_ADMIN_PORT:-0}/g; s/\b8081\b/${GW_ECHO_PORT}/g" \
    -e "s/\b8084\b/${GW_HTTP_PORT}/g; s/\b8085\b/${GW_SPOE_PORT}/g" \
    -e "s#deploy/haproxy/#${repo_root}/deploy/haproxy/#g" "$1" >"${STACK_DIR}/$2"
}

gw_start_backends() {
  mkdir -p "${STACK_DIR}" "${work}"
  stack_prepare_plugins && stack_start_echo &&
    stack_wait echo "echo upstream" stack_port_open "${GW_ECHO_PORT}" || return 1
  # Debug lines of the HTTP frontend show what each check was judged as.
  NO_COLOR=1 RUST_LOG=info,gatehouse::frontend::http=debug stack_spawn gatehouse "${STACK_DIR}/gatehouse.log" \
    "${STACK_GATEHOUSE_BIN}" --config "${STACK_AUTH_CONFIG}" --plugin-dir "${STACK_PLUGIN_DIR}" \
    --listen "127.0.0.1:${GW_GRPC_PORT}" --admin-listen "127.0.0.1:${GW_GATEHOUSE_ADMIN_PORT}" \
    --http-listen "127.0.0.1:${GW_HTTP_PORT}" --http-gateway "${GW_HTTP_GATEWAY:-nginx}" \
    --xff-trusted-hops 1 --spoe-listen "127.0.0.1:${GW_SPOE_PORT}"
  stack_wait gatehouse "gatehouse admin /readyz" \
    curl -sf "http://127.0.0.1:${GW_GATEHOUSE_ADMIN_PORT}/readyz"
}

gw_run_cases() {
  local run_id="${RANDOM}${RANDOM}" p
  p="/demo/allowed-${run_id}"
  http ok "${p}" -H 'x-team: platform' -H 'x-internal-debug: 1'
  expect_eq "allowed" status "${status}" 200 ok
  expect_eq "allowed" "upstream x-gatehouse-team" "$(upstream_header ok x-gatehouse-team)" verified
  expect_eq "allowed" "upstream x-gatehouse-chain" "$(upstream_header ok x-gatehouse-chain)" demo
  expect_eq "allowed" "upstream x-gatehouse-checked" "$(upstream_header ok x-gatehouse-checked)" true
  expect_eq "allowed" "upstream x-team" "$(upstream_header ok x-team)" platform
  expect_eq "allowed" "upstream x-internal-debug (removed)" "$(upstream_header ok x-internal-debug)" ""
  if reached_upstream "${p}"; then pass "allowed: reached the upstream"; else fail "allowed: upstream did not log ${p}"; fi

  http merge "/merge/${run_id}" -H 'one: foo'
  expect_eq "merge" status "${status}" 200 merge
  expect_eq "merge" "upstream one" "$(upstream_header merge one)" "bar, baz"
  expect_eq "merge" "upstream two" "$(upstream_header merge two)" asd

  p="/demo/denied-${run_id}"
  http d401 "${p}"
  expect_eq "denied (no x-team)" status "${status}" 401 d401
  if [[ "${GW_WANT_401_BODY}" == 1 ]]; then
    expect_eq "denied (no x-team)" body "$(cat "${work}/d401.body")" "missing header x-team"
  fi
  if reached_upstream "${p}"; then fail "denied: the upstream saw ${p}"; else pass "denied: never reached the upstream"; fi

  http d403 "/demo/intern-${run_id}" -H 'x-team: intern'
  expect_eq "denied (x-team: intern)" status "${status}" 403 d403
  http deny "/deny/${run_id}"
  expect_eq "always-deny" status "${status}" 403 deny
  if [[ "${GW_WANT_401_BODY}" == 1 ]]; then
    expect_eq "always-deny" body "$(cat "${work}/deny.body")" "denied by policy"
  fi
  http unknown "/unknown/${run_id}"
  expect_eq "unknown config_id" status "${status}" 403 unknown

  if [[ -n "${GW_HTTP_GATEWAY:-}" ]]; then gw_run_spoof_cases "${run_id}"; fi

  # Cases of one gateway only (its script may define gw_extra_cases).
  if declare -F gw_extra_cases >/dev/null; then gw_extra_cases "${run_id}"; fi

  # Gatehouse down: the proxy's configured failure mode.
  local entry pid
  for entry in "${STACK_PIDS[@]}"; do
    if [[ "${entry%%:*}" == gatehouse ]]; then pid="${entry#*:}"; fi
  done
  kill -TERM "${pid}" 2>/dev/null || true
  wait "${pid}" 2>/dev/null || true
  p="/demo/down-${run_id}"
  http down "${p}" -H 'x-team: platform'
  expect_eq "gatehouse down" status "${status}" "${GW_WANT_DOWN}" down
  if reached_upstream "${p}"; then fail "gatehouse down: the upstream saw ${p}"; else pass "gatehouse down: never reached the upstream"; fi
}

# judged_as PATH: the frontend's debug line for the check of PATH (its method, path,
# host and client as the chain got them); empty when there is none.
judged_as() {
  grep -F "forward-auth check" "${STACK_DIR}/gatehouse.log" | grep -F "path=\"$1\"" | tail -n 1
}

# field LINE NAME: NAME's value in a debug line (quotes dropped).
field() {
  sed -n "s/.* $2=\"\{0,1\}\([^\" ]*\).*/\1/p" <<<"$1"
}

# What a client sends to be judged as another request: every header some mode reads.
gw_spoofs=(-H 'X-Forwarded-Uri: /public/x' -H 'X-Original-URI: /public/x'
  -H 'X-Forwarded-Method: GET' -H 'X-Original-Method: GET' -H 'X-Forwarded-For: 6.6.6.6'
  -H 'X-Forwarded-Host: evil.test' -H 'X-Gatehouse-Config-Id: merge-example')

# Spoofed requests through the gateway: each is judged as the request the gateway
# forwards, by the chain of its route. Legit requests passed in gw_run_cases.
gw_run_spoof_cases() {
  local run_id="$1" p line
  p="/demo/spoof-${run_id}"
  http spoof "${p}" -X DELETE "${gw_spoofs[@]}"
  expect_eq "spoofed DELETE ${p} without x-team" status "${status}" 401 spoof
  line="$(judged_as "${p}")"
  expect_eq "spoofed" "judged method (X-Forwarded-Method: GET sent)" "$(field "${line}" method)" DELETE
  expect_eq "spoofed" "judged path (X-Forwarded-Uri/X-Original-URI: /public/x sent)" \
    "$(field "${line}" path)" "${p}"
  if [[ -n "${line}" && "$(field "${line}" client)" != 6.6.6.6 && "$(field "${line}" host)" != evil.test ]]; then
    pass "spoofed: client $(field "${line}" client), host $(field "${line}" host): not the client's X-Forwarded-For/-Host"
  else
    fail "spoofed: client/host taken from the client's headers" "line: ${line}"
  fi
  if grep -qxF "DELETE ${p}" "${STACK_REQUEST_LOG}"; then fail "spoofed: the upstream saw ${p}"; else pass "spoofed: never reached the upstream"; fi

  p="/demo/spoof-ok-${run_id}"
  http spoof_ok "${p}" "${gw_spoofs[@]}" -H 'x-team: platform'
  expect_eq "spoofed, with x-team" status "${status}" 200 spoof_ok
  expect_eq "spoofed, with x-team" "chain (x-gatehouse-chain)" "$(upstream_header spoof_ok x-gatehouse-chain)" demo

  # A route naming no auth config (or an unknown one): the client's
  # x-gatehouse-config-id picks no chain.
  p="/other-${run_id}"
  http spoof_id "${p}" -H 'X-Gatehouse-Config-Id: merge-example' -H 'one: foo'
  expect_eq "x-gatehouse-config-id on ${p}" status "${status}" 403 spoof_id
  if reached_upstream "${p}"; then fail "config-id spoof: the upstream saw ${p}"; else pass "config-id spoof: never reached the upstream"; fi
}

gw_main() {
  if ! gw_start_backends || ! gw_start_proxy; then
    fail "the ${GW_NAME} stack started"
    stack_dump_logs
    for f in "${STACK_DIR}"/"${GW_NAME}"*.log; do [[ -f "$f" ]] && tail -n 30 "$f"; done
    summary
    exit 1
  fi
  gw_run_cases
  if ((failed)); then stack_dump_logs; for f in "${STACK_DIR}"/"${GW_NAME}"*.log; do [[ -f "$f" ]] && tail -n 30 "$f"; done; fi
  summary
}
