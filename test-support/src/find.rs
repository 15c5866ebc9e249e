//! Finding the host binary and the plugin library.

use std::path::{Path, PathBuf};

use crate::Error;

/// The `gatehouse` binary: `$GATEHOUSE_BIN`, else `gatehouse` on `PATH`.
pub fn gatehouse_binary() -> Result<PathBuf, Error> {
    binary_from(std::env::var_os("GATEHOUSE_BIN"), std::env::var_os("PATH"))
}

fn binary_from(
    bin: Option<std::ffi::OsString>,
    path: Option<std::ffi::OsString>,
) -> Result<PathBuf, Error> {
    if let Some(bin) = bin {
        let bin = PathBuf::from(bin);
        return match bin.is_file() {
            true => Ok(bin),
            false => Err(Error(format!(
                "GATEHOUSE_BIN is {}, which is not a file: point it at the gatehouse binary \
                 of the host release that matches your gatehouse-plugin-sdk version",
                bin.display()
            ))),
        };
    }
    let path = path.unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("gatehouse"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            Error(
                "no gatehouse binary: set GATEHOUSE_BIN=/path/to/gatehouse or put it on PATH \
                 (download the host release that matches your gatehouse-plugin-sdk version, \
                 or build it: cargo build -p gatehouse in the Gatehouse repository)"
                    .into(),
            )
        })
}

/// The `.so` of the crate whose tests are running: `lib<name>.so` (dashes as
/// underscores) in `$CARGO_TARGET_DIR/debug` or `<crate>/target/debug`.
pub fn plugin_library() -> Result<PathBuf, Error> {
    let name = std::env::var("CARGO_PKG_NAME")
        .map_err(|_| Error("CARGO_PKG_NAME is not set: run the test with cargo test".into()))?;
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| manifest.map(|m| m.join("target")))
        .ok_or_else(|| {
            Error("CARGO_MANIFEST_DIR is not set: run the test with cargo test".into())
        })?;
    library_in(&target.join("debug"), &name)
}

fn library_in(dir: &Path, crate_name: &str) -> Result<PathBuf, Error> {
    let file = dir.join(format!("lib{}.so", crate_name.replace('-', "_")));
    match file.is_file() {
        true => Ok(file),
        false => Err(Error(format!(
            "{} is missing: give the crate crate-type = [\"cdylib\", \"rlib\"] in [lib] and run \
             cargo build (cargo test builds it before integration tests)",
            file.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_says_which_variable_to_set() {
        let err = binary_from(Some("/nonexistent/gatehouse".into()), None).unwrap_err();
        assert!(
            err.0
                .starts_with("GATEHOUSE_BIN is /nonexistent/gatehouse, which is not a file"),
            "{err}"
        );
        let err = binary_from(None, Some("/nonexistent".into())).unwrap_err();
        assert!(
            err.0
                .contains("set GATEHOUSE_BIN=/path/to/gatehouse or put it on PATH"),
            "{err}"
        );
        let dir = std::env::temp_dir().join(format!("gh-ts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("gatehouse"), b"").expect("file");
        assert_eq!(
            binary_from(None, Some(dir.clone().into())).ok(),
            Some(dir.join("gatehouse"))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_library_says_how_to_build_it() {
        let err = library_in(Path::new("/nonexistent"), "my-plugin").unwrap_err();
        assert!(
            err.0.starts_with("/nonexistent/libmy_plugin.so is missing"),
            "{err}"
        );
        assert!(err.0.contains("cdylib"), "{err}");
    }
}
