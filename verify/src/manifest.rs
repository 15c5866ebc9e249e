//! The manifest: which plugins to verify, with which config, and the request
//! cases to run. Three forms are read:
//!
//! 1. Gloo's single plugin entry (`name`, `pluginFileName`, `exportedSymbolName`,
//!    `config`), optionally with `cases`;
//! 2. a YAML list of such entries;
//! 3. AuthConfig documents exactly as the host reads them (parsed by the host's
//!    own config code), plus optional `kind: VerifyCases` documents holding
//!    request cases for one auth config.
//!
//! A file is form 3 when any document has a `kind`.

use std::path::Path;

use anyhow::{anyhow, bail, Context};
use gatehouse::config::{self, AuthConfig, StepConfig};
use serde::Deserialize;
use serde_yaml::Value;

use crate::cases::Case;

/// The `kind` of a document holding request cases for an auth config.
pub(crate) const CASES_KIND: &str = "VerifyCases";

/// What to verify.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Which form the manifest used.
    pub(crate) form: &'static str,
    /// The chains to build, in manifest order.
    pub(crate) chains: Vec<ChainPlan>,
}

/// One chain: an auth config, or one Gloo plugin entry (a one-step chain).
#[derive(Debug)]
pub(crate) struct ChainPlan {
    /// Set for auth configs: requests carry it as `config_id`.
    pub(crate) auth_config: bool,
    /// The chain as the host reads it (a Gloo entry becomes a one-step auth
    /// config named after it); built by the host's own `AuthConfig::chain`.
    pub(crate) config: AuthConfig,
    /// Request cases to run through the chain.
    pub(crate) cases: Vec<Case>,
}

impl ChainPlan {
    /// The auth config id, or the entry's name.
    pub(crate) fn id(&self) -> String {
        self.config.id()
    }

    /// The steps, in order.
    pub(crate) fn steps(&self) -> &[StepConfig] {
        &self.config.steps
    }
}

impl Plan {
    /// Number of plugin steps.
    pub(crate) fn step_count(&self) -> usize {
        self.chains.iter().map(|c| c.steps().len()).sum()
    }

    /// Number of request cases.
    pub(crate) fn case_count(&self) -> usize {
        self.chains.iter().map(|c| c.cases.len()).sum()
    }
}

/// Reads and checks the manifest at `path`.
pub(crate) fn load(path: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read manifest {}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// Parses manifest `text`; `origin` names it in errors.
pub(crate) fn parse(text: &str, origin: &str) -> anyhow::Result<Plan> {
    let mut documents = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(document)
            .map_err(|e| anyhow!("{origin}, document {}: {e}", index + 1))?;
        documents.push(value);
    }
    let has_kind = |v: &Value| v.as_mapping().is_some_and(|m| m.contains_key("kind"));
    let plan = if documents.iter().any(has_kind) {
        auth_configs(documents, origin)?
    } else {
        gloo_entries(documents, origin)?
    };
    if plan.chains.is_empty() {
        bail!("{origin}: names no plugins");
    }
    Ok(plan)
}

/// A Gloo manifest entry; `cases` is Gatehouse's addition.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Entry {
    #[serde(default)]
    name: Option<String>,
    plugin_file_name: String,
    exported_symbol_name: String,
    #[serde(default)]
    config: serde_json::Value,
    #[serde(default)]
    cases: Vec<Case>,
}

/// Forms 1 and 2: every document is an entry or a list of entries.
fn gloo_entries(documents: Vec<Value>, origin: &str) -> anyhow::Result<Plan> {
    let several = documents.iter().filter(|d| !d.is_null()).count() > 1;
    let mut chains = Vec::new();
    let mut list = false;
    for (index, document) in documents.into_iter().enumerate() {
        let at = if several {
            format!("{origin}, document {}", index + 1)
        } else {
            origin.to_string()
        };
        let entries: Vec<(String, Value)> = match document {
            Value::Null => continue,
            Value::Sequence(items) => {
                list = true;
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| (format!("[{i}]."), item))
                    .collect()
            }
            Value::Mapping(_) => vec![(String::new(), document)],
            _ => bail!(
                "{at}: expected a plugin entry (name, pluginFileName, exportedSymbolName, config), \
                 a list of them, or AuthConfig documents"
            ),
        };
        for (prefix, value) in entries {
            let entry: Entry = from_value(value).map_err(|e| anyhow!("{at}: {prefix}{e}"))?;
            chains.push(entry_chain(entry).map_err(|e| anyhow!("{at}: {prefix}{e}"))?);
        }
    }
    Ok(Plan {
        form: if list {
            "list of Gloo plugin entries"
        } else {
            "Gloo plugin entry"
        },
        chains,
    })
}

