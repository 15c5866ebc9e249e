//! The trait objects that cross the boundary.

use abi_stable::{
    sabi_trait,
    std_types::{RBox, RResult},
};
use async_ffi::{BorrowingFfiFuture, FfiFuture};

use crate::types::{AuthRequest, AuthResponse, PluginError};

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
    #[sabi(last_prefix_field)]
    fn authorize<'a>(
        &'a self,
        request: &'a AuthRequest,
    ) -> BorrowingFfiFuture<'a, RResult<AuthResponse, PluginError>>;
}

/// An auth service as owned by the host.
pub type AuthServiceBox = AuthService_TO<'static, RBox<()>>;
