# shellcheck shell=bash
# Shared by tests/e2e/oidc-*.sh: the OIDC stack on loopback, as a library to source.
#
#   browser/curl -> gateway (Envoy | nginx | HAProxy) -> gatehouse (liboidc.so)
#                                                     -> echo upstream
#   gatehouse -> oidc-provider (node, tests/e2e/oidc/provider.mjs) [-> redis-server]
#
# Source after setting OIDC_NAME (the script's name, for target/e2e-$OIDC_NAME) and
# OIDC_PORTS, the first of the script's ten ports (194x0; no other e2e script uses 194xx):
# +0 gateway, +1 provider, +2 echo upstream, +3 gatehouse gRPC, +4 HTTP forward-auth,
# +5 SPOE, +6 admin, +7 Redis, +8 Envoy admin.
# The provider and the browser scripts run from .tools/oidc-node (installed by
# tests/e2e/oidc/install.sh, which scripts/install-peers.sh calls).

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "${repo_root}"
profile="${STACK_PROFILE:-debug}"
if [[ -z "${E2E_SKIP_BUILD:-}" ]]; then
  scripts/install-peers.sh >&2
  cargo_flags=()
  if [[ "${profile}" == release ]]; then cargo_flags=(--release); fi
  cargo build "${cargo_flags[@]}" -p gatehouse -p oidc -p claims-policy >&2
fi
export STACK_DIR="${STACK_DIR:-${repo_root}/target/e2e-${OIDC_NAME}}"
OIDC_GW_PORT="${OIDC_PORTS}"
export STACK_ECHO_PORT="$((OIDC_PORTS + 2))"
export STACK_NO_TRAP=1
# shellcheck source=scripts/stack.sh
source scripts/stack.sh
STACK_PLUGINS=(liboidc.so libclaims_policy.so)
# shellcheck source=tests/e2e/checks-lib.sh
source tests/e2e/checks-lib.sh
work="${STACK_DIR}/cases"
E2E_URL="http://localhost:${OIDC_GW_PORT}"
trap 'stack_stop 2>/dev/null || true' EXIT

OIDC_NODE="${repo_root}/.tools/oidc-node"
OIDC_PROVIDER_PORT="$((OIDC_PORTS + 1))"
OIDC_ISSUER="http://localhost:${OIDC_PROVIDER_PORT}"
OIDC_GRPC_PORT="$((OIDC_PORTS + 3))"
OIDC_HTTP_PORT="$((OIDC_PORTS + 4))"
OIDC_SPOE_PORT="$((OIDC_PORTS + 5))"
OIDC_ADMIN_PORT="$((OIDC_PORTS + 6))"
OIDC_REDIS_PORT="$((OIDC_PORTS + 7))"
OIDC_ENVOY_ADMIN_PORT="$((OIDC_PORTS + 8))"
OIDC_CALLBACK="${E2E_URL}/oauth2/callback"
OIDC_AFTER_LOGOUT="${E2E_URL}/public/bye"
export OIDC_CLIENT_SECRET="e2e-client-secret-${RANDOM}${RANDOM}"

