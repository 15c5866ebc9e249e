#!/usr/bin/env bash
# Runs gatehouse-verify on freshly built plugin libraries, as Gloo's plugin image
# build does before its final stage. The Dockerfile's builder stage and CI both
# run this script, so an image is only built from plugins that load into this host
# and behave as their request cases say.
#
# Usage: verify/ci/verify-plugins.sh [MANIFEST]
#   MANIFEST  a gatehouse-verify manifest (default: the demo auth configs the host
#             image ships, deploy/demo/auth-configs.yaml, with the request cases in
#             verify/ci/demo-cases.yaml appended)
# Environment:
#   VERIFY      the gatehouse-verify binary   (default: $DIST_DIR/bin/gatehouse-verify)
#   PLUGIN_DIR  the plugin libraries          (default: $DIST_DIR/plugins)
#   DIST_DIR    output of scripts/build-host.sh and scripts/build-plugins.sh (default: dist)
# Exit code: gatehouse-verify's (0 ok, 2 usage, 3 load, 4 config, 5 request case).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dist="${DIST_DIR:-${repo_root}/dist}"
verify="${VERIFY:-${dist}/bin/gatehouse-verify}"
plugin_dir="${PLUGIN_DIR:-${dist}/plugins}"

if [[ ! -x "${verify}" ]]; then
  echo "verify-plugins: ${verify} is not built (run scripts/build-host.sh, or set VERIFY)" >&2
  exit 2
fi

if (($# > 0)); then
  manifest="$1"
else
  # The shipped config, unchanged, followed by the request cases for it.
  manifest="$(mktemp "${TMPDIR:-/tmp}/verify-manifest.XXXXXX")"
  trap 'rm -f "${manifest}"' EXIT
  {
    cat "${repo_root}/deploy/demo/auth-configs.yaml"
    printf '\n---\n'
    cat "${repo_root}/verify/ci/demo-cases.yaml"
  } >"${manifest}"
fi

"${verify}" --version
"${verify}" --plugin-dir "${plugin_dir}" --manifest "${manifest}"
