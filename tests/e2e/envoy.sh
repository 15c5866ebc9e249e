#!/usr/bin/env bash
# End-to-end test through a real Envoy 1.40: curl -> Envoy -> ext_authz -> gatehouse
# (with the demo auth configs and the two demo plugins) -> echo upstream; plus grpcurl
# straight at gatehouse's Authorization/Check via server reflection; then a second stack
# (tests/e2e/envoy-metadata.yaml) whose Envoy sends metadata_context and route metadata,
# which an interface-1.3 plugin copies into upstream headers.
#
# Usage: tests/e2e/envoy.sh
#   E2E_SKIP_BUILD=1     use the binaries already in target/ (no install-peers, no cargo)
#   STACK_*              see scripts/stack.sh (the test defaults to its own ports and
#                        to target/e2e/ for logs, so it can run next to scripts/demo.sh)
# The last line of output is "N passed, N failed"; the exit status is non-zero on any
# failure.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "${repo_root}"

export STACK_DIR="${STACK_DIR:-${repo_root}/target/e2e}"
export STACK_ENVOY_PORT="${STACK_ENVOY_PORT:-18000}"
export STACK_ENVOY_ADMIN_PORT="${STACK_ENVOY_ADMIN_PORT:-18901}"
export STACK_ECHO_PORT="${STACK_ECHO_PORT:-18081}"
export STACK_GATEHOUSE_PORT="${STACK_GATEHOUSE_PORT:-18083}"

if [[ -z "${E2E_SKIP_BUILD:-}" ]]; then
  scripts/install-peers.sh >&2
  cargo_flags=()
  if [[ "${STACK_PROFILE:-debug}" == release ]]; then cargo_flags=(--release); fi
  cargo build "${cargo_flags[@]}" -p gatehouse -p required-header -p set-headers -p misbehaving >&2
fi

# shellcheck source=scripts/stack.sh
source scripts/stack.sh

# shellcheck source=tests/e2e/checks-lib.sh
source tests/e2e/checks-lib.sh
E2E_URL="${STACK_ENVOY_URL}"
work="${STACK_DIR}/cases"

# response_header NAME HEADER: a header of the response Envoy sent the client.
response_header() {
  sed -n "s/^$2: *//Ip" "${work}/$1.headers" | tr -d '\r' | head -n 1
}

# expect_status CASE NAME WANT
expect_status() {
  if [[ "${status}" == "$3" ]]; then
    pass "$1: status $3"
  else
    fail "$1: status ${status:-none}, want $3" \
      "body: $(head -c 300 "${work}/$2.body" 2>/dev/null)" \
      "curl: $(cat "${work}/$2.err" 2>/dev/null)"
  fi
}


expect_not_upstream() { # CASE PATH
  if reached_upstream "$2"; then
    fail "$1: the upstream saw the denied request $2"
  else
    pass "$1: the upstream never saw it"
  fi
}

if ! stack_start; then
  fail "the stack started (Envoy, gatehouse, echo upstream)"
  summary
  exit 1
fi
mkdir -p "${work}"
run_id="${RANDOM}${RANDOM}"

# --- /demo, allowed: the three-step chain runs and its headers reach the upstream -----
c="demo allowed (x-team: platform)"
p="/demo/allowed-${run_id}"
http demo-ok "${p}" -H 'x-team: platform' -H 'x-internal-debug: 1'
expect_status "${c}" demo-ok 200
expect_eq "${c}" "upstream x-gatehouse-team" "$(upstream_header demo-ok x-gatehouse-team)" verified
expect_eq "${c}" "upstream x-gatehouse-chain" "$(upstream_header demo-ok x-gatehouse-chain)" demo
expect_eq "${c}" "upstream x-gatehouse-checked" "$(upstream_header demo-ok x-gatehouse-checked)" true
expect_eq "${c}" "upstream x-team" "$(upstream_header demo-ok x-team)" platform
expect_eq "${c}" "upstream x-internal-debug (removed)" "$(upstream_header demo-ok x-internal-debug)" ""
expect_eq "${c}" "response x-gatehouse-decision" "$(response_header demo-ok x-gatehouse-decision)" allowed
if reached_upstream "${p}"; then
  pass "${c}: the upstream logged the request"
