#!/usr/bin/env bash
# Two gatehouse hosts behind one Envoy (an authz cluster of two endpoints with TCP
# health checks), same session keys: a session created through the pair is accepted
# by each host alone (the other one stopped), in cookie mode and in Redis mode (a real
# redis-server). In Redis mode a logout through one host revokes the session on the
# other. Headless Chromium signs in at the real oidc-provider (tests/e2e/oidc/browser.mjs).
#
# Usage: tests/e2e/oidc-replicas.sh   (E2E_SKIP_BUILD=1: use target/ as built)
set -euo pipefail
OIDC_NAME=oidc-replicas
OIDC_PORTS=19450
# shellcheck source=tests/e2e/oidc/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/oidc/lib.sh"

# Host A and B: gRPC, HTTP, SPOE, admin ports.
host_a=(19460 19461 19462 19463)
host_b=(19464 19465 19466 19467)

start_host() { # NAME PORTS...
  local name="$1"
  shift
  oidc_start_gatehouse "${name}" "${STACK_DIR}/auth-configs.yaml" "$@"
}

stop_host() { # NAME
  local entry kept=()
  for entry in "${STACK_PIDS[@]}"; do
    if [[ "${entry%%:*}" == "$1" ]]; then
      kill -TERM "${entry#*:}" 2>/dev/null || true
      wait "${entry#*:}" 2>/dev/null || true
    else
      kept+=("${entry}")
    fi
  done
  STACK_PIDS=("${kept[@]}")
}

# envoy_sees PORT STATE: waits (10 s) until Envoy's health check of the authz endpoint on
# PORT is STATE (healthy | failed).
envoy_sees() {
  local i flags
  for ((i = 0; i < 50; i++)); do
    flags="$(curl -s "http://127.0.0.1:${OIDC_ENVOY_ADMIN_PORT}/clusters" | sed -n "s/^authz::127.0.0.1:$1::health_flags:://p")"
    case "$2:${flags}" in
      healthy:healthy | failed:*failed_active_hc*)
        sleep 1 # the gRPC connection pool follows the health flags a moment later
        return 0
        ;;
    esac
    sleep 0.2
  done
  return 1
}

# The authz cluster of envoy-oidc.yaml with two endpoints, health checked (TCP).
start_envoy() {
  oidc_render_envoy
  python3 - "${STACK_DIR}/envoy.yaml" "${OIDC_GRPC_PORT}" "${host_a[0]}" "${host_b[0]}" <<'PY'
import sys
path, one, a, b = sys.argv[1:]
text = open(path).read()
endpoint = f"""              - endpoint:
                  address:
                    socket_address: {{address: 127.0.0.1, port_value: {one}}}
"""
text = text.replace(endpoint, endpoint.replace(one, a) + endpoint.replace(one, b))
cluster = "    - name: authz\n      type: STATIC\n      connect_timeout: 1s\n"
text = text.replace(cluster, cluster + "      health_checks:\n        - {timeout: 1s, interval: 0.3s, "
    "no_traffic_interval: 0.3s, unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {}}\n")
open(path, "w").write(text)
PY
  oidc_start_envoy rendered
}

# cookie_works CASE WANT: GET /app/CASE with the saved session cookie; checks the status
# (and, for 200, that the upstream saw the signed-in user).
cookie_works() {
  http "$1" "/app/$1" -H 'accept: application/json' -H "cookie: $(cat "${STACK_DIR}/session.cookie")"
  expect_eq "$1" status "${status}" "$2" "$1"
  if [[ "$2" == 200 ]]; then expect_eq "$1" "upstream x-auth-sub" "$(upstream_header "$1" x-auth-sub)" alice "$1"; fi
}

run_mode() { # MODE
  local mode="$1"
  rm -f "${STACK_DIR}/session.cookie"
  start_host "a-${mode}" "${host_a[@]}" && start_host "b-${mode}" "${host_b[@]}" &&
    envoy_sees "${host_a[0]}" healthy && envoy_sees "${host_b[0]}" healthy ||
    { fail "${mode}: both hosts up and healthy in Envoy"; return; }
  OIDC_SKIP_LOGOUT=1 OIDC_SAVE_COOKIE="${STACK_DIR}/session.cookie" oidc_browser "${E2E_URL}"
  [[ -s "${STACK_DIR}/session.cookie" ]] || { fail "${mode}: no session cookie saved"; return; }

  stop_host "a-${mode}"
  if envoy_sees "${host_a[0]}" failed; then pass "${mode}: host A stopped, Envoy routes to B only"; else fail "${mode}: Envoy still sees A"; fi
  cookie_works "${mode}-on-b" 200
  start_host "a2-${mode}" "${host_a[@]}" && envoy_sees "${host_a[0]}" healthy || fail "${mode}: A back"
  stop_host "b-${mode}"
  if envoy_sees "${host_b[0]}" failed; then pass "${mode}: host B stopped, Envoy routes to A only"; else fail "${mode}: Envoy still sees B"; fi
  cookie_works "${mode}-on-a" 200

  if [[ "${mode}" == redis ]]; then
    if redis-cli -p "${OIDC_REDIS_PORT}" --scan --pattern 'e2e:*' | grep -q .; then
      pass "redis: the session is stored under the configured key prefix"
    else
      fail "redis: no e2e:* keys in Redis"
    fi
    # Logout through A; then only B is asked.
    http logout-a /logout -H "cookie: $(cat "${STACK_DIR}/session.cookie")"
    expect_eq "redis: logout through A" status "${status}" 302 logout-a
    start_host "b2-${mode}" "${host_b[@]}" && envoy_sees "${host_b[0]}" healthy || fail "redis: B back"
    stop_host "a2-${mode}"
    envoy_sees "${host_a[0]}" failed || fail "redis: Envoy still sees A"
    cookie_works "redis-revoked-on-b" 401
  fi
  local h
  for h in a b a2 b2; do stop_host "${h}-${mode}"; done
}

oidc_keys
stack_prepare_plugins && stack_start_echo && stack_wait echo "echo upstream" stack_port_open "${STACK_ECHO_PORT}" &&
  oidc_start_provider && oidc_start_redis && start_envoy || {
  fail "the replica stack started (provider, redis, Envoy, upstream)"
  oidc_dump_logs
  summary
  exit 1
}

oidc_auth_config "${STACK_DIR}/auth-configs.yaml"
run_mode cookie
oidc_auth_config "${STACK_DIR}/auth-configs.yaml" "          redis: {address: '127.0.0.1:${OIDC_REDIS_PORT}', keyPrefix: 'e2e:'}"
OIDC_REDIS=1 run_mode redis

if ((failed)); then oidc_dump_logs; fi
summary
