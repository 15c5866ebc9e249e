//! Each mode, the spoofs a client can try through its gateway, missing headers
//! and `X-Forwarded-For` hops.

use super::*;

fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
    let mut builder = axum::http::Request::builder().method(method).uri(uri);
    for (n, v) in headers {
        builder = builder.header(*n, *v);
    }
    builder.body(()).expect("request").into_parts().0
}

fn peer() -> SocketAddr {
    "10.0.0.9:5555".parse().expect("addr")
}

fn trust(gateway: Gateway, trusted_hops: usize) -> Trust {
    Trust {
        gateway,
        trusted_hops,
    }
}

fn read(gateway: Gateway, hops: usize, p: &Parts) -> Result<Request, Refusal> {
    to_request(p, peer(), b"", trust(gateway, hops))
}

fn header<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// What a client adds to fool a frontend that guesses.
const SPOOFS: &[(&str, &str)] = &[
    ("x-original-uri", "/public/o"),
    ("x-original-method", "GET"),
    ("x-forwarded-uri", "/public/f"),
    ("x-forwarded-method", "GET"),
    ("x-gatehouse-config-id", "open"),
    ("x-real-ip", "192.0.2.66"),
];

/// A check carrying every spoof, then the headers the gateway set.
fn spoofed(method: &str, uri: &str, gateway_set: &[(&str, &str)]) -> Parts {
    let all: Vec<_> = SPOOFS.iter().chain(gateway_set).copied().collect();
    parts(method, uri, &all)
}

fn nginx_set(xff: &str) -> Vec<(&str, &str)> {
    vec![
        ("host", "gatehouse_auth"),
        ("x-original-uri", "/admin/secret?x=1"),
        ("x-original-method", "DELETE"),
        ("x-forwarded-host", "app.test"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-for", xff),
        ("x-team", "platform"),
    ]
}

#[test]
fn nginx_reads_x_original_and_nothing_a_client_adds() {
    // The client's X-Original-* copies were replaced by proxy_set_header: only
    // the gateway's are left, so build the check without those two spoofs.
    let spoofs: Vec<_> = SPOOFS
        .iter()
        .filter(|(n, _)| !n.starts_with("x-original"))
        .chain(nginx_set("203.0.113.7").iter())
        .copied()
        .collect();
    let p = parts("GET", "/auth/gatehouse.demo", &spoofs);
    let r = read(Gateway::Nginx, 1, &p).expect("read");
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("DELETE", "/admin/secret?x=1")
    );
    assert_eq!((r.host.as_str(), r.scheme.as_str()), ("app.test", "https"));
    assert_eq!(r.source.address, "203.0.113.7");
    assert_eq!(r.context_extensions[CONFIG_ID_KEY], "gatehouse.demo");
    // Consumed: the chain sees the original request, not the check's headers.
    for consumed in [
        "x-original-uri",
        "x-original-method",
        "x-forwarded-host",
        "x-forwarded-for",
    ] {
        assert_eq!(header(&r, consumed), None, "{consumed}");
    }
    assert_eq!(header(&r, "host"), Some("app.test"));
    // Other modes' headers are ordinary headers, never interpreted.
    assert_eq!(header(&r, "x-forwarded-uri"), Some("/public/f"));
    assert_eq!(header(&r, "x-forwarded-method"), Some("GET"));
    assert_eq!(header(&r, "x-gatehouse-config-id"), Some("open"));
    assert_eq!(header(&r, "x-team"), Some("platform"));
}

#[test]
fn nginx_without_a_header_it_needs_is_refused_not_judged_on_the_check() {
    for missing in [
        "x-original-uri",
        "x-original-method",
        "x-forwarded-host",
        "x-forwarded-proto",
    ] {
        let set: Vec<_> = nginx_set("203.0.113.7")
            .into_iter()
            .filter(|(n, _)| *n != missing)
            .collect();
        let p = parts("GET", "/auth/gatehouse.demo", &set);
        assert_eq!(
            read(Gateway::Nginx, 1, &p).err(),
            Some(Refusal::Missing(missing))
        );
    }
    // Empty counts as missing (nginx sends "" for an unset variable).
    let mut set = nginx_set("203.0.113.7");
    set[1] = ("x-original-uri", "");
    let p = parts("GET", "/auth/gatehouse.demo", &set);
    assert_eq!(
        read(Gateway::Nginx, 0, &p).err(),
        Some(Refusal::Missing("x-original-uri"))
    );
    // A config that forgot proxy_set_header lets the client's copy through
    // next to nothing, or next to the gateway's: two copies are refused.
    let mut set = nginx_set("203.0.113.7");
    set.push(("x-original-uri", "/public/x"));
    let p = parts("GET", "/auth/gatehouse.demo", &set);
    assert_eq!(
        read(Gateway::Nginx, 1, &p).err(),
        Some(Refusal::Repeated("x-original-uri", 2))
    );
}

