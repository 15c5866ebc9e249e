use gatehouse_plugin_sdk::testing;
use serde_json::{json, Value};

use crate::Oidc;

fn base() -> Value {
    let key = super::key_file("config", super::KEY_A);
    json!({"issuerUrl": "http://127.0.0.1:9", "clientId": "gh",
           "sessionKeys": {"file": key}})
}

fn refused(change: impl FnOnce(&mut Value)) -> String {
    let mut config = base();
    change(&mut config);
    testing::config_error::<Oidc>(&config.to_string())
}

#[test]
fn bad_configs_are_refused_naming_the_field() {
    assert!(refused(|c| c["issuerUrl"] = json!("ftp://x")).contains("issuerUrl"));
    assert!(refused(|c| c["clientId"] = json!("")).contains("clientId"));
    assert!(refused(|c| c["callbackPath"] = json!("cb")).contains("callbackPath"));
    assert!(refused(|c| c["logoutPath"] = json!("/oauth2/callback")).contains("logoutPath"));
    assert!(refused(|c| c["loginStatus"] = json!(200)).contains("loginStatus"));
    assert!(refused(|c| c["cookie"] = json!({"name": "a b"})).contains("cookie.name"));
    assert!(refused(|c| c["algorithms"] = json!([])).contains("algorithms"));
    assert!(refused(|c| c["algorithms"] = json!(["none"])).contains("algorithms"));
    assert!(refused(|c| c["extra"] = json!(1)).contains("unknown field `extra`"));
    assert!(
        refused(|c| c["clientSecret"] = json!({"file": "/x", "env": "Y"})).contains("clientSecret")
    );
    assert!(
        refused(|c| c["clientSecret"] = json!({"env": "OIDC_UNIT_UNSET_VAR"}))
            .contains("$OIDC_UNIT_UNSET_VAR is not set")
    );
    assert!(
        refused(|c| c["clientSecret"] = json!({"file": "/nonexistent/secret"}))
            .contains("/nonexistent/secret")
    );
    assert!(
        refused(|c| c["sessionKeys"] = json!({"file": "/nonexistent/key"})).contains("sessionKeys")
    );
    let short = super::key_file("short", "abcd");
    assert!(refused(|c| c["sessionKeys"] = json!({"file": short})).contains("want 32"));
    assert!(refused(|c| c["redis"] = json!({"address": "nohost"})).contains("redis.address"));
    assert!(
        refused(|c| c["headers"] = json!([{"claim": "", "header": "x"}])).contains("headers[0]")
    );
}

#[test]
fn a_minimal_config_and_a_secret_from_a_file_are_accepted() {
    let secret = super::key_file("secret", "  s3cret\n");
    let mut config = base();
    config["clientSecret"] = json!({"file": secret});
    let config: crate::Config = serde_json::from_value(config).expect("parses");
    assert_eq!(config.callback_path, "/oauth2/callback");
    assert_eq!(config.login_status, 302);
    assert!(config.cookie.secure);
    assert_eq!(
        config.client_secret.as_ref().map(|s| s.read()),
        Some(Ok("s3cret".to_string()))
    );
    if let Err(e) = Oidc::from_config(config) {
        panic!("refused: {e}");
    }
}

#[test]
fn a_secret_from_the_environment() {
    // Unique to this test; no other test reads it.
    std::env::set_var("OIDC_UNIT_SECRET_VAR", "from-env");
    let mut config = base();
    config["clientSecret"] = json!({"env": "OIDC_UNIT_SECRET_VAR"});
    let config: crate::Config = serde_json::from_value(config).expect("parses");
    assert_eq!(
        config.client_secret.as_ref().map(|s| s.read()),
        Some(Ok("from-env".to_string()))
    );
}
