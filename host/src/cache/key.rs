//! Cache keys: which request parts a step's decision depends on (`key:`), and
//! the keyed hash that turns them into a [`CacheKey`].
//!
//! The hash is HMAC-SHA256 under a secret: entries in a shared store (Redis)
//! then reveal nothing about the credentials they were made from (an unkeyed
//! hash of a password header could be guessed offline), and nobody without the
//! secret can compute the key of someone else's request.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{
    chain::cache::CacheKey,
    model::{Request, State},
};

/// One request part a step's decision depends on, as written in `key:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    /// `header:NAME`: every value of the header, joined as the chain sees them.
    Header(String),
    /// `path`: the path with its query string.
    Path,
    /// `method`: the HTTP method.
    Method,
    /// `host`: the authority.
    Host,
    /// `state:KEY`: a state entry set by an earlier step.
    State(String),
    /// `metadataContext`: the gateway's metadata for the check (Envoy's
    /// `metadata_context`, as plugins see it); absent when empty.
    MetadataContext,
    /// `routeMetadata`: the route's metadata (Envoy's `route_metadata_context`);
    /// absent when empty. Key on it when a step decides by route metadata and
    /// several routes share one auth config.
    RouteMetadata,
}

impl KeyPart {
    /// Parses one `key:` entry (`header:authorization`, `path`, `method`,
    /// `host`, `state:user`, `metadataContext`, `routeMetadata`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let named = |kind: &str, name: &str| {
            if name.is_empty() {
                Err(format!("'{text}': {kind} needs a name after ':'"))
            } else {
                Ok(name.to_string())
            }
        };
        match text.split_once(':') {
            Some(("header", name)) => {
                named("header", name).map(|n| KeyPart::Header(n.to_ascii_lowercase()))
            }
            Some(("state", key)) => named("state", key).map(KeyPart::State),
            None if text == "path" => Ok(KeyPart::Path),
            None if text == "method" => Ok(KeyPart::Method),
            None if text == "host" => Ok(KeyPart::Host),
            None if text == "metadataContext" => Ok(KeyPart::MetadataContext),
            None if text == "routeMetadata" => Ok(KeyPart::RouteMetadata),
            _ => Err(format!(
                "'{text}' is not a key part (expected header:NAME, state:KEY, path, method, \
                 host, metadataContext or routeMetadata)"
            )),
        }
    }

    /// This part's value in a request; `None` when it is absent.
    fn value<'a>(
        &self,
        request: &'a Request,
        state: &'a State,
    ) -> Option<std::borrow::Cow<'a, str>> {
        use std::borrow::Cow;
        match self {
            KeyPart::Header(name) => {
                let mut values = request
                    .headers
                    .iter()
                    .filter(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str());
                let first = values.next()?;
                match values.next() {
                    None => Some(Cow::Borrowed(first)),
                    Some(second) => {
                        // Every copy counts: `a, b` and `a` must not share an entry.
                        let mut all = format!("{first}\n{second}");
                        for value in values {
                            all.push('\n');
                            all.push_str(value);
                        }
                        Some(Cow::Owned(all))
                    }
                }
            }
            KeyPart::Path => Some(Cow::Borrowed(&request.path)),
            KeyPart::Method => Some(Cow::Borrowed(&request.method)),
            KeyPart::Host => Some(Cow::Borrowed(&request.host)),
            KeyPart::State(key) => state.get(key).map(|v| Cow::Borrowed(v.as_str())),
            KeyPart::MetadataContext => non_empty(&request.metadata_context),
            KeyPart::RouteMetadata => non_empty(&request.route_metadata),
        }
    }
}

/// `text` borrowed, or `None` when empty (metadata the gateway did not send).
fn non_empty(text: &str) -> Option<std::borrow::Cow<'_, str>> {
    (!text.is_empty()).then_some(std::borrow::Cow::Borrowed(text))
}

impl std::fmt::Display for KeyPart {
    /// The part as written in `key:`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyPart::Header(name) => write!(f, "header:{name}"),
            KeyPart::Path => f.write_str("path"),
            KeyPart::Method => f.write_str("method"),
            KeyPart::Host => f.write_str("host"),
            KeyPart::State(key) => write!(f, "state:{key}"),
            KeyPart::MetadataContext => f.write_str("metadataContext"),
            KeyPart::RouteMetadata => f.write_str("routeMetadata"),
        }
    }
}

/// The secret the keys are hashed under. Hosts sharing a Redis must share it.
#[derive(Clone)]
pub struct HashSecret(Vec<u8>);

impl HashSecret {
    /// A secret from bytes (a key file's contents); at least 32 bytes.
    pub fn new(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < 32 {
            return Err(format!(
                "the cache hash key must be at least 32 bytes, got {}",
                bytes.len()
            ));
        }
        Ok(Self(bytes))
    }

    /// A fresh random secret, for a cache no other process shares.
    pub fn random() -> Self {
        let mut bytes = vec![0u8; 32];
        getrandom::fill(&mut bytes).expect("the OS random source is available");
        Self(bytes)
    }

    pub(super) fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length")
    }
}

