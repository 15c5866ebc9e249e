//! Unit tests: effects, requirements, denial and config errors.

use gatehouse_plugin_sdk::{
    __private::build,
    api::abi_stable::std_types::RStr,
    testing::{self, with_state},
    AppendAction, Decision, Request, Response,
};

use super::*;

/// Builds the plugin from JSON config text and runs one request through it.
fn run(json: &str, request: Request) -> Response {
    let config: Config = serde_json::from_str(json).expect("valid config");
    let plugin = SetHeaders::new(config).expect("accepted config");
    testing::authorize(&plugin, &request).expect("response")
}

/// The message of the config error the SDK's factory reports for `json`.
fn config_error(json: &str) -> String {
    testing::config_error::<SetHeaders>(json)
}

#[test]
fn empty_config_allows_with_no_effects() {
    let r = run("{}", Request::default());
    assert_eq!(r, gatehouse_plugin_sdk::allow());
    assert!(build::<SetHeaders>(RStr::from_str("null"), None).is_ok());
}

#[test]
fn header_actions_from_append_and_append_action() {
    let r = run(
        r#"{"headers": [
            {"name": "a", "value": "1"},
            {"name": "b", "value": "2", "append": true},
            {"name": "c", "value": "3", "append": false},
            {"name": "d", "value": "4", "appendAction": "ADD_IF_ABSENT"},
            {"name": "e", "value": "5", "appendAction": "OVERWRITE_IF_EXISTS"},
            {"name": "f", "value": "6", "appendAction": "APPEND_IF_EXISTS_OR_ADD"},
            {"name": "g", "value": "7", "appendAction": "OVERWRITE_IF_EXISTS_OR_ADD"}
        ]}"#,
        Request::default(),
    );
    let got: Vec<_> = r
        .request_headers
        .iter()
        .map(|h| (h.name.as_str(), h.value.as_str(), h.action))
        .collect();
    use AppendAction::*;
    assert_eq!(
        got,
        [
            ("a", "1", OverwriteIfExistsOrAdd),
            ("b", "2", AppendIfExistsOrAdd),
            ("c", "3", OverwriteIfExistsOrAdd),
            ("d", "4", AddIfAbsent),
            ("e", "5", OverwriteIfExists),
            ("f", "6", AppendIfExistsOrAdd),
            ("g", "7", OverwriteIfExistsOrAdd),
        ]
    );
}

#[test]
fn all_allow_effects() {
    let r = run(
        r#"{"removeHeaders": ["cookie"],
            "responseHeaders": [{"name": "x-r", "value": "1"}],
            "setState": {"k2": "v2", "k1": "v1"},
            "user": "alice"}"#,
        Request::default(),
    );
    assert_eq!(r.decision, Decision::Allow);
    assert_eq!(r.remove_request_headers[0], "cookie");
    assert_eq!(r.response_headers[0].name, "x-r");
    let state: Vec<_> = r
        .state_set
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.as_str()))
        .collect();
    assert_eq!(state, [("k1", "v1"), ("k2", "v2")]);
    assert_eq!(r.user_id, "alice");
}

#[test]
fn require_state_denies_missing_or_different() {
    let cfg = r#"{"requireState": {"tenant": "a"}, "setState": {"x": "y"}}"#;
    let r = run(cfg, with_state(&[]));
    assert_eq!((r.decision, r.status), (Decision::Deny, 403));
    assert!(r.body.contains("tenant"), "{}", r.body);
    let r = run(cfg, with_state(&[("tenant", "b")]));
    assert_eq!((r.decision, r.status), (Decision::Deny, 403));
    assert!(r.body.contains("tenant"), "{}", r.body);
    assert!(r.state_set.is_empty());
    let r = run(cfg, with_state(&[("tenant", "a")]));
    assert_eq!(r.decision, Decision::Allow);
    assert_eq!(r.state_set.len(), 1);
}

#[test]
fn configured_deny() {
    let r = run(
        r#"{"deny": {"body": "go away"}, "setState": {"x": "y"},
            "responseHeaders": [{"name": "www-authenticate", "value": "Basic"}]}"#,
        Request::default(),
    );
    assert_eq!(
        (r.decision, r.status, r.body.as_str()),
        (Decision::Deny, 403, "go away")
    );
    assert!(r.state_set.is_empty());
    assert_eq!(r.response_headers[0].value, "Basic");
    let r = run(r#"{"deny": {"status": 429}}"#, Request::default());
    assert_eq!(
        (r.decision, r.status, r.body.as_str()),
        (Decision::Deny, 429, "")
    );
}

#[test]
fn config_errors_name_the_entry() {
    let msg = config_error(
        r#"{"headers": [{"name": "a", "value": "1"},
                        {"name": "b", "value": "2", "append": true, "appendAction": "ADD_IF_ABSENT"}]}"#,
    );
    assert!(msg.starts_with("headers[1]: "), "{msg}");
    assert!(msg.contains("not both"), "{msg}");
    let msg = config_error(r#"{"headers": [{"name": "a", "value": "1", "appendAction": "NOPE"}]}"#);
    assert!(
        msg.starts_with("headers[0].appendAction: unknown variant `NOPE`"),
        "{msg}"
    );
    let msg = config_error(r#"{"headers": [{"name": "a", "value": "1", "bogus": 1}]}"#);
    assert!(
        msg.starts_with("headers[0]") && msg.contains("bogus"),
        "{msg}"
    );
    let msg = config_error(r#"{"setState": {"a": 1}}"#);
    assert!(msg.starts_with("setState.a: invalid type"), "{msg}");
    let msg = config_error(r#"{"deny": {"status": 42}}"#);
    assert!(msg.starts_with("deny.status"), "{msg}");
    let msg = config_error(r#"{"denyy": {}}"#);
    assert!(msg.contains("unknown field `denyy`"), "{msg}");
}
