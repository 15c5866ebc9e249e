//! The host's allocator (interface 1.4): where the SDK makes the strings and
//! vectors of an answer, so that the host takes their buffers over instead of
//! copying them and freeing the plugin's through its vtable.
//!
//! The host attaches its handle once, when it loads the library (the export
//! macro's `attach_host`). Each plugin library has its own copy of the SDK and
//! so of this static. Without a handle (unit tests, `Request::builder()`
//! tests, an answer built before the host attached) every value is the
//! plugin's own, exactly as before 1.4: correct, only copied by the host.

use std::sync::OnceLock;

use gatehouse_plugin_api::{
    abi_stable::std_types::{RStr, RString},
    AuthResponse, Decision, HostAllocHandle,
};

/// The handle the host attached to this library, if any.
static HOST: OnceLock<HostAllocHandle> = OnceLock::new();

/// Keeps `host` for every later answer of this library. The first handle
/// stays (the host's handles are equivalent).
pub fn attach(host: HostAllocHandle) {
    let _ = HOST.set(host);
}

/// An empty answer of `decision`: the host's when attached, the plugin's
/// otherwise.
#[inline]
pub(crate) fn answer(decision: Decision) -> AuthResponse {
    match HOST.get() {
        Some(host) => host.answer(decision),
        None => AuthResponse {
            decision,
            ..AuthResponse::default()
        },
    }
}

/// `text` as a string of an answer: the host's when attached, the plugin's
/// otherwise.
#[inline]
pub(crate) fn string(text: &str) -> RString {
    match HOST.get() {
        Some(host) => host.string(RStr::from(text)),
        None => RString::from(text),
    }
}

/// An owned `text` as a string of an answer: copied into the host's
/// allocator when attached, else taken over as it is (no copy).
pub(crate) fn owned_string(text: String) -> RString {
    match HOST.get() {
        Some(host) => host.string(RStr::from(text.as_str())),
        None => text.into(),
    }
}
