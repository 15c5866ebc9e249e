//! Envoy's `metadata_context` and route metadata reach interface-1.3 plugins
//! (the real binary, real `.so` files, gRPC over a socket): `libmisbehaving.so`'s
//! `Metadata` copies `Context::metadata_context()` / `route_metadata()` into
//! upstream headers, so each test sees exactly the JSON text the plugin got.
//! A 1.2 plugin in the same chain is unaffected; metadata over the host's
//! 64 KiB cap is refused before any plugin runs; the HTTP frontend has none.

use std::collections::HashMap;

use envoy_types::pb::{
    envoy::config::core::v3::Metadata,
    google::protobuf::{value::Kind, ListValue, Struct, Value},
};
use gatehouse_tests::{
    auth_config, check_request, free_addr, http_exchange, step, verdict, Host, PluginDir,
};

const MB: &str = "libmisbehaving.so";
const V1_2: &str = "libversioned_v1_2.so";
/// The host's cap on each metadata field's JSON text (`MAX_METADATA_BYTES`).
const CAP: usize = 64 << 10;

fn v(kind: Kind) -> Value {
    Value { kind: Some(kind) }
}

fn text(s: &str) -> Value {
    v(Kind::StringValue(s.into()))
}

fn object(fields: &[(&str, Value)]) -> Struct {
    Struct {
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

fn metadata(namespaces: &[(&str, Struct)]) -> Option<Metadata> {
    Some(Metadata {
        filter_metadata: namespaces
            .iter()
            .map(|(k, s)| (k.to_string(), s.clone()))
            .collect::<HashMap<_, _>>(),
        ..Default::default()
    })
}

/// A 1.2 step, the 1.3 `Metadata` echo, and another 1.2 step.
async fn host() -> (Host, PluginDir) {
    let plugins = PluginDir::with(&[MB, V1_2]);
    let config = auth_config(
        "meta",
        &[
            step("old-before", V1_2, "Versioned", "{}"),
            step("echo", MB, "Metadata", "{}"),
            step("old-after", V1_2, "Versioned", "{}"),
        ],
    );
    let host = Host::start(&config, &plugins, &[])
        .await
        .expect("host starts");
    (host, plugins)
}

/// A check for auth config `meta` carrying the two metadata messages.
fn check_with(
    context: Option<Metadata>,
    route: Option<Metadata>,
) -> envoy_types::pb::envoy::service::auth::v3::CheckRequest {
    let mut request = check_request(Some("meta"), "/", &[]);
    let attributes = request.attributes.as_mut().expect("attributes");
    attributes.metadata_context = context;
    attributes.route_metadata_context = route;
    request
}

#[tokio::test]
async fn a_13_plugin_sees_the_gateways_metadata_as_json_and_12_steps_are_unaffected() {
    let (host, _plugins) = host().await;
    let context = metadata(&[
        (
            "envoy.filters.http.jwt_authn",
            object(&[(
                "claims",
                v(Kind::StructValue(object(&[
                    ("sub", text("alice")),
                    (
                        "groups",
                        v(Kind::ListValue(ListValue {
                            values: vec![text("admins"), text("dev")],
                        })),
                    ),
                ]))),
            )]),
        ),
        (
            "gatehouse.edge",
            object(&[
                ("port", v(Kind::NumberValue(8443.0))),
                ("weight", v(Kind::NumberValue(0.5))),
                ("tls", v(Kind::BoolValue(true))),
                ("note", v(Kind::NullValue(0))),
            ]),
        ),
    ]);
    let route = metadata(&[("gatehouse", object(&[("tenant", text("acme \"eu\""))]))]);
    let answer = verdict(&host.check(check_with(context, route)).await);
    assert_eq!(
        answer.header("x-metadata-context"),
        Some(
            r#"{"envoy.filters.http.jwt_authn":{"claims":{"groups":["admins","dev"],"sub":"alice"}},"gatehouse.edge":{"note":null,"port":8443,"tls":true,"weight":0.5}}"#
        ),
        "{answer:?}"
    );
    assert_eq!(
        answer.header("x-route-metadata"),
        Some(r#"{"gatehouse":{"tenant":"acme \"eu\""}}"#),
        "{answer:?}"
    );
    // The 1.2 steps on either side ran, in order, and still allow.
    assert_eq!(answer.header("x-interface-version"), Some("1.2.0"));
    assert_eq!(answer.header("x-chain"), Some("1.2.0 1.2.0"), "{answer:?}");
}

#[tokio::test]
async fn a_check_without_metadata_gives_the_plugin_none() {
    let (host, _plugins) = host().await;
    // Absent, and present with no namespaces: both are "no metadata".
    for (context, route) in [(None, None), (metadata(&[]), metadata(&[]))] {
        let answer = verdict(&host.check(check_with(context, route)).await);
        assert_eq!(answer.header("x-metadata-context"), Some("(absent)"));
        assert_eq!(answer.header("x-route-metadata"), Some("(absent)"));
    }
}

/// Metadata whose JSON text (`{"ns":{"k":"…"}}`) is exactly `bytes` long.
fn sized(bytes: usize) -> Option<Metadata> {
    let overhead = r#"{"ns":{"k":""}}"#.len();
    metadata(&[("ns", object(&[("k", text(&"x".repeat(bytes - overhead)))]))])
}

#[tokio::test]
async fn metadata_up_to_the_cap_is_passed_whole_and_over_it_the_check_is_refused() {
    let (host, _plugins) = host().await;
    let at_cap = verdict(&host.check(check_with(sized(CAP), None)).await);
    assert_eq!(at_cap.header("x-metadata-context").map(str::len), Some(CAP));
    let at_cap = verdict(&host.check(check_with(None, sized(CAP))).await);
    assert_eq!(at_cap.header("x-route-metadata").map(str::len), Some(CAP));
    for (context, route) in [(sized(CAP + 1), None), (None, sized(CAP + 1))] {
        let over = verdict(&host.check(check_with(context, route)).await);
        assert_eq!(
            over.denied_status(),
            Some(403),
            "refused, not truncated: {over:?}"
        );
    }
    let logs = host.logs();
    assert!(
        logs.contains("metadata_context of 65537 JSON bytes exceeds the limit of 65536 bytes")
            && logs.contains("route_metadata_context of 65537 JSON bytes"),
        "the refusal names the field and the sizes:\n{logs}"
    );
}

#[tokio::test]
async fn the_http_frontend_passes_no_metadata() {
    let plugins = PluginDir::with(&[MB]);
    let http = free_addr();
    let config = auth_config("meta", &[step("echo", MB, "Metadata", "{}")]);
    let http_arg = http.to_string();
    let host = Host::start(
        &config,
        &plugins,
        &["--http-listen", &http_arg, "--http-gateway", "nginx"],
    )
    .await
    .expect("host starts");
    // A client header of the same name is just a header: never metadata.
    let check = "GET /auth/meta HTTP/1.1\r\nHost: gatehouse_auth\r\nX-Original-URI: /x\r\n\
                 X-Original-Method: GET\r\nX-Forwarded-Host: app.test\r\n\
                 X-Forwarded-Proto: http\r\nX-Metadata-Context: {\"forged\":{}}\r\n\
                 Connection: close\r\n\r\n";
    let (status, headers, _) = http_exchange(http, check);
    assert_eq!(status, 200, "{headers:?}\n{}", host.logs());
    let echoed = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(echoed("x-metadata-context").as_deref(), Some("(absent)"));
    assert_eq!(echoed("x-route-metadata").as_deref(), Some("(absent)"));
}
