//! Connection hygiene on every listener of the real binary (gRPC `--listen`,
//! `--http-listen`, `--spoe-listen`, `--admin-listen`), over raw sockets:
//! `--header-timeout-ms` closes connections that never finish their request
//! head, HTTP/2 preface or SPOE HELLO; `--idle-timeout-ms` closes connections
//! with nothing in flight; `--max-connections` bounds each listener;
//! `--max-concurrent-streams` is advertised in the server's SETTINGS; and
//! legitimate requests are answered while 1,000 slow connections are open.

use std::time::Duration;

use gatehouse::frontend::spoe::frame::kind;
use gatehouse_tests::{
    auth_config, check_request, http_exchange,
    raw::{
        connect, connect_and_send, h2_frame, h2_frames, h2_hello, h2_settings, http1_keepalive,
        nginx_check, read_spoe_frame, rss_kib, spoe_check, spoe_hello, spoe_session,
        start_with_every_listener, trickle, wait_closed, wait_read_closed, Listeners,
        ADMIN_HEALTHZ, H2_GOAWAY, H2_PREFACE, H2_SETTINGS, SETTINGS_MAX_CONCURRENT_STREAMS,
    },
    step, verdict, Host, PluginDir,
};
use tokio::{io::AsyncWriteExt, net::TcpStream};

const MB: &str = "libmisbehaving.so";

/// `fast` allows at once; `slow` after 1.5 s.
fn configs() -> String {
    [
        auth_config("fast", &[step("w", MB, "Whoami", "{name: fast}")]),
        auth_config("slow", &[step("s", MB, "Sleep", "{millis: 1500}")]),
    ]
    .concat()
}

/// Step and chain limits above the `slow` call.
const NO_CHAIN_LIMITS: [&str; 4] = ["--step-timeout-ms", "5000", "--chain-deadline-ms", "5000"];

/// One legitimate request on each listener, each answered (and allowed).
async fn answered_everywhere(host: &Host, at: Listeners) {
    let grpc = verdict(&host.check(check_request(Some("fast"), "/", &[])).await);
    assert_eq!(grpc.header("x-whoami"), Some("fast"), "gRPC: {grpc:?}");
    let close = nginx_check("fast").replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n");
    assert_eq!(http_exchange(at.http, &close).0, 200, "HTTP forward-auth");
    assert_eq!(host.admin_get("/healthz").0, 200, "admin");
    let mut spoe = spoe_session(at.spoe).await;
    spoe.write_all(&spoe_check(1, "fast"))
        .await
        .expect("NOTIFY");
    let ack = read_spoe_frame(&mut spoe).await.expect("ACK");
    assert_eq!(ack.first(), Some(&kind::ACK), "SPOE");
}

/// Asserts each connection (opened just now) stays open for `open_for` and is
/// closed by the server within `deadline` after that; returns what each got.
async fn open_then_closed(
    connections: &mut [(&str, TcpStream)],
    open_for: Duration,
    deadline: Duration,
) -> Vec<Vec<u8>> {
    tokio::time::sleep(open_for).await;
    let mut sent = Vec::new();
    for (what, stream) in connections.iter_mut() {
        let so_far = wait_closed(stream, Duration::from_millis(5)).await;
        assert!(so_far.after.is_none(), "{what}: closed too early");
        sent.push(so_far.bytes);
    }
    for ((what, stream), sent) in connections.iter_mut().zip(&mut sent) {
        let closed = wait_closed(stream, deadline).await;
        assert!(closed.after.is_some(), "{what}: still open");
        sent.extend(closed.bytes);
    }
    sent
}

