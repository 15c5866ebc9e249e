//! Adapts a [`Plugin`] to the ABI's `AuthService` trait object.

use std::{
    future::Future,
    panic::{catch_unwind, AssertUnwindSafe},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use gatehouse_plugin_api::{
    abi_stable::std_types::{RResult, RResult::RErr},
    async_ffi::{BorrowingFfiFuture, FutureExt},
    AuthRequest, AuthResponse, AuthService, ErrorKind, PluginError, StopHandle,
};

use crate::{export::guard, export::panic_error, runtime, Error, Plugin, Stop};

/// Holds one plugin instance behind the trait object.
pub(crate) struct Service<P>(pub(crate) Arc<P>);

impl<P: Plugin> AuthService for Service<P> {
    fn start(&self, stop: StopHandle) -> RResult<(), PluginError> {
        guard(|| {
            let _context = runtime::handle().enter();
            self.0
                .start(Stop::new(stop))
                .map_err(|e| PluginError::new(ErrorKind::Internal, e.to_string()))
        })
    }

    fn authorize<'a>(
        &'a self,
        request: &'a AuthRequest,
    ) -> BorrowingFfiFuture<'a, RResult<AuthResponse, PluginError>> {
        // Called inside the first guarded poll, so a plugin whose `authorize`
        // panics before returning its future is caught too.
        Guarded(Box::pin(async move { self.0.authorize(request).await })).into_ffi()
    }
}

/// Polls a plugin future inside the plugin runtime's context and turns a panic
/// or an error into a `PluginError` for this request only.
struct Guarded<F>(Pin<Box<F>>);

impl<F> Future for Guarded<F>
where
    F: Future<Output = Result<AuthResponse, Error>>,
{
    type Output = RResult<AuthResponse, PluginError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let _context = runtime::handle().enter();
        match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(Ok(response))) => Poll::Ready(RResult::ROk(response)),
            Ok(Poll::Ready(Err(e))) => {
                Poll::Ready(RErr(PluginError::new(ErrorKind::Internal, e.to_string())))
            }
            Err(payload) => Poll::Ready(RErr(panic_error(payload))),
        }
    }
}
