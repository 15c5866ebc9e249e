#!/usr/bin/env bash
# OIDC login end to end through a real Envoy 1.40 (ext_authz gRPC): headless Chromium
# signs in at the real oidc-provider (tests/e2e/oidc/provider.mjs), lands on the
# original URL with the identity headers at the upstream, rides the cookie, is refused
# with tampered, expired and foreign-key cookies and replayed or forged states, and
# logs out (tests/e2e/oidc/browser.mjs); near the access token's expiry a request refreshes
# the tokens and the new session cookie rides on the allowed response. Config: deploy/envoy/envoy-oidc.yaml.
#
# Usage: tests/e2e/oidc-envoy.sh   (E2E_SKIP_BUILD=1: use target/ as built)
# The last line is "N passed, N failed"; non-zero exit on any failure.
set -euo pipefail
OIDC_NAME=oidc-envoy
OIDC_PORTS=19410
# Access tokens live 65 s and are refreshed 60 s before expiry: due after 5 s.
OIDC_ACCESS_TTL=65
# A 6 KB claim kept in the session: the cookie is chunked (gh_session_0, _1, ...).
OIDC_SCOPES='[openid, email, profile, groups, big]'
OIDC_CLAIMS='[name, blob]'
# shellcheck source=tests/e2e/oidc/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/oidc/lib.sh"

if ! oidc_start_backends || ! oidc_start_envoy; then
  fail "the OIDC stack started (provider, gatehouse, Envoy, upstream)"
  oidc_dump_logs
  summary
  exit 1
fi

oidc_check_login_redirect Envoy
OIDC_CHUNKED=1 OIDC_REFRESH_WAIT=6 oidc_browser "${E2E_URL}"
if ((failed)); then oidc_dump_logs; fi
summary
