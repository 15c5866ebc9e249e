//! Scenario A: a bare tonic `Check` server that always allows.
//! `bench-noop-server --listen 127.0.0.1:PORT`; prints `allow=N deny=M` at exit.

use std::sync::Arc;

use gatehouse_bench::service::{listen_arg, serve_until_terminated, Counters, Noop};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let counters = Arc::new(Counters::default());
    let service = Noop {
        counters: Arc::clone(&counters),
    };
    serve_until_terminated(listen_arg()?, service, counters).await
}
