//! Offline checks of the shipped deployment files: they parse, and their wiring
//! agrees (volumes and mount paths, the config file the host reads, ports,
//! probes, security context, and every `config_id` Envoy sends).

use std::{collections::BTreeSet, path::Path};

use gatehouse_tests::repo_root;
use serde_yaml::Value;

fn documents(relative: &str) -> Vec<Value> {
    let path = repo_root().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            serde::Deserialize::deserialize(doc).unwrap_or_else(|e| panic!("{relative}: {e}"))
        })
        .collect()
}

fn one(relative: &str, kind: &str) -> Value {
    documents(relative)
        .into_iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {relative}"))
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v:?}"))
}

fn env<'a>(container: &'a Value, name: &str) -> &'a str {
    let vars = container["env"].as_sequence().expect("env list");
    let var = vars
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("env {name} missing"));
    str_of(&var["value"], name)
}

fn mount_path<'a>(container: &'a Value, volume: &str) -> &'a str {
    let mounts = container["volumeMounts"]
        .as_sequence()
        .expect("volumeMounts");
    let mount = mounts
        .iter()
        .find(|m| m["name"] == volume)
        .unwrap_or_else(|| {
            panic!(
                "{} does not mount {volume}",
                str_of(&container["name"], "name")
            )
        });
    str_of(&mount["mountPath"], "mountPath")
}

#[test]
fn every_file_parses_and_the_kustomization_lists_them_all() {
    let kustomization = one("deploy/kubernetes/kustomization.yaml", "Kustomization");
    let listed: BTreeSet<&str> = kustomization["resources"]
        .as_sequence()
        .expect("resources")
        .iter()
        .map(|r| str_of(r, "resource"))
        .collect();
    let mut on_disk = BTreeSet::new();
    for entry in std::fs::read_dir(repo_root().join("deploy/kubernetes"))
        .expect("dir")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".yaml") && name != "kustomization.yaml" {
            assert!(!documents(&format!("deploy/kubernetes/{name}")).is_empty());
            on_disk.insert(name);
        }
    }
    assert_eq!(listed, on_disk.iter().map(String::as_str).collect());
    documents("deploy/envoy/envoy.yaml");
}

#[test]
fn plugins_volume_config_file_ports_and_probes_are_wired() {
    let deployment = one("deploy/kubernetes/deployment.yaml", "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let host = &pod["containers"][0];
    assert_eq!(host["name"], "gatehouse");

    // Plugins: every init container writes where the host reads, through the same emptyDir.
    let plugin_dir = env(host, "GATEHOUSE_PLUGIN_DIR");
    let volumes = pod["volumes"].as_sequence().expect("volumes");
    let plugins_volume = volumes
        .iter()
        .find(|v| {
            v.get("emptyDir").is_some()
                && mount_path_opt(host, str_of(&v["name"], "name")) == Some(plugin_dir)
        })
        .expect("an emptyDir mounted at GATEHOUSE_PLUGIN_DIR");
    let plugins_volume = str_of(&plugins_volume["name"], "name");
    let inits = pod["initContainers"].as_sequence().expect("initContainers");
    assert!(!inits.is_empty());
    for init in inits {
        assert_eq!(
            mount_path(init, plugins_volume),
            plugin_dir,
            "init container must copy into the host's plugin dir"
        );
    }

    // Config: GATEHOUSE_CONFIG is a key of the mounted ConfigMap, and that ConfigMap exists.
    let config_file = Path::new(env(host, "GATEHOUSE_CONFIG"));
    let (dir, key) = (
        config_file.parent().expect("dir").to_str().expect("utf8"),
        config_file
            .file_name()
            .expect("file")
            .to_str()
            .expect("utf8"),
    );
    let config_volume = volumes
        .iter()
        .find(|v| v.get("configMap").is_some())
        .expect("configMap volume");
    assert_eq!(
        mount_path(host, str_of(&config_volume["name"], "name")),
        dir
    );
    assert!(
        config_volume.get("subPath").is_none(),
        "mount the directory so updates swap ..data"
    );
    let configmap = one("deploy/kubernetes/configmap.yaml", "ConfigMap");
    assert_eq!(
        configmap["metadata"]["name"],
        config_volume["configMap"]["name"]
    );
    let text = str_of(&configmap["data"][key], "ConfigMap data");
    let configs = gatehouse::config::parse_documents(text, "configmap.yaml")
        .expect("the ConfigMap's auth configs load");
    assert!(!configs.is_empty());

    // Ports: the Service targets the container's named ports; listen addresses match.
    let ports = host["ports"].as_sequence().expect("ports");
    let port = |name: &str| {
        ports
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["containerPort"].as_u64())
            .expect("port")
    };
    assert!(env(host, "GATEHOUSE_LISTEN").ends_with(&format!(":{}", port("grpc"))));
    assert!(env(host, "GATEHOUSE_ADMIN_LISTEN").ends_with(&format!(":{}", port("admin"))));
    let service = one("deploy/kubernetes/service.yaml", "Service");
    for p in service["spec"]["ports"]
        .as_sequence()
        .expect("service ports")
    {
        let target = str_of(&p["targetPort"], "targetPort");
        assert_eq!(
            p["port"].as_u64(),
            Some(port(target)),
            "service port {target}"
        );
    }
    assert_eq!(
        service["spec"]["selector"],
        deployment["spec"]["selector"]["matchLabels"]
    );

    // Probes: gRPC health on the gRPC port, liveness on the admin port.
    assert_eq!(
        host["readinessProbe"]["grpc"]["port"].as_u64(),
        Some(port("grpc"))
    );
    assert_eq!(
        host["startupProbe"]["grpc"]["port"].as_u64(),
        Some(port("grpc"))
    );
    assert_eq!(host["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(host["livenessProbe"]["httpGet"]["port"], "admin");

    // Containment: non-root, read-only root filesystem, resources set.
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    for c in inits.iter().chain(std::iter::once(host)) {
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
        assert!(c["resources"]["limits"]["memory"].is_string());
    }
    // HPA and PDB select this Deployment.
    let hpa = one("deploy/kubernetes/hpa.yaml", "HorizontalPodAutoscaler");
    assert_eq!(
        hpa["spec"]["scaleTargetRef"]["name"],
        deployment["metadata"]["name"]
    );
    let pdb = one("deploy/kubernetes/pdb.yaml", "PodDisruptionBudget");
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
}

fn mount_path_opt<'a>(container: &'a Value, volume: &str) -> Option<&'a str> {
    container["volumeMounts"]
        .as_sequence()?
        .iter()
        .find(|m| m["name"] == volume)?["mountPath"]
        .as_str()
}