#[tokio::test]
async fn every_listener_closes_slow_and_half_open_connections_after_the_header_timeout() {
    let plugins = PluginDir::with(&[MB]);
    let args = ["--header-timeout-ms", "800", "--idle-timeout-ms", "60000"];
    let (host, at) = start_with_every_listener(&configs(), &plugins, &args).await;
    let half_hello = &spoe_hello()[..3];
    let mut silent = vec![
        ("gRPC, nothing sent", connect(at.grpc).await),
        (
            "gRPC, half a preface",
            connect_and_send(at.grpc, &H2_PREFACE[..10]).await,
        ),
        (
            "gRPC, preface without SETTINGS",
            connect_and_send(at.grpc, H2_PREFACE).await,
        ),
        ("HTTP, nothing sent", connect(at.http).await),
        (
            "HTTP, partial head",
            connect_and_send(at.http, b"GET /auth/fast HTTP/1.1\r\n").await,
        ),
        ("admin, nothing sent", connect(at.admin).await),
        (
            "admin, partial head",
            connect_and_send(at.admin, b"GET /healthz HTTP/1.1\r\n").await,
        ),
        ("SPOE, nothing sent", connect(at.spoe).await),
        (
            "SPOE, partial HELLO",
            connect_and_send(at.spoe, half_hello).await,
        ),
    ];
    // Slowloris: a header byte every 100 ms, first request or the next one.
    let head: &[u8] =
        b"GET /healthz HTTP/1.1\r\nHost: admin\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut slow = vec![
        (
            "HTTP slowloris",
            trickle(at.http, head, Duration::from_millis(100)).await,
        ),
        (
            "admin slowloris",
            trickle(at.admin, head, Duration::from_millis(100)).await,
        ),
    ];
    let (mut kept, status) = http1_keepalive(at.http, &nginx_check("fast")).await;
    assert_eq!(status, 200);
    kept.write_all(b"GET /auth/fast HTTP/1.1\r\n")
        .await
        .expect("next head");

    // Open for most of the timeout; closed within it plus a second.
    silent.push(("HTTP keep-alive, slow next head", kept));
    let deadline = Duration::from_millis(2200);
    let sent = open_then_closed(&mut silent, Duration::from_millis(600), deadline).await;
    for ((what, _), bytes) in silent.iter().zip(&sent) {
        if what.starts_with("SPOE") {
            assert_eq!(
                bytes.get(4),
                Some(&kind::AGENT_DISCONNECT),
                "{what}: {bytes:?}"
            );
        }
    }
    for (what, reader) in &mut slow {
        let after = wait_read_closed(reader, deadline).await;
        assert!(after.is_some(), "{what}: still open after the timeout");
    }
    answered_everywhere(&host, at).await;
}

#[tokio::test]
async fn every_listener_closes_idle_connections_after_the_idle_timeout() {
    let plugins = PluginDir::with(&[MB]);
    let mut args = NO_CHAIN_LIMITS.to_vec();
    args.extend(["--header-timeout-ms", "5000", "--idle-timeout-ms", "1000"]);
    let (host, at) = start_with_every_listener(&configs(), &plugins, &args).await;
    // A call longer than the idle timeout is in flight, not idle: answered.
    let (busy, status) = http1_keepalive(at.http, &nginx_check("slow")).await;
    assert_eq!(status, 200, "a 1.5 s call is not cut by a 1 s idle timeout");
    let mut idle = vec![
        ("gRPC", connect_and_send(at.grpc, &h2_hello()).await),
        (
            "HTTP",
            http1_keepalive(at.http, &nginx_check("fast")).await.0,
        ),
        ("admin", http1_keepalive(at.admin, ADMIN_HEALTHZ).await.0),
        ("SPOE", spoe_session(at.spoe).await),
        ("HTTP after a slow call", busy),
    ];
    let (open_for, deadline) = (Duration::from_millis(700), Duration::from_millis(2500));
    let sent = open_then_closed(&mut idle, open_for, deadline).await;
    let goaway = h2_frames(&sent[0]).iter().any(|f| f.0 == H2_GOAWAY);
    assert!(goaway, "idle HTTP/2 is closed with GOAWAY: {:?}", sent[0]);
    assert_eq!(
        sent[3].get(4),
        Some(&kind::AGENT_DISCONNECT),
        "SPOE: {:?}",
        sent[3]
    );
    answered_everywhere(&host, at).await;
}

#[tokio::test]
async fn every_listener_enforces_max_connections() {
    let plugins = PluginDir::with(&[MB]);
    let args = ["--max-connections", "4", "--header-timeout-ms", "20000"];
    let (host, at) = start_with_every_listener(&configs(), &plugins, &args).await;
    // The harness's health checks while starting hold gRPC slots until they close.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (name, addr) in [
        ("gRPC", at.grpc),
        ("HTTP", at.http),
        ("SPOE", at.spoe),
        ("admin", at.admin),
    ] {
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(connect(addr).await);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut over = connect(addr).await;
        let closed = wait_closed(&mut over, Duration::from_secs(2)).await;
        assert!(
            closed.after.is_some(),
            "{name}: a 5th connection is closed at once:\n{}",
            host.logs()
        );
        assert!(closed.bytes.is_empty(), "{name}: and gets nothing");
        drop(held);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    answered_everywhere(&host, at).await;
    assert!(host.logs().contains("connection limit reached"));
}

