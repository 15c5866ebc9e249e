#!/usr/bin/env bash
# Quick start: installs Envoy and grpcurl (into .tools/), builds the host and the two
# demo plugins, starts echo upstream + gatehouse + Envoy on loopback and keeps them
# running until Ctrl-C. See scripts/stack.sh for the settings (ports, profile, ...).
#
# Usage: scripts/demo.sh            (STACK_PROFILE=release scripts/demo.sh for --release)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

scripts/install-peers.sh

cargo_flags=()
if [[ "${STACK_PROFILE:-debug}" == release ]]; then cargo_flags=(--release); fi
cargo build "${cargo_flags[@]}" -p gatehouse -p required-header -p set-headers

# shellcheck source=scripts/stack.sh
source scripts/stack.sh
stack_start

cat <<EOF

Gatehouse demo is running (logs in ${STACK_DIR}/):
  Envoy       ${STACK_ENVOY_URL}   (admin ${STACK_ENVOY_ADMIN_URL})
  gatehouse   ${STACK_GATEHOUSE_ADDR}   (gRPC: ext_authz v3, health, reflection)
  upstream    ${STACK_ECHO_URL}   (echoes the request it receives as JSON)
  auth config ${STACK_AUTH_CONFIG#"${repo_root}/"}

Try it through Envoy:
  # chain gatehouse.demo: allowed, the upstream sees the headers the chain set
  curl -i -H 'x-team: platform' ${STACK_ENVOY_URL}/demo
  # missing header -> 401, a value not allowed -> 403
  curl -i ${STACK_ENVOY_URL}/demo
  curl -i -H 'x-team: intern' ${STACK_ENVOY_URL}/demo
  # header merge: the upstream sees "one: bar, baz" and "two: asd"
  curl -s -H 'one: foo' ${STACK_ENVOY_URL}/merge
  # always denied (403 "denied by policy"), and an unknown config_id (403)
  curl -i ${STACK_ENVOY_URL}/deny
  curl -i ${STACK_ENVOY_URL}/unknown

Talk to gatehouse directly (grpcurl from .tools/bin, via server reflection):
  export PATH="${repo_root}/.tools/bin:\$PATH"
  grpcurl -plaintext ${STACK_GATEHOUSE_ADDR} list
  grpcurl -plaintext ${STACK_GATEHOUSE_ADDR} grpc.health.v1.Health/Check
  grpcurl -plaintext -d '{
      "attributes": {
        "request": {"http": {"method": "GET", "path": "/demo", "headers": {"x-team": "security"}}},
        "contextExtensions": {"config_id": "gatehouse.demo"}
      }
    }' ${STACK_GATEHOUSE_ADDR} envoy.service.auth.v3.Authorization/Check

Press Ctrl-C to stop.
EOF

# Keep running until Ctrl-C (the trap from stack_start stops everything), or until one
# of the processes exits on its own.
while stack_alive echo && stack_alive gatehouse && stack_alive envoy; do
  sleep 1
done
stack_log "a process of the stack exited unexpectedly"
stack_dump_logs
exit 1
