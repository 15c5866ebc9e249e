//! Per-step decision caches through the real binary: an http-callout step whose
//! upstream counts the calls it gets, so a hit is a call the plugin never made.
//! Memory caches expire and survive a reload only for an unchanged step; a real
//! `redis-server` shares entries between two hosts, and a Redis that is down or
//! tampered with only ever makes the plugin decide.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_yaml::Value;

use gatehouse_tests::{
    check_request, free_addr,
    http_server::{Reply, TestServer},
    verdict, Host, PluginDir,
};

const CALLOUT: &str = "libhttp_callout.so";

/// Auth config `cached`: one http-callout step to `url`, cached per
/// `authorization` for `ttl` seconds; `timeout` only tells two configs apart.
fn config(url: &str, ttl: u64, timeout: u64) -> String {
    format!(
        "kind: AuthConfig
metadata: {{name: cached}}
spec:
  configs:
  - name: upstream
    cache: {{ttlSeconds: {ttl}, key: ['header:authorization'], maxEntries: 100}}
    pluginAuth:
      name: upstream
      pluginFileName: {CALLOUT}
      exportedSymbolName: HttpCallout
      config: {{url: '{url}', timeoutMs: {timeout}}}
"
    )
}

async fn start(config: &str, plugins: &PluginDir, args: &[&str]) -> Host {
    match Host::start(config, plugins, args).await {
        Ok(host) => host,
        Err(failure) => panic!("gatehouse did not start: {failure:?}"),
    }
}

/// Whether `host` allows a request carrying `credential`.
async fn allows(host: &Host, credential: &str) -> bool {
    let request = check_request(Some("cached"), "/", &[("authorization", credential)]);
    verdict(&host.check(request).await)
        .denied_status()
        .is_none()
}

/// The value of `gatehouse_step_cache_total` for `event`.
fn cache_metric(host: &Host, event: &str) -> u64 {
    let (_, text) = host.admin_get("/metrics");
    let line = format!(
        "gatehouse_step_cache_total{{auth_config=\"cached\",event=\"{event}\",step=\"upstream\"}} "
    );
    text.lines()
        .find_map(|l| l.strip_prefix(&line))
        .map_or(0, |v| v.trim().parse().expect("a counter"))
}

#[tokio::test]
async fn a_hit_skips_the_plugin_until_the_entry_expires() {
    let upstream = TestServer::start(Reply::ok("yes")).await;
    let plugins = PluginDir::with(&[CALLOUT]);
    let host = start(&config(&upstream.url("/check"), 1, 150), &plugins, &[]).await;

    assert!(allows(&host, "Bearer alice").await);
    assert!(allows(&host, "Bearer alice").await);
    assert_eq!(
        upstream.hits(),
        1,
        "the second check is answered from the cache"
    );
    assert!(allows(&host, "Bearer bob").await);
    assert_eq!(upstream.hits(), 2, "another credential is another entry");
    assert_eq!(
        (cache_metric(&host, "hit"), cache_metric(&host, "miss")),
        (1, 2)
    );

    // The upstream now says no; alice's cached allow lasts its ttl, no longer.
    upstream.set_reply(Reply::status(403, "no"));
    assert!(allows(&host, "Bearer alice").await);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        !allows(&host, "Bearer alice").await,
        "expired: the plugin decides again"
    );
    assert!(!allows(&host, "Bearer alice").await);
    assert_eq!(
        upstream.hits(),
        4,
        "denials are not cached without cacheDenials"
    );
}

#[tokio::test]
async fn a_reload_keeps_the_entries_of_an_unchanged_step_only() {
    let upstream = TestServer::start(Reply::ok("yes")).await;
    let plugins = PluginDir::with(&[CALLOUT]);
    let url = upstream.url("/check");
    let host = start(&config(&url, 60, 150), &plugins, &[]).await;
    assert!(allows(&host, "Bearer alice").await);

    host.reload(&config(&url, 60, 150)).await;
    assert!(allows(&host, "Bearer alice").await);
    assert_eq!(upstream.hits(), 1, "same step, same settings: still cached");

    host.reload(&config(&url, 60, 151)).await;
    assert!(allows(&host, "Bearer alice").await);
    assert_eq!(
        upstream.hits(),
        2,
        "a changed step config starts an empty cache"
    );
}

#[tokio::test]
async fn cache_settings_are_checked_at_load() {
    let plugins = PluginDir::with(&[CALLOUT]);
    let failure = Host::start(&config("http://127.0.0.1:1/", 0, 150), &plugins, &[])
        .await
        .err()
        .expect("a ttl of 0 is refused");
    assert!(
        failure
            .log
            .contains("spec.configs[0].cache.ttlSeconds: 0 is out of range"),
        "{}",
        failure.log
    );
}

