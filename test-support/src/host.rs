//! A running `gatehouse` process with one auth config of the plugin's steps.

use std::{
    net::{SocketAddr, TcpListener},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use crate::{check, find, Error, Verdict};

/// The auth config id the host is started with.
const CONFIG_ID: &str = "test";

/// One step of the test's chain: a plugin of this crate's library.
#[derive(Debug, Clone)]
pub struct Step {
    name: String,
    symbol: String,
    config: String,
}

impl Step {
    /// Step `name` running plugin `symbol` (its `export_plugins!` name) with
    /// `config` as YAML (a flow mapping such as `{team: platform}`).
    pub fn new(name: &str, symbol: &str, config: &str) -> Self {
        Self {
            name: name.into(),
            symbol: symbol.into(),
            config: config.into(),
        }
    }
}

/// A running host; stopped (killed) on drop.
pub struct Host {
    child: Child,
    http: SocketAddr,
    dir: PathBuf,
    log: PathBuf,
}

impl Host {
    /// Starts the host with this crate's plugin library and one auth config of
    /// `steps`, and waits until it is ready (at most 20 s). A host that exits
    /// instead (a refused config, say) is an error carrying its log.
    pub fn start(steps: &[Step]) -> Result<Host, Error> {
        let bin = find::gatehouse_binary()?;
        let library = find::plugin_library()?;
        let dir = scratch_dir()?;
        let file = library
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let io = |what: &str, e: std::io::Error| Error(format!("{what}: {e}"));
        std::fs::copy(&library, dir.join(&file)).map_err(|e| io("copying the plugin", e))?;
        std::fs::write(dir.join("auth-configs.yaml"), auth_config(&file, steps))
            .map_err(|e| io("writing the auth config", e))?;
        let (grpc, admin, http) = (free_addr()?, free_addr()?, free_addr()?);
        let log = dir.join("gatehouse.log");
        let child = Command::new(&bin)
            .arg("--config")
            .arg(dir.join("auth-configs.yaml"))
            .arg("--plugin-dir")
            .arg(&dir)
            .args([
                "--listen",
                &grpc.to_string(),
                "--admin-listen",
                &admin.to_string(),
            ])
            .args([
                "--http-listen",
                &http.to_string(),
                "--http-gateway",
                "envoy",
            ])
            .args(["--watch-interval-ms", "0"])
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).map_err(|e| io("creating the log", e))?)
            .spawn()
            .map_err(|e| Error(format!("cannot run {}: {e}", bin.display())))?;
        let mut host = Host {
            child,
            http,
            dir,
            log,
        };
        host.wait_ready(admin)?;
        Ok(host)
    }

    /// Sends a check for `GET path` with `headers` (lower-case names).
    pub fn check(&self, path: &str, headers: &[(&str, &str)]) -> Result<Verdict, Error> {
        check::send(self.http, CONFIG_ID, path, headers)
    }

    /// Everything the host logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_ready(&mut self, admin: SocketAddr) -> Result<(), Error> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Error(format!(
                    "gatehouse exited ({status}) instead of serving; its log:\n{}",
                    self.logs()
                )));
            }
            if check::get(admin, "/readyz").is_ok_and(|v| v.status == 200) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error(format!(
                    "gatehouse was not ready within 20 s; its log:\n{}",
                    self.logs()
                )));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The auth config `test` with `steps`, all from the library `file`.
fn auth_config(file: &str, steps: &[Step]) -> String {
    let mut yaml = format!(
        "apiVersion: enterprise.gloo.solo.io/v1\nkind: AuthConfig\nmetadata:\n  name: {CONFIG_ID}\nspec:\n  configs:\n"
    );
    for step in steps {
        yaml.push_str(&format!(
            "    - pluginAuth:\n        name: {}\n        pluginFileName: {file}\n        exportedSymbolName: {}\n        config: {}\n",
            step.name, step.symbol, step.config
        ));
    }
    yaml
}

/// A fresh directory for one host's plugin copy, config and log.
fn scratch_dir() -> Result<PathBuf, Error> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "gatehouse-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| Error(format!("creating {}: {e}", dir.display())))?;
    Ok(dir)
}

/// A loopback address with a port that was free a moment ago.
fn free_addr() -> Result<SocketAddr, Error> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| Error(format!("no free loopback port: {e}")))
}
