//! # `ApiKey`
//!
//! Authenticates a request by an API key taken from a header (default
//! `x-api-key`) or, when that is absent, from a query parameter.
//!
//! Keys come from the config (`keys`) and/or a file (`keysFile`, read when the
//! config is loaded). Only their SHA-256 hashes are kept; a presented key is
//! hashed and compared against every stored hash in constant time.
//!
//! - no key → deny 401 `missing API key`;
//! - unknown key → deny 401 `invalid API key`;
//! - otherwise allow: the key's user goes into state (`stateKey`, default
//!   `user`), becomes the request's user id, and is sent upstream in
//!   `forwardUserHeader` if configured.

pub mod config;
pub mod file;
pub mod keys;

use std::borrow::Cow;

use gatehouse_plugin_sdk::{
    allow, deny, export_plugins, Error, Plugin, Request, Response, ResponseExt,
};
use percent_encoding::percent_decode_str;

pub use config::{Config, KeySpec};
pub use keys::KeyStore;

/// One configured `ApiKey` step.
#[derive(Debug)]
pub struct ApiKey {
    config: Config,
    keys: KeyStore,
}

impl ApiKey {
    /// The key the request presents: the header's value, else the query
    /// parameter's (percent-decoded). Empty values count as absent.
    fn presented<'a>(&self, request: &'a Request) -> Option<Cow<'a, str>> {
        let from_header = self
            .config
            .header
            .as_deref()
            .and_then(|name| request.header(name))
            .map(str::trim)
            .map(Cow::Borrowed);
        let from_query = || {
            let raw = request.query_param(self.config.query_param.as_deref()?)?;
            percent_decode_str(raw).decode_utf8().ok()
        };
        from_header
            .or_else(from_query)
            .filter(|key| !key.is_empty())
    }

    /// Decides a request synchronously (hashing needs no I/O).
    pub fn check(&self, request: &Request) -> Response {
        let Some(key) = self.presented(request) else {
            return deny(401, "missing API key");
        };
        let Some(user) = self.keys.lookup(&key) else {
            return deny(401, "invalid API key");
        };
        let c = &self.config;
        let mut response = allow().set_state(&c.state_key, user).user(user);
        if let Some(name) = &c.forward_user_header {
            response = response.set_header(name, user);
        }
        match (&c.header, c.remove_credential_header) {
            (Some(name), true) => response.remove_header(name),
            _ => response,
        }
    }
}

/// Collects the inline keys and the keys file's into one store.
fn load_keys(config: &Config) -> Result<KeyStore, String> {
    let mut store = KeyStore::default();
    for (i, spec) in config.keys.iter().enumerate() {
        store.insert(spec.hash, spec.user.clone(), format!("keys[{i}]"))?;
    }
    if let Some(path) = &config.keys_file {
        for entry in file::read(path)? {
            store.insert(keys::hash_key(&entry.key), entry.user, entry.origin)?;
        }
    }
    if store.is_empty() {
        return Err("no API keys: give `keys` or a non-empty `keysFile`".into());
    }
    Ok(store)
}

/// Checks the names the config gives.
fn validate(config: &Config) -> Result<(), String> {
    if config.header.is_none() && config.query_param.is_none() {
        return Err("give `header` or `queryParam`: the key has to come from somewhere".into());
    }
    let names = [
        ("header", config.header.as_deref()),
        ("queryParam", config.query_param.as_deref()),
        ("forwardUserHeader", config.forward_user_header.as_deref()),
        ("stateKey", Some(config.state_key.as_str())),
    ];
    match names
        .iter()
        .find(|(_, v)| v.is_some_and(|v| v.trim().is_empty()))
    {
        Some((field, _)) => Err(format!("{field}: must not be empty")),
        None => Ok(()),
    }
}

impl Plugin for ApiKey {
    type Config = Config;

    fn new(config: Config) -> Result<Self, Error> {
        validate(&config)?;
        let keys = load_keys(&config)?;
        Ok(Self { config, keys })
    }

    async fn authorize(&self, request: &Request) -> Result<Response, Error> {
        Ok(self.check(request))
    }
}

export_plugins!("ApiKey" => ApiKey);

#[cfg(test)]
mod tests;
