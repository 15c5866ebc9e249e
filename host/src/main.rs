//! The `gatehouse` binary: serve health at once, load the auth configs, then
//! answer ext_authz; reload on SIGHUP or file changes; drain on SIGTERM.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use clap::Parser;
use gatehouse::{
    admin::{self, Admin},
    cache::{Caches, HashSecret},
    chain::Limits,
    frontend::{http, spoe},
    health::Readiness,
    listener::{self, ConnLimits, Drain},
    loader::Loader,
    logging::{self, LogFormat},
    metrics::Metrics,
    reload::Reloader,
    router::{RequestLimits, Router},
    server, watch,
};
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// See the `jemalloc` feature in Cargo.toml.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Hands memory freed by a reload back to the system (run after each one):
/// the host's jemalloc would keep its dirty pages for 10 s, and the plugins'
/// glibc heap keeps freed chunks resident until trimmed; with 10,000 configs
/// that is one generation and the parse's garbage per reload (BENCHMARKS.md).
fn release_free_memory() {
    #[cfg(feature = "jemalloc")]
    {
        // `arena.<MALLCTL_ARENAS_ALL>.purge`: every arena's unused dirty pages.
        let name = c"arena.4096.purge";
        // SAFETY: a NUL-terminated mallctl name that reads and writes nothing.
        let _ = unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
            )
        };
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of glibc's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Envoy ext_authz server running chains of auth plugins.
#[derive(Parser, Debug)]
#[command(version = gatehouse::build::LONG_VERSION, about)]
struct Cli {
    /// YAML file with one or more `kind: AuthConfig` documents.
    #[arg(long, env = "GATEHOUSE_CONFIG")]
    config: PathBuf,
    /// Directory holding the plugin libraries named by `pluginFileName`.
    #[arg(long, env = "GATEHOUSE_PLUGIN_DIR", default_value = "/auth-plugins")]
    plugin_dir: PathBuf,
    /// Where private copies of plugin libraries are made for loading (each in a
    /// fresh 0700 directory, removed once mapped); default `$TMPDIR` (/tmp).
    /// Refused if another user could change entries in it.
    #[arg(long, env = "GATEHOUSE_LIBRARY_STAGING_DIR")]
    library_staging_dir: Option<PathBuf>,
    /// Address of the gRPC server (ext_authz, health, reflection).
    #[arg(long, env = "GATEHOUSE_LISTEN", default_value = "0.0.0.0:8083")]
    listen: SocketAddr,
    /// Address of the HTTP forward-auth frontend (nginx `auth_request`, Traefik
    /// ForwardAuth, Caddy forward_auth, Envoy ext_authz HTTP mode); off unless
    /// set. Needs --http-gateway.
    #[arg(long, env = "GATEHOUSE_HTTP_LISTEN", requires = "http_gateway")]
    http_listen: Option<SocketAddr>,
    /// The gateway in front of --http-listen: decides which headers describe the
    /// original request (only those it sets itself); required with it.
    #[arg(long, env = "GATEHOUSE_HTTP_GATEWAY", value_enum)]
    http_gateway: Option<http::Gateway>,
    /// HTTP frontend: the client is the Nth X-Forwarded-For address from the
    /// right (1 behind one gateway that sets or appends it); 0: the TCP peer.
    #[arg(long, env = "GATEHOUSE_XFF_TRUSTED_HOPS", default_value_t = 0)]
    xff_trusted_hops: usize,
    /// Address of the HAProxy SPOE agent frontend; off unless set.
    #[arg(long, env = "GATEHOUSE_SPOE_LISTEN")]
    spoe_listen: Option<SocketAddr>,
    /// Largest SPOP frame the SPOE agent accepts (HAProxy may negotiate it lower).
    #[arg(long, env = "GATEHOUSE_SPOE_MAX_FRAME_SIZE", default_value_t = spoe::DEFAULT_MAX_FRAME_SIZE)]
    spoe_max_frame_size: u32,
    /// Address of the admin HTTP server (/metrics, /healthz, /readyz, /config).
    #[arg(long, env = "GATEHOUSE_ADMIN_LISTEN", default_value = "0.0.0.0:9090")]
    admin_listen: SocketAddr,
    /// Log line format.
    #[arg(long, env = "GATEHOUSE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// How long one step may take before its request is denied, in milliseconds.
    #[arg(long, env = "GATEHOUSE_STEP_TIMEOUT_MS", default_value_t = 1000)]
    step_timeout_ms: u64,
    /// How long a whole chain may take, in milliseconds; keep it below Envoy's
    /// ext_authz timeout (200 ms by default).
    #[arg(long, env = "GATEHOUSE_CHAIN_DEADLINE_MS", default_value_t = 180)]
    chain_deadline_ms: u64,
    /// HTTP status of a denial caused by a plugin error, panic or timeout.
    #[arg(long, env = "GATEHOUSE_ERROR_STATUS", default_value_t = 403)]
    error_status: u16,
    /// Largest request body handed to plugins (larger: 413).
    #[arg(long, env = "GATEHOUSE_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    max_body_bytes: usize,
    /// Most request headers handed to plugins (more: 431).
    #[arg(long, env = "GATEHOUSE_MAX_HEADERS", default_value_t = 200)]
    max_headers: usize,
    /// Largest total header size handed to plugins (more: 431).
    #[arg(long, env = "GATEHOUSE_MAX_HEADER_BYTES", default_value_t = 65536)]
    max_header_bytes: usize,
    /// How often to check the config file and plugin directory for changes, in
    /// milliseconds; 0 disables (SIGHUP still reloads).
    #[arg(long, env = "GATEHOUSE_WATCH_INTERVAL_MS", default_value_t = 2000)]
    watch_interval_ms: u64,
    /// On SIGTERM, report NOT_SERVING this long before refusing new connections,
    /// so load balancers stop sending first (milliseconds).
    #[arg(long, env = "GATEHOUSE_SHUTDOWN_DELAY_MS", default_value_t = 0)]
    shutdown_delay_ms: u64,
    /// After refusing new connections (idle ones are closed at once), wait at
    /// most this long for in-flight calls, then cut them: they are answered
    /// with an error, never an allow (milliseconds).
    #[arg(long, env = "GATEHOUSE_DRAIN_TIMEOUT_MS", default_value_t = 10000)]
    drain_timeout_ms: u64,
    /// Close a connection that has not completed its HTTP/1 request head,
    /// HTTP/2 preface or SPOE HELLO within this long, on every listener
    /// (milliseconds).
    #[arg(long, env = "GATEHOUSE_HEADER_TIMEOUT_MS", default_value_t = 10_000)]
    header_timeout_ms: u64,
    /// Close a connection with no request in flight for this long, on every
    /// listener (milliseconds).
    #[arg(long, env = "GATEHOUSE_IDLE_TIMEOUT_MS", default_value_t = 300_000)]
    idle_timeout_ms: u64,
    /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS of the gRPC listener.
    #[arg(long, env = "GATEHOUSE_MAX_CONCURRENT_STREAMS", default_value_t = listener::DEFAULT_MAX_CONCURRENT_STREAMS)]
    max_concurrent_streams: u32,
    /// Open connections per listener; more are accepted and closed at once.
    #[arg(long, env = "GATEHOUSE_MAX_CONNECTIONS", default_value_t = listener::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Keep cached steps' decisions in this Redis (`redis://host:port/db`),
    /// shared by every replica, instead of each host's memory. Needs
    /// `--cache-hash-key-file`. When Redis fails, cached steps call their plugins.
    #[arg(
        long,
        env = "GATEHOUSE_CACHE_REDIS_URL",
        requires = "cache_hash_key_file"
    )]
    cache_redis_url: Option<String>,
    /// The secret (at least 32 bytes) cache keys and Redis values are
    /// authenticated with; every host sharing the Redis needs the same file.
    #[arg(long, env = "GATEHOUSE_CACHE_HASH_KEY_FILE")]
    cache_hash_key_file: Option<PathBuf>,
    /// Longest wait for one Redis call (milliseconds); past it the lookup is a miss.
    #[arg(long, env = "GATEHOUSE_CACHE_REDIS_TIMEOUT_MS", default_value_t = 25)]
    cache_redis_timeout_ms: u64,
}

