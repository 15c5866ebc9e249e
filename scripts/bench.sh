#!/usr/bin/env bash
# Benchmarks: how close the plugin chain comes to the limit of the gRPC stack.
#
#   scripts/bench.sh            full run (~6 min on 2 cores): scenarios A-E, 3 rounds,
#                               RSS over 1 M requests, the decision cache against
#                               bcrypt (bench-cache), criterion microbenchmarks
#   scripts/bench.sh --smoke    seconds: tiny counts, 1 round, checks every decision
#                               and that the table prints (CI; no timing assertions);
#                               scale scenarios at 1/100 configs, 1/3/10 steps; A and D
#                               under callgrind with 300 requests each
#   scripts/bench.sh --callgrind  instruction counts only (~5 min): A, B, C, D, a
#                               10-step chain and D with 10,000 configs loaded, each
#                               under valgrind --tool=callgrind (--callgrind-requests N),
#                               with its cache and branch simulation (I1/D1 misses)
#   scripts/bench.sh --scale    scale scenarios only: reload time and RSS of 1/100/10,000
#                               configs (--max-configs N, --reloads N), 1/3/10 steps
#
# The full run includes the scale scenarios and the instruction counts.
# Extra arguments go to the driver (bench/src/main.rs), e.g. --rounds 5.
# The table is written to target/release/bench-work/results.md. See BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v h2load >/dev/null; then
    echo "==> installing h2load (Debian nghttp2-client)"
    if [ "$(id -u)" = 0 ]; then apt-get install -y nghttp2-client; else sudo apt-get install -y nghttp2-client; fi
fi
if ! command -v valgrind >/dev/null || ! command -v callgrind_control >/dev/null; then
    echo "==> installing valgrind (instruction counts)"
    if [ "$(id -u)" = 0 ]; then apt-get install -y valgrind; else sudo apt-get install -y valgrind; fi
fi
if [ ! -x .tools/bin/envoy ]; then
    scripts/install-peers.sh
fi

echo "==> building (release)"
cargo build --release -p gatehouse -p required-header -p set-headers -p basic-auth
cargo build --release -p gatehouse-bench --bins

target="${CARGO_TARGET_DIR:-target}/release"
smoke=0
only=0
for a in "$@"; do
    [ "$a" = --smoke ] && smoke=1
    if [ "$a" = --callgrind ] || [ "$a" = --scale ]; then only=1; fi
done
echo "==> bench driver $*"
"$target/bench" --out "$target/bench-work-results.md" "$@"
[ "$only" = 1 ] && exit 0

echo "==> decision cache: a bcrypt BasicAuth step, uncached and cached"
if [ "$smoke" = 1 ]; then "$target/bench-cache" --smoke; else "$target/bench-cache"; fi
if [ "$smoke" = 1 ]; then
    echo "==> microbenchmarks (compile and run once each)"
    cargo bench -p gatehouse-bench --bench micro -- --test
else
    echo "==> microbenchmarks (criterion)"
    cargo bench -p gatehouse-bench --bench micro
fi
