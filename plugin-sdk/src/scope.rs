//! What the SDK knows while it runs plugin code: the instance's log sink, the
//! request and the call's context. Set around `new`, `start` and every poll of
//! `authorize`, and carried into tasks started with [`crate::runtime::spawn`].

use std::{cell::RefCell, sync::Arc};

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
    static CURRENT: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

/// The current scope, if plugin code is running under one.
pub(crate) fn current() -> Option<Scope> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Runs `f` with `scope` current (restoring the previous one, also on panic).
pub(crate) fn within<T>(scope: Option<&Scope>, f: impl FnOnce() -> T) -> T {
    let Some(scope) = scope else {
        return f();
    };
    struct Restore(Option<Scope>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = previous);
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.replace(Some(scope.clone()))));
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
