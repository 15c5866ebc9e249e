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

/// What plugin code's scope is made from when it asks for it: a [`Scope`], or
/// the parts of one call, lent and turned into a scope only then (a call whose
/// plugin never logs, spawns or reads its context pays nothing for it).
pub(crate) trait Source {
    /// The scope, owned.
    fn scope(&self) -> Scope;
}

impl Source for Scope {
    fn scope(&self) -> Scope {
        self.clone()
    }
}

/// A lent source with its borrow's lifetime erased (see `within`).
type Lent = *const (dyn Source + 'static);

thread_local! {
    // The source of the innermost `within` running on this thread; none outside one.
    static CURRENT: Cell<Option<Lent>> = const { Cell::new(None) };
}

/// The current scope, if plugin code is running under one.
pub(crate) fn current() -> Option<Scope> {
    let source = CURRENT.with(Cell::get)?;
    // SAFETY: the pointer was set by a `within` still running on this thread
    // (its guard resets it before the borrow ends, also on panic), so the
    // source it points to is alive and not mutably borrowed.
    Some(unsafe { &*source }.scope())
}

/// Runs `f` with `source` current (restoring the previous one, also on panic).
pub(crate) fn within<T>(source: Option<&dyn Source>, f: impl FnOnce() -> T) -> T {
    let Some(source) = source else {
        return f();
    };
    // SAFETY: only the lifetime changes; `current` reads the pointer only while
    // this call runs, and `Restore` takes it out before `source`'s borrow ends.
    let lent: Lent = unsafe { std::mem::transmute::<*const dyn Source, Lent>(source) };
    struct Restore(Option<Lent>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.replace(Some(lent))));
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
        let scope = this.scope.as_ref().map(|s| s as &dyn Source);
        within(scope, || this.future.as_mut().poll(cx))
    }
}
