//! The YAML shape of an AuthConfig document and its validation.

use std::collections::BTreeSet;

use serde::{de::IgnoredAny, Deserialize};

use super::{
    cache::{self, CacheDocument},
    AuthConfig, ConfigError, StepConfig,
};
use crate::chain::{
    expr::{self, Expr},
    when::{self, ConditionDocument},
};

/// Every level refuses keys it does not know: a Gloo field this host does not
/// implement must fail loudly, never be ignored (an ignored `booleanExpr` once
/// turned "basic OR api key" into AND).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Document {
    #[serde(default)]
    #[allow(dead_code)] // accepted for Gloo compatibility, any group/version
    api_version: Option<String>,
    kind: String,
    metadata: Metadata,
    spec: Spec,
    /// Written by controllers (`kubectl get -o yaml` has it); read-only.
    #[serde(default)]
    #[allow(dead_code)]
    status: IgnoredAny,
}

/// Kubernetes ObjectMeta: `name` and `namespace` are used, the fields a cluster
/// adds are accepted and ignored, anything else is refused.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
struct Metadata {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    labels: IgnoredAny,
    #[serde(default)]
    annotations: IgnoredAny,
    #[serde(default)]
    uid: IgnoredAny,
    #[serde(default)]
    resource_version: IgnoredAny,
    #[serde(default)]
    generation: IgnoredAny,
    #[serde(default)]
    creation_timestamp: IgnoredAny,
    #[serde(default)]
    managed_fields: IgnoredAny,
    #[serde(default)]
    owner_references: IgnoredAny,
    #[serde(default)]
    finalizers: IgnoredAny,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Spec {
    configs: Vec<StepDocument>,
    /// Gloo's expression over the configs' names.
    #[serde(default)]
    boolean_expr: Option<String>,
    #[serde(default)]
    failure_mode_allow: bool,
    /// Gatehouse's own: upstream headers a fail-open allow removes.
    #[serde(default)]
    failure_mode_allow_remove_headers: Vec<String>,
    /// Gloo's validation status, set by its controller; read-only.
    #[serde(default)]
    #[allow(dead_code)]
    namespaced_statuses: IgnoredAny,
}

/// One entry of `spec.configs`. Gloo has other step kinds (oauth2, apiKeyAuth…);
/// only `pluginAuth` exists here, and anything else is refused by name.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StepDocument {
    /// Gloo's `Config.name`, for `booleanExpr` (the step's `pluginAuth.name` works too).
    #[serde(default)]
    name: Option<String>,
    /// Gatehouse's own: run the step for its log line and metrics only.
    #[serde(default)]
    shadow: bool,
    /// Conditions that must all hold for the step to run.
    #[serde(default)]
    when: Vec<ConditionDocument>,
    /// Replays the step's decision for requests with the same key parts.
    #[serde(default)]
    cache: Option<CacheDocument>,
    plugin_auth: PluginAuth,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PluginAuth {
    name: String,
    plugin_file_name: String,
    exported_symbol_name: String,
    #[serde(default)]
    config: serde_json::Value,
}

/// Parses every document in `text`; `origin` names the file in errors. Empty
/// documents are skipped; ids must be unique across the file.
pub fn parse_documents(text: &str, origin: &str) -> Result<Vec<AuthConfig>, ConfigError> {
    let mut configs = Vec::new();
    let mut ids = BTreeSet::new();
    for (index, de) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let where_ = format!("{origin}, document {}", index + 1);
        let invalid = |message: String| ConfigError::Invalid {
            origin: where_.clone(),
            message,
        };
        let value = serde_yaml::Value::deserialize(de).map_err(|e| invalid(e.to_string()))?;
        if value.is_null() {
            continue;
        }
        let doc: Document = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            invalid(format!("{path}: {}", e.into_inner()))
        })?;
        if doc.kind != "AuthConfig" {
            return Err(invalid(format!(
                "kind: '{}' is not supported (expected AuthConfig)",
                doc.kind
            )));
        }
        if doc.metadata.name.trim().is_empty() {
            return Err(invalid("metadata.name: must not be empty".into()));
        }
        if doc.spec.configs.is_empty() {
            return Err(invalid(
                "spec.configs: an auth config needs at least one step".into(),
            ));
        }
        let boolean_expr = match &doc.spec.boolean_expr {
            Some(text) => Some(boolean_expr(text, &doc.spec.configs).map_err(invalid)?),
            None => None,
        };
        let steps = doc
            .spec
            .configs
            .into_iter()
            .enumerate()
            .map(|(i, entry)| step_config(i, entry).map_err(&invalid))
            .collect::<Result<Vec<_>, _>>()?;
        let config = AuthConfig {
            name: doc.metadata.name,
            namespace: doc.metadata.namespace.filter(|ns| !ns.is_empty()),
            steps,
            failure_mode_allow: doc.spec.failure_mode_allow,
            failure_mode_allow_remove_headers: doc.spec.failure_mode_allow_remove_headers,
            boolean_expr,
            boolean_expr_text: doc.spec.boolean_expr,
            origin: where_.clone(),
        };
        if !ids.insert(config.id()) {
            return Err(invalid(format!(
                "metadata: auth config '{}' is defined twice",
                config.id()
            )));
        }
        configs.push(config);
    }
    if configs.is_empty() {
        return Err(ConfigError::Invalid {
            origin: origin.to_string(),
            message: "no AuthConfig documents".into(),
        });
    }
    Ok(configs)
}

