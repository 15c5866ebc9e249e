//! The plugin's own async runtime.
//!
//! A plugin is a separate copy of every library it links, tokio included: the
//! host's runtime is invisible to it, and `tokio::time::sleep` or a socket in
//! plugin code would panic with "there is no reactor running". The SDK therefore
//! owns one small multi-threaded runtime per plugin library, created on first use.
//! Every `authorize` future is polled *inside its context* (so timers and sockets
//! register with it and its worker drives them), while the host's thread does the
//! polling — no hop between threads for plugins that do no I/O.
//!
//! For outbound calls just `.await` them in `authorize`. For background work
//! (refreshing keys, say) call [`spawn`] from `start` and end it on [`crate::Stop`].

use std::{future::Future, sync::OnceLock};

use tokio::runtime::{Builder, Handle, Runtime};

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
