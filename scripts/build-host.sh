#!/usr/bin/env bash
# Release build of the host (gatehouse) and its plugin checker (gatehouse-verify);
# copies the binaries to dist/bin/. Extra arguments go to cargo (e.g. --locked).
# No docker: the Dockerfile's builder stage and CI both run this.
#
# With --pgo, a profile-guided build: scripts/pgo-profile.sh trains an instrumented host
# on the benchmark's chain, and the release build (in $TARGET/pgo-use, so that plain
# release builds stay cached) is optimised with that profile; `gatehouse --version` and
# the gatehouse_build_info metric name it. BENCHMARKS.md has what it gains.
#
# Usage: scripts/build-host.sh [--pgo] [cargo args...]     (env: DIST_DIR=dist)
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

if [[ "${1:-}" == --pgo ]]; then
  shift
  profile="$(scripts/pgo-profile.sh "$@")"
  # The profile's name is its hash: a new profile is a new flag, so cargo rebuilds.
  export GATEHOUSE_PGO_PROFILE="${profile##*/gatehouse-}"
  GATEHOUSE_PGO_PROFILE="${GATEHOUSE_PGO_PROFILE%.profdata}"
  target_dir="${target_dir}/pgo-use"
  CARGO_TARGET_DIR="${target_dir}" scripts/cargo-with-flag.sh "-Cprofile-use=${profile}" \
    build --release "${packages[@]}" "$@"
else
  cargo build --release "${packages[@]}" "$@"
fi

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