# oidc_keys: the session keys (current, old, foreign) and the client secret file.
oidc_keys() {
  mkdir -p "${STACK_DIR}/keys" "${work}"
  local k
  for k in current old foreign; do
    python3 -c 'import secrets; print(secrets.token_hex(32))' >"${STACK_DIR}/keys/${k}.key"
  done
  printf '%s\n' "${OIDC_CLIENT_SECRET}" >"${STACK_DIR}/keys/client-secret"
  chmod 600 "${STACK_DIR}"/keys/*
}

# oidc_auth_config FILE [EXTRA_YAML]: the `oidc` auth config (one Oidc step), with
# EXTRA_YAML appended: lines indented 10 spaces extend the step's config, lines
# indented 4 (`    - pluginAuth:`) add steps after it.
oidc_auth_config() {
  cat >"$1" <<EOF
apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata:
  name: oidc
spec:
  configs:
    - pluginAuth:
        name: login
        pluginFileName: liboidc.so
        exportedSymbolName: Oidc
        config:
          issuerUrl: ${OIDC_ISSUER_URL:-${OIDC_ISSUER}}
          clientId: gatehouse
          clientSecret: {file: ${STACK_DIR}/keys/client-secret}
          scopes: ${OIDC_SCOPES:-[openid, email, profile, groups]}
          logoutPath: /logout
          afterLogoutUrl: ${OIDC_AFTER_LOGOUT}
          loginStatus: ${OIDC_LOGIN_STATUS:-302}
          apiClientHeaders: [x-requested-with]
          timeoutMs: 1000
          sessionKeys: {file: ${STACK_DIR}/keys/current.key, oldFiles: [${STACK_DIR}/keys/old.key]}
          cookie: {name: gh_session, lifetimeSeconds: 3600}
          claims: ${OIDC_CLAIMS:-[name]}
          headers:
            - {claim: sub, header: x-auth-sub}
            - {claim: email, header: x-auth-email}
            - {claim: groups, header: x-auth-groups}
          forwardAccessToken: true
${2:-}
EOF
}

# oidc_start_provider [REDIRECT_URIS]: the real provider, with the test client.
oidc_start_provider() {
  cp -f tests/e2e/oidc/*.mjs "${OIDC_NODE}/"
  stack_spawn provider "${STACK_DIR}/provider.log" env OIDC_CLIENT_SECRET="${OIDC_CLIENT_SECRET}" \
    OIDC_ACCESS_TTL="${OIDC_ACCESS_TTL:-600}" node "${OIDC_NODE}/provider.mjs" "${OIDC_PROVIDER_PORT}" \
    "${1:-${OIDC_CALLBACK}}" "${OIDC_AFTER_LOGOUT}"
  stack_wait provider "oidc-provider discovery" \
    curl -sf "${OIDC_ISSUER}/.well-known/openid-configuration"
}

oidc_start_redis() {
  stack_spawn redis "${STACK_DIR}/redis.log" redis-server --port "${OIDC_REDIS_PORT}" \
    --bind 127.0.0.1 --save '' --appendonly no
  stack_wait redis "redis-server" redis-cli -p "${OIDC_REDIS_PORT}" ping
}

# oidc_start_gatehouse NAME CONFIG GRPC HTTP SPOE ADMIN [extra flags]: one host.
oidc_start_gatehouse() {
  local name="$1" config="$2" grpc="$3" http_port="$4" spoe="$5" admin="$6"
  shift 6
  NO_COLOR=1 RUST_LOG="${OIDC_RUST_LOG:-info}" stack_spawn "${name}" "${STACK_DIR}/${name}.log" \
    "${STACK_GATEHOUSE_BIN}" --config "${config}" --plugin-dir "${STACK_PLUGIN_DIR}" \
    --listen "127.0.0.1:${grpc}" --admin-listen "127.0.0.1:${admin}" \
    --http-listen "127.0.0.1:${http_port}" --http-gateway nginx --xff-trusted-hops 1 \
    --spoe-listen "127.0.0.1:${spoe}" --chain-deadline-ms 1500 --step-timeout-ms 1500 "$@"
  stack_wait "${name}" "${name} admin /readyz" curl -sf "http://127.0.0.1:${admin}/readyz"
}

# oidc_start_backends: keys, config, echo upstream, provider and one gatehouse.
oidc_start_backends() {
  oidc_keys
  oidc_auth_config "${STACK_DIR}/auth-configs.yaml" "${OIDC_EXTRA_CONFIG:-}"
  stack_prepare_plugins && stack_start_echo &&
    stack_wait echo "echo upstream" stack_port_open "${STACK_ECHO_PORT}" &&
    oidc_start_provider &&
    oidc_start_gatehouse gatehouse "${STACK_DIR}/auth-configs.yaml" "${OIDC_GRPC_PORT}" \
      "${OIDC_HTTP_PORT}" "${OIDC_SPOE_PORT}" "${OIDC_ADMIN_PORT}"
}

# oidc_browser GATEWAY_URL: the Playwright flow (tests/e2e/oidc/browser.mjs); its
# "ok"/"FAIL" lines are counted here.
oidc_browser() {
  local line out="${STACK_DIR}/browser.out"
  OIDC_KEYS="${STACK_DIR}/keys" OIDC_ISSUER="${OIDC_ISSUER}" OIDC_COOKIE=gh_session \
    OIDC_AFTER_LOGOUT="${OIDC_AFTER_LOGOUT}" OIDC_PROVIDER_PORT="${OIDC_PROVIDER_PORT}" \
    timeout 180 node "${OIDC_NODE}/browser.mjs" "$1" >"${out}" 2>&1 || true
  while IFS= read -r line; do
    case "${line}" in
      "ok "*) pass "browser: ${line#ok }" ;;
      "FAIL "*) fail "browser: ${line#FAIL }" ;;
      *) printf '       %s\n' "${line}" ;;
    esac
  done <"${out}"
  grep -q '^done$' "${out}" || fail "browser: the script did not finish" "$(tail -n 5 "${out}")"
}

oidc_dump_logs() {
  local f
  for f in "${STACK_DIR}"/*.log; do
    [[ -f "${f}" ]] || continue
    printf '\n----- tail of %s -----\n' "${f}" >&2
    tail -n "${STACK_LOG_TAIL:-30}" "${f}" >&2 || true
  done
}

# oidc_render_envoy: deploy/envoy/envoy-oidc.yaml with this stack's ports, to
# $STACK_DIR/envoy.yaml.
oidc_render_envoy() {
  mkdir -p "${STACK_DIR}"
  sed -e "s/port_value: 10000\b/port_value: ${OIDC_GW_PORT}/" \
    -e "s/port_value: 9901\b/port_value: ${OIDC_ENVOY_ADMIN_PORT}/" \
    -e "s/port_value: 8081\b/port_value: ${STACK_ECHO_PORT}/" \
    -e "s/port_value: 8083\b/port_value: ${OIDC_GRPC_PORT}/" \
    deploy/envoy/envoy-oidc.yaml >"${STACK_DIR}/envoy.yaml"
}

# oidc_start_envoy [rendered]: Envoy with $STACK_DIR/envoy.yaml (rendered first unless
# `rendered`).
oidc_start_envoy() {
  [[ "${1:-}" == rendered ]] || oidc_render_envoy
  stack_spawn envoy "${STACK_DIR}/envoy.log" envoy -c "${STACK_DIR}/envoy.yaml" \
    --base-id "${OIDC_GW_PORT}" --concurrency 1 --log-level error
  stack_wait envoy "envoy listener" stack_port_open "${OIDC_GW_PORT}"
}

# oidc_check_login_redirect GATEWAY: what a browser and an API client without a session
# get through GATEWAY (curl): the 302 to the provider with the login cookie; 401 without
# a Location; neither reaches the upstream.
oidc_check_login_redirect() {
  local gw="$1" location
  http login /app/curl -H 'accept: text/html'
  expect_eq "${gw}: browser without a session" status "${status}" 302 login
  location="$(sed -n 's/^location: *//Ip' "${work}/login.headers" | tr -d '\r')"
  if [[ "${location}" == "${OIDC_ISSUER}/auth?"* &&
    "${location}" == *"redirect_uri=http%3A%2F%2Flocalhost%3A${OIDC_GW_PORT}%2Foauth2%2Fcallback"* ]]; then
    pass "${gw}: the 302 goes to the provider's authorization endpoint, redirect_uri on this gateway"
  else
    fail "${gw}: location: ${location}"
  fi
  if grep -qi '^set-cookie: gh_session_login=v1\..*HttpOnly; SameSite=Lax' "${work}/login.headers"; then
    pass "${gw}: the login state cookie reaches the browser"
  else
    fail "${gw}: no login state cookie" "$(grep -i set-cookie "${work}/login.headers")"
  fi
  http api /app/curl -H 'accept: application/json'
  expect_eq "${gw}: API client without a session" status "${status}" 401 api
  if grep -qi '^location:' "${work}/api.headers"; then fail "${gw}: an API client got a Location"; else pass "${gw}: an API client gets no redirect"; fi
  if reached_upstream /app/curl; then fail "${gw}: the upstream saw an unauthenticated request"; else pass "${gw}: an unauthenticated request never reaches the upstream"; fi
}