impl Cli {
    /// Where cached steps keep their entries.
    fn caches(&self) -> anyhow::Result<Caches> {
        let Some(url) = &self.cache_redis_url else {
            return Ok(Caches::in_memory());
        };
        let file = self
            .cache_hash_key_file
            .as_ref()
            .context("--cache-redis-url needs --cache-hash-key-file")?;
        let bytes = std::fs::read(file)
            .with_context(|| format!("cannot read --cache-hash-key-file {}", file.display()))?;
        let secret = HashSecret::new(bytes)
            .map_err(|e| anyhow::anyhow!("--cache-hash-key-file {}: {e}", file.display()))?;
        let timeout = Duration::from_millis(self.cache_redis_timeout_ms.max(1));
        Caches::redis(url, timeout, secret).map_err(|e| anyhow::anyhow!(e))
    }

    /// The connection limits every listener gets.
    fn conn_limits(&self) -> ConnLimits {
        ConnLimits {
            header_timeout: Duration::from_millis(self.header_timeout_ms.max(1)),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms.max(1)),
            max_concurrent_streams: self.max_concurrent_streams.max(1),
            max_connections: self.max_connections.max(1),
        }
    }
}

/// How long after the drain timeout the process exits even if something (a
/// plugin blocking a thread, a reload in progress) still runs.
const EXIT_MARGIN: Duration = Duration::from_millis(800);

/// Exits the process `after` from now, whatever still runs then: the drain
/// has cut every connection by that time, so exiting loses no answer.
fn exit_after(after: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        tracing::warn!("shutdown still not finished after the drain timeout; exiting");
        std::process::exit(0);
    });
}

/// Completes on SIGTERM or Ctrl-C.
async fn terminated() -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

