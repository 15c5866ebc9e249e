#!/usr/bin/env bash
# Release build of every plugin crate under plugins/ (cdylib); copies the .so files to
# dist/plugins/. Extra arguments go to cargo (e.g. --locked). No docker: the
# Dockerfile's builder stage and CI both run this.
#
# Usage: scripts/build-plugins.sh [cargo args...]
#   env: DIST_DIR=dist; SKIP_PLUGINS="template" (directories under plugins/ not shipped:
#        plugins/template is the skeleton for plugin authors)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
dist="${DIST_DIR:-${repo_root}/dist}/plugins"
target_dir="${CARGO_TARGET_DIR:-${repo_root}/target}"

# The value of KEY in the [SECTION] table of a Cargo.toml (empty if absent).
toml_value() { # FILE SECTION KEY
  sed -n "/^\[$2\]/,/^\[/{s/^$3 *= *\"\([^\"]*\)\".*/\1/p}" "$1" | head -n 1
}

packages=()
libs=()
skip=" ${SKIP_PLUGINS-template} "
for manifest in plugins/*/Cargo.toml; do
  [[ -f "${manifest}" ]] || continue
  dir="$(basename "$(dirname "${manifest}")")"
  [[ "${skip}" == *" ${dir} "* ]] && continue
  package="$(toml_value "${manifest}" package name)"
  lib="$(toml_value "${manifest}" lib name)"
  [[ -n "${package}" ]] || continue
  packages+=(-p "${package}")
  libs+=("lib${lib:-${package//-/_}}.so")
done
if ((${#libs[@]} == 0)); then
  echo "build-plugins: no plugin crates under plugins/" >&2
  exit 1
fi

cargo build --release "${packages[@]}" "$@"

mkdir -p "${dist}"
for lib in "${libs[@]}"; do
  install -m 0644 "${target_dir}/release/${lib}" "${dist}/${lib}"
  echo "${dist}/${lib}"
done
