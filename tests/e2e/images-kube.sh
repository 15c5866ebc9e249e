#!/usr/bin/env bash
# `podman kube play` of deploy/kubernetes: the ConfigMap and the Deployment's pod (its
# init container filling the emptyDir, the ConfigMap volume, the /tmp emptyDir, the
# security contexts) run by podman 4.3, then checked over gRPC and the admin port.
#
# podman 4.3 cannot play the Deployment itself: it gives the init container the
# Deployment's restartPolicy (Always), so the init container restarts forever, the pod
# start waits ~20 s for it to exit and fails with "failed to remove once init container
# …: cannot remove container … as it is running" (podman issue #16343). It also
# publishes every containerPort on the host (here 8083 and 9090, which the demo uses).
# So the pod template is played as a Pod with restartPolicy OnFailure, without `ports`
# (reached at the pod's bridge address), with the images of scripts/images.sh; nothing
# else is changed. podman turns the liveness probe into a `curl` healthcheck that needs
# systemd timers and curl in the image (neither here), so this script checks health itself.
#
# Usage: tests/e2e/images-kube.sh   (after scripts/images.sh; IMAGES_TAG as there)
# The last line of output is "N passed, N failed".
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "${repo_root}"
PATH="${repo_root}/.tools/bin:${PATH}"
tag="${IMAGES_TAG:-ci}"
work="${repo_root}/target/e2e-images-kube"
pod="gatehouse-e2e-kube-$$"
rm -rf "${work}"
mkdir -p "${work}"
export "$(scripts/images.sh env)"

# shellcheck source=tests/e2e/checks-lib.sh
source tests/e2e/checks-lib.sh
stack_stop() { :; } # summary's hook; there is no stack here

pm() { podman --runtime runc "$@"; }
cleanup() { pm pod rm -f "${pod}" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# The ConfigMap as shipped; the Deployment's pod template as a Pod (see above).
# PyYAML comes with kubernetes-validate in the .tools venv.
"${repo_root}/.tools/venv/bin/python" - "${pod}" "${tag}" >"${work}/pod.yaml" <<'PY'
import sys, yaml
name, tag = sys.argv[1:]
docs = [d for f in ("deploy/kubernetes/configmap.yaml", "deploy/kubernetes/deployment.yaml")
        for d in yaml.safe_load_all(open(f))]
configmap = next(d for d in docs if d["kind"] == "ConfigMap")
template = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]
spec = template["spec"]
spec["restartPolicy"] = "OnFailure"
images = {"gatehouse:0.1.0": f"localhost/gatehouse:{tag}",
          "gatehouse-plugins:0.1.0": f"localhost/gatehouse-plugins:{tag}"}
for c in spec["initContainers"] + spec["containers"]:
    c.pop("ports", None)
    c["image"] = images[c["image"]]
pod = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": name, "labels": template["metadata"]["labels"]}, "spec": spec}
yaml.safe_dump_all([configmap, pod], sys.stdout)
PY

c="podman kube play (ConfigMap + the Deployment's pod)"
if timeout 120 podman --runtime runc kube play --network bridge "${work}/pod.yaml" >"${work}/play.out" 2>&1; then
  pass "${c}: pod started"
else
  fail "${c}: $(tail -n 3 "${work}/play.out")"
  summary
  exit 1
fi
host="${pod}-gatehouse"
infra="$(pm pod inspect "${pod}" --format '{{.InfraContainerID}}')"
ip="$(pm inspect "${infra}" --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}')"
addr="${ip}:8083"

healthy() { grpcurl -plaintext -max-time 2 "${addr}" grpc.health.v1.Health/Check | grep -q SERVING; }
for _ in $(seq 1 60); do healthy 2>/dev/null && break; sleep 0.5; done
if healthy 2>/dev/null; then pass "${c}: gRPC health SERVING at the pod address ${addr}"; else
  fail "${c}: not SERVING at ${addr}" "$(pm logs "${host}" 2>&1 | tail -n 5)"
fi
init_left="$(pm ps -a --filter "pod=${pod}" --format '{{.Names}}' | grep -c bundled-plugins || true)"
expect_eq "${c}" "init container ran once and was removed" "${init_left}" 0

c="host container of the pod"
expect_eq "${c}" "uid" "$(pm exec "${host}" id -u 2>&1)" 10001
if pm exec "${host}" touch /probe 2>/dev/null; then fail "${c}: root filesystem writable"; else pass "${c}: root filesystem read-only (readOnlyRootFilesystem)"; fi
if pm exec "${host}" touch /auth-plugins/probe 2>/dev/null; then fail "${c}: /auth-plugins writable"; else pass "${c}: /auth-plugins read-only"; fi
if pm exec "${host}" touch /tmp/probe 2>/dev/null; then pass "${c}: /tmp (emptyDir) writable"; else fail "${c}: /tmp not writable"; fi

c="/config on the admin port"
curl -fsS --max-time 3 "http://${ip}:9090/config" >"${work}/config.json" 2>&1 || true
# The ids the ConfigMap defines: namespace.name, or name without a namespace.
want_ids="$("${repo_root}/.tools/venv/bin/python" -c '
import sys, yaml
cm = next(d for d in yaml.safe_load_all(open("deploy/kubernetes/configmap.yaml")) if d["kind"] == "ConfigMap")
ids = []
for d in yaml.safe_load_all(cm["data"]["auth-configs.yaml"]):
    if d and d.get("kind") == "AuthConfig":
        m = d["metadata"]
        ids.append(m["namespace"] + "." + m["name"] if m.get("namespace") else m["name"])
print(" ".join(sorted(ids)))')"
expect_eq "${c}" "auth configs (the ConfigMap's)" "$(python3 -c '
import json, sys
print(" ".join(sorted(a["id"] for a in json.load(open(sys.argv[1]))["authConfigs"])))' "${work}/config.json" 2>&1)" \
  "${want_ids}"

check() { # NAME HEADERS_JSON
  grpcurl -plaintext -max-time 5 -d "{\"attributes\": {\"request\": {\"http\": {\"method\": \"GET\", \"path\": \"/demo\", \"headers\": $2}}, \"contextExtensions\": {\"config_id\": \"gatehouse.demo\"}}}" \
    "${addr}" envoy.service.auth.v3.Authorization/Check >"${work}/$1.json" 2>&1 || true
}
c="grpcurl Check gatehouse.demo in the pod"
check allow '{"x-team": "platform"}'
if grep -q '"x-gatehouse-team"' "${work}/allow.json" && grep -q okResponse "${work}/allow.json"; then
  pass "${c}: x-team platform allowed with the chain's headers"
else
  fail "${c}: not allowed" "$(head -c 300 "${work}/allow.json")"
fi
check deny '{}'
if grep -q '"Unauthorized"' "${work}/deny.json"; then pass "${c}: no x-team denied (401)"; else
  fail "${c}: not denied with 401" "$(head -c 300 "${work}/deny.json")"
fi

summary
