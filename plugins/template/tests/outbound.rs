//! The outbound I/O example (`examples/outbound.rs`, built as
//! `target/<profile>/examples/liboutbound.so`) in the real host, asking a
//! small HTTP service run by this test on loopback.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpListener},
    time::Duration,
};

use gatehouse_tests::{auth_config, check_request, step, target_dir, verdict, Host, PluginDir};

/// Answers 200 to requests carrying `authorization: Bearer good`, 403 to
/// others, and never answers requests for `/slow`. Runs until the test exits.
fn authorization_service() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
            if text.starts_with("get /slow ") {
                std::thread::sleep(Duration::from_secs(2));
                continue;
            }
            let status = if text.contains("authorization: bearer good\r\n") {
                "200 OK"
            } else {
                "403 Forbidden"
            };
            let reply =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    addr
}

#[tokio::test]
async fn outbound_example_asks_the_service_and_fails_closed() {
    let plugins = PluginDir::with(&[]);
    let built = target_dir().join("examples/liboutbound.so");
    std::fs::copy(&built, plugins.path().join("liboutbound.so")).unwrap_or_else(|e| {
        panic!(
            "{} is not built ({e}): run `cargo build --workspace --all-targets`",
            built.display()
        )
    });
    let service = authorization_service();
    let config = [
        auth_config(
            "ext",
            &[step(
                "ext",
                "liboutbound.so",
                "ExternalCheck",
                &format!("{{url: 'http://{service}/check'}}"),
            )],
        ),
        auth_config(
            "slow",
            &[step(
                "slow",
                "liboutbound.so",
                "ExternalCheck",
                &format!("{{url: 'http://{service}/slow', timeoutMs: 100}}"),
            )],
        ),
    ]
    .concat();
    let host = match Host::start(&config, &plugins, &[]).await {
        Ok(host) => host,
        Err(failure) => panic!("gatehouse did not start: {failure:?}"),
    };
    let ask = |id: &'static str, token: &'static str| {
        let host = &host;
        async move {
            verdict(
                &host
                    .check(check_request(Some(id), "/", &[("authorization", token)]))
                    .await,
            )
        }
    };

    assert_eq!(ask("ext", "Bearer good").await.denied_status(), None);
    assert_eq!(ask("ext", "Bearer bad").await.denied_status(), Some(403));
    assert_eq!(
        ask("slow", "Bearer good").await.denied_status(),
        Some(403),
        "a timeout denies"
    );
    assert!(
        host.logs().contains("authorization service timed out"),
        "{}",
        host.logs()
    );
}
