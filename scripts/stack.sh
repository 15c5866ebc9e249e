# shellcheck shell=bash
# The demo stack on loopback, as a library to source (scripts/demo.sh, tests/e2e/envoy.sh):
#
#   curl -> Envoy :STACK_ENVOY_PORT --ext_authz gRPC--> gatehouse :STACK_GATEHOUSE_PORT
#                                   --HTTP/1.1------> echo upstream :STACK_ECHO_PORT
#
# Usage:
#   source scripts/stack.sh
#   stack_start            # starts all three, waits until ready, installs the cleanup trap
#   ...                    # talk to "${STACK_ENVOY_URL}" / "${STACK_GATEHOUSE_ADDR}"
#   stack_stop             # (also run by the trap on exit, Ctrl-C and TERM)
#
# Settings (environment, all optional):
#   STACK_DIR              logs, rendered configs, plugin dir   (target/demo)
#   STACK_PROFILE          cargo profile to take binaries from  (debug)
#   STACK_GATEHOUSE_BIN    the host binary                      (target/$STACK_PROFILE/gatehouse)
#   STACK_AUTH_CONFIG      auth config file                     (deploy/demo/auth-configs.yaml)
#   STACK_ENVOY_CONFIG     Envoy config template                (deploy/envoy/envoy.yaml)
#   STACK_ENVOY_PORT STACK_ENVOY_ADMIN_PORT STACK_ECHO_PORT STACK_GATEHOUSE_PORT
#                          (10000, 9901, 8081, 8083)
#   STACK_ENVOY_BASE_ID    Envoy --base-id                      (the listener port)
#   STACK_LOG_FORMAT       gatehouse --log-format               (text)
#   STACK_READY_TIMEOUT    seconds to wait for each component   (30)
#   STACK_NO_TRAP=1        do not install the EXIT/INT/TERM trap
#
# Logs: $STACK_DIR/{echo,gatehouse,envoy}.log; every request that reaches the upstream
# is appended ("METHOD PATH") to $STACK_DIR/upstream-requests.log.

STACK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK_DIR="${STACK_DIR:-${STACK_ROOT}/target/demo}"
STACK_PROFILE="${STACK_PROFILE:-debug}"
STACK_GATEHOUSE_BIN="${STACK_GATEHOUSE_BIN:-${STACK_ROOT}/target/${STACK_PROFILE}/gatehouse}"
STACK_PLUGIN_SRC_DIR="${STACK_PLUGIN_SRC_DIR:-${STACK_ROOT}/target/${STACK_PROFILE}}"
STACK_PLUGINS=(librequired_header.so libset_headers.so)
STACK_AUTH_CONFIG="${STACK_AUTH_CONFIG:-${STACK_ROOT}/deploy/demo/auth-configs.yaml}"
STACK_ENVOY_CONFIG="${STACK_ENVOY_CONFIG:-${STACK_ROOT}/deploy/envoy/envoy.yaml}"
STACK_ENVOY_PORT="${STACK_ENVOY_PORT:-10000}"
STACK_ENVOY_ADMIN_PORT="${STACK_ENVOY_ADMIN_PORT:-9901}"
STACK_ECHO_PORT="${STACK_ECHO_PORT:-8081}"
STACK_GATEHOUSE_PORT="${STACK_GATEHOUSE_PORT:-8083}"
STACK_ENVOY_BASE_ID="${STACK_ENVOY_BASE_ID:-${STACK_ENVOY_PORT}}"
STACK_LOG_FORMAT="${STACK_LOG_FORMAT:-text}"
STACK_READY_TIMEOUT="${STACK_READY_TIMEOUT:-30}"

STACK_PLUGIN_DIR="${STACK_DIR}/auth-plugins"
STACK_REQUEST_LOG="${STACK_DIR}/upstream-requests.log"
STACK_ENVOY_URL="http://127.0.0.1:${STACK_ENVOY_PORT}"
STACK_ENVOY_ADMIN_URL="http://127.0.0.1:${STACK_ENVOY_ADMIN_PORT}"
STACK_GATEHOUSE_ADDR="127.0.0.1:${STACK_GATEHOUSE_PORT}"
STACK_ECHO_URL="http://127.0.0.1:${STACK_ECHO_PORT}"

