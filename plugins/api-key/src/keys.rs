//! The key store: SHA-256 hashes of the keys, searched in constant time.

use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

/// The SHA-256 of one key.
pub type KeyHash = [u8; 32];

/// Hashes a key as presented or configured.
pub fn hash_key(key: &str) -> KeyHash {
    Sha256::digest(key.as_bytes()).into()
}

/// Parses a SHA-256 given as 64 hex digits (either case).
pub fn parse_sha256(hex: &str) -> Result<KeyHash, String> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return Err(format!(
            "`sha256` must be 64 hex digits, got {} characters",
            bytes.len()
        ));
    }
    let mut hash = [0u8; 32];
    for (out, pair) in hash.iter_mut().zip(bytes.chunks_exact(2)) {
        let digit = |c: u8| (c as char).to_digit(16);
        match (digit(pair[0]), digit(pair[1])) {
            (Some(hi), Some(lo)) => *out = (hi * 16 + lo) as u8,
            _ => return Err("`sha256` must be 64 hex digits".into()),
        }
    }
    Ok(hash)
}

struct Entry {
    hash: KeyHash,
    user: String,
    origin: String,
}

/// Every accepted key's hash with its user.
#[derive(Default)]
pub struct KeyStore {
    entries: Vec<Entry>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyStore({} keys)", self.entries.len())
    }
}

impl KeyStore {
    /// Adds a key; `origin` says where it was given (for error messages). The
    /// same key given twice is an error naming both places.
    pub fn insert(&mut self, hash: KeyHash, user: String, origin: String) -> Result<(), String> {
        if let Some(first) = self.entries.iter().find(|e| e.hash == hash) {
            return Err(format!(
                "{origin}: duplicate key (already given by {})",
                first.origin
            ));
        }
        self.entries.push(Entry { hash, user, origin });
        Ok(())
    }

    /// How many keys are stored.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The user of `presented`, if it is a stored key. Hashes it once and
    /// compares against every entry in constant time, so the time taken does
    /// not depend on which entry (if any) matched or on how much of it did.
    pub fn lookup(&self, presented: &str) -> Option<&str> {
        let hash = hash_key(presented);
        let mut found = Choice::from(0);
        let mut index = 0u64;
        for (i, entry) in self.entries.iter().enumerate() {
            let equal = entry.hash.ct_eq(&hash);
            index = u64::conditional_select(&index, &(i as u64), equal);
            found |= equal;
        }
        if bool::from(found) {
            self.entries
                .get(index as usize)
                .map(|entry| entry.user.as_str())
        } else {
            None
        }
    }
}
