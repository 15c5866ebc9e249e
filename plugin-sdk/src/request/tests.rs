use gatehouse_plugin_api::{
    abi_stable::std_types::{RStr, RVec},
    AuthRequest, Peer as AbiPeer,
};

use super::*;
use crate::{allow, testing, Error, Plugin, Response, ResponseExt, ResponseView};

fn two_values() -> Request {
    Request::builder()
        .header("X-A", "1")
        .header("x-b", "other")
        .header("x-a", "2")
        .build()
}

#[test]
fn header_names_match_in_any_case_and_the_builder_lower_cases_them() {
    let r = two_values();
    assert_eq!(r.header("X-A"), Some("1"));
    assert_eq!(r.header("x-B"), Some("other"));
    assert_eq!(r.header("x-c"), None);
    assert_eq!(
        r.header_pairs().collect::<Vec<_>>(),
        [("x-a", "1"), ("x-b", "other"), ("x-a", "2")]
    );
}

#[test]
fn headers_yields_every_copy_in_order() {
    let r = two_values();
    assert_eq!(r.headers("x-a").collect::<Vec<_>>(), ["1", "2"]);
    assert_eq!(r.headers("X-A").count(), 2);
    assert_eq!(r.headers("x-c").count(), 0);
}

#[test]
fn header_lookup_ignores_case_in_the_hosts_data_too() {
    // The host lower-cases names; a view of other data still matches.
    let mut abi = AuthRequest::default();
    abi.headers.push(gatehouse_plugin_api::Header {
        name: "Authorization".into(),
        value: "Bearer t".into(),
    });
    let r = Request::from_abi(&abi);
    assert_eq!(r.header("authorization"), Some("Bearer t"));
    assert_eq!(r.headers("AUTHORIZATION").collect::<Vec<_>>(), ["Bearer t"]);
}

#[test]
fn body_is_none_without_one_and_some_when_empty() {
    assert_eq!(Request::builder().build().body(), None);
    assert_eq!(Request::builder().body("").build().body(), Some(&b""[..]));
    assert_eq!(
        Request::builder().body(vec![0, 1]).build().body(),
        Some(&[0u8, 1][..])
    );
}

#[test]
fn state_reads_the_last_write_and_lists_every_entry() {
    let r = Request::builder()
        .state("user", "old")
        .state("tenant", "t1")
        .state("user", "new")
        .build();
    assert_eq!(r.state("user"), Some("new"));
    assert_eq!(r.state("nope"), None);
    assert_eq!(
        r.state_entries().collect::<Vec<_>>(),
        [("user", "old"), ("tenant", "t1"), ("user", "new")]
    );
}

#[test]
fn state_json_parses_or_names_the_key() {
    let r = Request::builder()
        .state("n", "[1,2]")
        .state("bad", "{")
        .build();
    assert_eq!(r.state_json::<Vec<u8>>("n"), Some(Ok(vec![1, 2])));
    let err = r
        .state_json::<Vec<u8>>("bad")
        .expect("present")
        .unwrap_err();
    assert!(err.starts_with("state `bad`: "), "{err}");
    assert_eq!(r.state_json::<Vec<u8>>("absent"), None);
}

#[test]
fn line_fields_path_and_query() {
    let r = Request::builder()
        .id("req-1")
        .method("POST")
        .scheme("https")
        .host("app.test:8443")
        .path("/a?x=1&key=abc&flag")
        .build();
    assert_eq!(
        (r.id(), r.method(), r.scheme(), r.host(), r.path()),
        (
            "req-1",
            "POST",
            "https",
            "app.test:8443",
            "/a?x=1&key=abc&flag"
        )
    );
    assert_eq!(r.query(), Some("x=1&key=abc&flag"));
    assert_eq!(r.query_param("key"), Some("abc"));
    assert_eq!(r.query_param("flag"), Some(""));
    assert_eq!(r.query_param("nope"), None);
    let plain = Request::builder().build();
    assert_eq!(
        (plain.method(), plain.path(), plain.query()),
        ("GET", "/", None)
    );
    assert_eq!(plain.query_param("x"), None);
}

