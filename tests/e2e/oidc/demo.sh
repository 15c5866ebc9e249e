#!/usr/bin/env bash
# The OIDC login demo (README quick start): oidc-provider, gatehouse with the Oidc
# plugin, a real Envoy (deploy/envoy/envoy-oidc.yaml) and the echo upstream on
# loopback, until Ctrl-C. Open the printed URL in a browser on this machine, sign in
# with any user name and password, consent, and see the identity headers the upstream
# got. Logs: target/e2e-oidc-demo/.
#
# Usage: tests/e2e/oidc/demo.sh   (E2E_SKIP_BUILD=1: use target/ as built)
set -euo pipefail
OIDC_NAME=oidc-demo
OIDC_GW_PORT=19470
OIDC_PROVIDER_PORT=19471
OIDC_ECHO_PORT=19472
OIDC_GRPC_PORT=19473
OIDC_HTTP_PORT=19474
OIDC_SPOE_PORT=19475
OIDC_ADMIN_PORT=19476
# shellcheck source=tests/e2e/oidc/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "${STACK_DIR}"
sed -e "s/port_value: 10000\b/port_value: ${OIDC_GW_PORT}/" -e "s/port_value: 9901\b/port_value: 19477/" \
  -e "s/port_value: 8081\b/port_value: ${STACK_ECHO_PORT}/" -e "s/port_value: 8083\b/port_value: ${OIDC_GRPC_PORT}/" \
  deploy/envoy/envoy-oidc.yaml >"${STACK_DIR}/envoy.yaml.tmp"
if ! oidc_start_backends; then oidc_dump_logs; exit 1; fi
mv "${STACK_DIR}/envoy.yaml.tmp" "${STACK_DIR}/envoy.yaml"
stack_spawn envoy "${STACK_DIR}/envoy.log" envoy -c "${STACK_DIR}/envoy.yaml" \
  --base-id "${OIDC_GW_PORT}" --concurrency 1 --log-level error
stack_wait envoy "envoy listener" stack_port_open "${OIDC_GW_PORT}" || { oidc_dump_logs; exit 1; }
cat <<EOF2

  Open ${E2E_URL}/app in a browser: sign in as anyone (any password), consent, and the
  upstream's JSON shows x-auth-sub, x-auth-email, x-auth-groups and the Bearer token.
  ${E2E_URL}/logout signs out.  curl -i ${E2E_URL}/app  (an API client) gets 401.
  Ctrl-C stops everything.
EOF2
trap 'stack_stop; exit 0' INT TERM
while stack_alive envoy && stack_alive gatehouse; do sleep 1; done
