//! Scenario B: the host's frontend, chain and metrics with scenario D's three
//! steps implemented natively (no ABI). Logs like the host (text, `info`).
//! `bench-native-server --listen 127.0.0.1:PORT`; prints `allow=N deny=M` at exit.

use std::sync::Arc;

use gatehouse::metrics::Metrics;
use gatehouse_bench::{
    native,
    service::{listen_arg, serve_until_terminated, Counters, Native},
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let counters = Arc::new(Counters::default());
    let service = Native {
        chain: Arc::new(native::three_step_chain()),
        metrics: Arc::new(Metrics::new()),
        counters: Arc::clone(&counters),
    };
    serve_until_terminated(listen_arg()?, service, counters).await
}
