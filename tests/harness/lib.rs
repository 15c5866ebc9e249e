//! Test harness: runs the real `gatehouse` binary on a loopback port with a
//! plugin directory of real `.so` files built from this workspace, and talks
//! gRPC to it.
//!
//! Build first (`scripts/test.sh` does): `cargo build --workspace` for the host
//! and plugins, `scripts/build-fixtures.sh` for the versioned fixtures.

pub mod http_server;
pub mod raw;

use std::{
    collections::HashMap,
    io::Read,
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use envoy_types::pb::envoy::service::auth::v3::{
    attribute_context::{HttpRequest, Request as AttrRequest},
    authorization_client::AuthorizationClient,
    check_response::HttpResponse,
    AttributeContext, CheckRequest, CheckResponse,
};
use tonic::transport::Channel;
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};

/// The cargo target profile directory holding `gatehouse` and the plugin `.so` files.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test>-<hash> → target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// The YAML block that follows `<!-- example: NAME -->` in plugins/README.md, as
/// one YAML document (starting with `---`), so plugin tests run the README's
/// examples exactly as documented.
pub fn plugins_readme_example(name: &str) -> String {
    let path = repo_root().join("plugins/README.md");
    let text = std::fs::read_to_string(&path).expect("read plugins/README.md");
    let marker = format!("<!-- example: {name} -->\n```yaml\n");
    let (_, after) = text
        .split_once(&marker)
        .unwrap_or_else(|| panic!("no `{name}` example in plugins/README.md"));
    let (yaml, _) = after
        .split_once("```")
        .expect("end of the example's yaml block");
    format!("---\n{yaml}")
}

/// Path of a built workspace artifact; panics with the build command if missing.
pub fn artifact(name: &str) -> PathBuf {
    let in_target = target_dir().join(name);
    let in_fixtures = repo_root().join("target/fixtures").join(name);
    for path in [in_target, in_fixtures] {
        if path.exists() {
            return path;
        }
    }
    panic!("{name} is not built: run `cargo build --workspace` and `scripts/build-fixtures.sh` (scripts/test.sh does both)");
}

