//! Plugin loading: resolve `pluginFileName` inside the plugin directory, open
//! the library once, check its interface version and layouts, find the exported
//! plugin and build it from its config.

mod abi;
mod elf;
mod layout;
mod library;
mod path;
mod plugin_log;
mod staging;
mod symbols;

use std::{
    cell::RefCell,
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use abi::FactoryErrorKind;
pub use abi::Instance;
pub use library::{Library, SUPPORTED_INTERFACES};
pub use symbols::PanicStrategy;

use sha2::{Digest, Sha256};

use crate::config::StepConfig;

/// Why a step's plugin could not be loaded or built. Each message names the
/// file and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `pluginFileName` does not resolve to a file inside the plugin directory.
    #[error("pluginFileName '{file}' {reason}")]
    Path {
        /// The configured file name.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// The file is not a loadable Gatehouse plugin library.
    #[error("{file}: cannot load: {reason}")]
    Open {
        /// The file.
        file: String,
        /// The loader's reason.
        reason: String,
    },
    /// Built against an interface version this host does not support.
    #[error(
        "{file}: built against plugin interface {plugin}; this host supports {}: {advice}",
        SUPPORTED_INTERFACES.iter().map(|v| format!("{v}.x")).collect::<Vec<_>>().join(", ")
    )]
    Interface {
        /// The file.
        file: String,
        /// The plugin's interface version.
        plugin: String,
        /// Which side to rebuild.
        advice: &'static str,
    },
    /// The version is supported but a type layout differs from it.
    #[error("{file}: interface {interface} type layout mismatch (plugin built from a modified interface crate?): {reason}")]
    Layout {
        /// The file.
        file: String,
        /// The plugin's interface version.
        interface: String,
        /// abi_stable's report, trimmed.
        reason: String,
    },
    /// Built with `panic = "abort"`: its first panic would end the host.
    #[error(
        "{file}: built with panic = \"abort\": its first panic would kill the host, which \
         contains plugin panics only when they unwind; remove panic = \"abort\" from the \
         plugin's Cargo.toml profiles (and -C panic=abort from RUSTFLAGS) and rebuild"
    )]
    PanicAbort {
        /// The file.
        file: String,
    },
    /// `exportedSymbolName` is not exported by the library.
    #[error("{file}: exports no plugin named '{name}'; it exports: {available}")]
    UnknownPlugin {
        /// The file.
        file: String,
        /// The requested name.
        name: String,
        /// The names it does export.
        available: String,
    },
    /// The plugin refused its config; the message names the field.
    #[error("{file} plugin '{name}': invalid config: {reason}")]
    Config {
        /// The file.
        file: String,
        /// The plugin name.
        name: String,
        /// The plugin's reason.
        reason: String,
    },
    /// The plugin's factory failed or panicked.
    #[error("{file} plugin '{name}': could not be created: {reason}")]
    Factory {
        /// The file.
        file: String,
        /// The plugin name.
        name: String,
        /// The plugin's reason.
        reason: String,
    },
}

/// SHA-256 of a file's content, hex, read in a streaming fashion.
fn file_hash(path: &Path) -> std::io::Result<String> {
    hash_reader(&mut std::fs::File::open(path)?)
}

/// SHA-256 of everything `reader` yields, hex, streamed.
fn hash_reader(reader: &mut impl std::io::Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    std::io::copy(reader, &mut hasher)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Shortens abi_stable's multi-kilobyte reports to what a person reads.
fn trim(text: &str) -> String {
    const MAX: usize = 1200;
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.len() <= MAX {
        return joined;
    }
    let mut end = MAX;
    while !joined.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} …", &joined[..end])
}

/// Loads plugins from one directory, opening each distinct library once.
///
/// Libraries are never unloaded (abi_stable leaks them on purpose), so the cache
/// is keyed by content: reloading an unchanged file reuses the loaded library, and
/// memory does not grow. Each library is mapped from a private copy (see
/// [`staging`]), so new content under an old file name is really loaded (the
/// dynamic loader would hand back the library it already has for a known path),
/// and rewriting the plugin directory can never corrupt a library in use.
pub struct Loader {
    plugin_dir: PathBuf,
    staging: staging::Staging,
    libraries: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    /// Content hash → library.
    by_hash: HashMap<String, Arc<Library>>,
}

