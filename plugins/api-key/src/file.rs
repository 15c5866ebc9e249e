//! Reads a keys file: a YAML map key → user (`.yaml`/`.yml`), or one key per line.

use std::{collections::BTreeMap, path::Path};

/// One key read from a file, with its user and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileKey {
    /// The key.
    pub key: String,
    /// Its user.
    pub user: String,
    /// `keysFile <path> line N` or `keysFile <path> (user U)`.
    pub origin: String,
}

/// Reads `path`. Errors name the file.
pub fn read(path: &Path) -> Result<Vec<FileKey>, String> {
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("keysFile: cannot read {shown}: {e}"))?;
    let yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    if yaml {
        parse_yaml(&text, &shown.to_string())
    } else {
        Ok(parse_lines(&text, &shown.to_string()))
    }
}

/// One key per line; blank lines and lines starting with `#` are skipped,
/// surrounding whitespace is trimmed. The user is `key-N`, N being the line
/// number (from 1, counting every line).
pub fn parse_lines(text: &str, shown: &str) -> Vec<FileKey> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let key = line.trim();
            (!key.is_empty() && !key.starts_with('#')).then(|| FileKey {
                key: key.to_string(),
                user: format!("key-{}", i + 1),
                origin: format!("keysFile {shown} line {}", i + 1),
            })
        })
        .collect()
}

/// A YAML map of key → user. Plain scalars are taken as written (`12345: bob`
/// is key `12345`); quote keys with YAML syntax in them (`"a: b": user`).
pub fn parse_yaml(text: &str, shown: &str) -> Result<Vec<FileKey>, String> {
    let map: BTreeMap<String, String> = serde_yaml::from_str(text)
        .map_err(|e| format!("keysFile {shown}: not a YAML map of key to user: {e}"))?;
    map.into_iter()
        .map(|(key, user)| {
            let origin = format!("keysFile {shown} (user {user})");
            if key.is_empty() || user.is_empty() {
                Err(format!("{origin}: key and user must not be empty"))
            } else {
                Ok(FileKey { key, user, origin })
            }
        })
        .collect()
}
