//! What the SDK knows while it runs plugin code: the instance's log sink, the
//! request and the call's context. Set around `new`, `start` and every poll of
//! `authorize`, and carried into tasks started with [`crate::runtime::spawn`].

use std::{cell::Cell, sync::Arc};

use gatehouse_plugin_api::LogHandle;

use crate::context::Context;

/// The scope plugin code runs in.
#[derive(Clone, Default)]
pub(crate) struct Scope {
    /// The instance's log sink (none outside a host).
    pub(crate) sink: Option<LogHandle>,
    /// The request being decided.
    pub(crate) request_id: Option<Arc<str>>,
    /// The call's context.
    pub(crate) context: Option<Context>,
}

thread_local! {
    // The scope of the innermost `within` running on this thread, lent (not
    // cloned: a poll of `authorize` pays nothing for it); null outside one.
    static CURRENT: Cell<*const Scope> = const { Cell::new(std::ptr::null()) };
}

/// The current scope, if plugin code is running under one.
pub(crate) fn current() -> Option<Scope> {
    let scope = CURRENT.with(Cell::get);
    // SAFETY: a non-null pointer was set by a `within` still running on this
    // thread (its guard resets it before the borrow ends, also on panic), so
    // the scope it points to is alive and not mutably borrowed.
    unsafe { scope.as_ref() }.cloned()
}

/// Runs `f` with `scope` current (restoring the previous one, also on panic).
pub(crate) fn within<T>(scope: Option<&Scope>, f: impl FnOnce() -> T) -> T {
    let Some(scope) = scope else {
        return f();
    };
    struct Restore(*const Scope);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.replace(scope)));
    f()
}

/// A future polled inside a scope.
pub(crate) struct Scoped<F> {
    pub(crate) scope: Option<Scope>,
    pub(crate) future: std::pin::Pin<Box<F>>,
}

// The future is boxed and never pinned in place: moving a `Scoped` is fine.
impl<F> Unpin for Scoped<F> {}

impl<F: std::future::Future> std::future::Future for Scoped<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let this = &mut *self;
        within(this.scope.as_ref(), || this.future.as_mut().poll(cx))
    }
}