fn walk<'a>(value: &'a Value, found: &mut Vec<&'a Value>, key: &str) {
    match value {
        Value::Mapping(map) => {
            for (k, v) in map {
                if k == key {
                    found.push(v);
                }
                walk(v, found, key);
            }
        }
        Value::Sequence(items) => items.iter().for_each(|v| walk(v, found, key)),
        _ => {}
    }
}

#[test]
fn envoy_points_at_the_service_port_and_every_config_id_exists() {
    let envoy = &documents("deploy/envoy/envoy.yaml")[0];
    let service = one("deploy/kubernetes/service.yaml", "Service");
    let grpc_port = service["spec"]["ports"]
        .as_sequence()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "grpc"))
        .and_then(|p| p["port"].as_u64())
        .expect("grpc port");
    let clusters = envoy["static_resources"]["clusters"]
        .as_sequence()
        .expect("clusters");
    let authz = clusters
        .iter()
        .find(|c| c["name"] == "authz")
        .expect("authz cluster");
    let mut ports = Vec::new();
    walk(authz, &mut ports, "port_value");
    assert_eq!(
        ports.iter().map(|p| p.as_u64()).collect::<Vec<_>>(),
        vec![Some(grpc_port)]
    );

    let configmap = one("deploy/kubernetes/configmap.yaml", "ConfigMap");
    let text = str_of(&configmap["data"]["auth-configs.yaml"], "data");
    let demo = std::fs::read_to_string(repo_root().join("deploy/demo/auth-configs.yaml"))
        .expect("demo config");
    assert_eq!(
        text, demo,
        "the ConfigMap must carry deploy/demo/auth-configs.yaml verbatim"
    );
    let ids: BTreeSet<String> = gatehouse::config::parse_documents(text, "configmap")
        .expect("parse")
        .iter()
        .map(|c| c.id())
        .collect();
    let mut used = Vec::new();
    walk(envoy, &mut used, "config_id");
    assert!(used.len() >= 3, "{used:?}");
    for id in used {
        let id = str_of(id, "config_id");
        // The demo routes one path to a deliberately missing id to show the 403.
        if id != "no-such-config" {
            assert!(
                ids.contains(id),
                "Envoy sends config_id {id}, which no AuthConfig defines ({ids:?})"
            );
        }
    }
}

