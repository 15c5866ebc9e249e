#!/usr/bin/env bash
# Release build of the host (gatehouse) and its plugin checker (gatehouse-verify);
# copies the binaries to dist/bin/. Extra arguments go to cargo (e.g. --locked).
# No docker: the Dockerfile's builder stage and CI both run this.
#
# Usage: scripts/build-host.sh [cargo args...]     (env: DIST_DIR=dist)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
dist="${DIST_DIR:-${repo_root}/dist}/bin"
target_dir="${CARGO_TARGET_DIR:-${repo_root}/target}"

packages=(-p gatehouse)
bins=(gatehouse)
if [[ -f verify/Cargo.toml ]]; then
  packages+=(-p gatehouse-verify)
  bins+=(gatehouse-verify)
fi

cargo build --release "${packages[@]}" "$@"

mkdir -p "${dist}"
for bin in "${bins[@]}"; do
  if [[ -f "${target_dir}/release/${bin}" ]]; then
    install -m 0755 "${target_dir}/release/${bin}" "${dist}/${bin}"
    echo "${dist}/${bin}"
  elif [[ "${bin}" == gatehouse ]]; then
    echo "build-host: ${target_dir}/release/${bin} was not built" >&2
    exit 1
  fi
done
