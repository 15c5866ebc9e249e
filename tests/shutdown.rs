//! SIGTERM on the real binary with every listener open: after
//! `--shutdown-delay-ms` every listener stops accepting, idle and half-open
//! connections are closed at once (HTTP/2 GOAWAY, HTTP/1 close, SPOE
//! AGENT-DISCONNECT), calls in flight get at most `--drain-timeout-ms` and
//! are then cut (never answered as allowed), and the process exits 0 within
//! delay + drain + 1 s.

use std::time::{Duration, Instant};

use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use gatehouse::frontend::spoe::frame::kind;
use gatehouse_tests::{
    auth_config, check_request,
    raw::{
        connect, connect_and_send, h2_frames, h2_hello, http1_keepalive, nginx_check,
        read_spoe_frame, spoe_check, spoe_session, start_with_every_listener, wait_closed,
        ADMIN_HEALTHZ, H2_GOAWAY, H2_PREFACE,
    },
    step, verdict, Host, PluginDir, Verdict,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MB: &str = "libmisbehaving.so";

/// `fast` allows at once, `short` after 600 ms, `hung` after 7.5 s.
fn configs() -> String {
    [
        auth_config("fast", &[step("w", MB, "Whoami", "{name: fast}")]),
        auth_config("short", &[step("s", MB, "Sleep", "{millis: 600}")]),
        auth_config("hung", &[step("s", MB, "Sleep", "{millis: 7500}")]),
    ]
    .concat()
}

/// Step and chain limits far above the hung call, so only the drain cuts it.
const NO_CHAIN_LIMITS: [&str; 4] = ["--step-timeout-ms", "20000", "--chain-deadline-ms", "20000"];

/// Sends SIGTERM; asserts the host exits 0 and returns how long that took.
async fn terminate_timed(host: &mut Host) -> Duration {
    let sent = Instant::now();
    let code = host.terminate().await;
    let took = sent.elapsed();
    eprintln!("exited {took:?} after SIGTERM");
    assert_eq!(code, Some(0), "exit code:\n{}", host.logs());
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_cuts_hung_calls_at_the_drain_timeout_and_exits_0() {
    let plugins = PluginDir::with(&[MB]);
    let mut args = NO_CHAIN_LIMITS.to_vec();
    args.extend(["--shutdown-delay-ms", "300", "--drain-timeout-ms", "700"]);
    let (mut host, at) = start_with_every_listener(&configs(), &plugins, &args).await;

    // Calls in flight on each frontend when SIGTERM arrives.
    let channel = host.channel().await;
    let call = |config: &'static str| {
        let mut client = AuthorizationClient::new(channel.clone());
        tokio::spawn(async move { client.check(check_request(Some(config), "/", &[])).await })
    };
    let (grpc_hung, grpc_short) = (call("hung"), call("short"));
    let mut http_hung = connect_and_send(at.http, nginx_check("hung").as_bytes()).await;
    let mut spoe_hung = spoe_session(at.spoe).await;
    spoe_hung
        .write_all(&spoe_check(1, "hung"))
        .await
        .expect("NOTIFY");
    tokio::time::sleep(Duration::from_millis(100)).await;

    let took = terminate_timed(&mut host).await;
    assert!(
        took >= Duration::from_millis(900),
        "exited after {took:?}: the in-flight calls did not get the drain timeout"
    );
    assert!(
        took <= Duration::from_millis(300 + 700 + 1000),
        "exited after {took:?}, more than delay + drain + 1 s"
    );

    // The call that fits in the drain was answered; the hung ones were cut.
    let short = grpc_short
        .await
        .expect("task")
        .expect("short call answered");
    assert_eq!(
        verdict(&short.into_inner()).header("x-slept-ms"),
        Some("600")
    );
    match grpc_hung.await.expect("task") {
        Err(status) => assert_ne!(status.code(), tonic::Code::Ok),
        Ok(response) => assert!(
            matches!(verdict(&response.into_inner()), Verdict::Denied { .. }),
            "a call cut by the drain must not be allowed"
        ),
    }
    let http = wait_closed(&mut http_hung, Duration::from_secs(2)).await;
    assert!(
        !http.bytes.starts_with(b"HTTP/1.1 200"),
        "a cut HTTP check must not be answered 200: {:?}",
        String::from_utf8_lossy(&http.bytes)
    );
    while let Some(frame) = read_spoe_frame(&mut spoe_hung).await {
        assert_ne!(
            frame.first(),
            Some(&kind::ACK),
            "a cut NOTIFY must not be ACKed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_idle_and_half_open_connections_without_waiting_for_the_drain() {
    let plugins = PluginDir::with(&[MB]);
    // The drain timeout is 10 s: exiting well before it proves nobody waited.
    let args = ["--shutdown-delay-ms", "200", "--drain-timeout-ms", "10000"];
    let (mut host, at) = start_with_every_listener(&configs(), &plugins, &args).await;

    // An idle HTTP/2 connection that behaves: it closes once it sees GOAWAY.
    let mut h2 = connect_and_send(at.grpc, &h2_hello()).await;
    let h2_goaway = tokio::spawn(async move {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match h2.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
            }
            if h2_frames(&bytes).iter().any(|f| f.0 == H2_GOAWAY) {
                return true;
            }
        }
    });
    let mut open = vec![
        ("gRPC, nothing sent", connect(at.grpc).await),
        (
            "gRPC, half a preface",
            connect_and_send(at.grpc, &H2_PREFACE[..10]).await,
        ),
        (
            "HTTP idle",
            http1_keepalive(at.http, &nginx_check("fast")).await.0,
        ),
        (
            "HTTP partial head",
            connect_and_send(at.http, b"GET /auth/fast HTTP/1.1\r\nHost: x\r\n").await,
        ),
        (
            "admin idle",
            http1_keepalive(at.admin, ADMIN_HEALTHZ).await.0,
        ),
        (
            "admin partial head",
            connect_and_send(at.admin, b"GET /healthz HTTP/1.1\r\n").await,
        ),
        ("SPOE before HELLO", connect(at.spoe).await),
    ];
    let mut spoe_idle = spoe_session(at.spoe).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let took = terminate_timed(&mut host).await;
    assert!(
        took < Duration::from_millis(200 + 2500),
        "exited after {took:?}: idle connections held the drain"
    );
    assert!(h2_goaway.await.expect("task"), "idle HTTP/2 got GOAWAY");
    let goodbye = read_spoe_frame(&mut spoe_idle).await;
    assert_eq!(
        goodbye.as_ref().and_then(|f| f.first()),
        Some(&kind::AGENT_DISCONNECT),
        "idle SPOE connection got AGENT-DISCONNECT"
    );
    for (what, stream) in &mut open {
        let closed = wait_closed(stream, Duration::from_secs(1)).await;
        assert!(closed.after.is_some(), "{what}: still open");
    }
}
