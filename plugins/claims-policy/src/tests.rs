//! Unit tests: rules, scopes, headers and config errors.

use gatehouse_plugin_sdk::{
    __private::build,
    api::abi_stable::std_types::RStr,
    testing::{self, with_state},
    Decision, Response,
};

use super::*;

fn plugin(json: &str) -> ClaimsPolicy {
    let config: Config = serde_json::from_str(json).expect("valid config");
    ClaimsPolicy::new(config).expect("accepted config")
}

fn run(p: &ClaimsPolicy, state: &[(&str, &str)]) -> Response {
    testing::authorize(p, &with_state(state)).expect("response")
}

fn allowed(p: &ClaimsPolicy, state: &[(&str, &str)]) -> bool {
    run(p, state).decision == Decision::Allow
}

fn config_error(json: &str) -> String {
    testing::config_error::<ClaimsPolicy>(json)
}

#[test]
fn empty_config_allows() {
    assert!(allowed(&plugin("{}"), &[]));
    assert!(build::<ClaimsPolicy>(RStr::from_str("null"), None).is_ok());
}

#[test]
fn equals_compares_the_whole_value() {
    let p = plugin(r#"{"rules": [{"claim": "jwt.claim.role", "equals": "admin"}]}"#);
    assert!(allowed(&p, &[("jwt.claim.role", "admin")]));
    assert!(!allowed(&p, &[("jwt.claim.role", "admins")]));
    let r = run(&p, &[("jwt.claim.role", "user")]);
    assert_eq!((r.decision, r.status), (Decision::Deny, 403));
    assert_eq!(r.body, "claim `jwt.claim.role` does not satisfy the policy");
    let r = run(&p, &[]);
    assert_eq!(r.body, "claim `jwt.claim.role` is missing");
}

#[test]
fn equals_accepts_numbers_and_booleans_as_their_json_text() {
    let p = plugin(
        r#"{"rules": [{"claim": "jwt.claim.email_verified", "equals": true},
                      {"claim": "jwt.claim.level", "oneOf": [1, 2]}]}"#,
    );
    assert!(allowed(
        &p,
        &[
            ("jwt.claim.email_verified", "true"),
            ("jwt.claim.level", "2")
        ]
    ));
    assert!(!allowed(
        &p,
        &[
            ("jwt.claim.email_verified", "false"),
            ("jwt.claim.level", "2")
        ]
    ));
}

