//! Scenario A: a bare tonic `Check` server that always allows.
//! `bench-noop-server --listen 127.0.0.1:PORT [--host-runtime]`; prints
//! `allow=N deny=M` at exit. It runs on `#[tokio::main]`'s runtime, or with
//! `--host-runtime` on the host's (`gatehouse::runtime`: woken tasks in order),
//! scenario A′: bare tonic under the host's scheduling.

use std::sync::Arc;

use gatehouse_bench::service::{listen_arg, serve_until_terminated, Counters, Noop};

fn main() -> anyhow::Result<()> {
    let runtime = if std::env::args().any(|a| a == "--host-runtime") {
        gatehouse::runtime::builder().build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    };
    runtime.block_on(serve())
}

async fn serve() -> anyhow::Result<()> {
    let counters = Arc::new(Counters::default());
    let service = Noop {
        counters: Arc::clone(&counters),
    };
    serve_until_terminated(listen_arg()?, service, counters).await
}
