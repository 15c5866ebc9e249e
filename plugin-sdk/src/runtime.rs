//! The plugin's own async runtime.
//!
//! A plugin is a separate copy of every library it links, tokio included: the
//! host's runtime is invisible to it, and `tokio::time::sleep` or a socket in
//! plugin code would panic with "there is no reactor running". The SDK therefore
//! owns one small multi-threaded runtime per plugin library, created on first use.
//! Every `authorize` future is polled *inside its context* (so timers and sockets
//! register with it and its worker drives them), while the host's thread does the
//! polling — no hop between threads for plugins that do no I/O. A host thread
//! enters the context on its first call and stays in it (see `enter`).
//!
//! For outbound calls just `.await` them in `authorize`. For background work
//! (refreshing keys, say) call [`spawn`] from `start` and end it on [`crate::Stop`].

use std::{cell::Cell, future::Future, sync::OnceLock};

use tokio::runtime::{Builder, EnterGuard, Handle, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The plugin library's runtime handle (created on first use, one worker thread).
pub fn handle() -> &'static Handle {
    RUNTIME
        .get_or_init(|| {
            Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("gatehouse-plugin")
                .enable_all()
                .build()
                .expect("cannot start the plugin's tokio runtime")
        })
        .handle()
}

/// Enters the runtime's context for one poll of a call.
///
/// On a thread where this library's copy of tokio has no context at all (a
/// host thread: the host's tokio is another copy) the context is entered
/// once and left entered. That copy of tokio keeps nothing else on the
/// thread, and every later call there skips the enter and the leave (two
/// thread-local updates and a reference count, about 130 instructions per
/// call; BENCHMARKS.md). Anywhere else (in `start`, on a runtime's own
/// thread) it is entered for this poll only, and the guard says when to leave.
pub(crate) fn enter() -> Option<EnterGuard<'static>> {
    thread_local! {
        // Whether this thread stays in the runtime's context for good.
        static STAYS: Cell<bool> = const { Cell::new(false) };
    }
    if STAYS.get() {
        return None;
    }
    if Handle::try_current().is_err() {
        // No context to return to: this guard is the thread's outermost, so
        // no other guard can be dropped out of order around it; it stays.
        std::mem::forget(handle().enter());
        STAYS.set(true);
        return None;
    }
    Some(handle().enter())
}

/// Runs `future` on the plugin's runtime, for background work started in
/// [`crate::Plugin::start`] or for a call. The task keeps the scope it was
/// spawned in: its log events name the step (and the request), and
/// [`crate::context::current`] is the spawning call's context.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    handle().spawn(crate::scope::Scoped {
        scope: crate::scope::current(),
        future: Box::pin(future),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::runtime::Handle;

    use super::{enter, handle};

    /// The current context is a runtime with a timer (the plugin's has one).
    fn sleeps_in_the_current_context() {
        Handle::current().block_on(tokio::time::sleep(Duration::from_millis(1)));
    }

    #[test]
    fn a_thread_in_no_context_enters_once_and_stays() {
        std::thread::spawn(|| {
            assert!(
                Handle::try_current().is_err(),
                "a fresh thread has no context"
            );
            assert!(enter().is_none(), "entered for good: no guard");
            assert!(Handle::try_current().is_ok(), "still in the context");
            assert!(enter().is_none(), "and not entered again");
            // A nested enter, as `start` makes, is left in order.
            drop(handle().enter());
            assert!(Handle::try_current().is_ok());
            sleeps_in_the_current_context();
        })
        .join()
        .expect("no guard dropped out of order");
    }

    #[test]
    fn inside_another_context_it_enters_for_one_poll_only() {
        std::thread::spawn(|| {
            let other = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a runtime");
            let outer = other.enter();
            let guard = enter();
            assert!(guard.is_some(), "entered for this poll only");
            drop(guard);
            drop(outer); // in order: no panic
            assert!(Handle::try_current().is_err(), "back to no context");
        })
        .join()
        .expect("guards dropped in order");
    }
}
