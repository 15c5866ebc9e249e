//! Raw-socket clients for connection hygiene and shutdown tests: bare HTTP/2
//! frames, HTTP/1 bytes, SPOP frames, and "how long until the server closed".

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use gatehouse::frontend::spoe::frame::{
    encode_control_frame, encode_frame, encode_kv_list, kind, put_bytes, put_value, Frame, Value,
    FLAG_FIN,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// The HTTP/2 client connection preface.
pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// HTTP/2 frame types used here.
pub const H2_SETTINGS: u8 = 4;
/// GOAWAY frame type.
pub const H2_GOAWAY: u8 = 7;
/// SETTINGS_MAX_CONCURRENT_STREAMS.
pub const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 3;

/// Connects to `addr`.
pub async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.expect("connect")
}

/// Connects to `addr` and sends `bytes`.
pub async fn connect_and_send(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut stream = connect(addr).await;
    stream.write_all(bytes).await.expect("send");
    stream
}

/// One HTTP/2 frame.
pub fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len())
        .expect("small frame")
        .to_be_bytes();
    let mut out = vec![len[1], len[2], len[3], kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// The client preface followed by an empty SETTINGS frame.
pub fn h2_hello() -> Vec<u8> {
    let mut out = H2_PREFACE.to_vec();
    out.extend(h2_frame(H2_SETTINGS, 0, 0, &[]));
    out
}

/// The complete frames at the start of `bytes` as (type, flags, stream, payload).
pub fn h2_frames(mut bytes: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
    let mut frames = Vec::new();
    while bytes.len() >= 9 {
        let len = usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
        if bytes.len() < 9 + len {
            break;
        }
        let stream = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) & 0x7fff_ffff;
        frames.push((bytes[3], bytes[4], stream, bytes[9..9 + len].to_vec()));
        bytes = &bytes[9 + len..];
    }
    frames
}

/// The (id, value) pairs of a SETTINGS payload.
pub fn h2_settings(payload: &[u8]) -> Vec<(u16, u32)> {
    payload
        .chunks_exact(6)
        .map(|c| {
            (
                u16::from_be_bytes([c[0], c[1]]),
                u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
            )
        })
        .collect()
}

/// What a connection saw until the server closed it (or `limit` passed).
#[derive(Debug)]
pub struct Closed {
    /// Everything the server sent.
    pub bytes: Vec<u8>,
    /// When it closed, from the start of the wait; `None`: still open at `limit`.
    pub after: Option<Duration>,
}

/// Reads (and keeps) what the server sends until it closes the connection
/// (EOF or reset) or `limit` passes.
pub async fn wait_closed(stream: &mut TcpStream, limit: Duration) -> Closed {
    let started = Instant::now();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return Closed { bytes, after: None },
            Ok(Ok(0)) | Ok(Err(_)) => {
                return Closed {
                    bytes,
                    after: Some(started.elapsed()),
                }
            }
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
        }
    }
}

/// HAProxy's HELLO frame.
pub fn spoe_hello() -> Vec<u8> {
    encode_control_frame(
        kind::HAPROXY_HELLO,
        encode_kv_list(&[
            ("supported-versions", Value::str("2.0")),
            ("max-frame-size", Value::Uint32(16380)),
            ("capabilities", Value::str("pipelining,async")),
            ("engine-id", Value::str("test")),
        ]),
    )
}

/// A SPOE connection after HELLO and the agent's AGENT-HELLO.
pub async fn spoe_session(addr: SocketAddr) -> TcpStream {
    let mut stream = connect_and_send(addr, &spoe_hello()).await;
    let frame = read_spoe_frame(&mut stream).await.expect("AGENT-HELLO");
    assert_eq!(frame.first(), Some(&kind::AGENT_HELLO), "AGENT-HELLO");
    stream
}

/// The next SPOP frame (type byte first), or `None` when the connection closed.
pub async fn read_spoe_frame(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await.ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).await.ok()?;
    Some(body)
}