/// Checks and compiles `spec.configs[i]`; the error names the field.
fn step_config(i: usize, entry: StepDocument) -> Result<StepConfig, String> {
    let p = entry.plugin_auth;
    for (field, value) in [
        ("name", &p.name),
        ("pluginFileName", &p.plugin_file_name),
        ("exportedSymbolName", &p.exported_symbol_name),
    ] {
        if value.trim().is_empty() {
            return Err(format!(
                "spec.configs[{i}].pluginAuth.{field}: must not be empty"
            ));
        }
    }
    let when = entry
        .when
        .into_iter()
        .enumerate()
        .map(|(j, c)| when::compile(c).map_err(|e| format!("spec.configs[{i}].when[{j}]: {e}")))
        .collect::<Result<_, _>>()?;
    let cache = match entry.cache {
        Some(doc) => Some(cache::compile(doc).map_err(|e| format!("spec.configs[{i}].{e}"))?),
        None => None,
    };
    Ok(StepConfig {
        name: p.name,
        plugin_file_name: p.plugin_file_name,
        exported_symbol_name: p.exported_symbol_name,
        config: p.config,
        shadow: entry.shadow,
        when,
        cache,
    })
}

/// Parses `spec.booleanExpr` over the configs' names: each entry answers to its
/// `name` and to its `pluginAuth.name` (Gloo uses the latter for plugin steps);
/// a name shared by two entries is refused, as is one that names none.
fn boolean_expr(text: &str, configs: &[StepDocument]) -> Result<Expr, String> {
    fn names(c: &StepDocument) -> BTreeSet<&str> {
        [c.name.as_deref(), Some(c.plugin_auth.name.as_str())]
            .into_iter()
            .flatten()
            .filter(|n| !n.trim().is_empty())
            .collect()
    }
    let mut owner = std::collections::BTreeMap::new();
    for (index, config) in configs.iter().enumerate() {
        for name in names(config) {
            if let Some(first) = owner.insert(name, index) {
                return Err(format!(
                    "spec.configs[{index}]: the name '{name}' is also spec.configs[{first}]'s; \
                     booleanExpr needs a unique name per config"
                ));
            }
        }
    }
    let expr =
        expr::parse(text, |name| owner.get(name).copied()).map_err(|e| format!("spec.{e}"))?;
    let shadow = configs
        .iter()
        .enumerate()
        .find(|(i, c)| c.shadow && expr.names_step(*i));
    match shadow {
        Some((index, _)) => Err(format!(
            "spec.configs[{index}]: a shadow step never decides, so booleanExpr cannot name it"
        )),
        None => Ok(expr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GLOO: &str = r#"
apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata:
  name: plugin-auth
  namespace: gloo-system
spec:
  configs:
  - pluginAuth:
      name: RequiredHeader
      pluginFileName: RequiredHeader.so
      exportedSymbolName: Plugin
      config:
        RequiredHeader: my-header
        AllowedValues:
        - foo
        - bar
---
kind: AuthConfig
metadata: {name: second}
spec:
  configs:
  - pluginAuth: {name: a, pluginFileName: a.so, exportedSymbolName: A}
"#;

    #[test]
    fn gloo_document_loads_unchanged() {
        let configs = parse_documents(GLOO, "gloo.yaml").unwrap();
        assert_eq!(configs.len(), 2);
        assert_eq!(configs[0].id(), "gloo-system.plugin-auth");
        assert_eq!(configs[1].id(), "second");
        let step = &configs[0].steps[0];
        assert_eq!(step.plugin_file_name, "RequiredHeader.so");
        assert_eq!(step.exported_symbol_name, "Plugin");
        assert_eq!(step.config["AllowedValues"][1], "bar");
        assert_eq!(configs[1].steps[0].config, serde_json::Value::Null);
    }

    fn error(text: &str) -> String {
        parse_documents(text, "bad.yaml").unwrap_err().to_string()
    }

    #[test]
    fn errors_name_file_document_and_field() {
        let e = error("kind: AuthConfig\nmetadata: {name: x}\nspec:\n  configs:\n  - pluginAuth: {name: a, pluginFileName: a.so}\n");
        assert!(
            e.starts_with("bad.yaml, document 1: spec.configs[0].pluginAuth"),
            "{e}"
        );
        assert!(e.contains("missing field `exportedSymbolName`"), "{e}");

        let e = error("kind: AuthConfig\nmetadata: {name: x}\nspec:\n  configs:\n  - oauth2: {}\n");
        assert!(
            e.contains(
                "spec.configs[0].oauth2: unknown field `oauth2`, expected one of `name`, `shadow`, `when`, `cache`, `pluginAuth`"
            ),
            "{e}"
        );

        let e = error("kind: Secret\nmetadata: {name: x}\nspec: {configs: []}\n");
        assert!(e.contains("kind: 'Secret' is not supported"), "{e}");

        let e = error(
            "kind: AuthConfig\nmetadata: {name: x}\nspec:\n  configs:\n  - pluginAuth: {name: a, pluginFileName: a.so, exportedSymbolName: A}\n---\nkind: AuthConfig\nmetadata: {name: x}\nspec:\n  configs:\n  - pluginAuth: {name: a, pluginFileName: a.so, exportedSymbolName: A}\n",
        );
        assert!(
            e.starts_with("bad.yaml, document 2: metadata: auth config 'x' is defined twice"),
            "{e}"
        );

        assert!(error("kind: [").contains("bad.yaml, document 1"));
        assert!(error("").contains("no AuthConfig documents"));
        let e = error("kind: AuthConfig\nmetadata: {name: x}\nspec: {configs: []}\n");
        assert!(
            e.contains("spec.configs: an auth config needs at least one step"),
            "{e}"
        );
    }

    const BOOLEAN: &str = "apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata:
  name: either
  namespace: gloo-system
  labels: {app: x}
  resourceVersion: \"42\"
spec:
  booleanExpr: (basic || apikey) && !blocked
  configs:
  - name: basic
    pluginAuth: {name: basic-step, pluginFileName: a.so, exportedSymbolName: A}
  - pluginAuth: {name: apikey, pluginFileName: a.so, exportedSymbolName: A}
  - pluginAuth: {name: blocked, pluginFileName: a.so, exportedSymbolName: A}
status: {state: Accepted}
";

    #[test]
    fn boolean_expr_resolves_entry_and_plugin_names() {
        use crate::chain::expr::Expr::{And, Not, Or, Step};
        let configs = parse_documents(BOOLEAN, "b.yaml").unwrap();
        assert_eq!(
            configs[0].boolean_expr,
            Some(And(
                Box::new(Or(Box::new(Step(0)), Box::new(Step(1)))),
                Box::new(Not(Box::new(Step(2))))
            ))
        );
        let by_plugin_name = BOOLEAN.replace("(basic ||", "(basic-step ||");
        assert_eq!(
            parse_documents(&by_plugin_name, "b.yaml").unwrap()[0].boolean_expr,
            configs[0].boolean_expr
        );
        assert_eq!(
            parse_documents(GLOO, "g.yaml").unwrap()[0].boolean_expr,
            None
        );
    }

    #[test]
    fn boolean_expr_errors_name_the_position_and_the_config() {
        let e = error(&BOOLEAN.replace("!blocked", "!oidc"));
        let want = "bad.yaml, document 1: spec.booleanExpr at position 23: no config named 'oidc'";
        assert!(e.starts_with(want), "{e}");
        let e = error(&BOOLEAN.replace("name: blocked", "name: basic"));
        assert!(
            e.contains("spec.configs[2]: the name 'basic' is also spec.configs[0]'s"),
            "{e}"
        );
    }

    #[test]
    fn shadow_steps_load_but_cannot_be_named_in_boolean_expr() {
        let shadowed = BOOLEAN.replace(
            "  - pluginAuth: {name: blocked",
            "  - shadow: true\n    pluginAuth: {name: blocked",
        );
        let e = error(&shadowed);
        assert!(
            e.contains("spec.configs[2]: a shadow step never decides"),
            "{e}"
        );
        let without_expr = shadowed.replace("  booleanExpr: (basic || apikey) && !blocked\n", "");
        let configs = parse_documents(&without_expr, "s.yaml").unwrap();
        let shadow: Vec<bool> = configs[0].steps.iter().map(|s| s.shadow).collect();
        assert_eq!(shadow, vec![false, false, true]);
    }

    #[test]
    fn unknown_keys_are_refused_at_every_level() {
        for (from, to, field) in [
            (
                "booleanExpr:",
                "booleanExpression:",
                "spec.booleanExpression: unknown field `booleanExpression`",
            ),
            (
                "  labels: {app: x}",
                "  labelz: {app: x}",
                "metadata.labelz: unknown field `labelz`",
            ),
            (
                "status: {state: Accepted}",
                "statos: {}",
                "unknown field `statos`",
            ),
            (
                "  - name: basic\n",
                "  - name: basic\n    if: []\n",
                "spec.configs[0].if: unknown field `if`",
            ),
            (
                "  - name: basic\n",
                "  - name: basic\n    when: [{path: {prefix: /a}, cookie: x}]\n",
                "spec.configs[0].when[0].cookie: unknown field `cookie`",
            ),
            (
                "  - name: basic\n",
                "  - name: basic\n    when: [{path: {regex: '('}}]\n",
                "spec.configs[0].when[0]: invalid regex",
            ),
        ] {
            let e = error(&BOOLEAN.replace(from, to));
            assert!(e.contains(field), "{from} -> {to}: {e}");
        }
    }
}