/// The soft limit on open files of this process.
fn open_files_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("limits");
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legitimate_requests_are_answered_while_1000_slow_connections_are_open() {
    let plugins = PluginDir::with(&[MB]);
    let args = ["--header-timeout-ms", "4000"];
    let (host, at) = start_with_every_listener(&configs(), &plugins, &args).await;
    let per_listener = (open_files_limit().saturating_sub(200) / 4).min(250);
    assert!(
        per_listener >= 100,
        "raise `ulimit -n`: {}",
        open_files_limit()
    );
    let before = rss_kib(host.pid());
    let mut slow = Vec::new();
    for _ in 0..per_listener {
        slow.push(connect_and_send(at.grpc, &H2_PREFACE[..10]).await);
        slow.push(connect_and_send(at.http, b"GET /auth/fast HTTP/1.1\r\nX-A: ").await);
        slow.push(connect_and_send(at.admin, b"GET /metrics HTTP/1.1\r\nX-A: ").await);
        slow.push(connect_and_send(at.spoe, &spoe_hello()[..3]).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    answered_everywhere(&host, at).await;
    let answered = started.elapsed();
    let during = rss_kib(host.pid());
    eprintln!(
        "{} slow connections: RSS {before} KiB -> {during} KiB, legitimate requests on 4 listeners in {answered:?}",
        slow.len()
    );
    assert!(
        answered < Duration::from_secs(3),
        "answered in {answered:?}"
    );
    assert!(
        during.saturating_sub(before) < 64 * 1024,
        "memory grew from {before} to {during} KiB"
    );
    // And the slow ones are closed by the header timeout.
    for stream in &mut slow {
        let closed = wait_closed(stream, Duration::from_secs(8)).await;
        assert!(closed.after.is_some(), "a slow connection is still open");
    }
    // The default max concurrent streams, since this host has no flag for it.
    assert_eq!(advertised_max_streams(at.grpc).await, Some(1000));
}

/// The `SETTINGS_MAX_CONCURRENT_STREAMS` of the server's first SETTINGS frame.
async fn advertised_max_streams(addr: std::net::SocketAddr) -> Option<u32> {
    use tokio::io::AsyncReadExt;
    let mut stream = connect_and_send(addr, &h2_hello()).await;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let settings = h2_frames(&bytes)
            .into_iter()
            .find(|f| f.0 == H2_SETTINGS && f.1 == 0);
        if let Some(frame) = settings {
            return h2_settings(&frame.3)
                .into_iter()
                .find(|s| s.0 == SETTINGS_MAX_CONCURRENT_STREAMS)
                .map(|s| s.1);
        }
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("server SETTINGS in time")
            .expect("read");
        assert!(n > 0, "closed before SETTINGS");
        bytes.extend_from_slice(&buf[..n]);
    }
}

/// HEADERS opening a gRPC `Check` call whose body never comes.
fn open_check_stream(stream_id: u32) -> Vec<u8> {
    let path = b"/envoy.service.auth.v3.Authorization/Check";
    let mut block = vec![0x83, 0x86, 0x04, path.len() as u8];
    block.extend_from_slice(path);
    block.extend_from_slice(&[0x01, 1, b'x', 0x00, 12]);
    block.extend_from_slice(b"content-type");
    block.push(16);
    block.extend_from_slice(b"application/grpc");
    h2_frame(1, 0x4, stream_id, &block)
}

#[tokio::test]
async fn grpc_advertises_and_enforces_max_concurrent_streams() {
    let plugins = PluginDir::with(&[MB]);
    let args = ["--max-concurrent-streams", "7"];
    let (_host, at) = start_with_every_listener(&configs(), &plugins, &args).await;
    assert_eq!(advertised_max_streams(at.grpc).await, Some(7));

    // Eight calls at once on one connection: the eighth is refused.
    let mut stream = connect_and_send(at.grpc, &h2_hello()).await;
    let mut calls = h2_frame(H2_SETTINGS, 0x1, 0, &[]);
    for n in 0..8 {
        calls.extend(open_check_stream(1 + 2 * n));
    }
    stream.write_all(&calls).await.expect("HEADERS");
    let sent = wait_closed(&mut stream, Duration::from_secs(2)).await.bytes;
    let refused: Vec<_> = h2_frames(&sent)
        .into_iter()
        .filter(|f| f.0 == 3)
        .map(|f| (f.2, f.3))
        .collect();
    assert_eq!(
        refused,
        vec![(15, vec![0, 0, 0, 7])],
        "RST_STREAM REFUSED_STREAM for the eighth only"
    );
}

#[tokio::test]
async fn a_forward_auth_body_that_trickles_is_refused_after_the_header_timeout() {
    let plugins = PluginDir::with(&[MB]);
    let args = ["--header-timeout-ms", "800", "--idle-timeout-ms", "60000"];
    let (_host, at) = start_with_every_listener(&configs(), &plugins, &args).await;
    // A complete head announcing 40 bytes, then one body byte every 100 ms.
    let head = nginx_check("fast").replace("\r\n\r\n", "\r\nContent-Length: 40\r\n\r\n");
    let mut stream = connect_and_send(at.http, head.as_bytes()).await;
    let (mut reader, mut writer) = stream.split();
    let trickling = async {
        for _ in 0..40 {
            if writer.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let answer = async {
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(
            Duration::from_millis(2500),
            tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut buf),
        )
        .await;
        buf
    };
    let started = std::time::Instant::now();
    let (_, answer) = tokio::join!(trickling, answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "a slow body gets 408: {answer:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(2200),
        "refused within the timeout plus a second: {:?}",
        started.elapsed()
    );
}
