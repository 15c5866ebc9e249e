//! # `BasicAuth`
//!
//! HTTP Basic authentication against htpasswd users, given inline
//! (`htpasswd`) and/or in a file (`htpasswdFile`, read when the config is
//! loaded). Hashes must be bcrypt (`htpasswd -B`) or argon2 PHC strings; any
//! other scheme is refused at config time, naming the line.
//!
//! - no Basic credentials, malformed ones, an unknown user or a wrong password
//!   → deny 401 with `WWW-Authenticate: Basic realm="<realm>", charset="UTF-8"`;
//! - otherwise allow: the user goes into state (`stateKey`, default `user`),
//!   becomes the request's user id, and is sent upstream in
//!   `forwardUserHeader` if configured.
//!
//! Verifying a password costs tens of milliseconds of CPU by design. It runs
//! on the plugin runtime's blocking pool (`tokio::task::spawn_blocking`; the
//! SDK polls `authorize` inside that runtime), never on the host's request
//! threads, and at most one verification per CPU runs at a time.

pub mod config;
pub mod credentials;
pub mod htpasswd;

use std::sync::Arc;

use gatehouse_plugin_sdk::{
    allow, deny, export_plugins, Error, Plugin, Request, Response, ResponseExt,
};
use tokio::sync::Semaphore;

pub use config::Config;
pub use credentials::Credentials;
pub use htpasswd::{Hash, Users};

/// One configured `BasicAuth` step.
#[derive(Debug)]
pub struct BasicAuth {
    config: Config,
    users: Users,
    challenge: String,
    verifications: Arc<Semaphore>,
}

impl BasicAuth {
    /// A 401 carrying the Basic challenge.
    fn unauthorized(&self, body: &str) -> Response {
        deny(401, body).response_header("www-authenticate", &self.challenge)
    }

    /// The allow for `user`, with its effects.
    fn allowed(&self, user: &str) -> Response {
        let c = &self.config;
        let mut response = allow().set_state(&c.state_key, user).user(user);
        if let Some(name) = &c.forward_user_header {
            response = response.set_header(name, user);
        }
        if c.remove_credential_header {
            response = response.remove_header("authorization");
        }
        response
    }

    /// Verifies off the calling thread, on the plugin runtime's blocking pool,
    /// holding one of the per-CPU permits until the hash is computed (even if
    /// the host gives up on the request meanwhile).
    async fn verify(&self, hash: Hash, password: Vec<u8>) -> Result<bool, Error> {
        let permit = Arc::clone(&self.verifications).acquire_owned().await?;
        let matched = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            hash.verify(&password)
        })
        .await?;
        Ok(matched)
    }
}

/// The `WWW-Authenticate` value for `realm`, refusing characters that would
/// break out of the quoted string.
fn challenge(realm: &str) -> Result<String, String> {
    if realm
        .chars()
        .any(|c| c == '"' || c == '\\' || c.is_control())
    {
        return Err("realm: must not contain `\"`, `\\` or control characters".into());
    }
    Ok(format!("Basic realm=\"{realm}\", charset=\"UTF-8\""))
}

/// Reads the inline and file users.
fn load_users(config: &Config) -> Result<Users, String> {
    let mut users = Users::default();
    if let Some(text) = &config.htpasswd {
        users.add(text, "htpasswd")?;
    }
    if let Some(path) = &config.htpasswd_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("htpasswdFile: cannot read {}: {e}", path.display()))?;
        users.add(&text, &format!("htpasswdFile {}", path.display()))?;
    }
    if users.is_empty() {
        return Err("no users: give `htpasswd` or a non-empty `htpasswdFile`".into());
    }
    Ok(users)
}

impl Plugin for BasicAuth {
    type Config = Config;

    fn new(mut config: Config) -> Result<Self, Error> {
        let challenge = challenge(&config.realm)?;
        if config.state_key.trim().is_empty() {
            return Err("stateKey: must not be empty".into());
        }
        if config
            .forward_user_header
            .as_ref()
            .is_some_and(|h| h.trim().is_empty())
        {
            return Err("forwardUserHeader: must not be empty".into());
        }
        let users = load_users(&config)?;
        config.htpasswd = None; // the hashes are kept in `users` only
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self {
            config,
            users,
            challenge,
            verifications: Arc::new(Semaphore::new(cpus)),
        })
    }

    async fn authorize(&self, request: &Request) -> Result<Response, Error> {
        let (user, password) = match credentials::parse(request.header("authorization")) {
            Credentials::Absent => return Ok(self.unauthorized("authentication required")),
            Credentials::Malformed => return Ok(self.unauthorized("malformed Basic credentials")),
            Credentials::Basic { user, password } => (user, password),
        };
        let Some((hash, known)) = self.users.hash_for(&user) else {
            return Ok(self.unauthorized("invalid credentials"));
        };
        let matched = self.verify(hash, password).await?;
        Ok(if matched && known {
            self.allowed(&user)
        } else {
            self.unauthorized("invalid credentials")
        })
    }
}

export_plugins!("BasicAuth" => BasicAuth);

#[cfg(test)]
mod tests;
