//! The `gatehouse` binary: load the auth configs, then serve ext_authz.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use gatehouse::{chain::Limits, loader::Loader, reload::Reloader, router::Router};
use tokio::signal::unix::{signal, SignalKind};

/// Envoy ext_authz server running chains of auth plugins.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// YAML file with one or more `kind: AuthConfig` documents.
    #[arg(long, env = "GATEHOUSE_CONFIG")]
    config: PathBuf,
    /// Directory holding the plugin libraries named by `pluginFileName`.
    #[arg(long, env = "GATEHOUSE_PLUGIN_DIR", default_value = "/auth-plugins")]
    plugin_dir: PathBuf,
    /// Address of the gRPC server (ext_authz, health, reflection).
    #[arg(long, env = "GATEHOUSE_LISTEN", default_value = "0.0.0.0:8083")]
    listen: SocketAddr,
    /// Log line format.
    #[arg(long, env = "GATEHOUSE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// How long one step may take before its request is denied, in milliseconds.
    #[arg(long, env = "GATEHOUSE_STEP_TIMEOUT_MS", default_value_t = 1000)]
    step_timeout_ms: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

async fn terminated() {
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(%e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_format);

    let router = Arc::new(Router::new());
    let limits = Limits {
        step_timeout: Duration::from_millis(cli.step_timeout_ms),
        ..Limits::default()
    };
    let reloader = Arc::new(Reloader::new(
        &cli.config,
        Loader::new(&cli.plugin_dir),
        router.clone(),
        limits,
    ));
    reloader.reload().with_context(|| {
        format!(
            "cannot start: auth configs in {} (plugins from {})",
            cli.config.display(),
            cli.plugin_dir.display()
        )
    })?;

    let mut hangup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let on_hangup = reloader.clone();
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            let reloader = on_hangup.clone();
            match tokio::task::spawn_blocking(move || reloader.reload()).await {
                Ok(Ok(generation)) => tracing::info!(generation, "reloaded on SIGHUP"),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "reload failed; still serving the previous configuration")
                }
                Err(e) => {
                    tracing::error!(error = %e, "reload task failed; still serving the previous configuration")
                }
            }
        }
    });

    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cli.listen))?;
    tracing::info!(listen = %cli.listen, plugin_dir = %cli.plugin_dir.display(), "gatehouse serving ext_authz v3");
    gatehouse::server::serve(listener, router, terminated())
        .await
        .context("gRPC server failed")?;
    tracing::info!("stopped");
    Ok(())
}