#[test]
fn traefik_and_caddy_read_x_forwarded_and_ignore_x_original() {
    let set = [
        ("host", "127.0.0.1:8084"),
        ("x-forwarded-method", "DELETE"),
        ("x-forwarded-uri", "/admin/secret"),
        ("x-forwarded-host", "app.test"),
        ("x-forwarded-proto", "http"),
        ("x-forwarded-for", "198.51.100.4"),
    ];
    // The gateway replaced the client's X-Forwarded-*; its X-Original-* remain.
    let spoofs: Vec<_> = SPOOFS
        .iter()
        .filter(|(n, _)| !n.starts_with("x-forwarded"))
        .chain(set.iter())
        .copied()
        .collect();
    for gateway in [Gateway::Traefik, Gateway::Caddy] {
        let p = parts("GET", "/auth/gatehouse.demo?q=1", &spoofs);
        let r = read(gateway, 1, &p).expect("read");
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("DELETE", "/admin/secret")
        );
        assert_eq!(
            (r.host.as_str(), r.source.address.as_str()),
            ("app.test", "198.51.100.4")
        );
        assert_eq!(r.context_extensions[CONFIG_ID_KEY], "gatehouse.demo");
        assert_eq!(header(&r, "x-original-uri"), Some("/public/o"));
        assert_eq!(header(&r, "x-forwarded-uri"), None);
        assert_eq!(header(&r, "host"), Some("app.test"));
        // Without X-Forwarded-Uri, an X-Original-URI is no substitute.
        let without: Vec<_> = spoofs
            .iter()
            .filter(|(n, _)| *n != "x-forwarded-uri")
            .copied()
            .collect();
        let p = parts("GET", "/auth/gatehouse.demo", &without);
        assert_eq!(
            read(gateway, 1, &p).err(),
            Some(Refusal::Missing("x-forwarded-uri"))
        );
    }
}

#[test]
fn envoy_uses_the_request_itself_and_no_forwarded_headers() {
    let p = spoofed(
        "DELETE",
        "/auth/a.b/admin/secret?q=1",
        &[("host", "e.test"), ("x-forwarded-proto", "https")],
    );
    let r = to_request(&p, peer(), b"body", trust(Gateway::Envoy, 0)).expect("read");
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("DELETE", "/admin/secret?q=1")
    );
    assert_eq!((r.host.as_str(), r.scheme.as_str()), ("e.test", "https"));
    assert_eq!(r.context_extensions[CONFIG_ID_KEY], "a.b");
    assert_eq!(r.body.as_deref(), Some(&b"body"[..]));
    assert_eq!(
        (r.source.address.as_str(), r.source.port),
        ("10.0.0.9", 5555)
    );
    // Every spoof is an ordinary header of the original request.
    for (name, value) in SPOOFS {
        assert_eq!(header(&r, name), Some(*value), "{name}");
    }
    let r = read(Gateway::Envoy, 0, &parts("GET", "/auth/a.b", &[])).expect("read");
    assert_eq!(r.path, "/");
}

#[test]
fn the_auth_config_comes_only_from_the_path() {
    for gateway in [
        Gateway::Nginx,
        Gateway::Traefik,
        Gateway::Caddy,
        Gateway::Envoy,
    ] {
        let headers = [
            ("x-original-uri", "/x"),
            ("x-original-method", "GET"),
            ("x-forwarded-uri", "/x"),
            ("x-forwarded-method", "GET"),
            ("x-forwarded-host", "h"),
            ("x-forwarded-proto", "http"),
            ("x-gatehouse-config-id", "open"),
        ];
        for uri in ["/auth/", "/check", "/auth"] {
            let r = read(gateway, 0, &parts("GET", uri, &headers)).expect("read");
            assert!(r.context_extensions.is_empty(), "{gateway:?} {uri}");
        }
        let r = read(gateway, 0, &parts("GET", "/auth/chosen/x", &headers)).expect("read");
        assert_eq!(r.context_extensions[CONFIG_ID_KEY], "chosen");
    }
}

#[test]
fn x_forwarded_for_is_read_with_the_trusted_hops_from_the_right() {
    let with = |xff: &[&str]| {
        let headers: Vec<_> = xff.iter().map(|v| ("x-forwarded-for", *v)).collect();
        parts("GET", "/auth/a", &headers)
    };
    let spoofed = with(&["192.0.2.66, 203.0.113.7"]);
    let client = |hops, p: &Parts| read(Gateway::Envoy, hops, p).map(|r| r.source.address);
    // 0: the TCP peer, whatever the header says.
    assert_eq!(client(0, &spoofed).as_deref(), Ok("10.0.0.9"));
    // 1: what the gateway appended; the client's own entry is never taken.
    assert_eq!(client(1, &spoofed).as_deref(), Ok("203.0.113.7"));
    assert_eq!(client(2, &spoofed).as_deref(), Ok("192.0.2.66"));
    // Repeated headers are one list, in order; empty entries do not count.
    let repeated = with(&["192.0.2.66,", "203.0.113.7,198.51.100.1"]);
    assert_eq!(client(1, &repeated).as_deref(), Ok("198.51.100.1"));
    assert_eq!(client(2, &repeated).as_deref(), Ok("203.0.113.7"));
    assert_eq!(
        client(1, &with(&["2001:db8::1"])).as_deref(),
        Ok("2001:db8::1")
    );
    // Fewer entries than trusted hops, or a non-address: refused.
    assert_eq!(client(3, &spoofed), Err(Refusal::TooFewHops(2, 3)));
    assert_eq!(client(1, &with(&[])), Err(Refusal::TooFewHops(0, 1)));
    assert_eq!(
        client(1, &with(&["unknown"])),
        Err(Refusal::NotAnAddress("unknown".into()))
    );
    // X-Real-IP is never the client.
    let p = parts("GET", "/auth/a", &[("x-real-ip", "192.0.2.66")]);
    assert_eq!(client(0, &p).as_deref(), Ok("10.0.0.9"));
}

#[test]
fn repeated_headers_reach_the_chain_joined() {
    let p = parts(
        "GET",
        "/auth/a/x",
        &[
            ("x-team", "platform"),
            ("accept", "*/*"),
            ("x-team", "intern"),
        ],
    );
    let r = read(Gateway::Envoy, 0, &p).expect("read");
    assert_eq!(header(&r, "x-team"), Some("platform, intern"));
    let names: Vec<_> = r.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["accept", "x-team"]);
}