else
  fail "${c}: the upstream did not log GET ${p}"
fi

# --- /demo without the header: 401 with the plugin's body, upstream untouched --------
c="demo without x-team"
p="/demo/no-header-${run_id}"
http demo-401 "${p}"
expect_status "${c}" demo-401 401
expect_eq "${c}" "body" "$(cat "${work}/demo-401.body")" "missing header x-team"
expect_not_upstream "${c}" "${p}"

# --- /demo with a value that is not allowed: 403 -------------------------------------
c="demo with x-team: intern"
p="/demo/intern-${run_id}"
http demo-403 "${p}" -H 'x-team: intern'
expect_status "${c}" demo-403 403
expect_not_upstream "${c}" "${p}"

# --- /merge: the reference header-merge example ---------------------------------------
c="merge example (one: foo)"
http merge "/merge/${run_id}" -H 'one: foo'
expect_status "${c}" merge 200
expect_eq "${c}" "upstream one" "$(upstream_header merge one)" "bar, baz"
expect_eq "${c}" "upstream two" "$(upstream_header merge two)" asd

# --- /deny: always denied -------------------------------------------------------------
c="always-deny"
p="/deny/${run_id}"
http deny "${p}"
expect_status "${c}" deny 403
expect_eq "${c}" "body" "$(cat "${work}/deny.body")" "denied by policy"
expect_not_upstream "${c}" "${p}"

# --- /either: Gloo's booleanExpr (team || service) && !blocked ------------------------
either() { # CASE NAME WANT_STATUS HEADER...
  local c="$1" name="$2" want="$3" p="/either/$2-${run_id}"
  shift 3
  http "${name}" "${p}" "$@"
  expect_status "${c}" "${name}" "${want}"
  if [[ "${want}" == 200 ]]; then
    reached_upstream "${p}" && pass "${c}: reached the upstream" || fail "${c}: the upstream did not see ${p}"
  else
    expect_not_upstream "${c}" "${p}"
  fi
}
either "booleanExpr: a team member (first operand of ||)" either-team 200 -H 'x-team: platform'
either "booleanExpr: the billing service (second operand of ||)" either-service 200 -H 'x-service: billing'
either "booleanExpr: a blocked team member (!blocked false, no step denied)" either-blocked 403 \
  -H 'x-team: security' -H 'x-blocked: yes'
either "booleanExpr: no credential (the last denial)" either-none 401
expect_eq "booleanExpr: no credential (the last denial)" "body" \
  "$(cat "${work}/either-none.body")" "missing header x-service"
either "booleanExpr: a wrong team and a wrong service" either-wrong 403 -H 'x-team: intern' -H 'x-service: ads'

# --- /unknown: a config_id gatehouse does not have -------------------------------------
c="unknown config_id"
p="/unknown/${run_id}"
http unknown "${p}"
expect_status "${c}" unknown 403
expect_not_upstream "${c}" "${p}"

# --- grpcurl straight at gatehouse (server reflection, no proto files) -----------------
# check NAME CONFIG_ID HEADERS_JSON: writes $work/NAME.json; sets $grpc_rc.
check() {
  local request
  request="$(printf '{"attributes": {"request": {"http": {"method": "GET", "path": "/grpc", "headers": %s}}, "contextExtensions": {"config_id": "%s"}}}' "$3" "$2")"
  grpc_rc=0
  grpcurl -plaintext -max-time 5 -d "${request}" "${STACK_GATEHOUSE_ADDR}" \
    envoy.service.auth.v3.Authorization/Check >"${work}/$1.json" 2>&1 || grpc_rc=$?
}

# decision NAME: "allow <upstream x-gatehouse-team>" or "deny <http status> <body>".
decision() {
  python3 - "${work}/$1.json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"unparsable: {e}")
    sys.exit()
code = r.get("status", {}).get("code", 0)
if "okResponse" in r or ("deniedResponse" not in r and code == 0):
    headers = {h["header"]["key"].lower(): h["header"].get("value", h["header"].get("rawValue", ""))
               for h in r.get("okResponse", {}).get("headers", [])}
    print(f"allow grpc={code} team={headers.get('x-gatehouse-team', '')}")
else:
    d = r.get("deniedResponse", {})
    print(f"deny grpc={code} http={d.get('status', {}).get('code', '')} body={d.get('body', '')}")
PY
}