/// A fresh plugin directory holding copies of the given libraries.
pub struct PluginDir {
    path: PathBuf,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl PluginDir {
    /// Copies each named library (from the target dir or target/fixtures).
    pub fn with(libraries: &[&str]) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = target_dir().join(format!("test-plugins/{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create plugin dir");
        for lib in libraries {
            std::fs::copy(artifact(lib), path.join(lib)).expect("copy plugin");
        }
        Self { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PluginDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A running `gatehouse` process; killed on drop.
pub struct Host {
    child: Child,
    /// The gRPC address.
    pub addr: SocketAddr,
    /// The admin HTTP address.
    pub admin: SocketAddr,
    config: PathBuf,
    log: PathBuf,
}

/// Why a host did not come up: its exit status and everything it logged.
#[derive(Debug)]
pub struct StartFailure {
    /// Exit code, if it exited.
    pub code: Option<i32>,
    /// Its stderr.
    pub log: String,
}

/// A free loopback port for a server a test starts. Taken from 20000–31999,
/// below Linux's ephemeral range (32768–60999): a port the kernel handed out
/// with `bind(0)` could be taken by any outgoing connection between this check
/// and the server's own bind (seen in CI as "Address already in use"). Unique
/// within this test process; the start depends on the pid so that consecutive
/// test binaries use different ports.
fn free_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let start = std::process::id() as usize * 211;
    loop {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = 20000 + ((start + n) % 12000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl Host {
    /// Starts `gatehouse` on `config_yaml` with `plugins`, waiting until health
    /// reports SERVING, or returns how it failed.
    pub async fn start(
        config_yaml: &str,
        plugins: &PluginDir,
        extra_args: &[&str],
    ) -> Result<Host, StartFailure> {
        let mut attempt = 0;
        loop {
            let mut host = Host::spawn(config_yaml, plugins, extra_args);
            match host.wait_serving().await {
                Ok(()) => return Ok(host),
                // Another process bound one of the ports first: try other ports.
                Err(failure) if failure.log.contains("Address already in use") && attempt < 3 => {
                    attempt += 1;
                }
                Err(failure) => return Err(failure),
            }
        }
    }

    /// Starts `gatehouse` without waiting for anything.
    pub fn spawn(config_yaml: &str, plugins: &PluginDir, extra_args: &[&str]) -> Host {
        let config = plugins.path().join("auth-configs.yaml");
        std::fs::write(&config, config_yaml).expect("write config");
        Host::spawn_with_config_file(&config, plugins, extra_args)
    }

    /// Starts `gatehouse` on an existing config file (which may be a symlink).
    pub fn spawn_with_config_file(config: &Path, plugins: &PluginDir, extra_args: &[&str]) -> Host {
        let log = plugins.path().join(format!(
            "gatehouse-{}.log",
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        // File watching off unless a test asks for it: reloads come from SIGHUP.
        let defaults: &[&str] = if extra_args.contains(&"--watch-interval-ms") {
            &[]
        } else {
            &["--watch-interval-ms", "0"]
        };
        let child = Command::new(target_dir().join("gatehouse"))
            .arg("--config")
            .arg(config)
            .arg("--plugin-dir")
            .arg(plugins.path())
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--admin-listen")
            .arg(admin.to_string())
            .args(defaults)
            .args(extra_args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn gatehouse (run cargo build --workspace)");
        Host {
            child,
            addr,
            admin,
            config: config.to_path_buf(),
            log,
        }
    }

    /// Waits until health reports SERVING, or returns how the host failed.
    pub async fn wait_serving(&mut self) -> Result<(), StartFailure> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(StartFailure {
                    code: status.code(),
                    log: self.logs(),
                });
            }
            if self.health("").await == Some(ServingStatus::Serving) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(StartFailure {
                    code: None,
                    log: self.logs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Everything the host logged so far.
    pub fn logs(&self) -> String {
        self.logs_from(0)
    }

    /// What the host logged after the first `offset` bytes.
    pub fn logs_from(&self, offset: u64) -> String {
        use std::io::{Seek, SeekFrom};
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            if f.seek(SeekFrom::Start(offset)).is_ok() {
                let _ = f.read_to_string(&mut text);
            }
        }
        text
    }

    /// The log's current length in bytes.
    pub fn log_len(&self) -> u64 {
        std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0)
    }

    /// A gRPC channel to the host.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .expect("uri")
            .connect()
            .await
            .expect("connect to gatehouse")
    }

    /// `grpc.health.v1` status of `service`, or None if unreachable.
    pub async fn health(&self, service: &str) -> Option<ServingStatus> {
        let channel = Channel::from_shared(format!("http://{}", self.addr))
            .ok()?
            .connect()
            .await
            .ok()?;
        let response = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .ok()?;
        ServingStatus::try_from(response.into_inner().status).ok()
    }

    /// Sends one `Check`.
    pub async fn check(&self, request: CheckRequest) -> CheckResponse {
        AuthorizationClient::new(self.channel().await)
            .check(request)
            .await
            .expect("Check RPC")
            .into_inner()
    }

    /// Replaces the config file and sends SIGHUP; returns once the log shows
    /// the outcome (`reloaded` or `reload failed`).
    pub async fn reload(&self, config_yaml: &str) -> String {
        let before = self.log_len();
        std::fs::write(&self.config, config_yaml).expect("write config");
        let status = Command::new("kill")
            .arg("-HUP")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let fresh = self.logs_from(before);
            if fresh.contains("reloaded on SIGHUP") || fresh.contains("reload failed") {
                return fresh;
            }
            assert!(
                Instant::now() < deadline,
                "no reload outcome logged:\n{fresh}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The config file the host reads.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// GET `path` on the admin port: (status, body).
    pub fn admin_get(&self, path: &str) -> (u16, String) {
        let request = format!("GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n");
        let (status, _, body) = exchange(self.admin, &request, Duration::from_secs(5));
        (status, body)
    }

    /// Sends SIGTERM and waits (asynchronously, so this test's own gRPC
    /// connections can answer the server's GOAWAY) for the exit code.
    pub async fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CheckRequest as Envoy sends it for `GET path` with `headers`, routed to
/// auth config `config_id` (None: no context extension).
pub fn check_request(
    config_id: Option<&str>,
    path: &str,
    headers: &[(&str, &str)],
) -> CheckRequest {
    let mut map: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    map.insert(":method".into(), "GET".into());
    map.insert(":path".into(), path.into());
    map.insert(":authority".into(), "example.test".into());
    CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(AttrRequest {
                http: Some(HttpRequest {
                    id: "test-request".into(),
                    method: "GET".into(),
                    path: path.into(),
                    host: "example.test".into(),
                    scheme: "http".into(),
                    headers: map,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            context_extensions: config_id
                .map(|id| HashMap::from([("config_id".to_string(), id.to_string())]))
                .unwrap_or_default(),
            ..Default::default()
        }),
    }
}

/// The HTTP attributes of a check (from [`check_request`]), to change one part.
pub fn http_of(request: &mut CheckRequest) -> &mut HttpRequest {
    request
        .attributes
        .as_mut()
        .and_then(|a| a.request.as_mut())
        .and_then(|r| r.http.as_mut())
        .expect("check_request always has http attributes")
}

/// What a `CheckResponse` said, flattened for assertions.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// OK: upstream headers (name, value, append_action), removals, response headers.
    Allowed {
        /// Headers to set upstream as (name, value, append_action).
        headers: Vec<(String, String, i32)>,
        /// Headers to remove upstream.
        removed: Vec<String>,
        /// Headers for the client response.
        response_headers: Vec<(String, String)>,
    },
    /// Denied with HTTP status, body and headers.
    Denied {
        /// HTTP status.
        status: i32,
        /// Body.
        body: String,
        /// Headers.
        headers: Vec<(String, String)>,
    },
}

impl Verdict {
    /// Upstream header value set by an allow, if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        match self {
            Verdict::Allowed { headers, .. } => {
                headers.iter().find(|h| h.0 == name).map(|h| h.1.as_str())
            }
            Verdict::Denied { .. } => None,
        }
    }

    /// The denial's HTTP status, or None for an allow.
    pub fn denied_status(&self) -> Option<i32> {
        match self {
            Verdict::Denied { status, .. } => Some(*status),
            Verdict::Allowed { .. } => None,
        }
    }
}

/// Flattens a `CheckResponse`, checking that gRPC status and HTTP response agree.
pub fn verdict(response: &CheckResponse) -> Verdict {
    let code = response.status.as_ref().map(|s| s.code).unwrap_or(-1);
    let pairs = |opts: &[envoy_types::pb::envoy::config::core::v3::HeaderValueOption]| {
        opts.iter()
            .filter_map(|o| o.header.as_ref().map(|h| (h.key.clone(), h.value.clone())))
            .collect::<Vec<_>>()
    };
    match &response.http_response {
        Some(HttpResponse::OkResponse(ok)) => {
            assert_eq!(code, 0, "OK response with non-OK gRPC status");
            Verdict::Allowed {
                headers: ok
                    .headers
                    .iter()
                    .filter_map(|o| {
                        o.header
                            .as_ref()
                            .map(|h| (h.key.clone(), h.value.clone(), o.append_action))
                    })
                    .collect(),
                removed: ok.headers_to_remove.clone(),
                response_headers: pairs(&ok.response_headers_to_add),
            }
        }
        Some(HttpResponse::DeniedResponse(denied)) => {
            assert_ne!(code, 0, "denied response with OK gRPC status");
            Verdict::Denied {
                status: denied.status.as_ref().map(|s| s.code).unwrap_or(0),
                body: denied.body.clone(),
                headers: pairs(&denied.headers),
            }
        }
        other => panic!("unexpected http_response {other:?} in {response:?}"),
    }
}

/// One `pluginAuth` step as YAML (config given as a flow mapping).
pub fn step(name: &str, file: &str, symbol: &str, config: &str) -> String {
    format!(
        "    - pluginAuth:\n        name: {name}\n        pluginFileName: {file}\n        exportedSymbolName: {symbol}\n        config: {config}\n"
    )
}

/// An AuthConfig document named `name` with `steps` (from [`step`]).
pub fn auth_config(name: &str, steps: &[String]) -> String {
    format!(
        "---\napiVersion: enterprise.gloo.solo.io/v1\nkind: AuthConfig\nmetadata:\n  name: {name}\nspec:\n  configs:\n{}",
        steps.concat()
    )
}

/// Auth config `tagged`: one set-headers step that sets `x: y` and allows.
pub fn tagged_config() -> String {
    auth_config(
        "tagged",
        &[step(
            "tag",
            "libset_headers.so",
            "SetHeaders",
            "{headers: [{name: x, value: y}]}",
        )],
    )
}

/// A free loopback address, e.g. for `--http-listen` or `--spoe-listen`.
pub fn free_addr() -> SocketAddr {
    format!("127.0.0.1:{}", free_port()).parse().expect("addr")
}

/// Sends raw HTTP/1.1 `request` bytes to `addr` (the request must say
/// `Connection: close`); returns (status, lower-case headers, body).
pub fn http_exchange(addr: SocketAddr, request: &str) -> (u16, Vec<(String, String)>, String) {
    exchange(addr, request, Duration::from_secs(10))
}

/// [`http_exchange`] with a bound on how long the answer may take to arrive.
fn exchange(
    addr: SocketAddr,
    request: &str,
    read_timeout: Duration,
) -> (u16, Vec<(String, String)>, String) {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let _ = stream.set_read_timeout(Some(read_timeout));
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}
