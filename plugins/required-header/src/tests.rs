//! Unit tests: the decision logic and config errors.

use gatehouse_plugin_sdk::{
    __private::build,
    api::abi_stable::std_types::RStr,
    testing::{self, authorize, request},
    Decision,
};

use super::*;

fn plugin() -> RequiredHeader {
    RequiredHeader::new(Config {
        required_header: "x-tenant".into(),
        allowed_values: vec!["a".into(), "b".into()],
    })
    .expect("valid config")
}

fn config_error(json: &str) -> String {
    testing::config_error::<RequiredHeader>(json)
}

#[test]
fn missing_header_is_401_naming_it() {
    let r = authorize(&plugin(), &request(&[])).expect("response");
    assert_eq!((r.decision, r.status), (Decision::Deny, 401));
    assert!(r.body.contains("x-tenant"), "{}", r.body);
}

#[test]
fn wrong_value_is_403() {
    let r = authorize(&plugin(), &request(&[("x-tenant", "c")])).expect("response");
    assert_eq!((r.decision, r.status), (Decision::Deny, 403));
    assert!(r.state_set.is_empty());
}

#[test]
fn allowed_value_allows_and_sets_state() {
    let r = authorize(&plugin(), &request(&[("X-Tenant", "b")])).expect("response");
    assert_eq!(r.decision, Decision::Allow);
    assert_eq!(r.state_set.len(), 1);
    assert_eq!(r.state_set[0].key, STATE_KEY);
    assert_eq!(r.state_set[0].value, "b");
}

#[test]
fn config_accepts_camel_case_and_gloo_spellings() {
    for json in [
        r#"{"requiredHeader": "x", "allowedValues": ["1"]}"#,
        r#"{"RequiredHeader": "x", "AllowedValues": ["1"]}"#,
    ] {
        assert!(
            build::<RequiredHeader>(RStr::from_str(json), None).is_ok(),
            "{json}"
        );
    }
}

#[test]
fn config_errors_name_the_field() {
    let msg = config_error(r#"{"requiredHeader": "x", "allowedValues": ["a", "b", 3]}"#);
    assert!(
        msg.starts_with("allowedValues[2]: invalid type: integer `3`, expected a string"),
        "{msg}"
    );
    let msg = config_error(r#"{"requiredHeader": "x", "allowedValues": [], "extra": 1}"#);
    assert!(msg.contains("unknown field `extra`"), "{msg}");
    let msg = config_error(r#"{"allowedValues": []}"#);
    assert!(msg.contains("missing field `requiredHeader`"), "{msg}");
    let msg = config_error(r#"{"requiredHeader": " ", "allowedValues": []}"#);
    assert!(msg.contains("requiredHeader"), "{msg}");
}
