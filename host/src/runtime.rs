//! The tokio runtime the host serves on.
//!
//! ```no_run
//! let runtime = gatehouse::runtime::builder().build().expect("runtime");
//! runtime.block_on(async { /* serve */ });
//! ```
//!
//! One setting differs from `#[tokio::main]`: woken tasks run in the order
//! they were woken. By default a task woken by the running task
//! jumps the queue (tokio's "LIFO slot"). On an HTTP/2 connection that is the
//! connection's own task, woken by each call that answers: it then writes
//! every answer as soon as it is made, one `writev` and one wake-up of the
//! peer per answer. Run in order, the calls ready together answer first and
//! the connection writes their answers in one `writev` (BENCHMARKS.md:
//! 0.06 `writev` per request instead of 1; D 0.75 → 1.14 of bare tonic's req/s).
//! The price: calls that arrive together on different connections are answered
//! together, so the first of them waits for the others (BENCHMARKS.md: p50 at
//! a moderate rate over four connections 75 → 179 µs).
//!
//! Turning the slot off needs tokio's `tokio_unstable` cfg, which this
//! workspace's `.cargo/config.toml` sets for every build. A build without it
//! (`RUSTFLAGS` set by hand replaces that file's flags) still works, with
//! tokio's default order; this module's unit test fails on such a build.

/// A multi-thread runtime with every driver on (IO, time) and woken tasks run
/// in order; otherwise tokio's defaults (a worker per available core).
pub fn builder() -> tokio::runtime::Builder {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    #[cfg(tokio_unstable)]
    builder.disable_lifo_slot();
    builder
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    /// The order tasks ran in, on a one-worker runtime from [`super::builder`]:
    /// a running task spawns `queued-1` and `queued-2`, then wakes `woken`.
    fn order_of_a_wake_after_two_spawns() -> Vec<&'static str> {
        let runtime = super::builder().worker_threads(1).build().expect("runtime");
        let ran = Arc::new(Mutex::new(Vec::new()));
        let log = ran.clone();
        runtime.block_on(async move {
            let first = tokio::spawn(async move {
                let (wake, woken) = tokio::sync::oneshot::channel::<()>();
                let record = |name| {
                    let log = log.clone();
                    move || log.lock().expect("log").push(name)
                };
                let woken_ran = record("woken");
                let waiter = tokio::spawn(async move {
                    let _ = woken.await;
                    woken_ran();
                });
                // Let the waiter start and wait for its wake.
                tokio::task::yield_now().await;
                let (one, two) = (record("queued-1"), record("queued-2"));
                let queued = [
                    tokio::spawn(async move { one() }),
                    tokio::spawn(async move { two() }),
                ];
                let _ = wake.send(());
                (waiter, queued)
            });
            let (waiter, queued) = first.await.expect("first task");
            waiter.await.expect("waiter");
            for task in queued {
                task.await.expect("queued task");
            }
        });
        let order = ran.lock().expect("log").clone();
        order
    }

    #[test]
    fn woken_tasks_run_after_those_queued_before_them() {
        assert_eq!(
            order_of_a_wake_after_two_spawns(),
            ["queued-1", "queued-2", "woken"],
            "the woken task jumped the queue: built without --cfg tokio_unstable (.cargo/config.toml)?"
        );
    }
}