/// One entry → a one-step chain, with the host's checks on the step's fields.
fn entry_chain(entry: Entry) -> Result<ChainPlan, String> {
    for (field, value) in [
        ("pluginFileName", Some(&entry.plugin_file_name)),
        ("exportedSymbolName", Some(&entry.exported_symbol_name)),
        ("name", entry.name.as_ref()),
    ] {
        if value.is_some_and(|v| v.trim().is_empty()) {
            return Err(format!("{field}: must not be empty"));
        }
    }
    check_cases(&entry.cases)?;
    let name = entry
        .name
        .unwrap_or_else(|| entry.exported_symbol_name.clone());
    Ok(ChainPlan {
        auth_config: false,
        config: AuthConfig {
            name: name.clone(),
            steps: vec![StepConfig {
                name,
                plugin_file_name: entry.plugin_file_name,
                exported_symbol_name: entry.exported_symbol_name,
                config: entry.config,
                ..StepConfig::default()
            }],
            ..AuthConfig::default()
        },
        cases: entry.cases,
    })
}

/// A `kind: VerifyCases` document.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CasesDocument {
    #[allow(dead_code)] // checked before deserializing
    kind: String,
    /// The auth config id; may be left out when the file has one auth config.
    #[serde(default)]
    auth_config: Option<String>,
    cases: Vec<Case>,
}

/// Form 3: AuthConfig documents go to the host's parser, case documents are
/// read here. The host sees case documents as empty ones, so its messages
/// keep the file's document numbers.
fn auth_configs(documents: Vec<Value>, origin: &str) -> anyhow::Result<Plan> {
    let mut host_text = Vec::new();
    let mut case_documents = Vec::new();
    for (index, document) in documents.into_iter().enumerate() {
        let at = format!("{origin}, document {}", index + 1);
        let kind = document.get("kind").and_then(Value::as_str);
        if document.is_null() {
            host_text.push("null\n".to_string());
        } else if kind == Some(CASES_KIND) {
            let cases: CasesDocument = from_value(document).map_err(|e| anyhow!("{at}: {e}"))?;
            check_cases(&cases.cases).map_err(|e| anyhow!("{at}: {e}"))?;
            case_documents.push((at, cases));
            host_text.push("null\n".to_string());
        } else if document.get("kind").is_none() {
            bail!(
                "{at}: has no `kind`, but other documents do: write either Gloo plugin entries \
                 or AuthConfig documents (with `kind: {CASES_KIND}` documents for request cases)"
            );
        } else {
            host_text.push(
                serde_yaml::to_string(&document).with_context(|| format!("{at}: re-encoding"))?,
            );
        }
    }
    let configs = config::parse_documents(&host_text.join("---\n"), origin)?;
    let mut chains: Vec<ChainPlan> = configs
        .into_iter()
        .map(|config| ChainPlan {
            auth_config: true,
            config,
            cases: Vec::new(),
        })
        .collect();
    for (at, document) in case_documents {
        let known = || {
            chains
                .iter()
                .map(ChainPlan::id)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let index = match &document.auth_config {
            Some(id) => chains.iter().position(|c| c.id() == *id).ok_or_else(|| {
                anyhow!(
                    "{at}: authConfig: no auth config '{id}' in this file (it has: {})",
                    known()
                )
            })?,
            None if chains.len() == 1 => 0,
            None => bail!(
                "{at}: authConfig: required when the file has several auth configs ({})",
                known()
            ),
        };
        chains[index].cases.extend(document.cases);
    }
    Ok(Plan {
        form: "AuthConfig documents",
        chains,
    })
}

/// Deserializes with the failing field's path (`cases[0].expect.decision: …`).
fn from_value<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        }
    })
}