# The peers installed by scripts/install-peers.sh come first.
PATH="${STACK_ROOT}/.tools/bin:${PATH}"
export PATH

STACK_PIDS=()   # "name:pid", in start order
STACK_STOPPED=0

stack_log() { printf '[stack] %s\n' "$*" >&2; }

# Prints the last lines of every log of the stack.
stack_dump_logs() {
  local f
  for f in "${STACK_DIR}"/echo.log "${STACK_DIR}"/gatehouse.log "${STACK_DIR}"/envoy.log; do
    [[ -f "${f}" ]] || continue
    # The head too: a startup error comes first, a backtrace may follow it.
    if (($(wc -l <"${f}") > 2 * ${STACK_LOG_TAIL:-40})); then
      printf '\n----- head of %s -----\n' "${f}" >&2
      head -n 10 "${f}" >&2 || true
    fi
    printf '\n----- tail of %s -----\n' "${f}" >&2
    tail -n "${STACK_LOG_TAIL:-40}" "${f}" >&2 || true
  done
}

# Succeeds when something accepts TCP connections on 127.0.0.1:PORT.
stack_port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Fails with a message when one of the ports we need is already taken.
stack_check_ports_free() {
  local port busy=0
  for port in "${STACK_ENVOY_PORT}" "${STACK_ENVOY_ADMIN_PORT}" "${STACK_ECHO_PORT}" \
    "${STACK_GATEHOUSE_PORT}"; do
    if stack_port_open "${port}"; then
      stack_log "port ${port} on 127.0.0.1 is already in use"
      busy=1
    fi
  done
  return "${busy}"
}

# Succeeds while the stack process NAME runs.
stack_alive() {
  local entry
  for entry in "${STACK_PIDS[@]}"; do
    if [[ "${entry%%:*}" == "$1" ]]; then
      kill -0 "${entry#*:}" 2>/dev/null
      return
    fi
  done
  return 1
}

