#!/usr/bin/env bash
# A plugin author's path, outside this repository (CI stage "author outside"):
#   1. `cargo package` the SDK, the interface crate and gatehouse-test-support
#      (exactly what would be published);
#   2. generate a crate from plugins/template/standalone in a temporary directory
#      outside the workspace ({{project-name}} filled in as cargo-generate would),
#      depending on those packages through [patch.crates-io] (as an author would
#      use a registry release or a git tag);
#   3. build it, run its unit and host tests (GATEHOUSE_BIN: this tree's host) and
#      gatehouse-verify it; print the time taken and the template's Rust lines.
# Needs `cargo build -p gatehouse -p gatehouse-verify` first. Run from anywhere.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NAME="${1:-tenant-check}"
CRATE="${NAME//-/_}"
BIN="$ROOT/target/debug"
# The author's own build: its own target dir under target/ (reused between runs).
BUILD="$ROOT/target/author-outside"
started=$SECONDS

for tool in gatehouse gatehouse-verify; do
    [[ -x "$BIN/$tool" ]] || { echo "error: $BIN/$tool missing: cargo build -p gatehouse -p gatehouse-verify" >&2; exit 1; }
done

echo "==> cargo package (plugin-api, plugin-sdk, test-support)" >&2
(cd "$ROOT" && cargo package --quiet --allow-dirty --no-verify \
    -p gatehouse-plugin-api -p gatehouse-plugin-sdk -p gatehouse-test-support)

WORK="$(mktemp -d /tmp/gatehouse-author.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/crates"
for crate in "$ROOT"/target/package/gatehouse-plugin-api-*.crate \
             "$ROOT"/target/package/gatehouse-plugin-sdk-*.crate \
             "$ROOT"/target/package/gatehouse-test-support-*.crate; do
    tar -xzf "$crate" -C "$WORK/crates"
done
version_dir() { ls -d "$WORK/crates/$1"-[0-9]* | sort -V | tail -n 1; }

echo "==> generating $NAME in $WORK (outside the workspace)" >&2
cp -r "$ROOT/plugins/template/standalone" "$WORK/$NAME"
cd "$WORK/$NAME"
rm -f cargo-generate.toml
grep -rl '{{' . | xargs sed -i "s/{{project-name}}/$NAME/g; s/{{crate_name}}/$CRATE/g"
cat >>Cargo.toml <<TOML

# Added by scripts/author-outside.sh: the packaged crates instead of crates.io.
[patch.crates-io]
gatehouse-plugin-api = { path = "$(version_dir gatehouse-plugin-api)" }
gatehouse-plugin-sdk = { path = "$(version_dir gatehouse-plugin-sdk)" }
gatehouse-test-support = { path = "$(version_dir gatehouse-test-support)" }
TOML
# Same dependency versions as the workspace, offline when the cache has them.
cp "$ROOT/Cargo.lock" Cargo.lock
offline=()
cargo metadata --offline --format-version 1 >/dev/null 2>&1 && offline=(--offline)

echo "==> build, unit and host tests" >&2
export CARGO_TARGET_DIR="$BUILD" GATEHOUSE_BIN="$BIN/gatehouse"
cargo build "${offline[@]}" --quiet
if ! log="$(cargo test "${offline[@]}" 2>&1)"; then
    echo "$log" >&2
    exit 1
fi
grep -E "^test .* ok$|^test result" <<<"$log" >&2

echo "==> gatehouse-verify" >&2
"$BIN/gatehouse-verify" --plugin-dir "$BUILD/debug" --manifest verify.yaml

lines="$(grep -cvE '^\s*(//.*)?$' src/lib.rs)"
echo "author outside: $NAME from the template to a verified .so with a host test in $((SECONDS - started)) s; src/lib.rs has $lines lines of Rust" >&2
