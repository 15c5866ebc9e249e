//! The step's `config`: where keys come from and where the key is presented.

use std::path::PathBuf;

use serde::Deserialize;

use crate::keys::{hash_key, parse_sha256, KeyHash};

/// The whole config of an `ApiKey` step.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Keys given inline, each with its user.
    #[serde(default)]
    pub keys: Vec<KeySpec>,
    /// A file of keys, read when the config is loaded: `.yaml`/`.yml` is a map
    /// key → user, anything else one key per line.
    pub keys_file: Option<PathBuf>,
    /// The header carrying the key (default `x-api-key`; `null` to accept the
    /// query parameter only).
    #[serde(default = "default_header")]
    pub header: Option<String>,
    /// A query parameter carrying the key, tried when the header is absent.
    pub query_param: Option<String>,
    /// When set, the user is sent upstream in this header (overwriting any
    /// value the client sent).
    pub forward_user_header: Option<String>,
    /// The state key the user is stored under for later steps (default `user`).
    #[serde(default = "default_state_key")]
    pub state_key: String,
    /// Remove the key's header from the upstream request (default false).
    #[serde(default)]
    pub remove_credential_header: bool,
}

fn default_header() -> Option<String> {
    Some("x-api-key".into())
}

fn default_state_key() -> String {
    "user".into()
}

/// One inline key: either the key itself (`key`) or its SHA-256 as 64 hex
/// digits (`sha256`), and the user it authenticates.
#[derive(Clone, Deserialize)]
#[serde(try_from = "RawKeySpec")]
pub struct KeySpec {
    /// SHA-256 of the key.
    pub hash: KeyHash,
    /// The user it authenticates.
    pub user: String,
}

impl std::fmt::Debug for KeySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material, not even its hash.
        f.debug_struct("KeySpec")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// `KeySpec` as written, before `key` and `sha256` are reconciled.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeySpec {
    key: Option<String>,
    sha256: Option<String>,
    user: String,
}

impl TryFrom<RawKeySpec> for KeySpec {
    type Error = String;

    fn try_from(raw: RawKeySpec) -> Result<Self, String> {
        let hash = match (raw.key, raw.sha256) {
            (Some(_), Some(_)) => return Err("give either `key` or `sha256`, not both".into()),
            (None, None) => return Err("give `key` or `sha256`".into()),
            (Some(key), None) if key.is_empty() => return Err("`key` must not be empty".into()),
            (Some(key), None) => hash_key(&key),
            (None, Some(hex)) => parse_sha256(&hex)?,
        };
        if raw.user.is_empty() {
            return Err("`user` must not be empty".into());
        }
        Ok(Self {
            hash,
            user: raw.user,
        })
    }
}
