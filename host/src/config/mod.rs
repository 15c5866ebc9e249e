//! Auth config documents: the only module that knows YAML.
//!
//! A config file holds one or more YAML documents of `kind: AuthConfig`, in
//! Gloo's shape so Gloo AuthConfigs load unchanged:
//!
//! ```yaml
//! apiVersion: enterprise.gloo.solo.io/v1   # optional
//! kind: AuthConfig
//! metadata: {name: demo, namespace: gatehouse}
//! spec:
//!   configs:
//!     - pluginAuth:
//!         name: team-header
//!         pluginFileName: librequired_header.so
//!         exportedSymbolName: RequiredHeader
//!         config: {requiredHeader: x-team, allowedValues: [platform]}
//! ```

mod cache;
mod document;

use std::path::{Path, PathBuf};

use crate::{
    cache::{CacheSpec, Caches},
    chain::{Chain, ChainStep, Limits, StepOptions},
};

pub use document::parse_documents;

/// One auth config: an id and its steps, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuthConfig {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, if given.
    pub namespace: Option<String>,
    /// The steps, in the order written.
    pub steps: Vec<StepConfig>,
    /// `spec.failureModeAllow`: allow when a step fails (error, panic, timeout)
    /// instead of denying, as Envoy's own option does. Default false.
    pub failure_mode_allow: bool,
    /// `spec.failureModeAllowRemoveHeaders` (Gatehouse's own): upstream headers
    /// the chain owns, removed from a fail-open allow unless a step set them.
    pub failure_mode_allow_remove_headers: Vec<String>,
    /// `spec.booleanExpr`, parsed: how the steps' answers combine (None: all must allow).
    pub boolean_expr: Option<crate::chain::expr::Expr>,
    /// `spec.booleanExpr` as written.
    pub boolean_expr_text: Option<String>,
    /// Where it came from, for error messages (`file.yaml, document 2`).
    pub origin: String,
}

impl AuthConfig {
    /// The chain this auth config describes, over its steps built in order:
    /// failure policy, `booleanExpr`, each step's `shadow`, `when` and `cache`
    /// (its store from `caches`). The host's reload and gatehouse-verify both
    /// build chains here, so verify runs exactly the chain the host would.
    pub fn chain(&self, steps: Vec<ChainStep>, limits: Limits, caches: &Caches) -> Chain {
        let limits = Limits {
            failure_mode_allow: self.failure_mode_allow,
            ..limits
        };
        let id = self.id();
        let options = self
            .steps
            .iter()
            .map(|s| StepOptions {
                shadow: s.shadow,
                when: s.when.clone(),
                cache: s.cache.as_ref().map(|spec| caches.for_step(&id, s, spec)),
            })
            .collect();
        let chain = Chain::new(id, steps, limits)
            .with_description(self.describe())
            .with_step_options(options)
            .with_owned_headers(self.failure_mode_allow_remove_headers.clone());
        match &self.boolean_expr {
            Some(expr) => chain.with_expr(expr.clone()),
            None => chain,
        }
    }

    /// What this auth config says beyond its step names, as JSON for `/config`.
    fn describe(&self) -> serde_json::Value {
        let steps: Vec<_> = self
            .steps
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.name,
                    "pluginFileName": s.plugin_file_name,
                    "exportedSymbolName": s.exported_symbol_name,
                    "shadow": s.shadow,
                    "when": s.when.iter().map(|c| c.describe()).collect::<Vec<_>>(),
                    "cache": s.cache.as_ref().map(|c| serde_json::json!({
                        "ttlSeconds": c.ttl.as_secs(),
                        "key": c.key.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
                        "maxEntries": c.max_entries,
                        "cacheDenials": c.cache_denials,
                    })),
                })
            })
            .collect();
        serde_json::json!({"booleanExpr": self.boolean_expr_text, "configs": steps})
    }

    /// The id a route names in `context_extensions.config_id`: `namespace.name`,
    /// or `name` when there is no namespace.
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// One `pluginAuth` step.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepConfig {
    /// `name`: a label for logs and metrics.
    pub name: String,
    /// `pluginFileName`: a file inside the plugin directory.
    pub plugin_file_name: String,
    /// `exportedSymbolName`: which plugin inside that library.
    pub exported_symbol_name: String,
    /// `config`, handed to the plugin as JSON text.
    pub config: serde_json::Value,
    /// `shadow: true` on the config entry: the step runs and its would-be
    /// decision is logged and counted, but it never denies nor changes anything.
    pub shadow: bool,
    /// `when:` on the config entry: the step runs only if every condition holds.
    pub when: Vec<crate::chain::when::Condition>,
    /// `cache:` on the config entry: replay the step's decision for requests
    /// whose key parts are the same.
    pub cache: Option<CacheSpec>,
}

/// A config file that cannot be used. The message names the file, document and field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A document is malformed or has an unusable value.
    #[error("{origin}: {message}")]
    Invalid {
        /// File and document.
        origin: String,
        /// What is wrong, starting with the field path.
        message: String,
    },
}

/// Reads every auth config in `path`.
pub fn load_file(path: &Path) -> Result<Vec<AuthConfig>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_documents(&text, &path.display().to_string())
}
