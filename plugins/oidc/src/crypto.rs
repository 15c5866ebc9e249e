//! Sealing values for the browser: AES-256-GCM with a random 96-bit nonce and
//! the purpose (e.g. the cookie name) as associated data, base64url without
//! padding. The current key seals; it and the old keys open (rotation).

use std::path::Path;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use ring::{
    aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN},
    rand::{SecureRandom, SystemRandom},
};

/// The version prefix of every sealed value.
const PREFIX: &str = "v1.";

/// Sealed values longer than this are refused before decoding.
pub const MAX_SEALED_LEN: usize = 64 * 1024;

/// `n` random bytes from the system RNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    // The system RNG failing is not recoverable: no secret may be made without it.
    SystemRandom::new()
        .fill(&mut bytes)
        .unwrap_or_else(|_| panic!("the system random number generator failed"));
    bytes
}

/// 32 random bytes as base64url: a state, nonce, PKCE verifier or session id.
pub fn random_token() -> String {
    B64.encode(random_bytes(32))
}

/// base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// Equality that takes the same time wherever the inputs differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Seals and opens with the configured keys.
pub struct Sealer {
    current: LessSafeKey,
    old: Vec<LessSafeKey>,
}

impl Sealer {
    /// A sealer from raw 32-byte keys: `current` seals, all open.
    pub fn new(current: &[u8], old: &[Vec<u8>]) -> Result<Self, String> {
        let key = |bytes: &[u8]| {
            UnboundKey::new(&AES_256_GCM, bytes)
                .map(LessSafeKey::new)
                .map_err(|_| "a key must be 32 bytes".to_string())
        };
        Ok(Self {
            current: key(current)?,
            old: old.iter().map(|k| key(k)).collect::<Result<_, _>>()?,
        })
    }

    /// A sealer from key files (see [`read_key`]).
    pub fn from_files(current: &Path, old: &[impl AsRef<Path>]) -> Result<Self, String> {
        let old = old
            .iter()
            .map(|p| read_key(p.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(&read_key(current)?, &old)
    }

    /// `plain` sealed for `purpose`.
    pub fn seal(&self, purpose: &str, plain: &[u8]) -> String {
        let nonce_bytes = random_bytes(NONCE_LEN);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&nonce_bytes);
        let mut data = plain.to_vec();
        // Sealing into a Vec cannot fail for inputs below AES-GCM's 64 GiB bound.
        self.current
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose),
                &mut data,
            )
            .unwrap_or_else(|_| panic!("AES-GCM sealing failed"));
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        format!("{PREFIX}{}", B64.encode(out))
    }

    /// The plaintext of a value sealed for `purpose` with any configured key;
    /// None if it was not (tampered, another purpose, an unknown key).
    pub fn open(&self, purpose: &str, sealed: &str) -> Option<Vec<u8>> {
        if sealed.len() > MAX_SEALED_LEN {
            return None;
        }
        let raw = B64.decode(sealed.strip_prefix(PREFIX)?).ok()?;
        if raw.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return None;
        }
        let (nonce, body) = raw.split_at(NONCE_LEN);
        std::iter::once(&self.current)
            .chain(&self.old)
            .find_map(|key| {
                let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
                let mut data = body.to_vec();
                let plain = key
                    .open_in_place(nonce, Aad::from(purpose), &mut data)
                    .ok()?;
                Some(plain.to_vec())
            })
    }
}

/// Reads a 32-byte key from a file: 64 hex digits or base64 (standard or url-safe).
pub fn read_key(path: &Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read key file {}: {e}", path.display()))?;
    decode_key(text.trim()).map_err(|e| format!("key file {}: {e}", path.display()))
}

/// A 32-byte key from its text form.
pub fn decode_key(text: &str) -> Result<Vec<u8>, String> {
    let hex = || -> Option<Vec<u8>> {
        (text.len() == 64 && text.is_ascii())
            .then(|| {
                (0..32)
                    .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
                    .collect()
            })
            .flatten()
    };
    let base64 = || {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE};
        let t = text.trim_end_matches('=');
        STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE.decode(text))
            .or_else(|_| B64.decode(t))
            .ok()
    };
    match hex().or_else(base64) {
        Some(key) if key.len() == 32 => Ok(key),
        Some(key) => Err(format!("the key is {} bytes, want 32", key.len())),
        None => Err("not 64 hex digits or base64 of 32 bytes".into()),
    }
}
