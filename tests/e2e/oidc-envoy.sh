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
# A second step decides on the identity the Oidc step left in state: staff (alice, via
# oidc.groups) or carol (the sessions the browser script seals itself) pass.
OIDC_EXTRA_CONFIG='    - pluginAuth:
        name: staff-only
        pluginFileName: libclaims_policy.so
        exportedSymbolName: ClaimsPolicy
        config:
          match: any
          rules:
            - {claim: oidc.groups, contains: staff}
            - {claim: oidc.sub, equals: carol}
          headers:
            - {name: x-policy-user, value: "${oidc.sub}"}'
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

# The identity in state decides the next step: a session of dave (no groups, not carol)
# is signed in, but ClaimsPolicy denies it; carol passes with x-policy-user.
seal() { # SUB
  (cd "${OIDC_NODE}" && node -e "import('./seal.mjs').then((m) => console.log(m.session(
    m.readKey(process.argv[1]), process.argv[2], Math.floor(Date.now() / 1000) + 600)))" \
    "${STACK_DIR}/keys/current.key" "$1")
}
http policy-carol /app/policy -H 'accept: application/json' -H "cookie: gh_session=$(seal carol)"
expect_eq "ClaimsPolicy after Oidc (carol)" status "${status}" 200 policy-carol
expect_eq "ClaimsPolicy after Oidc (carol)" "upstream x-policy-user (from state oidc.sub)" \
  "$(upstream_header policy-carol x-policy-user)" carol policy-carol
http policy-dave /app/policy-dave -H 'accept: application/json' -H "cookie: gh_session=$(seal dave)"
expect_eq "ClaimsPolicy after Oidc (dave, no staff group)" status "${status}" 403 policy-dave
if reached_upstream /app/policy-dave; then fail "dave reached the upstream"; else pass "dave never reaches the upstream"; fi
if ((failed)); then oidc_dump_logs; fi
summary