/// Checks every case of a `cases` list.
fn check_cases(cases: &[Case]) -> Result<(), String> {
    for (i, case) in cases.iter().enumerate() {
        if case.name.trim().is_empty() {
            return Err(format!("cases[{i}].name: must not be empty"));
        }
        case.validate()
            .map_err(|e| format!("cases[{i}] '{}': {e}", case.name))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        format!("{:#}", parse(text, "m.yaml").unwrap_err())
    }

    #[test]
    fn gloo_single_entry() {
        let plan = parse(
            "name: MyPlugin\npluginFileName: Plugin.so\nexportedSymbolName: MyPlugin\nconfig: {}\n",
            "m.yaml",
        )
        .expect("plan");
        assert_eq!(plan.form, "Gloo plugin entry");
        assert_eq!(plan.chains.len(), 1);
        let step = &plan.chains[0].steps()[0];
        assert_eq!(
            (step.name.as_str(), step.plugin_file_name.as_str()),
            ("MyPlugin", "Plugin.so")
        );
        assert!(!plan.chains[0].auth_config);
    }

    #[test]
    fn gloo_list_with_cases_and_default_name() {
        let plan = parse(
            "- pluginFileName: a.so\n  exportedSymbolName: A\n  cases:\n  - name: c\n    expect: {decision: allow}\n- {name: b, pluginFileName: b.so, exportedSymbolName: B}\n",
            "m.yaml",
        )
        .expect("plan");
        assert_eq!(plan.form, "list of Gloo plugin entries");
        assert_eq!(plan.chains[0].id(), "A");
        assert_eq!(plan.chains[0].steps()[0].config, serde_json::Value::Null);
        assert_eq!((plan.step_count(), plan.case_count()), (2, 1));
    }

    #[test]
    fn entry_errors_name_the_field() {
        assert_eq!(
            error("- {pluginFileName: a.so, exportedSymbolName: A}\n- {pluginFileName: b.so, exportedSymbolNam: B}\n"),
            "m.yaml: [1].exportedSymbolNam: unknown field `exportedSymbolNam`, expected one of `name`, `pluginFileName`, `exportedSymbolName`, `config`, `cases`"
        );
        assert_eq!(
            error("pluginFileName: ''\nexportedSymbolName: A\n"),
            "m.yaml: pluginFileName: must not be empty"
        );
        assert!(error("pluginFileName: a.so\n").contains("missing field `exportedSymbolName`"));
        let e = error("pluginFileName: a.so\nexportedSymbolName: A\ncases:\n- name: c\n  expect: {decision: allowed}\n");
        assert!(
            e.starts_with("m.yaml: cases[0].expect.decision: unknown variant `allowed`"),
            "{e}"
        );
        let e = error("pluginFileName: a.so\nexportedSymbolName: A\ncases:\n- name: c\n  expect: {decision: allow, status: 200}\n");
        assert!(
            e.starts_with("m.yaml: cases[0] 'c': expect.status: only checked"),
            "{e}"
        );
        assert_eq!(error("42"), "m.yaml: expected a plugin entry (name, pluginFileName, exportedSymbolName, config), a list of them, or AuthConfig documents");
        assert_eq!(error(""), "m.yaml: names no plugins");
    }

    const AUTH: &str = "kind: AuthConfig\nmetadata: {name: demo, namespace: ns}\nspec:\n  configs:\n  - pluginAuth: {name: s, pluginFileName: a.so, exportedSymbolName: A, config: {k: v}}\n";

    #[test]
    fn auth_configs_with_case_documents() {
        let text = format!(
            "{AUTH}---\nkind: AuthConfig\nmetadata: {{name: other}}\nspec:\n  configs:\n  - pluginAuth: {{name: t, pluginFileName: b.so, exportedSymbolName: B}}\n---\nkind: VerifyCases\nauthConfig: ns.demo\ncases:\n- name: c\n  expect: {{decision: deny}}\n"
        );
        let plan = parse(&text, "m.yaml").expect("plan");
        assert_eq!(plan.form, "AuthConfig documents");
        let ids: Vec<_> = plan.chains.iter().map(ChainPlan::id).collect();
        assert_eq!(ids, ["ns.demo", "other"]);
        assert!(plan.chains[0].auth_config);
        assert_eq!(plan.chains[0].steps()[0].config["k"], "v");
        assert_eq!(
            (plan.chains[0].cases.len(), plan.chains[1].cases.len()),
            (1, 0)
        );
    }

    #[test]
    fn auth_config_errors_keep_the_hosts_words_and_document_numbers() {
        let e = error(&format!(
            "kind: VerifyCases\ncases: []\n---\n{AUTH}---\nkind: AuthConfig\nmetadata: {{name: x}}\nspec:\n  configs:\n  - oauth2: {{}}\n"
        ));
        assert!(
            e.starts_with("m.yaml, document 3: spec.configs[0].oauth2: unknown field `oauth2`"),
            "{e}"
        );
        let e = error(&format!(
            "{AUTH}---\nkind: VerifyCases\nauthConfig: nope\ncases: []\n"
        ));
        assert_eq!(
            e,
            "m.yaml, document 2: authConfig: no auth config 'nope' in this file (it has: ns.demo)"
        );
        let e = error(&format!(
            "{AUTH}---\npluginFileName: a.so\nexportedSymbolName: A\n"
        ));
        assert!(e.starts_with("m.yaml, document 2: has no `kind`"), "{e}");
    }
}