/// One `FROM … AS name` stage of a Dockerfile: its base and its instruction lines
/// (continuations joined).
struct Stage {
    name: String,
    base: String,
    lines: Vec<String>,
}

fn stages(relative: &str) -> Vec<Stage> {
    let path = repo_root().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let joined = text.replace("\\\n", " ");
    let mut stages: Vec<Stage> = Vec::new();
    for line in joined.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if words[0] == "FROM" {
            assert_eq!(
                words.get(2),
                Some(&"AS"),
                "{relative}: unnamed stage: {line}"
            );
            stages.push(Stage {
                name: words[3].to_string(),
                base: words[1].to_string(),
                lines: Vec::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            stage.lines.push(line.to_string());
        }
    }
    stages
}

fn stage<'a>(stages: &'a [Stage], name: &str) -> &'a Stage {
    stages
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no stage {name}"))
}

fn has_line(stage: &Stage, start: &str) -> bool {
    stage.lines.iter().any(|l| l.starts_with(start))
}

#[test]
fn the_images_match_the_deployment_and_plugins_are_verified_before_they_become_an_image() {
    let deployment = one("deploy/kubernetes/deployment.yaml", "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let host = &pod["containers"][0];
    let dockerfile = stages("Dockerfile");

    // The Deployment runs the two targets the README tells users to build.
    let image_of = |c: &Value| {
        str_of(&c["image"], "image")
            .split(':')
            .next()
            .map(String::from)
    };
    assert_eq!(image_of(host).as_deref(), Some("gatehouse"));
    assert_eq!(
        image_of(&pod["initContainers"][0]).as_deref(),
        Some("gatehouse-plugins")
    );

    // host: the user the pod runs as, the plugin directory the pod mounts.
    let host_stage = stage(&dockerfile, "host");
    let user = format!(
        "USER {}:{}",
        pod["securityContext"]["runAsUser"]
            .as_u64()
            .expect("runAsUser"),
        pod["securityContext"]["runAsGroup"]
            .as_u64()
            .expect("runAsGroup")
    );
    assert!(has_line(host_stage, &user), "host stage must run as {user}");
    let plugin_dir = env(host, "GATEHOUSE_PLUGIN_DIR");
    assert!(host_stage
        .lines
        .iter()
        .any(|l| l.contains(&format!("GATEHOUSE_PLUGIN_DIR={plugin_dir}"))));
    assert!(has_line(host_stage, "COPY --from=artifacts "));

    // The artifacts stage is the builder by default and `prebuilt` on request.
    assert_eq!(stage(&dockerfile, "artifacts").base, "${ARTIFACTS}");
    assert_eq!(stage(&dockerfile, "builder").base, "rust:1-bookworm");
    assert_eq!(stage(&dockerfile, "prebuilt").base, "scratch");

    // plugins: only files from the stage where the host image's gatehouse-verify
    // accepted them; non-root; the command copies into the plugin directory.
    for (file, final_stage, verified) in [
        ("Dockerfile", "plugins", "plugins-verified"),
        ("plugins/template/Dockerfile", "plugin", "verified"),
    ] {
        let all = stages(file);
        let plugins = stage(&all, final_stage);
        assert_eq!(plugins.base, "busybox:1.36", "{file}");
        let copies: Vec<&String> = plugins
            .lines
            .iter()
            .filter(|l| l.starts_with("COPY"))
            .collect();
        assert_eq!(copies.len(), 1, "{file}: {copies:?}");
        assert!(
            copies[0].starts_with(&format!("COPY --from={verified} ")),
            "{file}"
        );
        let check = stage(&all, verified);
        assert!(
            check
                .lines
                .iter()
                .any(|l| l.starts_with("RUN") && l.contains("verify")),
            "{file}: {verified} must run gatehouse-verify"
        );
        assert!(
            has_line(plugins, &user),
            "{file}: {final_stage} must run as {user}"
        );
        let cmd = plugins
            .lines
            .iter()
            .find(|l| l.starts_with("CMD"))
            .expect("CMD");
        assert!(cmd.contains(&format!("{plugin_dir}/")), "{file}: {cmd}");
    }
    // A third-party plugin is judged by the host image it will run in.
    let template = stages("plugins/template/Dockerfile");
    assert_eq!(stage(&template, "verified").base, "${GATEHOUSE_IMAGE}");
}