/// A NOTIFY frame with one `check-request` message carrying `args`.
pub fn spoe_notify(stream_id: u64, args: &[(&str, Value)]) -> Vec<u8> {
    let mut payload = Vec::new();
    put_bytes(&mut payload, b"check-request");
    payload.push(u8::try_from(args.len()).expect("few args"));
    for (name, value) in args {
        put_bytes(&mut payload, name.as_bytes());
        put_value(&mut payload, value);
    }
    encode_frame(&Frame {
        kind: kind::NOTIFY,
        flags: FLAG_FIN,
        stream_id,
        frame_id: 1,
        payload,
    })
}

/// A NOTIFY asking about `GET /` for auth config `config_id`.
pub fn spoe_check(stream_id: u64, config_id: &str) -> Vec<u8> {
    spoe_notify(
        stream_id,
        &[
            ("method", Value::str("GET")),
            ("path", Value::str("/")),
            ("config_id", Value::str(config_id)),
        ],
    )
}

/// Resident memory of process `pid` in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

/// Sends one keep-alive HTTP/1.1 `request` and reads its whole response
/// (head and `content-length` body); returns the connection, still open, and
/// the status.
pub async fn http1_keepalive(addr: SocketAddr, request: &str) -> (TcpStream, u16) {
    let mut stream = connect_and_send(addr, request.as_bytes()).await;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).await.expect("response");
        assert!(n > 0, "closed before a response");
        bytes.extend_from_slice(&buf[..n]);
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while bytes.len() < head_end + length {
        let n = stream.read(&mut buf).await.expect("body");
        assert!(n > 0, "closed inside the body");
        bytes.extend_from_slice(&buf[..n]);
    }
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (stream, status)
}

/// Connects to `addr` and sends `bytes` one byte every `every` from a task of
/// its own (a slowloris); the read half is returned to watch for the close.
pub async fn trickle(
    addr: SocketAddr,
    bytes: &'static [u8],
    every: Duration,
) -> tokio::net::tcp::OwnedReadHalf {
    let (reader, mut writer) = connect(addr).await.into_split();
    tokio::spawn(async move {
        for byte in bytes {
            if writer.write_all(std::slice::from_ref(byte)).await.is_err() {
                return;
            }
            tokio::time::sleep(every).await;
        }
    });
    reader
}

/// [`wait_closed`] for a read half.
pub async fn wait_read_closed(
    reader: &mut tokio::net::tcp::OwnedReadHalf,
    limit: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, reader.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// The addresses of a host started with every listener.
#[derive(Debug, Clone, Copy)]
pub struct Listeners {
    /// `--listen` (gRPC).
    pub grpc: SocketAddr,
    /// `--http-listen` (nginx mode).
    pub http: SocketAddr,
    /// `--spoe-listen`.
    pub spoe: SocketAddr,
    /// `--admin-listen`.
    pub admin: SocketAddr,
}

/// Starts a host serving `config` on all four listeners (the HTTP frontend
/// in nginx mode), with `extra` flags.
pub async fn start_with_every_listener(
    config: &str,
    plugins: &crate::PluginDir,
    extra: &[&str],
) -> (crate::Host, Listeners) {
    let (http, spoe) = (crate::free_addr(), crate::free_addr());
    let (http_arg, spoe_arg) = (http.to_string(), spoe.to_string());
    let mut args = vec![
        "--http-listen",
        &http_arg,
        "--http-gateway",
        "nginx",
        "--spoe-listen",
        &spoe_arg,
    ];
    args.extend_from_slice(extra);
    let host = crate::Host::start(config, plugins, &args)
        .await
        .unwrap_or_else(|e| panic!("host did not start: {e:?}"));
    let listeners = Listeners {
        grpc: host.addr,
        http,
        spoe,
        admin: host.admin,
    };
    (host, listeners)
}

/// A keep-alive nginx-style check of auth config `config_id`.
pub fn nginx_check(config_id: &str) -> String {
    format!(
        "GET /auth/{config_id} HTTP/1.1\r\nHost: gatehouse\r\nX-Original-URI: /\r\n\
         X-Original-Method: GET\r\nX-Forwarded-Host: app.test\r\nX-Forwarded-Proto: http\r\n\r\n"
    )
}

/// A keep-alive admin request for `/healthz`.
pub const ADMIN_HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nHost: admin\r\n\r\n";
