//! The decision cache against an expensive step: a bcrypt `BasicAuth` step,
//! uncached and with `cache:`, through the real `gatehouse` binary and its real
//! plugin library. Prints the latency of one check (sequential, one connection).
//!
//! `bench-cache [--smoke] [--cost N] [--checks N]` (run by scripts/bench.sh;
//! `--smoke` only checks that both chains decide right).

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use envoy_types::pb::envoy::service::auth::v3::{
    authorization_client::AuthorizationClient, check_response::HttpResponse, CheckRequest,
};
use gatehouse_tests::free_addr;
use tonic::transport::Channel;

/// `alice:secret`, base64 (RFC 7617's user-pass).
const ALICE: &str = "Basic YWxpY2U6c2VjcmV0";
/// `alice:wrong`, base64.
const WRONG: &str = "Basic YWxpY2U6d3Jvbmc=";

struct Options {
    smoke: bool,
    cost: u32,
    checks: usize,
}

fn options() -> Result<Options> {
    let mut options = Options {
        smoke: false,
        cost: 10,
        checks: 2_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> Result<String> {
            args.next().with_context(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--smoke" => options.smoke = true,
            "--cost" => options.cost = value("--cost")?.parse().context("--cost")?,
            "--checks" => options.checks = value("--checks")?.parse().context("--checks")?,
            other => bail!("unknown argument {other} (expected --smoke, --cost N, --checks N)"),
        }
    }
    if options.smoke {
        options.checks = options.checks.min(20);
    }
    Ok(options)
}

/// Two auth configs over the same bcrypt user: `bcrypt` and `bcrypt-cached`.
fn configs(hash: &str) -> String {
    let step = |cache: &str| {
        format!(
            "  configs:\n  - {cache}pluginAuth:\n      name: basic\n      pluginFileName: libbasic_auth.so\n      exportedSymbolName: BasicAuth\n      config: {{htpasswd: 'alice:{hash}'}}\n"
        )
    };
    format!(
        "kind: AuthConfig\nmetadata: {{name: bcrypt}}\nspec:\n{}---\nkind: AuthConfig\nmetadata: {{name: bcrypt-cached}}\nspec:\n{}",
        step(""),
        step("cache: {ttlSeconds: 300, key: ['header:authorization']}\n    ")
    )
}

/// A `gatehouse` on a free port, killed on drop.
struct Gatehouse(Child);

impl Drop for Gatehouse {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(hash: &str) -> Result<(Gatehouse, u16)> {
    let bin = std::env::current_exe()?
        .parent()
        .context("the binary's directory")?
        .to_path_buf();
    let work = bin.join("bench-work/cache");
    let plugins = work.join("plugins");
    std::fs::create_dir_all(&plugins)?;
    std::fs::copy(
        bin.join("libbasic_auth.so"),
        plugins.join("libbasic_auth.so"),
    )
    .context("libbasic_auth.so (cargo build --release -p basic-auth)")?;
    let config = work.join("auth-configs.yaml");
    std::fs::write(&config, configs(hash))?;
    // Below the ephemeral range, as every server the tests and the bench start.
    let (port, admin) = (free_addr().port(), free_addr().port());
    let child = Command::new(bin.join("gatehouse"))
        .arg("--config")
        .arg(&config)
        .arg("--plugin-dir")
        .arg(&plugins)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--admin-listen", &format!("127.0.0.1:{admin}")])
        // bcrypt takes ~60 ms here, a third of the default 180 ms deadline: on a loaded CI
        // machine it could time out, and this measures the cache, not the deadline.
        .args(["--chain-deadline-ms", "2000"])
        .stderr(Stdio::null())
        .spawn()
        .context("gatehouse (cargo build --release -p gatehouse)")?;
    Ok((Gatehouse(child), port))
}

async fn connect(port: u16) -> Result<AuthorizationClient<Channel>> {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        match AuthorizationClient::connect(format!("http://127.0.0.1:{port}")).await {
            Ok(client) => return Ok(client),
            Err(e) if Instant::now() > end => bail!("gatehouse did not listen on {port}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn request(config: &str, credential: &str) -> CheckRequest {
    let mut request = gatehouse_bench::check_request();
    if let Some(attributes) = request.attributes.as_mut() {
        attributes
            .context_extensions
            .insert("config_id".into(), config.into());
        if let Some(http) = attributes.request.as_mut().and_then(|r| r.http.as_mut()) {
            http.headers
                .insert("authorization".into(), credential.into());
        }
    }
    request
}

/// Whether the check allowed.
async fn allows(
    client: &mut AuthorizationClient<Channel>,
    config: &str,
    credential: &str,
) -> Result<bool> {
    let response = client
        .check(request(config, credential))
        .await?
        .into_inner();
    Ok(matches!(
        response.http_response,
        Some(HttpResponse::OkResponse(_))
    ))
}

/// Latencies of `checks` allowed checks, in microseconds, sorted.
async fn timed(
    client: &mut AuthorizationClient<Channel>,
    config: &str,
    checks: usize,
) -> Result<Vec<u64>> {
    let mut micros = Vec::with_capacity(checks);
    for _ in 0..checks {
        let started = Instant::now();
        if !allows(client, config, ALICE).await? {
            bail!("{config}: alice's right password was denied");
        }
        micros.push(started.elapsed().as_micros() as u64);
    }
    micros.sort_unstable();
    Ok(micros)
}

fn row(name: &str, micros: &[u64]) -> String {
    let at = |q: f64| micros[((micros.len() - 1) as f64 * q) as usize];
    let mean = micros.iter().sum::<u64>() / micros.len().max(1) as u64;
    format!(
        "| {name} | {} | {mean} | {} | {} |",
        micros.len(),
        at(0.5),
        at(0.99)
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let options = options()?;
    let hash = bcrypt::hash("secret", options.cost)?;
    let (_gatehouse, port) = start(&hash)?;
    let mut client = connect(port).await?;
    for config in ["bcrypt", "bcrypt-cached"] {
        if allows(&mut client, config, WRONG).await? {
            bail!("{config}: a wrong password was allowed");
        }
    }
    // The uncached chain pays bcrypt on every check: fewer checks are enough.
    let uncached = timed(&mut client, "bcrypt", (options.checks / 100).max(5)).await?;
    let cached = timed(&mut client, "bcrypt-cached", options.checks).await?;
    if allows(&mut client, "bcrypt-cached", WRONG).await? {
        bail!("bcrypt-cached: a wrong password was allowed after alice's entry was cached");
    }
    println!(
        "bcrypt cost {}: latency of one check in µs (sequential, one connection)",
        options.cost
    );
    println!("| chain | checks | mean | p50 | p99 |\n|---|---|---|---|---|");
    println!("{}", row("BasicAuth bcrypt, no cache", &uncached));
    println!(
        "{}",
        row("BasicAuth bcrypt, `cache:` (first check a miss)", &cached)
    );
    if options.smoke {
        println!("smoke: both chains decided right (no timing assertions)");
    }
    Ok(())
}
