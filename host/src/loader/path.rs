//! `pluginFileName` → a file that is really inside the plugin directory.

use std::path::{Component, Path, PathBuf};

use super::LoadError;

/// Resolves `file_name` inside `plugin_dir`. Refuses absolute paths, `..`, and
/// symlinks (of the file or of a directory on its way) that lead out of the
/// directory.
pub(super) fn resolve(plugin_dir: &Path, file_name: &str) -> Result<PathBuf, LoadError> {
    let refuse = |why: &str| LoadError::Path {
        file: file_name.to_string(),
        reason: why.to_string(),
    };
    let relative = Path::new(file_name);
    if file_name.is_empty() {
        return Err(refuse("is empty"));
    }
    if relative.is_absolute() {
        return Err(refuse(
            "must be a file name inside the plugin directory, not an absolute path",
        ));
    }
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(refuse("must not contain '..' or '.' components"));
    }
    let dir = plugin_dir.canonicalize().map_err(|e| LoadError::Path {
        file: file_name.to_string(),
        reason: format!(
            "plugin directory {} is not usable: {e}",
            plugin_dir.display()
        ),
    })?;
    let candidate = dir.join(relative);
    let real = candidate.canonicalize().map_err(|e| LoadError::Path {
        file: file_name.to_string(),
        reason: format!("not found in plugin directory {}: {e}", dir.display()),
    })?;
    if !real.starts_with(&dir) {
        return Err(refuse(&format!(
            "resolves to {}, outside the plugin directory {} (symlink)",
            real.display(),
            dir.display()
        )));
    }
    if !real.is_file() {
        return Err(refuse("is not a regular file"));
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gatehouse-path-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("plugins/sub")).unwrap();
        dir
    }

    #[test]
    fn inside_files_resolve_and_escapes_are_refused() {
        let root = temp_dir("escape");
        let plugins = root.join("plugins");
        std::fs::write(plugins.join("ok.so"), b"x").unwrap();
        std::fs::write(plugins.join("sub/nested.so"), b"x").unwrap();
        std::fs::write(root.join("secret.so"), b"x").unwrap();
        std::os::unix::fs::symlink(root.join("secret.so"), plugins.join("link.so")).unwrap();
        std::os::unix::fs::symlink(plugins.join("ok.so"), plugins.join("inner-link.so")).unwrap();

        assert!(resolve(&plugins, "ok.so")
            .unwrap()
            .ends_with("plugins/ok.so"));
        assert!(resolve(&plugins, "sub/nested.so").is_ok());
        assert!(resolve(&plugins, "inner-link.so")
            .unwrap()
            .ends_with("plugins/ok.so"));

        let err = |name: &str| resolve(&plugins, name).unwrap_err().to_string();
        assert!(
            err("../secret.so").contains("'..'"),
            "{}",
            err("../secret.so")
        );
        assert!(err("/etc/passwd").contains("absolute path"));
        assert!(err("link.so").contains("outside the plugin directory"));
        assert!(err("missing.so").contains("not found in plugin directory"));
        assert!(err("sub").contains("not a regular file"));
        let _ = std::fs::remove_dir_all(&root);
    }
}