/// Reloads on every SIGHUP.
fn reload_on_hangup(reloader: Arc<Reloader>) -> anyhow::Result<()> {
    let mut hangup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            let reloader = reloader.clone();
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
    Ok(())
}

fn main() -> anyhow::Result<()> {
    gatehouse::runtime::builder()
        .build()
        .context("cannot start the tokio runtime")?
        .block_on(serve())
}

async fn serve() -> anyhow::Result<()> {
    let cli = Cli::parse();
    logging::init(cli.log_format);

    let metrics = Arc::new(Metrics::new());
    let request_limits = RequestLimits {
        max_body_bytes: cli.max_body_bytes,
        max_headers: cli.max_headers,
        max_header_bytes: cli.max_header_bytes,
    };
    let router = Arc::new(Router::new(metrics, request_limits));
    let limits = Limits {
        step_timeout: Duration::from_millis(cli.step_timeout_ms),
        chain_deadline: Duration::from_millis(cli.chain_deadline_ms),
        error_status: cli.error_status,
        failure_mode_allow: false,
    };
    let reloader = Arc::new(
        Reloader::new(
            &cli.config,
            Loader::with_copy_dir(
                &cli.plugin_dir,
                cli.library_staging_dir
                    .clone()
                    .unwrap_or_else(std::env::temp_dir),
            ),
            router.clone(),
            limits,
        )
        .with_caches(Arc::new(cli.caches()?))
        .with_release(release_free_memory),
    );
    let (readiness, health) = Readiness::new().await;
    let readiness = Arc::new(readiness);

    // Listen first so probes get NOT_SERVING (not connection refused) while loading.
    let grpc_listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cli.listen))?;
    let admin_listener = tokio::net::TcpListener::bind(cli.admin_listen)
        .await
        .with_context(|| format!("cannot listen on {} (admin)", cli.admin_listen))?;
    let (limits, drain) = (cli.conn_limits(), Drain::new());
    let admin = Admin {
        router: router.clone(),
        reloader: reloader.clone(),
        readiness: readiness.clone(),
    };
    let admin_task = tokio::spawn(admin::serve(
        admin_listener,
        admin,
        limits.clone(),
        drain.clone(),
    ));
    let grpc_task = tokio::spawn(server::serve(
        grpc_listener,
        router.clone(),
        health,
        limits.clone(),
        drain.clone(),
    ));

    let http_task = match cli.http_listen {
        Some(addr) => {
            let trust = http::Trust {
                gateway: cli
                    .http_gateway
                    .context("--http-listen needs --http-gateway")?,
                trusted_hops: cli.xff_trusted_hops,
            };
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (HTTP forward-auth)"))?;
            Some(tokio::spawn(http::serve(
                listener,
                router.clone(),
                trust,
                limits.clone(),
                drain.clone(),
            )))
        }
        None => None,
    };
    let spoe_task = match cli.spoe_listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (SPOE agent)"))?;
            Some(tokio::spawn(spoe::serve(
                listener,
                router.clone(),
                cli.spoe_max_frame_size.max(spoe::frame::MIN_FRAME_SIZE),
                limits.clone(),
                drain.clone(),
            )))
        }
        None => None,
    };

    let initial = reloader.clone();
    tokio::task::spawn_blocking(move || initial.reload())
        .await
        .context("loading task failed")?
        .with_context(|| {
            format!(
                "cannot start: auth configs in {} (plugins from {})",
                cli.config.display(),
                cli.plugin_dir.display()
            )
        })?;
    readiness.set_loaded().await;
    tracing::info!(listen = %cli.listen, admin = %cli.admin_listen, http = ?cli.http_listen, spoe = ?cli.spoe_listen, plugin_dir = %cli.plugin_dir.display(), "gatehouse serving ext_authz v3");

    reload_on_hangup(reloader.clone())?;
    let stop_watching = CancellationToken::new();
    if cli.watch_interval_ms > 0 {
        let interval = Duration::from_millis(cli.watch_interval_ms);
        tokio::spawn(watch::watch(
            reloader.clone(),
            cli.plugin_dir.clone(),
            interval,
            stop_watching.clone(),
        ));
    }

    terminated().await?;
    tracing::info!("SIGTERM: draining");
    readiness.set_draining().await;
    stop_watching.cancel();
    tokio::time::sleep(Duration::from_millis(cli.shutdown_delay_ms)).await;
    let drain_timeout = Duration::from_millis(cli.drain_timeout_ms);
    exit_after(drain_timeout + EXIT_MARGIN);
    drain.start(drain_timeout);
    grpc_task.await.context("gRPC server task")?;
    if let Some(task) = http_task {
        task.await.context("HTTP forward-auth task")?;
    }
    if let Some(task) = spoe_task {
        task.await.context("SPOE agent task")?;
    }
    admin_task.await.context("admin server task")?;
    if let Some(generation) = router.current() {
        generation.stop.cancel();
    }
    tracing::info!("stopped");
    Ok(())
}
