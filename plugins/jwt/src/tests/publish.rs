//! What an allow carries: state, user and forwarded headers.

use gatehouse_plugin_sdk::Decision;
use serde_json::{json, Value};

use super::{bearer, plugin, run, state};
use crate::testkit::{jwks, now, TestKey};

fn token_and_plugin(claims: Value, extra: Value) -> (String, crate::Jwt) {
    let key = TestKey::ec("k");
    let mut config = json!({"jwks": {"inline": jwks(&[&key])}});
    if let (Some(c), Value::Object(extra)) = (config.as_object_mut(), extra) {
        c.extend(extra);
    }
    (key.sign(&claims), plugin(config))
}

#[tokio::test]
async fn claims_go_into_state_and_sub_is_the_user() {
    let claims = json!({"sub": "alice", "exp": now() + 60, "roles": ["admin", "dev"],
                        "tenant": "acme", "n": 3, "nested": {"a": 1}});
    let (token, p) = token_and_plugin(claims.clone(), json!({}));
    let r = run(&p, bearer(&token)).await;
    assert_eq!(r.decision, Decision::Allow);
    assert_eq!(r.user_id, "alice");
    let whole: Value =
        serde_json::from_str(state(&r, "jwt.claims").expect("jwt.claims")).expect("JSON");
    assert_eq!(whole, claims);
    assert_eq!(state(&r, "jwt.claim.sub"), Some("alice"));
    assert_eq!(state(&r, "jwt.claim.tenant"), Some("acme"));
    assert_eq!(state(&r, "jwt.claim.roles"), Some(r#"["admin","dev"]"#));
    assert_eq!(state(&r, "jwt.claim.n"), Some("3"));
    assert_eq!(state(&r, "jwt.claim.nested"), Some(r#"{"a":1}"#));
}

#[tokio::test]
async fn state_key_prefix_is_configurable() {
    let (token, p) = token_and_plugin(
        json!({"sub": "bob", "exp": now() + 60}),
        json!({"stateKeyPrefix": "idp"}),
    );
    let r = run(&p, bearer(&token)).await;
    assert_eq!(state(&r, "idp.claim.sub"), Some("bob"));
    assert!(state(&r, "idp.claims").is_some());
    assert_eq!(state(&r, "jwt.claim.sub"), None);
}

#[tokio::test]
async fn forwarded_claims_are_set_or_removed() {
    let (token, p) = token_and_plugin(
        json!({"sub": "carol", "exp": now() + 60, "roles": ["a"], "evil": "x\r\ny: z"}),
        json!({"forwardClaims": [
            {"claim": "sub", "header": "x-user"},
            {"claim": "roles", "header": "x-roles"},
            {"claim": "email", "header": "x-email"},
            {"claim": "evil", "header": "x-evil"},
        ]}),
    );
    let r = run(&p, bearer(&token)).await;
    let set: Vec<(&str, &str)> = r
        .request_headers
        .iter()
        .map(|h| (h.name.as_str(), h.value.as_str()))
        .collect();
    assert_eq!(set, [("x-user", "carol"), ("x-roles", r#"["a"]"#)]);
    let removed: Vec<&str> = r
        .remove_request_headers
        .iter()
        .map(|h| h.as_str())
        .collect();
    assert_eq!(removed, ["x-email", "x-evil"]);
}

#[tokio::test]
async fn non_string_sub_sets_no_user() {
    let (token, p) = token_and_plugin(json!({"sub": 42, "exp": now() + 60}), json!({}));
    let r = run(&p, bearer(&token)).await;
    assert_eq!(r.decision, Decision::Allow);
    assert_eq!(r.user_id, "");
    assert_eq!(state(&r, "jwt.claim.sub"), Some("42"));
}
