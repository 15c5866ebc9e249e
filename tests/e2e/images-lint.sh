#!/usr/bin/env bash
# Offline checks of the deploy files: the Kubernetes manifests against the Kubernetes
# 1.37 JSON schemas (kubernetes-validate --strict, schemas bundled in the wheel; run
# without a network when `unshare -n` is allowed), and the Dockerfiles with hadolint.
# Each tool is first shown a broken file, so a tool that accepts anything fails here.
#
# Usage: tests/e2e/images-lint.sh     (tools from scripts/install-peers.sh, .tools/bin)
# kustomization.yaml is not a Kubernetes resource (no schema); tests/deploy.rs checks
# that it lists every manifest.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "${repo_root}"
PATH="${repo_root}/.tools/bin:${PATH}"
work="${repo_root}/target/e2e-images-lint"
rm -rf "${work}"
mkdir -p "${work}"

# shellcheck source=tests/e2e/checks-lib.sh
source tests/e2e/checks-lib.sh
stack_stop() { :; } # summary's hook; there is no stack here

offline=()
if unshare -n true 2>/dev/null; then offline=(unshare -n); fi

manifests=()
for f in deploy/kubernetes/*.yaml; do
  [[ "${f}" == */kustomization.yaml ]] || manifests+=("${f}")
done

# kubernetes-validate: a misspelled field must be refused, the shipped files accepted.
sed 's/readOnlyRootFilesystem: true/readOnlyRootFileSystem: true/' \
  deploy/kubernetes/deployment.yaml >"${work}/broken-deployment.yaml"
if "${offline[@]}" kubernetes-validate --strict --quiet "${work}/broken-deployment.yaml" \
  >"${work}/broken.out" 2>&1; then
  fail "kubernetes-validate --strict refuses a misspelled field" "$(head -c 300 "${work}/broken.out")"
else
  pass "kubernetes-validate --strict refuses a misspelled field (readOnlyRootFileSystem)"
fi
if "${offline[@]}" kubernetes-validate --strict "${manifests[@]}" >"${work}/k8s.out" 2>&1; then
  pass "kubernetes-validate --strict${offline[*]:+ (no network)}: ${#manifests[@]} manifests"
else
  fail "kubernetes-validate --strict: deploy/kubernetes" "$(grep -v '^INFO' "${work}/k8s.out" | head -n 20)"
fi

# hadolint: an unpinned `latest` base with sudo must be refused, the shipped files clean.
printf 'FROM debian:latest\nRUN sudo apt-get update\n' >"${work}/Dockerfile.broken"
if hadolint "${work}/Dockerfile.broken" >"${work}/hadolint-broken.out" 2>&1; then
  fail "hadolint refuses a bad Dockerfile"
else
  pass "hadolint refuses a bad Dockerfile ($(grep -o 'DL[0-9]*' "${work}/hadolint-broken.out" | sort -u | paste -sd ' '))"
fi
for f in Dockerfile plugins/template/Dockerfile; do
  if hadolint "${f}" >"${work}/hadolint.out" 2>&1; then
    pass "hadolint ${f}"
  else
    fail "hadolint ${f}" "$(cat "${work}/hadolint.out")"
  fi
done

summary