#[test]
fn context_extensions_and_tls_sni() {
    let r = Request::builder()
        .context_extension("config_id", "ns.name")
        .context_extension("tier", "gold")
        .tls_sni("app.test")
        .build();
    assert_eq!(r.context_extension("tier"), Some("gold"));
    assert_eq!(r.context_extension("nope"), None);
    assert_eq!(
        r.context_extensions().collect::<Vec<_>>(),
        [("config_id", "ns.name"), ("tier", "gold")]
    );
    assert_eq!(r.tls_sni(), Some("app.test"));
    assert_eq!(Request::default().tls_sni(), None, "empty means absent");
}

#[test]
fn peers_say_what_is_known() {
    let r = Request::builder()
        .source(
            Peer::new("10.0.0.7", 51234)
                .with_principal("spiffe://c/client")
                .with_certificate("-----BEGIN%20CERTIFICATE-----"),
        )
        .destination(Peer::new("10.0.0.1", 8443))
        .build();
    let s = r.source();
    assert_eq!(
        (s.address(), s.port(), s.principal(), s.certificate()),
        (
            Some("10.0.0.7"),
            Some(51234),
            Some("spiffe://c/client"),
            Some("-----BEGIN%20CERTIFICATE-----")
        )
    );
    let d = r.destination();
    assert_eq!(
        (d.address(), d.port(), d.principal()),
        (Some("10.0.0.1"), Some(8443), None)
    );
    let unknown = Request::default();
    let u = unknown.source();
    assert_eq!((u.address(), u.port(), u.certificate()), (None, None, None));
    let abi = AuthRequest {
        source: AbiPeer {
            port: 70_000,
            ..AbiPeer::default()
        },
        ..AuthRequest::default()
    };
    assert_eq!(
        Request::from_abi(&abi).source().port(),
        None,
        "not a TCP port"
    );
}

#[test]
fn the_view_is_the_hosts_memory_not_a_copy() {
    let abi = AuthRequest {
        path: "/p".into(),
        body: Some(RVec::from(vec![1u8])).into(),
        ..AuthRequest::default()
    };
    let view = Request::from_abi(&abi);
    assert!(std::ptr::eq(view.as_abi(), &abi));
    assert!(std::ptr::eq(
        view.path().as_ptr(),
        abi.path.as_str().as_ptr()
    ));
    assert!(std::ptr::eq(
        view.body().expect("body").as_ptr(),
        abi.body.as_ref().into_option().expect("body").as_ptr()
    ));
}

#[test]
fn into_builder_varies_a_request() {
    let base = testing::request_to("/app", &[("cookie", "a=1")]);
    let r = base.clone().into_builder().path("/logout").build();
    assert_eq!((r.path(), r.header("cookie")), ("/logout", Some("a=1")));
    assert_eq!(base.path(), "/app");
}

#[test]
#[allow(deprecated)]
fn the_0_2_trait_still_compiles() {
    use crate::RequestExt;
    let r = two_values();
    assert_eq!(r.header_values("x-a").collect::<Vec<_>>(), ["1", "2"]);
}

/// Echoes what it reads into state, so a test sees what `authorize` saw.
struct Echo;

impl Plugin for Echo {
    type Config = serde_json::Value;

    fn new(_config: serde_json::Value) -> Result<Self, Error> {
        Ok(Echo)
    }

    async fn authorize(&self, request: &Request) -> Result<Response, Error> {
        let all = request.headers("x-a").collect::<Vec<_>>().join(",");
        let body = request.body().map(|b| b.len().to_string());
        Ok(allow()
            .set_state("x-a", &all)
            .set_state("body", body.as_deref().unwrap_or("none"))
            .set_state("user", request.state("user").unwrap_or("")))
    }
}

#[test]
fn authorize_through_the_abi_gets_the_view_of_the_hosts_request() {
    let service = crate::export::build::<Echo>(RStr::from_str("{}"), None).expect("builds");
    let abi = Request::builder()
        .header("x-a", "1")
        .header("x-a", "2")
        .body("")
        .state("user", "alice")
        .build();
    let response = testing::block_on(service.authorize(abi.as_abi()))
        .into_result()
        .expect("allowed");
    let view = |key: &str| {
        response
            .state_set
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(view("x-a").as_deref(), Some("1,2"));
    assert_eq!(view("body").as_deref(), Some("0"));
    assert_eq!(view("user").as_deref(), Some("alice"));
    let plain = testing::authorize(&Echo, &Request::default()).expect("allowed");
    assert_eq!(plain.state_set("body"), Some("none"));
}
