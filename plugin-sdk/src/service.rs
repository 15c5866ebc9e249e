//! Adapts a [`Plugin`] to the ABI's `AuthService` trait object.

use std::{
    future::Future,
    panic::{catch_unwind, AssertUnwindSafe},
    pin::Pin,
    sync::Arc,
    task::{Context as TaskContext, Poll},
};

use gatehouse_plugin_api::{
    abi_stable::std_types::{RResult, RResult::RErr},
    async_ffi::{BorrowingFfiFuture, FutureExt},
    AuthRequest, AuthResponse, AuthService, CallContext, ErrorKind, LogHandle, PluginError,
    StopHandle,
};

use crate::{
    context::Context,
    export::{guard, panic_error},
    runtime,
    scope::{self, Scope},
    Error, Plugin, Response, Stop,
};

/// Holds one plugin instance behind the trait object, with its log sink.
pub(crate) struct Service<P> {
    pub(crate) plugin: Arc<P>,
    pub(crate) sink: Option<LogHandle>,
}

impl<P: Plugin> Service<P> {
    /// The scope of one call (or, without a request, of the instance).
    fn scope(&self, request: Option<&AuthRequest>, context: Option<Context>) -> Scope {
        Scope {
            sink: self.sink.clone(),
            request_id: request.map(|r| r.id.as_str().into()),
            context,
        }
    }

    fn call<'a>(
        &'a self,
        request: &'a AuthRequest,
        context: Option<Context>,
    ) -> BorrowingFfiFuture<'a, RResult<AuthResponse, PluginError>> {
        let scope = self.scope(Some(request), context);
        // Called inside the first guarded poll, so a plugin whose `authorize`
        // panics before returning its future is caught too.
        Guarded {
            scope,
            future: Box::pin(async move { self.plugin.authorize(request).await }),
        }
        .into_ffi()
    }
}

impl<P: Plugin> AuthService for Service<P> {
    fn start(&self, stop: StopHandle) -> RResult<(), PluginError> {
        guard(|| {
            let _context = runtime::handle().enter();
            scope::within(Some(&self.scope(None, None)), || {
                self.plugin
                    .start(Stop::new(stop))
                    .map_err(|e| PluginError::new(ErrorKind::Internal, e.to_string()))
            })
        })
    }

    fn authorize<'a>(
        &'a self,
        request: &'a AuthRequest,
    ) -> BorrowingFfiFuture<'a, RResult<AuthResponse, PluginError>> {
        self.call(request, None)
    }

    fn authorize_in<'a>(
        &'a self,
        request: &'a AuthRequest,
        context: &'a CallContext,
    ) -> BorrowingFfiFuture<'a, RResult<AuthResponse, PluginError>> {
        self.call(request, Some(Context::from_abi(context)))
    }
}

/// Polls a plugin future inside the plugin runtime's context and the call's
/// scope, and turns a panic or an error into a `PluginError` for this request
/// only.
struct Guarded<F> {
    scope: Scope,
    future: Pin<Box<F>>,
}

// The future is boxed and never pinned in place: moving a `Guarded` is fine.
impl<F> Unpin for Guarded<F> {}

impl<F> Future for Guarded<F>
where
    F: Future<Output = Result<Response, Error>>,
{
    type Output = RResult<AuthResponse, PluginError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let _context = runtime::handle().enter();
        let this = &mut *self;
        let polled = scope::within(Some(&this.scope), || {
            catch_unwind(AssertUnwindSafe(|| this.future.as_mut().poll(cx)))
        });
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(Ok(response))) => Poll::Ready(RResult::ROk(response.into_abi())),
            Ok(Poll::Ready(Err(e))) => {
                Poll::Ready(RErr(PluginError::new(ErrorKind::Internal, e.to_string())))
            }
            Err(payload) => Poll::Ready(RErr(panic_error(payload))),
        }
    }
}
