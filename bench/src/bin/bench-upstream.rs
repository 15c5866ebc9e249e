//! Scenario E's upstream: answers every request 200 `ok` (HTTP/1.1).
//! `bench-upstream --listen 127.0.0.1:PORT`

use axum::{routing::any, Router};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let listen = gatehouse_bench::service::listen_arg()?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let app = Router::new().fallback(any(|| async { "ok" }));
    axum::serve(listener, app).await?;
    Ok(())
}
