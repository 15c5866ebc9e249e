//! The YAML shape of an AuthConfig document and its validation.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::{AuthConfig, ConfigError, StepConfig};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    #[serde(default)]
    #[allow(dead_code)] // accepted for Gloo compatibility, any group/version
    api_version: Option<String>,
    kind: String,
    metadata: Metadata,
    spec: Spec,
}

#[derive(Deserialize)]
struct Metadata {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    configs: Vec<StepDocument>,
    #[serde(default)]
    failure_mode_allow: bool,
    /// Gatehouse's own: upstream headers a fail-open allow removes.
    #[serde(default)]
    failure_mode_allow_remove_headers: Vec<String>,
}

/// One entry of `spec.configs`. Gloo has other step kinds (oauth2, apiKeyAuth…);
/// only `pluginAuth` exists here, and anything else is refused by name.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StepDocument {
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
        let steps = doc
            .spec
            .configs
            .into_iter()
            .enumerate()
            .map(|(i, StepDocument { plugin_auth: p })| {
                for (field, value) in [
                    ("name", &p.name),
                    ("pluginFileName", &p.plugin_file_name),
                    ("exportedSymbolName", &p.exported_symbol_name),
                ] {
                    if value.trim().is_empty() {
                        return Err(invalid(format!(
                            "spec.configs[{i}].pluginAuth.{field}: must not be empty"
                        )));
                    }
                }
                Ok(StepConfig {
                    name: p.name,
                    plugin_file_name: p.plugin_file_name,
                    exported_symbol_name: p.exported_symbol_name,
                    config: p.config,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let config = AuthConfig {
            name: doc.metadata.name,
            namespace: doc.metadata.namespace.filter(|ns| !ns.is_empty()),
            steps,
            failure_mode_allow: doc.spec.failure_mode_allow,
            failure_mode_allow_remove_headers: doc.spec.failure_mode_allow_remove_headers,
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
            e.contains("spec.configs[0].oauth2: unknown field `oauth2`, expected `pluginAuth`"),
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
}
