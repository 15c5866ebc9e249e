//! The same chains behind the two other frontends of the real binary: HTTP
//! forward-auth (`--http-listen`) and the HAProxy SPOE agent (`--spoe-listen`),
//! with the demo auth configs and plugins.

use std::net::SocketAddr;

use gatehouse::frontend::spoe::frame::{
    decode_frame, decode_kv_list, encode_control_frame, encode_frame, encode_kv_list, kind,
    put_bytes, read_frame, Frame, Reader, Value,
};
use gatehouse_tests::{
    free_addr, http_exchange,
    raw::{read_spoe_frame, spoe_notify as notify, spoe_session},
    repo_root, Host, PluginDir,
};
use tokio::{
    io::{AsyncWriteExt, BufReader},
    net::TcpStream,
};

async fn demo_host(http: SocketAddr, spoe: SocketAddr) -> (Host, PluginDir) {
    demo_host_with(
        http,
        spoe,
        &["--http-gateway", "nginx", "--xff-trusted-hops", "1"],
    )
    .await
}

async fn demo_host_with(http: SocketAddr, spoe: SocketAddr, extra: &[&str]) -> (Host, PluginDir) {
    let plugins = PluginDir::with(&["librequired_header.so", "libset_headers.so"]);
    let config = std::fs::read_to_string(repo_root().join("deploy/demo/auth-configs.yaml"))
        .expect("demo auth configs");
    let (http, spoe) = (http.to_string(), spoe.to_string());
    let mut args = vec![
        "--http-listen",
        http.as_str(),
        "--spoe-listen",
        spoe.as_str(),
    ];
    args.extend_from_slice(extra);
    match Host::start(&config, &plugins, &args).await {
        Ok(host) => (host, plugins),
        Err(e) => panic!("host did not start: {e:?}"),
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A check as deploy/nginx/nginx.conf sends it for `method uri`, to
/// `/auth/<config>`, with `extra` header lines (each ending in CRLF).
fn nginx_check(config: &str, method: &str, uri: &str, extra: &str) -> String {
    format!(
        "GET /auth/{config} HTTP/1.1\r\nHost: gatehouse_auth\r\nX-Original-URI: {uri}\r\n\
         X-Original-Method: {method}\r\nX-Forwarded-Host: app.test\r\n\
         X-Forwarded-Proto: http\r\nX-Forwarded-For: 203.0.113.7\r\n{extra}Connection: close\r\n\r\n"
    )
}

#[tokio::test]
async fn http_forward_auth_allows_with_headers_and_denies_with_the_plugin_status() {
    let (http, spoe) = (free_addr(), free_addr());
    let (host, _plugins) = demo_host(http, spoe).await;

    // nginx auth_request: original request in X-Original-*, config in the path.
    let check = nginx_check(
        "gatehouse.demo",
        "GET",
        "/demo/x",
        "X-Team: platform\r\nX-Internal-Debug: 1\r\n",
    );
    let (status, headers, _) = http_exchange(http, &check);
    assert_eq!(status, 200, "{headers:?}");
    assert_eq!(header(&headers, "x-gatehouse-team"), Some("verified"));
    assert_eq!(header(&headers, "x-gatehouse-chain"), Some("demo"));
    assert_eq!(header(&headers, "x-gatehouse-checked"), Some("true"));
    assert_eq!(
        header(&headers, "x-gatehouse-remove"),
        Some("x-internal-debug")
    );
    assert_eq!(header(&headers, "x-gatehouse-user-id"), Some("demo-user"));

    // Denied with the plugin's status and body.
    let (status, _, body) = http_exchange(http, &nginx_check("gatehouse.demo", "GET", "/demo", ""));
    assert_eq!((status, body.as_str()), (401, "missing header x-team"));

    // Repeated copies are all judged: one outside the allowed values denies.
    let check = nginx_check(
        "gatehouse.demo",
        "GET",
        "/demo",
        "X-Team: platform\r\nX-Team: intern\r\n",
    );
    assert_eq!(http_exchange(http, &check).0, 403);

    // A client's x-gatehouse-config-id names nothing: no id in the path, denied;
    // with one in the path, the path's chain judges.
    let check = "GET /auth/ HTTP/1.1\r\nHost: gatehouse_auth\r\nX-Original-URI: /merge\r\n\
                 X-Original-Method: GET\r\nX-Forwarded-Host: app.test\r\nX-Forwarded-Proto: http\r\n\
                 X-Forwarded-For: 203.0.113.7\r\nX-Gatehouse-Config-Id: merge-example\r\n\
                 Connection: close\r\n\r\n";
    assert_eq!(http_exchange(http, check).0, 403);
    let check = nginx_check(
        "always-deny",
        "GET",
        "/deny",
        "X-Gatehouse-Config-Id: merge-example\r\n",
    );
    assert_eq!(http_exchange(http, &check).0, 403);

    // Other modes' headers next to nginx's change nothing.
    let check = nginx_check(
        "merge-example",
        "DELETE",
        "/merge/real",
        "X-Forwarded-Uri: /public/x\r\nX-Forwarded-Method: GET\r\n",
    );
    assert_eq!(http_exchange(http, &check).0, 200);

    // No X-Original-URI (a gateway that does not set it): refused, not judged
    // on the check's own path.
    let (status, _, _) = http_exchange(
        http,
        "GET /auth/merge-example/merge HTTP/1.1\r\nHost: gatehouse\r\nX-Forwarded-Uri: /merge\r\n\
         X-Original-Method: GET\r\nX-Forwarded-Host: a\r\nX-Forwarded-Proto: http\r\n\
         X-Forwarded-For: 203.0.113.7\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 403);
    assert!(
        host.logs().contains("no x-original-uri header"),
        "{}",
        host.logs()
    );
}

#[tokio::test]
async fn http_gateway_modes_read_only_their_own_headers() {
    // Envoy HTTP mode: the replayed request is the original; X-Forwarded-Uri /
    // X-Original-URI / -Method are a client's and judge nothing.
    let (http, spoe) = (free_addr(), free_addr());
    let (_host, _plugins) = demo_host_with(http, spoe, &["--http-gateway", "envoy"]).await;
    let (status, headers, _) = http_exchange(
        http,
        "GET /auth/merge-example/merge?a=1 HTTP/1.1\r\nHost: app.test\r\none: foo\r\n\
         Connection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "one"), Some("bar, baz"));
    assert_eq!(header(&headers, "two"), Some("asd"));
    let (status, _, body) = http_exchange(
        http,
        "GET /auth/gatehouse.demo/demo HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-Uri: /public\r\n\
         X-Original-URI: /public\r\nX-Gatehouse-Config-Id: merge-example\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((status, body.as_str()), (401, "missing header x-team"));
    let (status, _, _) = http_exchange(
        http,
        "GET /check HTTP/1.1\r\nHost: g\r\nX-Gatehouse-Config-Id: merge-example\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 403);

    // Traefik: X-Forwarded-*; an X-Original-URI is no substitute (refused).
    let (http, spoe) = (free_addr(), free_addr());
    let (_host, _plugins) = demo_host_with(
        http,
        spoe,
        &["--http-gateway", "traefik", "--xff-trusted-hops", "1"],
    )
    .await;
    let traefik = |uri_header: &str| {
        format!(
            "GET /auth/merge-example HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Method: GET\r\n\
             {uri_header}: /merge\r\nX-Forwarded-Host: app.test\r\nX-Forwarded-Proto: http\r\n\
             X-Forwarded-For: 198.51.100.4\r\nConnection: close\r\n\r\n"
        )
    };
    assert_eq!(http_exchange(http, &traefik("X-Forwarded-Uri")).0, 200);
    assert_eq!(http_exchange(http, &traefik("X-Original-URI")).0, 403);
}

#[tokio::test]
async fn http_listen_without_a_gateway_does_not_start() {
    let plugins = PluginDir::with(&["librequired_header.so", "libset_headers.so"]);
    let config = std::fs::read_to_string(repo_root().join("deploy/demo/auth-configs.yaml"))
        .expect("demo auth configs");
    let http = free_addr().to_string();
    let failure = match Host::start(&config, &plugins, &["--http-listen", &http]).await {
        Ok(_) => panic!("started without --http-gateway"),
        Err(failure) => failure,
    };
    assert_ne!(failure.code, Some(0));
    assert!(failure.log.contains("--http-gateway"), "{}", failure.log);
    let failure = match Host::start(
        &config,
        &plugins,
        &["--http-listen", &http, "--http-gateway", "haproxy"],
    )
    .await
    {
        Ok(_) => panic!("started with an unknown gateway"),
        Err(failure) => failure,
    };
    assert!(
        failure.log.contains("nginx, traefik, caddy, envoy"),
        "{}",
        failure.log
    );
}

/// The agent's next frame, which must arrive and be valid.
async fn next_frame<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> Frame {
    read_frame(reader, 16380)
        .await
        .expect("read")
        .expect("a frame")
        .expect("valid")
}

/// The agent's next frame: it must be of `want` kind; its key-value payload.
async fn next_kv<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    want: u8,
) -> Vec<(String, Value)> {
    let frame = next_frame(reader).await;
    assert_eq!(frame.kind, want);
    decode_kv_list(&frame.payload).expect("kv")
}

fn headers_bin(headers: &[(&str, &str)]) -> Value {
    let mut out = Vec::new();
    for (n, v) in headers.iter().chain(&[("", "")]) {
        put_bytes(&mut out, n.as_bytes());
        put_bytes(&mut out, v.as_bytes());
    }
    Value::Bin(out)
}

/// The SET-VAR actions of an ACK payload as (name, value).
fn set_vars(payload: &[u8]) -> Vec<(String, Value)> {
    let mut r = Reader::new(payload);
    let mut vars = Vec::new();
    while !r.is_empty() {
        assert_eq!(r.u8(), Ok(1), "SET-VAR");
        assert_eq!(r.u8(), Ok(3), "three arguments");
        assert_eq!(r.u8(), Ok(2), "transaction scope");
        let name = r.string().expect("name");
        vars.push((name, r.value().expect("value")));
    }
    vars
}

fn var<'a>(vars: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    vars.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

#[tokio::test]
async fn spoe_agent_negotiates_and_answers_pipelined_notifies() {
    let (http, spoe) = (free_addr(), free_addr());
    let (_host, _plugins) = demo_host(http, spoe).await;
    let stream = TcpStream::connect(spoe).await.expect("connect SPOE");
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);

    let hello = encode_kv_list(&[
        ("supported-versions", Value::str("2.0")),
        ("max-frame-size", Value::Uint32(16380)),
        ("capabilities", Value::str("pipelining,async")),
        ("engine-id", Value::str("test")),
    ]);
    let hello = encode_control_frame(kind::HAPROXY_HELLO, hello);
    writer.write_all(&hello).await.expect("HELLO");
    let reply = next_kv(&mut reader, kind::AGENT_HELLO).await;
    assert!(reply.contains(&("version".into(), Value::str("2.0"))));
    assert!(reply.contains(&("max-frame-size".into(), Value::Uint32(16380))));
    assert!(reply.contains(&("capabilities".into(), Value::str("pipelining,async"))));

    // Two requests in flight at once on the one connection.
    let mut both = notify(
        7,
        &[
            ("method", Value::str("GET")),
            ("path", Value::str("/demo")),
            (
                "headers",
                headers_bin(&[("host", "app.test"), ("x-team", "platform")]),
            ),
            ("src", Value::Ipv4([127, 0, 0, 1].into())),
            ("config_id", Value::str("gatehouse.demo")),
        ],
    );
    both.extend(notify(
        8,
        &[
            ("method", Value::str("GET")),
            ("path", Value::str("/demo")),
            ("headers", headers_bin(&[("host", "app.test")])),
            ("config_id", Value::str("gatehouse.demo")),
        ],
    ));
    writer.write_all(&both).await.expect("NOTIFY x2");
    let mut acks = std::collections::HashMap::new();
    for _ in 0..2 {
        let ack = next_frame(&mut reader).await;
        assert_eq!((ack.kind, ack.frame_id), (kind::ACK, 1));
        acks.insert(ack.stream_id, set_vars(&ack.payload));
    }
    let allowed = &acks[&7];
    assert_eq!(var(allowed, "allowed"), Some(&Value::Bool(true)));
    assert_eq!(
        var(allowed, "hdr_x_gatehouse_team"),
        Some(&Value::str("verified"))
    );
    assert_eq!(
        var(allowed, "remove"),
        Some(&Value::str("x-internal-debug"))
    );
    assert_eq!(var(allowed, "user"), Some(&Value::str("demo-user")));
    let denied = &acks[&8];
    assert_eq!(var(denied, "allowed"), Some(&Value::Bool(false)));
    assert_eq!(var(denied, "status"), Some(&Value::Uint32(401)));
    assert_eq!(
        var(denied, "body"),
        Some(&Value::str("missing header x-team"))
    );

    // HAProxy says goodbye; the agent answers AGENT-DISCONNECT status 0.
    let bye = encode_control_frame(
        kind::HAPROXY_DISCONNECT,
        encode_kv_list(&[
            ("status-code", Value::Uint32(0)),
            ("message", Value::str("bye")),
        ]),
    );
    writer.write_all(&bye).await.expect("DISCONNECT");
    let reply = next_kv(&mut reader, kind::AGENT_DISCONNECT).await;
    assert!(reply.contains(&("status-code".into(), Value::Uint32(0))));
}

#[tokio::test]
async fn spoe_agent_refuses_oversized_and_fragmented_frames() {
    let (http, spoe) = (free_addr(), free_addr());
    let (_host, _plugins) = demo_host(http, spoe).await;

    // A length over the max frame size in place of HELLO: DISCONNECT status 3.
    let mut stream = TcpStream::connect(spoe).await.expect("connect SPOE");
    stream
        .write_all(&u32::MAX.to_be_bytes())
        .await
        .expect("write");
    let mut reader = BufReader::new(stream);
    let reply = next_kv(&mut reader, kind::AGENT_DISCONNECT).await;
    assert!(reply.contains(&("status-code".into(), Value::Uint32(3))));

    // A NOTIFY without FIN (fragmentation was not negotiated): status 10.
    let mut stream = TcpStream::connect(spoe).await.expect("connect SPOE");
    let hello = encode_kv_list(&[
        ("supported-versions", Value::str("2.0")),
        ("max-frame-size", Value::Uint32(1024)),
        ("capabilities", Value::str("pipelining,fragmentation")),
    ]);
    let mut bytes = encode_control_frame(kind::HAPROXY_HELLO, hello);
    bytes.extend(encode_frame(&Frame {
        kind: kind::NOTIFY,
        flags: 0,
        stream_id: 1,
        frame_id: 1,
        payload: vec![1, b'x', 0],
    }));
    stream.write_all(&bytes).await.expect("write");
    let mut reader = BufReader::new(stream);
    let hello = next_kv(&mut reader, kind::AGENT_HELLO).await;
    assert!(hello.contains(&("max-frame-size".into(), Value::Uint32(1024))));
    assert!(hello.contains(&("capabilities".into(), Value::str("pipelining"))));
    let reply = next_kv(&mut reader, kind::AGENT_DISCONNECT).await;
    assert!(reply.contains(&("status-code".into(), Value::Uint32(10))));
}

#[tokio::test]
async fn spoe_max_frame_size_caps_what_the_agent_negotiates_and_accepts() {
    let (http, spoe) = (free_addr(), free_addr());
    let extra = ["--http-gateway", "nginx", "--spoe-max-frame-size", "512"];
    let (_host, _plugins) = demo_host_with(http, spoe, &extra).await;
    let mut stream = TcpStream::connect(spoe).await.expect("connect SPOE");
    let hello = encode_kv_list(&[
        ("supported-versions", Value::str("2.0")),
        ("max-frame-size", Value::Uint32(16380)),
        ("capabilities", Value::str("pipelining")),
    ]);
    let mut bytes = encode_control_frame(kind::HAPROXY_HELLO, hello);
    // A NOTIFY of 600 bytes: within HAProxy's 16380, over the agent's 512.
    bytes.extend(notify(1, &[("path", Value::str(&"/x".repeat(290)))]));
    stream.write_all(&bytes).await.expect("write");
    let mut reader = BufReader::new(stream);
    let hello = next_kv(&mut reader, kind::AGENT_HELLO).await;
    assert!(
        hello.contains(&("max-frame-size".into(), Value::Uint32(512))),
        "{hello:?}"
    );
    let reply = next_kv(&mut reader, kind::AGENT_DISCONNECT).await;
    assert!(
        reply.contains(&("status-code".into(), Value::Uint32(3))),
        "{reply:?}"
    );
}

/// An auth config `name` of one SetHeaders step with `config` (YAML flow map).
fn set_headers_config(name: &str, config: &str) -> String {
    format!(
        "apiVersion: enterprise.gloo.solo.io/v1\nkind: AuthConfig\nmetadata: {{name: {name}}}\n\
         spec:\n  configs:\n    - pluginAuth:\n        name: step\n        \
         pluginFileName: libset_headers.so\n        exportedSymbolName: SetHeaders\n        \
         config: {config}\n"
    )
}

/// `n` Set-Cookie response headers `c1=v` … as a YAML flow list.
fn cookie_list(n: usize) -> String {
    let items: Vec<String> = (1..=n)
        .map(|i| format!("{{name: Set-Cookie, value: \"c{i}=v; Path=/\"}}"))
        .collect();
    format!("[{}]", items.join(", "))
}

#[tokio::test]
async fn spoe_sends_every_set_cookie_and_never_part_of_a_decision() {
    let configs = [
        set_headers_config("two", &format!("{{responseHeaders: {}}}", cookie_list(2))),
        set_headers_config(
            "redirect",
            &format!(
                "{{deny: {{status: 302}}, responseHeaders: [{{name: location, value: /back}}, {}]}}",
                cookie_list(2).trim_matches(['[', ']'])
            ),
        ),
        set_headers_config(
            "too-many",
            &format!("{{responseHeaders: {}}}", cookie_list(17)),
        ),
        set_headers_config(
            "too-big",
            &format!(
                "{{headers: [{{name: x-big, value: {}}}], removeHeaders: [x-internal-debug]}}",
                "b".repeat(17_000)
            ),
        ),
    ]
    .join("---\n");
    let plugins = PluginDir::with(&["libset_headers.so"]);
    let spoe = free_addr();
    let spoe_arg = spoe.to_string();
    let host = Host::start(&configs, &plugins, &["--spoe-listen", spoe_arg.as_str()]).await;
    let _host = host.unwrap_or_else(|e| panic!("host did not start: {e:?}"));
    let mut stream = spoe_session(spoe).await;
    let mut answers = Vec::new();
    for (id, config) in [(1, "two"), (2, "redirect"), (3, "too-many"), (4, "too-big")] {
        let ask = notify(
            id,
            &[("path", Value::str("/")), ("config_id", Value::str(config))],
        );
        stream.write_all(&ask).await.expect("NOTIFY");
        let body = read_spoe_frame(&mut stream).await.expect("ACK");
        let ack = decode_frame(&body).expect("valid ACK");
        assert_eq!((ack.kind, ack.stream_id), (kind::ACK, id));
        answers.push(set_vars(&ack.payload));
    }
    let cookie = |i: usize| Some(Value::str(&format!("c{i}=v; Path=/")));
    // Allowed: both cookies, each in its own variable.
    assert_eq!(var(&answers[0], "allowed"), Some(&Value::Bool(true)));
    assert_eq!(var(&answers[0], "rsp_hdr_set_cookie").cloned(), cookie(1));
    assert_eq!(var(&answers[0], "rsp_hdr_set_cookie_2").cloned(), cookie(2));
    // Denied with a redirect: the Location and both cookies.
    assert_eq!(var(&answers[1], "status"), Some(&Value::Uint32(302)));
    assert_eq!(
        var(&answers[1], "rsp_hdr_location"),
        Some(&Value::str("/back"))
    );
    assert_eq!(var(&answers[1], "rsp_hdr_set_cookie").cloned(), cookie(1));
    assert_eq!(var(&answers[1], "rsp_hdr_set_cookie_2").cloned(), cookie(2));
    // 17 copies (over the bound of 16) and an ACK over the frame size: denied
    // with 500, no header at all (an allow never loses its `remove`).
    for answer in &answers[2..] {
        assert_eq!(
            var(answer, "allowed"),
            Some(&Value::Bool(false)),
            "{answer:?}"
        );
        assert_eq!(var(answer, "status"), Some(&Value::Uint32(500)));
        assert!(
            !answer
                .iter()
                .any(|(n, _)| n.starts_with("rsp_hdr_") || n.starts_with("hdr_") || n == "remove"),
            "{answer:?}"
        );
    }
}
