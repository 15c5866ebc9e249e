use gatehouse_plugin_sdk::Request;

use crate::redirect::{Origin, Policy};

fn req(scheme: &str, host: &str, path: &str) -> Request {
    Request::builder()
        .scheme(scheme)
        .host(host)
        .path(path)
        .build()
}

#[test]
fn same_origin_returns_only() {
    let policy = Policy::default();
    let origin = Origin::of("https://app.test").expect("origin");
    assert!(policy.allows("https://app.test/a?b=1", &origin));
    assert!(!policy.allows("https://evil.test/a", &origin));
    assert!(
        !policy.allows("http://app.test/a", &origin),
        "scheme is part of the origin"
    );
    assert!(!policy.allows("https://app.test.evil.test/", &origin));
    assert!(!policy.allows("//evil.test/a", &origin));
    assert!(!policy.allows("javascript:alert(1)", &origin));
    assert!(!policy.allows("https://app.test/\r\nx", &origin));
    assert!(!policy.allows("https://user@evil.test/", &origin));
}

#[test]
fn allowlisted_hosts_and_a_fixed_origin() {
    let policy = Policy {
        fixed_origin: Origin::of("https://gw.test/oauth2/callback"),
        allowed_hosts: vec!["docs.test".into()],
    };
    let any = Origin::of("https://spoofed.test").expect("origin");
    assert!(policy.allows("https://gw.test/x", &any));
    assert!(policy.allows("https://docs.test:8443/x", &any));
    assert!(
        !policy.allows("https://spoofed.test/x", &any),
        "the request's Host is not trusted"
    );
}

#[test]
fn return_url_is_the_requests_own_url() {
    let policy = Policy::default();
    assert_eq!(
        policy.return_url(&req("http", "localhost:8080", "/app?x=1")),
        Some("http://localhost:8080/app?x=1".into())
    );
    assert_eq!(policy.return_url(&req("https", "a b", "/")), None);
    assert_eq!(
        policy.return_url(&req("https", "app.test", "//evil.test/")),
        None
    );
    assert_eq!(
        policy.return_url(&req("", "app.test", "/")),
        Some("https://app.test/".into()),
        "no scheme (SPOE): https"
    );
    let fixed = Policy {
        fixed_origin: Origin::of("https://gw.test/cb"),
        allowed_hosts: vec![],
    };
    assert_eq!(fixed.return_url(&req("https", "evil.test", "/")), None);
}
