//! A login in progress: the `state`, `nonce` and PKCE verifier sent with the
//! authorization request and the URL to return to, sealed into a cookie bound
//! to this browser. The callback must present the same `state` as the cookie
//! (a forged or foreign `state` fails), within its lifetime, once: the cookie
//! is cleared by the callback and the state is remembered as used.

use std::{
    collections::{HashSet, VecDeque},
    sync::Mutex,
};

use ring::digest::{digest, SHA256};
use serde::{Deserialize, Serialize};

use crate::crypto::{b64, random_token, same, Sealer};

/// How long a login may take from redirect to callback.
pub const LOGIN_SECONDS: u64 = 600;

/// The associated data of a sealed login state.
const PURPOSE: &str = "gatehouse-oidc-login";

/// One login in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    /// The `state` parameter.
    pub state: String,
    /// The `nonce` parameter (the ID token must carry it).
    pub nonce: String,
    /// The PKCE `code_verifier`.
    pub verifier: String,
    /// Where the browser goes after the callback.
    pub return_to: String,
    /// The `redirect_uri` sent (the token request repeats it).
    pub redirect_uri: String,
    /// Unix time after which the callback is refused.
    pub expires: u64,
}

impl Login {
    /// A fresh login returning to `return_to`.
    pub fn new(return_to: String, redirect_uri: String, now: u64) -> Self {
        Self {
            state: random_token(),
            nonce: random_token(),
            verifier: random_token(),
            return_to,
            redirect_uri,
            expires: now + LOGIN_SECONDS,
        }
    }

    /// The PKCE S256 `code_challenge` of the verifier.
    pub fn challenge(&self) -> String {
        b64(digest(&SHA256, self.verifier.as_bytes()).as_ref())
    }

    /// Sealed for the state cookie.
    pub fn seal(&self, sealer: &Sealer) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        sealer.seal(PURPOSE, &json)
    }

    /// The login in a state cookie, if `state` is its state and it has not
    /// expired; why not otherwise.
    pub fn open(sealer: &Sealer, cookie: &str, state: &str, now: u64) -> Result<Login, Refused> {
        let plain = sealer.open(PURPOSE, cookie).ok_or(Refused::BadCookie)?;
        let login: Login = serde_json::from_slice(&plain).map_err(|_| Refused::BadCookie)?;
        if !same(login.state.as_bytes(), state.as_bytes()) {
            return Err(Refused::StateMismatch);
        }
        if now > login.expires {
            return Err(Refused::Expired);
        }
        Ok(login)
    }
}

/// Why a callback's login state was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No state cookie, or one that does not open.
    BadCookie,
    /// The `state` parameter is not the cookie's.
    StateMismatch,
    /// The login took longer than [`LOGIN_SECONDS`].
    Expired,
    /// This state was already used.
    Replayed,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refused::BadCookie => "no valid login state cookie",
            Refused::StateMismatch => "state does not match the login state cookie",
            Refused::Expired => "the login expired",
            Refused::Replayed => "this state was already used",
        })
    }
}

/// The states already used by callbacks on this instance (bounded, oldest
/// forgotten first; by then their cookies have expired or been cleared).
pub struct UsedStates {
    inner: Mutex<(HashSet<String>, VecDeque<String>)>,
    capacity: usize,
}

impl UsedStates {
    /// Remembers up to `capacity` states.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new((HashSet::new(), VecDeque::new())),
            capacity,
        }
    }

    /// Marks `state` used; false if it already was.
    pub fn first_use(&self, state: &str) -> bool {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (set, order) = &mut *guard;
        if !set.insert(state.to_string()) {
            return false;
        }
        order.push_back(state.to_string());
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        true
    }
}
