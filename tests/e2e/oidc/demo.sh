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
OIDC_PORTS=19470
# shellcheck source=tests/e2e/oidc/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! oidc_start_backends; then oidc_dump_logs; exit 1; fi
oidc_start_envoy || { oidc_dump_logs; exit 1; }
cat <<EOF2

  Open ${E2E_URL}/app in a browser: sign in as anyone (any password), consent, and the
  upstream's JSON shows x-auth-sub, x-auth-email, x-auth-groups and the Bearer token.
  ${E2E_URL}/logout signs out.  curl -i ${E2E_URL}/app  (an API client) gets 401.
  Ctrl-C stops everything.
EOF2
trap 'stack_stop; exit 0' INT TERM
while stack_alive envoy && stack_alive gatehouse; do sleep 1; done