c="grpcurl list (reflection)"
if grpcurl -plaintext -max-time 5 "${STACK_GATEHOUSE_ADDR}" list >"${work}/list.txt" 2>&1 &&
  grep -qx envoy.service.auth.v3.Authorization "${work}/list.txt"; then
  pass "${c}: lists envoy.service.auth.v3.Authorization"
else
  fail "${c}: envoy.service.auth.v3.Authorization not listed" "$(head -c 300 "${work}/list.txt")"
fi

c="grpcurl Check gatehouse.demo (x-team: security)"
check grpc-allow gatehouse.demo '{"x-team": "security"}'
expect_eq "${c}" "grpcurl exit" "${grpc_rc}" 0
expect_eq "${c}" "decision" "$(decision grpc-allow)" "allow grpc=0 team=verified"

c="grpcurl Check gatehouse.demo (no x-team)"
check grpc-deny gatehouse.demo '{}'
expect_eq "${c}" "grpcurl exit" "${grpc_rc}" 0
got="$(decision grpc-deny)"
if [[ "${got}" == "deny grpc="*" http=Unauthorized body=missing header x-team" ]]; then
  pass "${c}: ${got}"
else
  fail "${c}: decision '${got}', want deny, http=Unauthorized, body 'missing header x-team'" \
    "$(head -c 400 "${work}/grpc-deny.json")"
fi

c="grpcurl Check no-such-config"
check grpc-unknown no-such-config '{"x-team": "platform"}'
expect_eq "${c}" "grpcurl exit" "${grpc_rc}" 0
got="$(decision grpc-unknown)"
if [[ "${got}" == "deny grpc="*" http=Forbidden "* ]]; then
  pass "${c}: ${got}"
else
  fail "${c}: decision '${got}', want deny with http=Forbidden" \
    "$(head -c 400 "${work}/grpc-unknown.json")"
fi

if ((failed)); then stack_dump_logs; fi

# --- Envoy metadata: ext_authz metadata_context_namespaces / route_metadata_context_namespaces ---
# A second stack: tests/e2e/envoy-metadata.yaml sets namespace gatehouse.edge with the
# set_metadata filter and gives /metadata route metadata; the Metadata test plugin
# (libmisbehaving.so) copies the JSON it got into upstream headers.
stack_stop
STACK_ENVOY_CONFIG="${repo_root}/tests/e2e/envoy-metadata.yaml"
STACK_AUTH_CONFIG="${repo_root}/tests/e2e/metadata-configs.yaml"
STACK_PLUGINS+=(libmisbehaving.so)
if ! stack_start; then
  fail "the metadata stack started (Envoy with set_metadata, gatehouse, echo)"
  summary
  exit 1
fi
edge='{"gatehouse.edge":{"canary":true,"port":8443,"zone":"e2e"}}'

c="metadata: a route with metadata"
p="/metadata/${run_id}"
http meta-route "${p}"
expect_status "${c}" meta-route 200
expect_eq "${c}" "upstream x-metadata-context (only the listed namespace)" \
  "$(upstream_header meta-route x-metadata-context)" "${edge}" meta-route
expect_eq "${c}" "upstream x-route-metadata (only the listed namespace)" \
  "$(upstream_header meta-route x-route-metadata)" \
  '{"gatehouse":{"tags":["eu","beta"],"tenant":"acme","tier":2}}' meta-route
expect_eq "${c}" "upstream x-before/x-after (the other steps ran)" \
  "$(upstream_header meta-route x-before)/$(upstream_header meta-route x-after)" yes/yes meta-route

c="metadata: a route without metadata"
http meta-plain "/plain/${run_id}"
expect_status "${c}" meta-plain 200
expect_eq "${c}" "upstream x-metadata-context" \
  "$(upstream_header meta-plain x-metadata-context)" "${edge}" meta-plain
expect_eq "${c}" "upstream x-route-metadata" \
  "$(upstream_header meta-plain x-route-metadata)" "(absent)" meta-plain

if ((failed)); then stack_dump_logs; fi
summary
