//! Opening a plugin library: read its header, pick the interface copy matching
//! its version, and only then let abi_stable check every type layout.

use std::path::{Path, PathBuf};

use abi_stable::library::{lib_header_from_path, LibHeader, LibraryError, ROOT_MODULE_LOADER_NAME};

pub use super::abi::SUPPORTED_INTERFACES;
use super::{
    abi::{self, FactoryError, Instance, Module},
    symbols::{self, PanicStrategy},
    LoadError,
};

/// A loaded plugin library. Never unloaded (abi_stable leaks libraries on
/// purpose): the loader opens each file once and keeps this.
pub struct Library {
    path: PathBuf,
    interface: String,
    build_info: Option<String>,
    panic_strategy: PanicStrategy,
    module: Module,
}

impl Library {
    /// Opens the file at `mapped` (the loader's private copy) and checks it
    /// against the interface copy for its version; `path` is the plugin file it
    /// came from, which messages and [`Library::path`] name.
    pub(super) fn open(mapped: &Path, path: &Path) -> Result<Self, LoadError> {
        let file = path.display().to_string();
        super::elf::check(mapped).map_err(|reason| LoadError::Open {
            file: file.clone(),
            reason,
        })?;
        // Before dlopen: a library's initializers are plugin code too.
        let panic_strategy = symbols::panic_strategy(mapped);
        if panic_strategy == PanicStrategy::Abort {
            return Err(LoadError::PanicAbort { file });
        }
        let header: &'static LibHeader =
            lib_header_from_path(mapped).map_err(|e| LoadError::Open {
                file: file.clone(),
                reason: open_failure(&file, &e),
            })?;
        let name = header.root_mod_consts().name();
        if name != api::ROOT_MODULE_NAME {
            return Err(LoadError::Open {
                file,
                reason: format!(
                    "exports an abi_stable root module '{name}', not a Gatehouse plugin"
                ),
            });
        }
        let interface = header.version_strings().to_string();
        let parsed = header
            .version_strings()
            .parsed()
            .map_err(|e| LoadError::Open {
                file: file.clone(),
                reason: format!("unreadable interface version '{interface}': {e}"),
            })?;
        let layout = |e: abi_stable::library::LibraryError| LoadError::Layout {
            file: file.clone(),
            interface: interface.clone(),
            reason: {
                let report = e.to_string();
                super::layout::summarize(&report).unwrap_or_else(|| super::trim(&report))
            },
        };
        let module = match Module::init(header, parsed.major, parsed.minor) {
            Some(module) => module.map_err(layout)?,
            None => {
                return Err(LoadError::Interface {
                    file,
                    plugin: interface,
                    advice: abi::advice(parsed.major, parsed.minor),
                })
            }
        };
        let build_info = module.build_info();
        Ok(Self {
            path: path.to_path_buf(),
            interface,
            build_info,
            panic_strategy,
            module,
        })
    }

    /// The panic strategy the library records (see [`PanicStrategy`]).
    pub fn panic_strategy(&self) -> PanicStrategy {
        self.panic_strategy
    }

    /// The file this library was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The interface version the plugin was built against.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The plugin's own build description (interface 1.1 and later).
    pub fn build_info(&self) -> Option<&str> {
        self.build_info.as_deref()
    }

    /// The plugin names this library exports.
    pub fn plugin_names(&self) -> Vec<String> {
        self.module.plugin_names()
    }

    /// Builds plugin `name` for step `step` (named in its log events) from its
    /// config (JSON text).
    pub(super) fn new_instance(
        &self,
        name: &str,
        step: &str,
        config: &str,
    ) -> Result<std::sync::Arc<dyn Instance>, FactoryError> {
        self.module.new_instance(name, step, config)
    }
}

/// Why abi_stable could not open a library or find its header, in a plugin
/// author's words (abi_stable's own text repeats the path and, for a missing
/// symbol, prints it with a trailing NUL).
fn open_failure(file: &str, error: &LibraryError) -> String {
    match error {
        LibraryError::GetSymbolError { .. } => format!(
            "a shared library, but not a Gatehouse plugin: it does not export the abi_stable \
             library header ({ROOT_MODULE_LOADER_NAME}); export plugins with gatehouse-plugin-sdk's \
             export_plugins! and build with crate-type = [\"cdylib\"]"
        ),
        LibraryError::OpenError { err, .. } => {
            let text = err.to_string();
            let reason = text
                .strip_prefix(file)
                .and_then(|rest| rest.strip_prefix(": "))
                .unwrap_or(&text);
            let hint = if reason.contains("cannot open shared object file") {
                "; a library it links against is missing on this host: install it, or link it statically"
            } else if reason.contains("version `GLIBC_") {
                "; it was built against a newer glibc than this host has: build it on the host's base image"
            } else if reason.contains("dynamically load") && reason.contains("executable") {
                "; it is a program, not a library: build the plugin crate with crate-type = [\"cdylib\"]"
            } else {
                ""
            };
            format!("dlopen refused it: {}{hint}", super::trim(reason))
        }
        other => super::trim(&other.to_string()),
    }
}