/// The key of `request` for a step whose identity hashes to `step`: the
/// step's identity and each part's presence, length and bytes, so no two
/// different requests can run together into one key.
pub fn key_of(
    secret: &HashSecret,
    step: &[u8; 32],
    parts: &[KeyPart],
    request: &Request,
    state: &State,
) -> CacheKey {
    let mut mac = secret.mac();
    mac.update(b"gatehouse-cache-key-v1");
    mac.update(step);
    for part in parts {
        match part.value(request, state) {
            None => mac.update(&[0]),
            Some(value) => {
                mac.update(&[1]);
                mac.update(&(value.len() as u64).to_be_bytes());
                mac.update(value.as_bytes());
            }
        }
    }
    CacheKey(mac.finalize().into_bytes().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)], path: &str) -> Request {
        Request {
            path: path.into(),
            method: "GET".into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..Request::default()
        }
    }

    fn key(secret: &HashSecret, parts: &[&str], request: &Request, state: &State) -> CacheKey {
        let parts: Vec<KeyPart> = parts.iter().map(|p| KeyPart::parse(p).unwrap()).collect();
        key_of(secret, &[7; 32], &parts, request, state)
    }

    #[test]
    fn parts_parse_and_bad_ones_are_named() {
        assert_eq!(
            KeyPart::parse("header:Authorization"),
            Ok(KeyPart::Header("authorization".into()))
        );
        assert_eq!(
            KeyPart::parse("state:user"),
            Ok(KeyPart::State("user".into()))
        );
        assert_eq!(KeyPart::parse("path"), Ok(KeyPart::Path));
        let err = KeyPart::parse("cookie:session").unwrap_err();
        assert!(err.contains("'cookie:session' is not a key part"), "{err}");
        assert!(KeyPart::parse("header:")
            .unwrap_err()
            .contains("needs a name"));
    }

    #[test]
    fn only_the_named_parts_count() {
        let secret = HashSecret::random();
        let state = State::new();
        let a = request(&[("authorization", "Basic x")], "/a");
        let b = request(&[("authorization", "Basic x"), ("x-other", "1")], "/b");
        let c = request(&[("authorization", "Basic y")], "/a");
        let parts = ["header:authorization"];
        assert_eq!(
            key(&secret, &parts, &a, &state),
            key(&secret, &parts, &b, &state)
        );
        assert_ne!(
            key(&secret, &parts, &a, &state),
            key(&secret, &parts, &c, &state)
        );
        let with_path = ["header:authorization", "path"];
        assert_ne!(
            key(&secret, &with_path, &a, &state),
            key(&secret, &with_path, &b, &state)
        );
    }

    #[test]
    fn absent_empty_repeated_and_run_together_values_differ() {
        let secret = HashSecret::random();
        let state = State::new();
        let parts = ["header:x-a", "header:x-b"];
        let keys = [
            request(&[], "/"),
            request(&[("x-a", "")], "/"),
            request(&[("x-a", "ab")], "/"),
            request(&[("x-a", "a"), ("x-b", "b")], "/"),
            request(&[("x-a", "a"), ("x-a", "b")], "/"),
        ]
        .map(|r| key(&secret, &parts, &r, &state));
        for i in 0..keys.len() {
            for j in i + 1..keys.len() {
                assert_ne!(keys[i], keys[j], "requests {i} and {j} share a key");
            }
        }
    }

    #[test]
    fn state_parts_and_secrets_change_the_key() {
        let secret = HashSecret::random();
        let r = request(&[], "/");
        let mut alice = State::new();
        alice.insert("user".into(), "alice".into());
        let mut bob = State::new();
        bob.insert("user".into(), "bob".into());
        let parts = ["state:user"];
        assert_ne!(
            key(&secret, &parts, &r, &alice),
            key(&secret, &parts, &r, &bob)
        );
        assert_ne!(
            key(&secret, &parts, &r, &alice),
            key(&HashSecret::random(), &parts, &r, &alice)
        );
        assert!(HashSecret::new(vec![1; 16]).is_err());
    }

    #[test]
    fn metadata_parts_tell_routes_apart() {
        let secret = HashSecret::random();
        let state = State::new();
        let route = |json: &str| Request {
            route_metadata: json.into(),
            ..request(&[], "/")
        };
        let (admin, public) = (
            route(r#"{"auth":{"tier":"admin"}}"#),
            route(r#"{"auth":{}}"#),
        );
        let parts = ["routeMetadata"];
        assert_ne!(
            key(&secret, &parts, &admin, &state),
            key(&secret, &parts, &public, &state)
        );
        // Without the part, two routes sharing the config share the entry.
        assert_eq!(
            key(&secret, &["path"], &admin, &state),
            key(&secret, &["path"], &public, &state)
        );
        let gateway = Request {
            metadata_context: r#"{"f":{"a":1}}"#.into(),
            ..request(&[], "/")
        };
        assert_ne!(
            key(&secret, &["metadataContext"], &gateway, &state),
            key(&secret, &["metadataContext"], &request(&[], "/"), &state)
        );
        for text in ["metadataContext", "routeMetadata"] {
            assert_eq!(KeyPart::parse(text).unwrap().to_string(), text);
        }
    }
}
