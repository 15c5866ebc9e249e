//! The root module: the one symbol a plugin library exports.

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings,
    sabi_types::VersionStrings,
    std_types::{RResult, RStr, RString, RVec},
    StableAbi,
};

use crate::{
    service::{AuthServiceBox, HostAllocHandle, LogHandle},
    types::PluginError,
};

/// The root module's name in the library header; the host refuses libraries that
/// export another kind of root module.
pub const ROOT_MODULE_NAME: &str = "gatehouse_plugin";

/// What a plugin library exports. One library may hold several plugins; the
/// auth config's `exportedSymbolName` picks one by name.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
#[sabi(missing_field(panic))]
pub struct PluginMod {
    /// The names of the plugins this library exports.
    pub plugin_names: extern "C" fn() -> RVec<RString>,

    /// Builds the plugin `name` from its config text (JSON). Errors name the
    /// offending field.
    pub new_service:
        extern "C" fn(name: RStr<'_>, config: RStr<'_>) -> RResult<AuthServiceBox, PluginError>,

    /// Since 1.1: who built this library (SDK version, plugin crate and version),
    /// for `gatehouse-verify` and the host's logs.
    pub build_info: extern "C" fn() -> RString,

    /// Since 1.3: [`new_service`](Self::new_service) with the host's log sink
    /// for this step, which the instance uses for its whole life. A 1.3 host
    /// calls this instead of `new_service`.
    pub new_service_logged: extern "C" fn(
        name: RStr<'_>,
        config: RStr<'_>,
        log: LogHandle,
    ) -> RResult<AuthServiceBox, PluginError>,

    /// Since 1.4: the host's allocator for this library's answers (see
    /// [`HostAlloc`](crate::HostAlloc)). A 1.4 host calls this once, right
    /// after loading the library and before any other entry point; should it
    /// call it again, any handle will do (they are equivalent).
    #[sabi(last_prefix_field)]
    pub attach_host: extern "C" fn(host: HostAllocHandle),
}

impl RootModule for PluginModRef {
    declare_root_module_statics! {PluginModRef}
    const BASE_NAME: &'static str = ROOT_MODULE_NAME;
    const NAME: &'static str = ROOT_MODULE_NAME;
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}
