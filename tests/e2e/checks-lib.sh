# shellcheck shell=bash
# Counting checks and reading what a request did, shared by every e2e script.
# Source it, set E2E_URL (where `http` sends requests) and `work` (a directory for
# each case's body, headers and curl errors), then call `summary` last.

passed=0
failed=0

# pass TEXT / fail TEXT [DETAIL...]: count one check and print it.
pass() {
  passed=$((passed + 1))
  printf 'ok   %s\n' "$1"
}

fail() {
  failed=$((failed + 1))
  printf 'FAIL %s\n' "$1"
  shift
  local line
  for line in "$@"; do printf '       %s\n' "${line}"; done
}

# expect_eq CASE WHAT GOT WANT [NAME]: GOT must equal WANT; on failure show the
# start of $work/NAME.body.
expect_eq() {
  if [[ "$3" == "$4" ]]; then
    pass "$1: $2 = '$4'"
  else
    fail "$1: $2 = '$3', want '$4'" "body: $(head -c 300 "${work}/${5:-x}.body" 2>/dev/null)"
  fi
}

# summary: stop the stack and print "N passed, N failed"; false on any failure.
summary() {
  stack_stop 2>/dev/null || true
  echo "${passed} passed, ${failed} failed"
  ((failed == 0))
}

# http NAME PATH [curl args...]: GET ${E2E_URL}PATH; sets $status and writes
# $work/NAME.body, $work/NAME.headers and $work/NAME.err.
http() {
  local name="$1" path="$2"
  shift 2
  status="$(curl -sS --max-time 5 -o "${work}/${name}.body" -D "${work}/${name}.headers" \
    -w '%{http_code}' "$@" "${E2E_URL}${path}" 2>"${work}/${name}.err" || true)"
}

# upstream_header NAME HEADER: the header as the echo upstream saw it in
# $work/NAME.body (repeated headers joined with ", "); empty when absent.
upstream_header() {
  python3 - "${work}/$1.body" "$2" <<'PY'
import json, sys
try:
    value = json.load(open(sys.argv[1]))["headers"].get(sys.argv[2].lower())
except Exception:
    value = None
if isinstance(value, list):
    value = ", ".join(value)
print(value if value is not None else "")
PY
}

# reached_upstream PATH: succeeds when the upstream logged a request for exactly PATH.
reached_upstream() {
  grep -qxF "GET $1" "${STACK_REQUEST_LOG}"
}