impl Loader {
    /// A loader for `plugin_dir`; private copies are made under `$TMPDIR`.
    pub fn new(plugin_dir: impl Into<PathBuf>) -> Self {
        Self::with_copy_dir(plugin_dir, std::env::temp_dir())
    }

    /// A loader for `plugin_dir` that makes its private copies under `copy_dir`
    /// (created 0700 if missing; refused at load if another user could change
    /// entries in it). Each copy gets a fresh directory there and is removed
    /// right after it is mapped; leftovers of crashed processes are removed now.
    pub fn with_copy_dir(plugin_dir: impl Into<PathBuf>, copy_dir: impl Into<PathBuf>) -> Self {
        let staging = staging::Staging::new(copy_dir.into());
        staging.remove_stale();
        Self {
            plugin_dir: plugin_dir.into(),
            staging,
            libraries: Mutex::new(Cache::default()),
        }
    }

    /// The plugin directory.
    pub fn plugin_dir(&self) -> &Path {
        &self.plugin_dir
    }

    /// Every library loaded so far.
    pub fn libraries(&self) -> Vec<Arc<Library>> {
        let cache = self.libraries.lock().unwrap_or_else(|e| e.into_inner());
        cache.by_hash.values().cloned().collect()
    }

    /// Opens (or reuses) the library `file_name` inside the plugin directory,
    /// hashing it again (a pass of its own: see [`Loader::pass`]).
    pub fn library(&self, file_name: &str) -> Result<Arc<Library>, LoadError> {
        self.pass().library(file_name)
    }

    /// Starts a pass over one configuration (a reload): within it, each
    /// distinct `pluginFileName` is resolved and hashed once (and, if its
    /// content is new, copied, checked and loaded once), however many steps
    /// name it. The next pass looks at every file again, so a library replaced
    /// between reloads, even in place, is seen.
    pub fn pass(&self) -> Pass<'_> {
        Pass {
            loader: self,
            seen: RefCell::new(HashMap::new()),
        }
    }

    /// The library `file_name` as it is now: resolved, hashed, and reused if
    /// that content is loaded already, else copied, checked and loaded.
    ///
    /// The host never maps a file of the plugin directory itself: it maps a
    /// private copy, removed once mapped. Overwriting a mapped library in place
    /// (as `cp` does) would corrupt the running process; with the copy, the
    /// plugin directory can be rewritten at any time and takes effect on reload.
    fn open_library(&self, file_name: &str) -> Result<Arc<Library>, LoadError> {
        let path = path::resolve(&self.plugin_dir, file_name)?;
        let failed = |what: &str, e: std::io::Error| LoadError::Open {
            file: path.display().to_string(),
            reason: format!("{what}: {e}"),
        };
        // Streamed: a plugin library can be tens of MB; never hold it in memory.
        let hash = file_hash(&path).map_err(|e| failed("cannot read", e))?;
        let cache = self.libraries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(library) = cache.by_hash.get(&hash) {
            return Ok(Arc::clone(library));
        }
        drop(cache);
        let staged = self.staging.stage(&path).map_err(|e| LoadError::Open {
            file: path.display().to_string(),
            reason: format!("cannot make a private copy to load: {e}"),
        })?;
        // Keyed by what the copy really holds (the original may change meanwhile).
        let mut cache = self.libraries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(library) = cache.by_hash.get(staged.hash()) {
            return Ok(Arc::clone(library));
        }
        // The copy is unlinked when `staged` drops, right after dlopen.
        let library = Arc::new(Library::open(staged.path(), &path)?);
        let hash = staged.hash().to_string();
        drop(staged);
        tracing::info!(
            file = %path.display(),
            interface = library.interface(),
            build = library.build_info().unwrap_or("-"),
            plugins = ?library.plugin_names(),
            panic = library.panic_strategy().as_str(),
            "plugin library loaded"
        );
        if library.panic_strategy() == PanicStrategy::Unrecorded {
            tracing::warn!(
                file = %path.display(),
                "plugin library does not record its panic strategy (built against interface \
                 1.0/1.1 or an older 1.2): if it was built with panic = \"abort\", its first \
                 panic kills the host; rebuild it against gatehouse-plugin-api 1.2 to have it checked"
            );
        }
        cache.by_hash.insert(hash, Arc::clone(&library));
        Ok(library)
    }

    /// Builds the plugin instance for one `pluginAuth` step (not yet started),
    /// in a pass of its own (see [`Loader::pass`]).
    pub fn instantiate(&self, step: &StepConfig) -> Result<Arc<dyn Instance>, LoadError> {
        self.pass().instantiate(step)
    }
}

