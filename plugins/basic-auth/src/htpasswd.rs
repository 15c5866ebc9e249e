//! htpasswd users: parsing (bcrypt and argon2 only) and password verification.

use std::collections::HashMap;

use argon2::{
    password_hash::{PasswordHash, PasswordVerifier},
    Algorithm, Argon2, Params,
};

/// A password hash whose scheme this plugin verifies.
#[derive(Clone, PartialEq, Eq)]
pub enum Hash {
    /// bcrypt, `$2a$`, `$2b$` or `$2y$` (`htpasswd -B`).
    Bcrypt(String),
    /// argon2 as a PHC string, `$argon2id$...` (or `argon2i`, `argon2d`).
    Argon2(String),
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Hash::Bcrypt(_) => "Bcrypt(..)",
            Hash::Argon2(_) => "Argon2(..)",
        })
    }
}

impl Hash {
    /// Recognizes and checks `text`, or says why it cannot be used.
    pub fn parse(text: &str) -> Result<Self, String> {
        if ["$2a$", "$2b$", "$2y$"].iter().any(|p| text.starts_with(p)) {
            let parts: bcrypt::HashParts = text
                .parse()
                .map_err(|_| "malformed bcrypt hash".to_string())?;
            if !(4..=31).contains(&parts.get_cost()) {
                return Err(format!("bcrypt cost {} is not in 4..=31", parts.get_cost()));
            }
            return Ok(Hash::Bcrypt(text.to_string()));
        }
        if text.starts_with("$argon2") {
            let phc = PasswordHash::new(text).map_err(|e| format!("malformed argon2 hash: {e}"))?;
            Algorithm::try_from(phc.algorithm)
                .map_err(|e| format!("malformed argon2 hash: {e}"))?;
            Params::try_from(&phc).map_err(|e| format!("bad argon2 parameters: {e}"))?;
            if phc.salt.is_none() || phc.hash.is_none() {
                return Err("malformed argon2 hash: no salt or no hash".into());
            }
            return Ok(Hash::Argon2(text.to_string()));
        }
        Err(format!(
            "unsupported hash scheme {}: use bcrypt (`htpasswd -B`) or argon2 (`$argon2id$...`)",
            scheme_name(text)
        ))
    }

    /// True if `password` matches. Slow by design (bcrypt, argon2): call it off
    /// the request-handling thread.
    pub fn verify(&self, password: &[u8]) -> bool {
        match self {
            Hash::Bcrypt(text) => bcrypt::verify(password, text).unwrap_or(false),
            Hash::Argon2(text) => PasswordHash::new(text)
                .map(|phc| Argon2::default().verify_password(password, &phc).is_ok())
                .unwrap_or(false),
        }
    }
}

/// How an unsupported hash is named in errors: its `$id$` prefix, `{SHA}`, or
/// a description (the hash itself is never shown).
fn scheme_name(text: &str) -> String {
    if let Some(rest) = text.strip_prefix('$') {
        if let Some(end) = rest.find('$') {
            return format!("`${}$`", &rest[..end]);
        }
    }
    if text.starts_with("{SHA}") {
        return "`{SHA}`".into();
    }
    "(crypt(3) DES or plain text)".into()
}

/// The users, each with their hash.
#[derive(Debug, Default)]
pub struct Users {
    by_name: HashMap<String, (Hash, String)>,
    decoy: Option<Hash>,
}

impl Users {
    /// Adds the users of htpasswd `text`; `source` names it in errors
    /// (`htpasswd` or `htpasswdFile /etc/gatehouse/users`). Blank lines and
    /// lines starting with `#` are skipped.
    pub fn add(&mut self, text: &str, source: &str) -> Result<(), String> {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = format!("{source} line {}", i + 1);
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| format!("{at}: expected `user:hash`"))?;
            if user.is_empty() {
                return Err(format!("{at}: empty user name"));
            }
            let hash = Hash::parse(hash).map_err(|e| format!("{at} (user {user}): {e}"))?;
            if let Some((_, first)) = self.by_name.get(user) {
                return Err(format!("{at}: duplicate user {user} (first on {first})"));
            }
            self.decoy.get_or_insert_with(|| hash.clone());
            self.by_name.insert(user.to_string(), (hash, at));
        }
        Ok(())
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The hash to verify `user`'s password against, and whether the user
    /// exists. An unknown user gets a real user's hash as a decoy, so that a
    /// wrong user name takes as long to refuse as a wrong password.
    pub fn hash_for(&self, user: &str) -> Option<(Hash, bool)> {
        match self.by_name.get(user) {
            Some((hash, _)) => Some((hash.clone(), true)),
            None => self.decoy.clone().map(|hash| (hash, false)),
        }
    }
}
