#!/usr/bin/env bash
# The training profile of a profile-guided host build (scripts/build-host.sh --pgo):
#
#   1. builds the host instrumented (-Cprofile-generate, the release profile) in
#      $TARGET/pgo-generate, and the two plugins the benchmark's chain loads;
#   2. serves that chain (bench/configs/three-step.yaml: required-header ->
#      set-headers -> set-headers) and sends it, through h2load, the benchmark's
#      allowed Envoy check (scripts/pgo/allow.grpc, PGO_REQUESTS times), a refused
#      one (scripts/pgo/refuse.grpc) and nginx-style forward-auth checks over
#      HTTP/1.1 (a third as many each), so that neither the deny path nor the HTTP
#      frontend is laid out as cold code; checks from the host's own metrics that
#      every one of them was decided;
#   3. stops it with SIGTERM (the counts are written at exit), merges them with
#      rustup's llvm-profdata (component llvm-tools, added when missing: it must
#      match rustc's LLVM, which Debian's does not) and removes the instrumented build.
#
# Prints the merged profile's path, $TARGET/pgo-data/gatehouse-<sha12>.profdata,
# named by its content so that cargo rebuilds whenever the profile changes.
#
# Usage: scripts/pgo-profile.sh [cargo args...]
#   env: PGO_REQUESTS=200000, PGO_PORT=47083 (gRPC; admin: PGO_PORT+1; HTTP: +2),
#        RUSTFLAGS (kept: the profile flag is added to it)
# Needs h2load (Debian nghttp2-client) and curl.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"
target_dir="${CARGO_TARGET_DIR:-${repo_root}/target}"
work="${target_dir}/pgo-data"
raw="${work}/raw"
requests="${PGO_REQUESTS:-200000}"
port="${PGO_PORT:-47083}"
admin=$((port + 1))
http=$((port + 2))

log() { printf '[pgo] %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

[[ "${requests}" =~ ^[1-9][0-9]*$ ]] || die "PGO_REQUESTS=${requests}: not a positive number"
command -v h2load >/dev/null || die "h2load not found: install Debian's nghttp2-client"
command -v curl >/dev/null || die "curl not found"

llvm_profdata() {
  local bin
  bin="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-profdata"
  if [[ ! -x "${bin}" ]]; then
    log "adding rustup's llvm-tools (llvm-profdata)"
    rustup component add llvm-tools >&2
  fi
  [[ -x "${bin}" ]] || die "${bin} missing after rustup component add llvm-tools"
  printf '%s\n' "${bin}"
}
profdata="$(llvm_profdata)"

# A port in use would send the training to another server.
for p in "${port}" "${admin}" "${http}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/${p}") 2>/dev/null; then
    die "port ${p} is in use: set PGO_PORT"
  fi
done

log "building the instrumented host (${target_dir}/pgo-generate)"
mkdir -p "${work}"
CARGO_TARGET_DIR="${target_dir}/pgo-generate" \
  scripts/cargo-with-flag.sh "-Cprofile-generate=${raw}" build --release -p gatehouse "$@" >&2
cargo build --release -p required-header -p set-headers "$@" >&2
plugins="${work}/plugins"
mkdir -p "${plugins}"
install -m 0644 "${target_dir}/release/librequired_header.so" \
  "${target_dir}/release/libset_headers.so" "${plugins}/"

# Build scripts ran instrumented too: only the host's own counts are kept.
rm -rf "${raw}"
host_log="${work}/host.log"
"${target_dir}/pgo-generate/release/gatehouse" \
  --config bench/configs/three-step.yaml --plugin-dir "${plugins}" \
  --listen "127.0.0.1:${port}" --admin-listen "127.0.0.1:${admin}" \
  --http-listen "127.0.0.1:${http}" --http-gateway nginx \
  --watch-interval-ms 0 >"${host_log}" 2>&1 &
host=$!
trap 'kill "${host}" 2>/dev/null || true' EXIT

for _ in $(seq 600); do
  curl -fsS -o /dev/null "http://127.0.0.1:${admin}/readyz" 2>/dev/null && break
  kill -0 "${host}" 2>/dev/null || die "the instrumented host exited: $(tail -n 5 "${host_log}")"
  sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:${admin}/readyz" ||
  die "the instrumented host never became ready: $(tail -n 5 "${host_log}")"

# h2load_all N ARGS...: N requests of h2load ARGS, every one of them answered.
h2load_all() {
  local n="$1" out
  shift
  out="$(h2load -t 1 -c 4 -n "${n}" "$@")" || die "h2load failed: ${out}"
  grep -q "requests: ${n} total, ${n} started, ${n} done, ${n} succeeded" <<<"${out}" ||
    die "h2load $*: not every call succeeded: $(grep '^requests:' <<<"${out}")"
}
# grpc FILE N: N Envoy checks with FILE's request.
grpc() {
  h2load_all "$2" -m 16 -H 'content-type: application/grpc' -H 'te: trailers' \
    -d "scripts/pgo/$1" "http://127.0.0.1:${port}/envoy.service.auth.v3.Authorization/Check"
}
third=$((requests / 3 > 0 ? requests / 3 : 1))
log "training: ${requests} allowed and ${third} refused Envoy checks, ${third} nginx checks"
grpc allow.grpc "${requests}"
grpc refuse.grpc "${third}"
# As nginx's auth_request asks (deploy/nginx/nginx.conf), of the same team.
h2load_all "${third}" --h1 -H 'x-original-uri: /api/v1/orders?limit=20&page=3' \
  -H 'x-original-method: GET' -H 'x-forwarded-host: api.example.com' \
  -H 'x-forwarded-proto: https' -H 'x-forwarded-for: 203.0.113.7' -H 'x-team: platform' \
  "http://127.0.0.1:${http}/auth/bench"

# decided DECISION: gatehouse_requests_total of the bench chain.
decided() {
  curl -fsS "http://127.0.0.1:${admin}/metrics" |
    sed -n "s/^gatehouse_requests_total{auth_config=\"bench\",decision=\"$1\"} //p"
}
allowed="$(decided allow)"
denied="$(decided deny)"
[[ "${allowed:-0}" == $((requests + third)) && "${denied:-0}" == "${third}" ]] ||
  die "the chain decided allow=${allowed:-0} deny=${denied:-0}, expected $((requests + third)) and ${third}"

kill -TERM "${host}"
wait "${host}" || die "the instrumented host did not exit cleanly: $(tail -n 5 "${host_log}")"
trap - EXIT
compgen -G "${raw}/*.profraw" >/dev/null || die "the instrumented host wrote no profile to ${raw}"

merged="${work}/merged.profdata"
"${profdata}" merge -o "${merged}" "${raw}"/*.profraw >&2
# The hottest function ran at least once per check, or the counts are not this run's.
hottest="$("${profdata}" show "${merged}" | sed -n 's/^Maximum function count: //p')"
((${hottest:-0} >= requests)) || die "profile's hottest function ran ${hottest:-0} times, fewer than ${requests} checks"
# The instrumented build (1.5 GB) served only this run; a new profile needs a new one.
rm -rf "${target_dir}/pgo-generate"
sum="$(sha256sum "${merged}" | cut -c1-12)"
final="${work}/gatehouse-${sum}.profdata"
mv -f "${merged}" "${final}"
log "profile ${final} (hottest function: ${hottest} calls)"
printf '%s\n' "${final}"
