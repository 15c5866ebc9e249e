//! The step's `config`: where the users come from and what the challenge says.

use std::path::PathBuf;

use serde::Deserialize;

/// The whole config of a `BasicAuth` step.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// htpasswd lines given inline (`user:$2y$...`, one per line).
    pub htpasswd: Option<String>,
    /// An htpasswd file, read when the config is loaded.
    pub htpasswd_file: Option<PathBuf>,
    /// The realm named in `WWW-Authenticate` (default `gatehouse`).
    #[serde(default = "default_realm")]
    pub realm: String,
    /// The state key the user is stored under for later steps (default `user`).
    #[serde(default = "default_state_key")]
    pub state_key: String,
    /// When set, the user is sent upstream in this header (overwriting any
    /// value the client sent).
    pub forward_user_header: Option<String>,
    /// Remove `Authorization` from the upstream request (default false).
    #[serde(default)]
    pub remove_credential_header: bool,
}

fn default_realm() -> String {
    "gatehouse".into()
}

fn default_state_key() -> String {
    "user".into()
}
