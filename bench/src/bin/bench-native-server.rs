//! Scenario B: the host's own gRPC server, router, chain and metrics
//! (`gatehouse::server::serve`, as the `gatehouse` binary runs them) with
//! scenario D's three steps implemented natively (no ABI). Logs like the host.
//! `bench-native-server --listen 127.0.0.1:PORT`; prints `allow=N deny=M` at exit.

use std::sync::Arc;

use gatehouse::{
    listener::{ConnLimits, Drain},
    logging::{self, LogFormat},
    metrics::Metrics,
    router::{Generation, RequestLimits, Router},
    server,
};
use gatehouse_bench::{native, service::listen_arg, CONFIG_ID};
use tokio_util::sync::CancellationToken;

/// On the host's runtime, as the `gatehouse` binary.
fn main() -> anyhow::Result<()> {
    gatehouse::runtime::builder().build()?.block_on(serve())
}

async fn serve() -> anyhow::Result<()> {
    logging::init(LogFormat::Text);
    let metrics = Arc::new(Metrics::new());
    let router = Arc::new(Router::new(Arc::clone(&metrics), RequestLimits::default()));
    router.install(Arc::new(Generation {
        number: 1,
        chains: [(CONFIG_ID.to_string(), Arc::new(native::three_step_chain()))].into(),
        stop: CancellationToken::new(),
    }));
    let listener = tokio::net::TcpListener::bind(listen_arg()?).await?;
    eprintln!("serving on {}", listener.local_addr()?);
    let (_reporter, health) = tonic_health::server::health_reporter();
    let drain = Drain::new();
    let trigger = drain.clone();
    tokio::spawn(async move {
        gatehouse_bench::service::terminated().await;
        trigger.start(std::time::Duration::from_secs(10));
    });
    server::serve(listener, router, health, ConnLimits::default(), drain).await;
    let count = |decision| {
        metrics
            .requests
            .with_label_values(&[CONFIG_ID, decision])
            .get()
    };
    println!("allow={} deny={}", count("allow"), count("deny"));
    Ok(())
}