#[test]
fn contains_is_membership_in_an_array_or_words() {
    let p = plugin(r#"{"rules": [{"claim": "jwt.claim.groups", "contains": "ops"}]}"#);
    assert!(allowed(&p, &[("jwt.claim.groups", r#"["dev","ops"]"#)]));
    assert!(allowed(&p, &[("jwt.claim.groups", "dev ops")]));
    assert!(!allowed(&p, &[("jwt.claim.groups", r#"["devops"]"#)]));
    assert!(
        !allowed(&p, &[("jwt.claim.groups", "devops")]),
        "not a substring test"
    );
    assert!(!allowed(&p, &[("jwt.claim.groups", "[]")]));
    assert_eq!(
        members(r#"[1, "a", true, {"b": 2}]"#),
        ["1", "a", "true", r#"{"b":2}"#]
    );
    assert_eq!(members("[not json"), ["[not", "json"]);
}

#[test]
fn one_of_works_on_user_from_api_key_or_basic_auth() {
    let p = plugin(r#"{"rules": [{"state": "user", "oneOf": ["alice", "bob"]}]}"#);
    assert!(allowed(&p, &[("user", "bob")]));
    assert!(!allowed(&p, &[("user", "eve")]));
    assert!(!allowed(&p, &[]));
}

#[test]
fn path_reads_into_a_json_claim() {
    let p = plugin(
        r#"{"rules": [{"claim": "jwt.claims", "path": "realm_access.roles", "contains": "admin"},
                      {"claim": "jwt.claims", "path": "org.ids.0", "equals": 7}]}"#,
    );
    let claims = r#"{"realm_access": {"roles": ["user", "admin"]}, "org": {"ids": [7, 8]}}"#;
    assert!(allowed(&p, &[("jwt.claims", claims)]));
    let r = run(&p, &[("jwt.claims", r#"{"org": {"ids": [7]}}"#)]);
    assert_eq!(r.body, "claim `jwt.claims` is missing");
    assert!(!allowed(&p, &[("jwt.claims", "not json")]));
}

#[test]
fn match_any_needs_one_rule() {
    let p = plugin(
        r#"{"match": "any", "rules": [{"claim": "jwt.claim.role", "equals": "admin"},
                                     {"claim": "jwt.claim.groups", "contains": "ops"}]}"#,
    );
    assert!(allowed(&p, &[("jwt.claim.role", "admin")]));
    assert!(allowed(&p, &[("jwt.claim.groups", "ops")]));
    let r = run(&p, &[("jwt.claim.role", "user")]);
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, "no rule of the policy holds")
    );
}

#[test]
fn required_scopes_from_string_or_array() {
    let p = plugin(r#"{"requiredScopes": ["read", "write"], "denyStatus": 401}"#);
    assert!(allowed(&p, &[("jwt.claim.scope", "openid read write")]));
    assert!(allowed(&p, &[("jwt.claim.scope", r#"["write","read"]"#)]));
    let r = run(&p, &[("jwt.claim.scope", "read")]);
    assert_eq!(
        (r.status, r.body.as_str()),
        (401, "missing required scopes: write")
    );
    let r = run(&p, &[]);
    assert_eq!(r.body, "missing required scopes: read write");

    let p = plugin(r#"{"requiredScopes": ["admin"], "scopeClaim": "jwt.claim.scp"}"#);
    assert!(allowed(&p, &[("jwt.claim.scp", r#"["admin"]"#)]));
    assert!(!allowed(&p, &[("jwt.claim.scope", "admin")]));
}

#[test]
fn rules_are_checked_before_scopes() {
    let p = plugin(
        r#"{"rules": [{"claim": "jwt.claim.role", "equals": "admin"}], "requiredScopes": ["x"]}"#,
    );
    let r = run(&p, &[("jwt.claim.role", "user")]);
    assert!(r.body.starts_with("claim `jwt.claim.role`"), "{}", r.body);
}

#[test]
fn headers_interpolate_state_and_skip_absent_entries() {
    let p = plugin(
        r#"{"headers": [{"name": "x-user", "value": "${jwt.claim.sub}"},
                        {"name": "x-tenant", "value": "t-${tenant}/${jwt.claim.sub} $$5 $x"},
                        {"name": "x-absent", "value": "${nope}"},
                        {"name": "x-fixed", "value": "yes"}]}"#,
    );
    let r = run(&p, &[("jwt.claim.sub", "u1"), ("tenant", "acme")]);
    let headers: Vec<_> = r
        .request_headers
        .iter()
        .map(|h| (h.name.as_str(), h.value.as_str(), h.action))
        .collect();
    let over = gatehouse_plugin_sdk::AppendAction::OverwriteIfExistsOrAdd;
    assert_eq!(
        headers,
        [
            ("x-user", "u1", over),
            ("x-tenant", "t-acme/u1 $5 $x", over),
            ("x-fixed", "yes", over)
        ]
    );
}

#[test]
fn denial_sets_no_headers() {
    let p = plugin(
        r#"{"rules": [{"claim": "user", "equals": "a"}], "headers": [{"name": "x", "value": "1"}]}"#,
    );
    assert!(run(&p, &[("user", "b")]).request_headers.is_empty());
}

#[test]
fn config_errors_name_the_field() {
    let msg = config_error(r#"{"rules": [{"claim": "a", "equals": "x", "oneOf": ["y"]}]}"#);
    assert_eq!(
        msg,
        "rules[0]: rule on `a`: give exactly one of `equals`, `contains`, `oneOf`"
    );
    let msg = config_error(r#"{"rules": [{"claim": "a"}]}"#);
    assert!(
        msg.starts_with("rules[0]: rule on `a`: give exactly one"),
        "{msg}"
    );
    let msg = config_error(r#"{"rules": [{"claim": "a", "equals": ["x"]}]}"#);
    assert!(msg.starts_with("rules[0]"), "{msg}");
    assert!(
        msg.contains("expected a string, number or boolean"),
        "{msg}"
    );
    let msg = config_error(r#"{"rules": [{"claim": "a", "path": "b..c", "equals": 1}]}"#);
    assert!(msg.contains("`path` has an empty segment"), "{msg}");
    let msg = config_error(r#"{"rules": [{"claim": "", "equals": 1}]}"#);
    assert!(msg.contains("`claim` must not be empty"), "{msg}");
    let msg = config_error(r#"{"rules": [{"claim": "a", "equal": 1}]}"#);
    assert!(msg.contains("unknown field `equal`"), "{msg}");
    let msg = config_error(r#"{"headers": [{"name": "x", "value": "${oops"}]}"#);
    assert!(
        msg.starts_with("headers[0].value: `${` without a closing `}`"),
        "{msg}"
    );
    let msg = config_error(r#"{"headers": [{"name": "x", "value": "${}"}]}"#);
    assert!(msg.starts_with("headers[0].value: empty `${}`"), "{msg}");
    let msg = config_error(r#"{"headers": [{"name": " ", "value": "v"}]}"#);
    assert_eq!(msg, "headers[0].name: must not be empty");
    let msg = config_error(r#"{"denyStatus": 200}"#);
    assert!(msg.starts_with("denyStatus: 200"), "{msg}");
    let msg = config_error(r#"{"match": "some"}"#);
    assert!(msg.starts_with("match: unknown variant `some`"), "{msg}");
}