/// A real redis-server on a free port, killed on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    async fn start() -> Self {
        let port = free_addr().port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (installed by scripts/install-peers.sh)");
        let redis = Redis { child, port };
        for _ in 0..100 {
            if redis.cli(&["PING"]) == "PONG" {
                return redis;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not answer PING on port {port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn key_file(dir: &Path) -> String {
    let path = dir.join("cache-hash.key");
    std::fs::write(&path, [7u8; 32]).expect("write key");
    path.display().to_string()
}

#[tokio::test]
async fn two_hosts_share_entries_through_redis_and_redis_trouble_never_allows() {
    let redis = Redis::start().await;
    let upstream = TestServer::start(Reply::ok("yes")).await;
    let plugins = PluginDir::with(&[CALLOUT]);
    let config = config(&upstream.url("/check"), 60, 150);
    let key = key_file(plugins.path());
    let url = redis.url();
    let args = [
        "--cache-redis-url",
        url.as_str(),
        "--cache-hash-key-file",
        key.as_str(),
        "--cache-redis-timeout-ms",
        "200",
    ];
    let first = start(&config, &plugins, &args).await;
    let second = start(&config, &plugins, &args).await;

    assert!(allows(&first, "Bearer alice").await);
    // The write is in the background: give it a moment to reach Redis.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(allows(&second, "Bearer alice").await);
    assert_eq!(
        upstream.hits(),
        1,
        "the second host answered from the shared entry"
    );
    assert_eq!(cache_metric(&second, "hit"), 1);

    // A value changed in Redis (without the hash secret) is ignored.
    let keys = redis.cli(&["--scan", "--pattern", "gatehouse:cache:*"]);
    let entry = keys.lines().next().expect("an entry in Redis").to_string();
    redis.cli(&[
        "SET",
        &entry,
        "forged-allow-without-a-valid-tag-32-bytes-long",
    ]);
    upstream.set_reply(Reply::status(403, "no"));
    assert!(
        !allows(&second, "Bearer alice").await,
        "a forged entry is a miss"
    );
    assert_eq!(upstream.hits(), 2);

    // Redis down: the plugin decides, a denial stays a denial.
    drop(redis);
    assert!(!allows(&first, "Bearer carol").await);
    upstream.set_reply(Reply::ok("yes"));
    assert!(allows(&first, "Bearer carol").await);
    assert!(first.logs().contains("cache: Redis"), "{}", first.logs());
}

#[tokio::test]
async fn redis_needs_the_hash_key_file() {
    let plugins = PluginDir::with(&[CALLOUT]);
    let failure = Host::start(
        &config("http://127.0.0.1:1/", 60, 150),
        &plugins,
        &["--cache-redis-url", "redis://127.0.0.1:1/"],
    )
    .await
    .err()
    .expect("refused without --cache-hash-key-file");
    assert!(
        failure.log.contains("--cache-hash-key-file"),
        "{}",
        failure.log
    );
}

fn json(text: &str) -> Value {
    serde_yaml::from_str(text).expect("json")
}

#[tokio::test]
async fn the_config_page_shows_expr_when_shadow_and_cache() {
    let plugins = PluginDir::with(&[CALLOUT]);
    let yaml = config("http://127.0.0.1:1/", 30, 150).replace(
        "  configs:\n  - name: upstream\n",
        "  booleanExpr: upstream\n  configs:\n  - name: audit\n    shadow: true\n    when: [{path: {prefix: /api}}, {header: {name: X-Team, equals: a}}]\n    pluginAuth: {name: audit, pluginFileName: libhttp_callout.so, exportedSymbolName: HttpCallout, config: {url: 'http://127.0.0.1:1/'}}\n  - name: upstream\n",
    );
    let host = start(&yaml, &plugins, &[]).await;
    let (status, body) = host.admin_get("/config");
    assert_eq!(status, 200);
    let page: Value = serde_yaml::from_str(&body).expect("json");
    let config = &page["authConfigs"][0];
    assert_eq!(config["booleanExpr"], json("upstream"));
    let audit = &config["configs"][0];
    assert_eq!(audit["shadow"], Value::Bool(true));
    assert_eq!(
        audit["when"],
        json(r#"[{"path": {"prefix": "/api"}}, {"header": {"name": "x-team", "equals": "a"}}]"#)
    );
    assert_eq!(
        config["configs"][1]["cache"],
        json(
            r#"{"ttlSeconds": 30, "key": ["header:authorization"], "maxEntries": 100, "cacheDenials": false}"#
        )
    );
}
