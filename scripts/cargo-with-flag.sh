#!/usr/bin/env bash
# cargo with one more rustc flag for every crate, keeping the flags cargo would use
# anyway: $RUSTFLAGS when set (it replaces the config's), else .cargo/config.toml's
# `--cfg tokio_unstable`, which a --config array joins rather than replaces.
# For the PGO builds (scripts/pgo-profile.sh, scripts/build-host.sh --pgo).
#
# Usage: scripts/cargo-with-flag.sh FLAG CARGO-ARGS...
set -euo pipefail
flag="$1"
shift
if [[ -n "${RUSTFLAGS:-}" ]]; then
  RUSTFLAGS="${RUSTFLAGS} ${flag}" exec cargo "$@"
fi
exec cargo "$@" --config "build.rustflags=[\"${flag}\"]"
