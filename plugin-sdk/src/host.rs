//! The host's services for answers: from interface 1.5 the host makes each
//! answer (`HostAlloc::new_answer`) and keeps every effect a plugin adds to it
//! in its own terms, so that it takes the answer as it is when the call ends.
//!
//! The host attaches its handle once, when it loads the library (the export
//! macro's `attach_host`). Each plugin library has its own copy of the SDK and
//! so of this static. Without a handle (unit tests, `Request::builder()`
//! tests, an answer built before the host attached) an answer is the plugin's
//! own `AuthResponse`: the same values, converted by the host at the end.

use std::sync::OnceLock;

use gatehouse_plugin_api::{AnswerBox, AuthResponse, Decision, HostAllocHandle};

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
pub(crate) fn answer(decision: Decision) -> AnswerBox {
    match HOST.get() {
        Some(host) => host.new_answer(decision),
        None => AuthResponse::answer(decision),
    }
}
