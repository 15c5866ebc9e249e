//! What [`export_plugins!`](crate::export_plugins) expands to: the root module and
//! its panic-guarded entry points.

use std::{
    any::Any,
    panic::{catch_unwind, AssertUnwindSafe},
    sync::Arc,
};

use gatehouse_plugin_api::{
    abi_stable::{
        sabi_trait::TD_Opaque,
        std_types::{RResult, RStr, RString, RVec},
    },
    AuthServiceBox, AuthService_TO, ErrorKind, HostAllocHandle, LogHandle, PluginError, PluginMod,
    PluginModRef, INTERFACE_VERSION,
};

use crate::{config, scope::Scope, service::Service, Plugin, SDK_VERSION};

/// Runs `f`, turning a panic into a `PluginError` of kind `Panic`.
pub fn guard<T>(f: impl FnOnce() -> Result<T, PluginError>) -> RResult<T, PluginError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result.into(),
        Err(payload) => RResult::RErr(panic_error(payload)),
    }
}

/// Describes a caught panic.
pub(crate) fn panic_error(payload: Box<dyn Any + Send>) -> PluginError {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string());
    PluginError::new(ErrorKind::Panic, format!("plugin panicked: {what}"))
}

/// Deserializes `config` and builds plugin `P` as an ABI trait object whose
/// log events go to `sink` (interface 1.3; none from an older host or a test).
pub fn build<P: Plugin>(
    config: RStr<'_>,
    sink: Option<LogHandle>,
) -> Result<AuthServiceBox, PluginError> {
    // Inside the plugin's runtime, so constructors may build clients or spawn tasks.
    let _context = crate::runtime::handle().enter();
    if let Some(sink) = &sink {
        crate::log::attach(sink);
    }
    let scope = Scope {
        sink: sink.clone(),
        ..Scope::default()
    };
    let plugin = crate::scope::within(Some(&scope), || {
        let config = config::parse::<P::Config>(config.as_str())?;
        P::new(config).map_err(|e| PluginError::new(ErrorKind::Config, e.to_string()))
    })?;
    Ok(AuthService_TO::from_value(
        Service {
            plugin: Arc::new(plugin),
            sink,
        },
        TD_Opaque,
    ))
}

/// The error for a name this library does not export; lists the ones it does.
pub fn unknown_plugin(name: &str, known: &[&str]) -> PluginError {
    PluginError::new(
        ErrorKind::UnknownPlugin,
        format!(
            "no plugin named '{name}' in this library; it exports: {}",
            known.join(", ")
        ),
    )
}

/// The exported names as an FFI vector.
pub fn names(known: &[&str]) -> RVec<RString> {
    known.iter().map(|n| RString::from(*n)).collect()
}

/// The build info string: plugin crate and version, SDK and interface versions.
pub fn build_info(crate_name: &str, crate_version: &str) -> RString {
    format!("{crate_name} {crate_version} (gatehouse-plugin-sdk {SDK_VERSION}, interface {INTERFACE_VERSION})").into()
}

/// Assembles the root module from the generated entry points.
pub fn root_module(
    plugin_names: extern "C" fn() -> RVec<RString>,
    new_service: extern "C" fn(RStr<'_>, RStr<'_>) -> RResult<AuthServiceBox, PluginError>,
    build_info: extern "C" fn() -> RString,
    new_service_logged: extern "C" fn(
        RStr<'_>,
        RStr<'_>,
        LogHandle,
    ) -> RResult<AuthServiceBox, PluginError>,
    attach_host: extern "C" fn(HostAllocHandle),
) -> PluginModRef {
    use gatehouse_plugin_api::abi_stable::prefix_type::PrefixTypeTrait;
    PluginMod {
        plugin_names,
        new_service,
        build_info,
        new_service_logged,
        attach_host,
    }
    .leak_into_prefix()
}

/// Exports the plugins of this library: `export_plugins!("Name" => Type, ...)`.
///
/// Each name is what an auth config's `exportedSymbolName` selects; each type
/// implements [`Plugin`](crate::Plugin). Use it once, at the crate root.
#[macro_export]
macro_rules! export_plugins {
    ($($name:literal => $plugin:ty),+ $(,)?) => {
        // The plugin crate's own strategy (`cargo rustc -- -C panic=abort` sets
        // only that crate's): the host would refuse the library.
        #[cfg(panic = "abort")]
        compile_error!(
            "export_plugins!: this plugin is built with panic = \"abort\"; the Gatehouse host \
             refuses such plugins (their first panic would kill it). Build it with unwinding."
        );

        #[doc(hidden)]
        pub mod __gatehouse_export {
            #[allow(unused_imports)]
            use super::*;
            use $crate::__private as gh;

            extern "C" fn plugin_names() -> gh::RVec<gh::RString> {
                gh::names(&[$($name),+])
            }

            fn new_with(
                name: gh::RStr<'_>,
                config: gh::RStr<'_>,
                sink: Option<gh::LogHandle>,
            ) -> gh::RResult<gh::AuthServiceBox, gh::PluginError> {
                gh::guard(|| match name.as_str() {
                    $($name => gh::build::<$plugin>(config, sink),)+
                    other => Err(gh::unknown_plugin(other, &[$($name),+])),
                })
            }

            extern "C" fn new_service(
                name: gh::RStr<'_>,
                config: gh::RStr<'_>,
            ) -> gh::RResult<gh::AuthServiceBox, gh::PluginError> {
                new_with(name, config, None)
            }

            extern "C" fn new_service_logged(
                name: gh::RStr<'_>,
                config: gh::RStr<'_>,
                sink: gh::LogHandle,
            ) -> gh::RResult<gh::AuthServiceBox, gh::PluginError> {
                new_with(name, config, Some(sink))
            }

            extern "C" fn attach_host(host: gh::HostAllocHandle) {
                gh::attach_host(host)
            }

            extern "C" fn build_info() -> gh::RString {
                gh::build_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            }

            fn root_module() -> gh::PluginModRef {
                gh::root_module(
                    plugin_names,
                    new_service,
                    build_info,
                    new_service_logged,
                    attach_host,
                )
            }

            extern "C" fn load_root_module() -> gh::RootModuleResult {
                gh::__call_root_module_loader(root_module)
            }

            /// The library header the host reads first (abi_stable's fixed symbol).
            #[export_name = "_1as_0lib_1header_0root_bmodule_bloader"]
            pub static LIB_HEADER: gh::LibHeader = unsafe {
                gh::LibHeader::from_constructor::<gh::PluginModRef>(
                    load_root_module,
                    gh::CheckTypeLayout::Yes,
                )
            };
        }
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn exported_symbol_is_abi_stables_root_module_loader() {
        assert_eq!(
            gatehouse_plugin_api::abi_stable::library::ROOT_MODULE_LOADER_NAME,
            "_1as_0lib_1header_0root_bmodule_bloader",
            "update the export_name in export_plugins! to abi_stable's symbol"
        );
    }
}
