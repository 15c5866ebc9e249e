//! The trait objects that cross the boundary.

use abi_stable::{
    sabi_trait,
    std_types::{RBox, RResult, RStr},
};
use async_ffi::{BorrowingFfiFuture, FfiFuture};

use abi_stable::std_types::RString;

use crate::types::{AuthRequest, AuthResponse, CallContext, Decision, LogLevel, PluginError};

/// The host's cancellation signal for one configuration generation. A plugin checks
/// it or awaits it to end background work when its configuration is replaced.
#[sabi_trait]
pub trait StopSignal: Send + Sync + Clone {
    /// True once the host has cancelled this generation.
    fn is_stopped(&self) -> bool;

    /// Completes when the host cancels this generation. The future needs no runtime
    /// of the host's: it can be awaited on the plugin's own executor.
    #[sabi(last_prefix_field)]
    fn stopped(&self) -> FfiFuture<()>;
}

/// A stop signal as handed to plugins.
pub type StopHandle = StopSignal_TO<'static, RBox<()>>;

/// Since 1.3: the host's cancellation signal for one call of `authorize`.
#[sabi_trait]
pub trait CancelSignal: Send + Sync + Clone {
    /// True once the host has stopped waiting for this call.
    fn is_cancelled(&self) -> bool;

    /// Completes when the host stops waiting for this call. Needs no runtime of
    /// the host's.
    #[sabi(last_prefix_field)]
    fn cancelled(&self) -> FfiFuture<()>;
}

/// A call's cancellation signal as handed to plugins.
pub type CancelHandle = CancelSignal_TO<'static, RBox<()>>;

/// Since 1.3: where a plugin's log events go. The host gives each instance
/// its own sink, which adds the plugin and step names and writes through the
/// host's subscriber (its filter, `RUST_LOG`, and its format, `--log-format`).
#[sabi_trait]
pub trait LogSink: Send + Sync + Clone {
    /// True if the host would write an event of `level` (ask before formatting).
    fn enabled(&self, level: LogLevel) -> bool;

    /// Writes one event: `target` is the plugin's module path, `request_id`
    /// the request it concerns (empty for none), `message` the formatted
    /// message and fields. The host may shorten or throttle events.
    #[sabi(last_prefix_field)]
    fn log(&self, level: LogLevel, target: RStr<'_>, request_id: RStr<'_>, message: RStr<'_>);
}

/// A log sink as handed to plugins.
pub type LogHandle = LogSink_TO<'static, RBox<()>>;

/// Since 1.4: the host's allocator, for the parts of a plugin's answer. The
/// host hands each library one handle when it loads it, before any factory call
/// ([`crate::PluginMod::attach_host`]).
///
/// An [`AuthResponse`] is moved to the host when the call ends. Strings and
/// vectors the plugin allocates itself carry the plugin's vtable (its
/// allocator): the host copies them into its own memory and frees them
/// through the plugin. Values made here carry the *host's* vtable, so the host
/// takes their buffers over without a copy. Both are correct; these are faster.
///
/// The plugin may use these values like any other `RString` and `RVec`: read
/// them, push to them, grow, clear or drop them (growth and drop go through
/// their vtable, i.e. into the host's allocator), keep them for later answers,
/// hand them to other threads. They stay valid after the plugin's library is
/// unloaded: they are the host's. A `clone()` is the plugin's own (abi_stable
/// clones into the calling library's allocator).
#[sabi_trait]
pub trait HostAlloc: Send + Sync + Clone {
    /// An empty answer of `decision` (status 0, nothing set) whose strings and
    /// vectors are the host's. None has a buffer yet: nothing is allocated
    /// until the plugin adds to it.
    fn answer(&self, decision: Decision) -> AuthResponse;

    /// `text` copied into a string of the host's (an empty `text` allocates
    /// nothing: the plugin may `push_str` into the result to build one).
    #[sabi(last_prefix_field)]
    fn string(&self, text: RStr<'_>) -> RString;
}

/// The host's allocator as handed to a plugin library (since 1.4).
pub type HostAllocHandle = HostAlloc_TO<'static, RBox<()>>;

/// One configured instance of a plugin, as returned by [`crate::PluginMod`]'s factory.
#[sabi_trait]
pub trait AuthService: Send + Sync {
    /// Called once, after every step of the new configuration was built and before
    /// the first request. Background work must end when `stop` fires.
    fn start(&self, stop: StopHandle) -> RResult<(), PluginError>;

    /// Decides one request. The future is polled by the host; it must not rely on
    /// the host's async runtime (the plugin has its own copy of any runtime crate).
    ///
    /// Since 1.2 the request is lent, not given: the host converts it once per
    /// chain run and lends the same value to every step (only `state` differs
    /// from step to step). The future may borrow `self` and `request` until it
    /// completes or is dropped; work that must outlive it (a spawned task, a
    /// blocking thread) copies what it needs.
    fn authorize<'a>(
        &'a self,
        request: &'a AuthRequest,
    ) -> BorrowingFfiFuture<'a, RResult<AuthResponse, PluginError>>;

    /// Since 1.3: decides one request knowing the call's [`CallContext`] (its
    /// budget, its cancellation, Envoy's metadata). A 1.3 host calls this
    /// instead of `authorize`; the default ignores the context.
    #[sabi(last_prefix_field)]
    fn authorize_in<'a>(
        &'a self,
        request: &'a AuthRequest,
        context: &'a CallContext,
    ) -> BorrowingFfiFuture<'a, RResult<AuthResponse, PluginError>> {
        let _ = context;
        self.authorize(request)
    }
}

/// An auth service as owned by the host.
pub type AuthServiceBox = AuthService_TO<'static, RBox<()>>;
