//! Adapts a [`Plugin`] to the ABI's `AuthService` trait object.

use std::{
    future::Future,
    panic::{catch_unwind, AssertUnwindSafe},
    pin::Pin,
    sync::Arc,
    task::{Context as TaskContext, Poll},
    time::Instant,
};

use gatehouse_plugin_api::{
    abi_stable::std_types::{RResult, RResult::RErr},
    async_ffi::{BorrowingFfiFuture, FutureExt},
    AnswerBox, AuthRequest, AuthResponse, AuthService, CallContext, ErrorKind, LogHandle,
    PluginError, StopHandle,
};

use crate::{
    context::Context,
    export::{guard, panic_error},
    runtime,
    scope::{self, Scope},
    Error, Plugin, Request, Response, Stop,
};

/// Holds one plugin instance behind the trait object, with its log sink.
pub(crate) struct Service<P> {
    pub(crate) plugin: Arc<P>,
    pub(crate) sink: Option<LogHandle>,
}

impl<P: Plugin> Service<P> {
    /// The scope of the instance (outside a call).
    fn scope(&self) -> Scope {
        Scope {
            sink: self.sink.clone(),
            ..Scope::default()
        }
    }

    /// The call's future, its response handed over by `finish` (as a 1.5
    /// answer, or an `AuthResponse` for an older host).
    fn call<'a, O: 'a>(
        &'a self,
        request: &'a AuthRequest,
        context: Option<&'a CallContext>,
        finish: fn(Response) -> O,
    ) -> BorrowingFfiFuture<'a, RResult<O, PluginError>> {
        let call = Call {
            sink: &self.sink,
            request,
            context: context.map(|c| (c, Context::deadline_of(c))),
        };
        // Called inside the first guarded poll, so a plugin whose `authorize`
        // panics before returning its future is caught too. Held inline: the
        // FFI future's one box holds it (no box of its own per call).
        Guarded {
            call,
            finish,
            future: async move { self.plugin.authorize(Request::from_abi(request)).await },
        }
        .into_ffi()
    }
}

/// One call's parts, made into its [`Scope`] only when plugin code asks.
struct Call<'a> {
    sink: &'a Option<LogHandle>,
    request: &'a AuthRequest,
    /// The host's context and the deadline read from it as the call started.
    context: Option<(&'a CallContext, Instant)>,
}

impl scope::Source for Call<'_> {
    fn scope(&self) -> Scope {
        Scope {
            sink: self.sink.clone(),
            request_id: Some(self.request.id.as_str().into()),
            context: self
                .context
                .map(|(c, deadline)| Context::from_abi(c, deadline)),
        }
    }
}

impl<P: Plugin> AuthService for Service<P> {
    fn start(&self, stop: StopHandle) -> RResult<(), PluginError> {
        guard(|| {
            let _context = runtime::handle().enter();
            scope::within(Some(&self.scope()), || {
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
        self.call(request, None, Response::into_abi)
    }

    fn authorize_in<'a>(
        &'a self,
        request: &'a AuthRequest,
        context: &'a CallContext,
    ) -> BorrowingFfiFuture<'a, RResult<AuthResponse, PluginError>> {
        self.call(request, Some(context), Response::into_abi)
    }

    fn authorize_answer<'a>(
        &'a self,
        request: &'a AuthRequest,
        context: &'a CallContext,
    ) -> BorrowingFfiFuture<'a, RResult<AnswerBox, PluginError>> {
        self.call(request, Some(context), Response::into_answer)
    }
}

/// Polls a plugin future inside the plugin runtime's context and the call's
/// scope, and turns a panic or an error into a `PluginError` for this request
/// only.
struct Guarded<'a, F, O> {
    call: Call<'a>,
    /// What the response becomes for the host.
    finish: fn(Response) -> O,
    /// Pinned with the `Guarded` (structurally): never moved out of it.
    future: F,
}

impl<F, O> Future for Guarded<'_, F, O>
where
    F: Future<Output = Result<Response, Error>>,
{
    type Output = RResult<O, PluginError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let _context = runtime::enter();
        // SAFETY: `future` is structurally pinned: it is only ever reached
        // through this pinned projection, never moved, and `Guarded` has no
        // `Drop` of its own; `call` is not pinned (it is only read).
        let this = unsafe { self.get_unchecked_mut() };
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        let polled = scope::within(Some(&this.call), || {
            catch_unwind(AssertUnwindSafe(|| future.poll(cx)))
        });
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(Ok(response))) => Poll::Ready(RResult::ROk((this.finish)(response))),
            Ok(Poll::Ready(Err(e))) => {
                Poll::Ready(RErr(PluginError::new(ErrorKind::Internal, e.to_string())))
            }
            Err(payload) => Poll::Ready(RErr(panic_error(payload))),
        }
    }
}