/// One pass of a [`Loader`] over a configuration (see [`Loader::pass`]).
pub struct Pass<'l> {
    loader: &'l Loader,
    /// `pluginFileName` → the library it named in this pass.
    seen: RefCell<HashMap<String, Arc<Library>>>,
}

impl Pass<'_> {
    /// The library `file_name`, looked at once per pass.
    pub fn library(&self, file_name: &str) -> Result<Arc<Library>, LoadError> {
        if let Some(library) = self.seen.borrow().get(file_name) {
            return Ok(Arc::clone(library));
        }
        let library = self.loader.open_library(file_name)?;
        self.seen
            .borrow_mut()
            .insert(file_name.to_string(), Arc::clone(&library));
        Ok(library)
    }

    /// Builds the plugin instance for one `pluginAuth` step (not yet started).
    pub fn instantiate(&self, step: &StepConfig) -> Result<Arc<dyn Instance>, LoadError> {
        let library = self.library(&step.plugin_file_name)?;
        let file = step.plugin_file_name.clone();
        let name = step.exported_symbol_name.clone();
        let available = library.plugin_names();
        if !available.contains(&name) {
            return Err(LoadError::UnknownPlugin {
                file,
                name,
                available: available.join(", "),
            });
        }
        let config = serde_json::to_string(&step.config).unwrap_or_else(|_| "null".into());
        library
            .new_instance(&name, &step.name, &config)
            .map_err(|e| match e.kind {
                FactoryErrorKind::Config => LoadError::Config {
                    file,
                    name,
                    reason: e.message,
                },
                FactoryErrorKind::UnknownPlugin
                | FactoryErrorKind::Panic
                | FactoryErrorKind::Internal => LoadError::Factory {
                    file,
                    name,
                    reason: e.message,
                },
            })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::{os::unix::fs::PermissionsExt, path::PathBuf, sync::Arc};

    use super::Loader;

    /// This workspace's `set-headers` plugin, as `cargo build --workspace` left it
    /// next to the test binary's directory (unit tests of other modules use it too).
    pub(crate) fn set_headers_library() -> PathBuf {
        let exe = std::env::current_exe().expect("test binary");
        let dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target dir");
        let library = dir.join("libset_headers.so");
        assert!(
            library.is_file(),
            "{} is missing: run `cargo build --workspace` first",
            library.display()
        );
        library
    }

    #[test]
    fn a_pass_looks_at_each_file_once_and_the_next_pass_looks_again() {
        let root = std::env::temp_dir().join(format!("gatehouse-pass-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let plugins = root.join("plugins");
        std::fs::create_dir_all(&plugins).expect("mkdir");
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let file = plugins.join("lib.so");
        std::fs::copy(set_headers_library(), &file).expect("copy");
        let loader = Loader::with_copy_dir(&plugins, root.join("staging"));

        let pass = loader.pass();
        let first = pass.library("lib.so").expect("load");
        // Rewritten in place during the pass: the pass keeps what it looked at
        // (one hash per file per reload, however many steps name it).
        let mut bytes = std::fs::read(&file).expect("read");
        bytes.extend_from_slice(b"new content");
        std::fs::write(&file, bytes).expect("rewrite");
        let again = pass.library("lib.so").expect("reuse");
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(loader.libraries().len(), 1);
        drop(pass);

        // The next pass (the next reload) reads the file again: new content loads.
        let next = loader.pass().library("lib.so").expect("reload");
        assert!(!Arc::ptr_eq(&first, &next));
        assert_eq!(loader.libraries().len(), 2);
        // Unchanged content in a later pass reuses the library it already has.
        let same = loader.library("lib.so").expect("unchanged");
        assert!(Arc::ptr_eq(&next, &same));
        let _ = std::fs::remove_dir_all(&root);
    }
}