# stack_wait NAME DESCRIPTION COMMAND...: polls COMMAND until it succeeds, failing early
# when process NAME has exited or after STACK_READY_TIMEOUT seconds.
stack_wait() {
  local name="$1" what="$2" deadline
  shift 2
  deadline=$((SECONDS + STACK_READY_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if ! stack_alive "${name}"; then
      stack_log "${name} exited while waiting for ${what}"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      stack_log "timed out after ${STACK_READY_TIMEOUT}s waiting for ${what}"
      return 1
    fi
    sleep 0.2
  done
  stack_log "ready: ${what}"
}

# stack_spawn NAME LOGFILE COMMAND...: starts COMMAND in the background.
stack_spawn() {
  local name="$1" logfile="$2"
  shift 2
  "$@" >"${logfile}" 2>&1 &
  STACK_PIDS+=("${name}:$!")
  stack_log "started ${name} (pid $!), log ${logfile}"
}

# Copies the plugin libraries into the stack's plugin directory.
stack_prepare_plugins() {
  local so
  mkdir -p "${STACK_PLUGIN_DIR}"
  for so in "${STACK_PLUGINS[@]}"; do
    if [[ ! -f "${STACK_PLUGIN_SRC_DIR}/${so}" ]]; then
      stack_log "missing ${STACK_PLUGIN_SRC_DIR}/${so}" \
        "(cargo build -p required-header -p set-headers)"
      return 1
    fi
    cp -f "${STACK_PLUGIN_SRC_DIR}/${so}" "${STACK_PLUGIN_DIR}/${so}"
  done
}

# Writes the Envoy config with this stack's ports to $STACK_DIR/envoy.yaml.
stack_render_envoy_config() {
  sed -e "s/port_value: 10000\b/port_value: ${STACK_ENVOY_PORT}/" \
    -e "s/port_value: 9901\b/port_value: ${STACK_ENVOY_ADMIN_PORT}/" \
    -e "s/port_value: 8081\b/port_value: ${STACK_ECHO_PORT}/" \
    -e "s/port_value: 8083\b/port_value: ${STACK_GATEHOUSE_PORT}/" \
    "${STACK_ENVOY_CONFIG}" >"${STACK_DIR}/envoy.yaml"
}

stack_start_echo() {
  : >"${STACK_REQUEST_LOG}"
  stack_spawn echo "${STACK_DIR}/echo.log" \
    python3 "${STACK_ROOT}/scripts/echo-upstream.py" --log "${STACK_REQUEST_LOG}" \
    "${STACK_ECHO_PORT}"
}

stack_start_gatehouse() {
  if [[ ! -x "${STACK_GATEHOUSE_BIN}" ]]; then
    stack_log "missing ${STACK_GATEHOUSE_BIN} (cargo build -p gatehouse)"
    return 1
  fi
  # NO_COLOR: plain log lines in the file (tracing-subscriber honours it).
  NO_COLOR=1 stack_spawn gatehouse "${STACK_DIR}/gatehouse.log" \
    "${STACK_GATEHOUSE_BIN}" --config "${STACK_AUTH_CONFIG}" \
    --plugin-dir "${STACK_PLUGIN_DIR}" --listen "${STACK_GATEHOUSE_ADDR}" \
    --log-format "${STACK_LOG_FORMAT}"
}

stack_start_envoy() {
  stack_render_envoy_config
  stack_spawn envoy "${STACK_DIR}/envoy.log" \
    envoy -c "${STACK_DIR}/envoy.yaml" --base-id "${STACK_ENVOY_BASE_ID}" \
    --concurrency 1 --log-level error
}

# gRPC health of the host (grpc.health.v1.Health/Check, overall server status).
stack_gatehouse_healthy() {
  grpcurl -plaintext -max-time 2 "${STACK_GATEHOUSE_ADDR}" grpc.health.v1.Health/Check \
    | grep -q '"SERVING"'
}

stack_envoy_ready() {
  curl -fsS --max-time 2 "${STACK_ENVOY_ADMIN_URL}/ready" | grep -q LIVE
}

# Stops every process of the stack (TERM, then KILL after 5 s). Safe to call twice.
stack_stop() {
  local i entry pid deadline
  ((STACK_STOPPED)) && return 0
  STACK_STOPPED=1
  for ((i = ${#STACK_PIDS[@]} - 1; i >= 0; i--)); do
    entry="${STACK_PIDS[i]}"
    pid="${entry#*:}"
    kill -TERM "${pid}" 2>/dev/null || continue
    deadline=$((SECONDS + 5))
    while kill -0 "${pid}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "${pid}" 2>/dev/null || true
    wait "${pid}" 2>/dev/null || true
  done
  STACK_PIDS=()
  stack_log "stopped"
}

stack_on_signal() {
  stack_stop
  trap - INT TERM
  exit 130
}

# Starts echo upstream, gatehouse and Envoy and waits until all are ready. On failure
# prints the tails of the logs, stops what was started and returns 1.
stack_start() {
  command -v envoy >/dev/null || { stack_log "envoy not found (scripts/install-peers.sh)"; return 1; }
  command -v grpcurl >/dev/null || { stack_log "grpcurl not found (scripts/install-peers.sh)"; return 1; }
  mkdir -p "${STACK_DIR}"
  rm -f "${STACK_DIR}"/{echo,gatehouse,envoy}.log
  STACK_STOPPED=0
  if [[ -z "${STACK_NO_TRAP:-}" ]]; then
    trap stack_stop EXIT
    trap stack_on_signal INT TERM
  fi
  stack_check_ports_free || return 1
  if stack_prepare_plugins &&
    stack_start_echo &&
    stack_wait echo "echo upstream on ${STACK_ECHO_URL}" stack_port_open "${STACK_ECHO_PORT}" &&
    stack_start_gatehouse &&
    stack_wait gatehouse "gatehouse gRPC health on ${STACK_GATEHOUSE_ADDR}" stack_gatehouse_healthy &&
    stack_start_envoy &&
    stack_wait envoy "envoy admin ${STACK_ENVOY_ADMIN_URL}/ready" stack_envoy_ready &&
    stack_wait envoy "envoy listener on ${STACK_ENVOY_URL}" stack_port_open "${STACK_ENVOY_PORT}"; then
    return 0
  fi
  stack_log "the stack did not come up"
  stack_dump_logs
  stack_stop
  return 1
}
