#!/usr/bin/env bash
# Installs the peers of the OIDC end-to-end tests (tests/e2e/oidc-*.sh); called by
# scripts/install-peers.sh. Idempotent.
#   chromium, redis-server      Debian packages (apt), when missing
#   .tools/oidc-node/           oidc-provider and playwright-core, pinned in
#                               tests/e2e/oidc/package.json + package-lock.json (npm ci,
#                               with the machine's Node.js 20); never a downloaded browser
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${here}/../../.." && pwd)"
dest="${repo_root}/.tools/oidc-node"

log() { printf '[install-peers/oidc] %s\n' "$*" >&2; }
as_root() {
  if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi
}

missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  log "installing ${missing[*]} via apt"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

mkdir -p "${dest}"
if ! cmp -s "${here}/package-lock.json" "${dest}/package-lock.json" || [[ ! -d "${dest}/node_modules/oidc-provider" ]]; then
  log "npm ci (oidc-provider, playwright-core) into ${dest}"
  cp -f "${here}/package.json" "${here}/package-lock.json" "${dest}/"
  # playwright-core never downloads a browser by itself; the tests use /usr/bin/chromium.
  (cd "${dest}" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

echo "node:     $(node --version)"
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
echo "redis:    $(redis-server --version | head -n 1)"
echo "oidc-provider $(node -p "require('${dest}/node_modules/oidc-provider/package.json').version"), playwright-core $(node -p "require('${dest}/node_modules/playwright-core/package.json').version")"
