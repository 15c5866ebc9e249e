#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs the real peers it needs
# (Envoy 1.40, grpcurl, Caddy, Traefik, Redis, buildah/podman, oidc-provider, Chromium),
# builds the workspace and the fixture plugins, checks formatting and lints, runs every
# Rust test, builds and tests a plugin authored outside the repository, then the
# end-to-end tests through a real Envoy, nginx, HAProxy, Caddy and Traefik, the container
# images with podman, OIDC login in a headless browser, and the benchmarks in smoke mode.
# `.ci/run` runs exactly this.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# CI builds each crate once from a clean clone: incremental caches would only take disk
# (3 GB of target/debug).
export CARGO_INCREMENTAL=0

# Each stage either passes or ends the run (set -e): the closing line counts them.
stages=0
step() {
  stages=$((stages + 1))
  printf '\n==> %s\n' "$*"
}

# free_disk: what the clone's filesystem has left (CI once ran out of it).
free_disk() { df -h --output=avail . | tail -n 1 | tr -d ' '; }
printf 'disk: %s free at the start\n' "$(free_disk)"

step "installing test peers"
scripts/install-peers.sh

step "building the workspace"
cargo build --workspace --all-targets

step "building fixture plugins (other interface versions)"
scripts/build-fixtures.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test"
cargo test --workspace

step "a plugin authored outside the repository: packaged crates, standalone template, unit + host tests, gatehouse-verify"
scripts/author-outside.sh

step "end to end through a real Envoy"
tests/e2e/envoy.sh

step "end to end: nginx auth_request, HAProxy SPOE, Envoy ext_authz HTTP mode, Caddy forward_auth, Traefik ForwardAuth"
PATH="${PATH}:/usr/sbin" tests/e2e/nginx.sh
PATH="${PATH}:/usr/sbin" tests/e2e/haproxy.sh
tests/e2e/envoy-http.sh
tests/e2e/caddy.sh
tests/e2e/traefik.sh

step "container images: manifests and Dockerfiles linted, images built with buildah and run with podman (init steps, host, Envoy, plugin image swap, kube play)"
tests/e2e/images-lint.sh
IMAGES_PROFILE=release tests/e2e/images.sh
tests/e2e/images-kube.sh

step "OIDC login: oidc-provider + headless Chromium through Envoy, nginx, HAProxy; misbehaving provider; two hosts (cookie, Redis)"
tests/e2e/oidc-envoy.sh
tests/e2e/oidc-negative.sh
PATH="${PATH}:/usr/sbin" tests/e2e/oidc-nginx.sh
PATH="${PATH}:/usr/sbin" tests/e2e/oidc-haproxy.sh
tests/e2e/oidc-replicas.sh

step "benchmarks (smoke: checks they run and decide correctly, no timing assertions)"
scripts/bench.sh --smoke

printf '\ndisk: target/ takes %s, %s free\n' "$(du -sh target | cut -f1)" "$(free_disk)"
printf 'stages: %d passed, 0 failed\n' "${stages}"
