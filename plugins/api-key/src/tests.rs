//! Unit tests: key sources, where the key is taken from, effects, config errors.

use std::{
    path::PathBuf,
    sync::atomic::{AtomicUsize, Ordering},
};

use gatehouse_plugin_sdk::{
    testing::{self, request, request_to},
    Decision, Request, Response,
};

use super::*;

fn plugin(json: &str) -> ApiKey {
    let config: Config = serde_json::from_str(json).expect("valid config");
    ApiKey::new(config).expect("accepted config")
}

fn run(plugin: &ApiKey, request: Request) -> Response {
    testing::authorize(plugin, &request).expect("response")
}

fn config_error(json: &str) -> String {
    testing::config_error::<ApiKey>(json)
}

/// A file in the temp dir with `text`, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(ext: &str, text: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("api-key-{}-{n}.{ext}", std::process::id()));
        std::fs::write(&path, text).expect("write temp file");
        Self(path)
    }

    fn json(&self) -> String {
        serde_json::to_string(&self.0).expect("path as JSON")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const TWO_KEYS: &str =
    r#"{"keys": [{"key": "k-alice", "user": "alice"}, {"key": "k-bob", "user": "bob"}]}"#;

#[test]
fn right_key_allows_with_user_in_state() {
    let p = plugin(TWO_KEYS);
    let r = run(&p, request(&[("x-api-key", "k-bob")]));
    assert_eq!(r.decision, Decision::Allow);
    assert_eq!(r.user_id, "bob");
    assert_eq!(
        (r.state_set[0].key.as_str(), r.state_set[0].value.as_str()),
        ("user", "bob")
    );
    assert!(r.request_headers.is_empty() && r.remove_request_headers.is_empty());
}

#[test]
fn wrong_and_missing_keys_are_401() {
    let p = plugin(TWO_KEYS);
    for (req, body) in [
        (request(&[("x-api-key", "k-eve")]), "invalid API key"),
        (request(&[("x-api-key", "k-alic")]), "invalid API key"),
        (request(&[]), "missing API key"),
        (request(&[("x-api-key", "  ")]), "missing API key"),
        (request_to("/?api_key=k-alice", &[]), "missing API key"),
    ] {
        let r = run(&p, req);
        assert_eq!(
            (r.decision, r.status, r.body.as_str()),
            (Decision::Deny, 401, body)
        );
        assert!(r.state_set.is_empty() && r.user_id.is_empty());
    }
    let r = run(&p, request(&[("x-api-key", " k-alice ")]));
    assert_eq!(r.user_id, "alice", "the header value is trimmed");
}

#[test]
fn query_parameter_is_percent_decoded_and_header_wins() {
    let p = plugin(
        r#"{"keys": [{"key": "a b/c", "user": "spaced"}, {"key": "hk", "user": "h"}],
            "queryParam": "api_key"}"#,
    );
    let r = run(&p, request_to("/x?y=1&api_key=a%20b%2Fc", &[]));
    assert_eq!(
        (r.decision, r.user_id.as_str()),
        (Decision::Allow, "spaced")
    );
    let r = run(
        &p,
        request_to("/x?api_key=a%20b%2Fc", &[("x-api-key", "hk")]),
    );
    assert_eq!(r.user_id, "h", "the header is tried first");
    let r = run(&p, request_to("/x?api_key=nope", &[]));
    assert_eq!(r.status, 401);
}

#[test]
fn header_can_be_renamed_or_disabled() {
    let p = plugin(r#"{"keys": [{"key": "k", "user": "u"}], "header": "Authorization-Key"}"#);
    assert_eq!(
        run(&p, request(&[("authorization-key", "k")])).decision,
        Decision::Allow
    );
    assert_eq!(run(&p, request(&[("x-api-key", "k")])).status, 401);
    let p = plugin(r#"{"keys": [{"key": "k", "user": "u"}], "header": null, "queryParam": "key"}"#);
    assert_eq!(run(&p, request(&[("x-api-key", "k")])).status, 401);
    assert_eq!(
        run(&p, request_to("/?key=k", &[])).decision,
        Decision::Allow
    );
}

#[test]
fn forwards_user_removes_key_header_and_uses_state_key() {
    let p = plugin(
        r#"{"keys": [{"key": "k", "user": "svc"}], "forwardUserHeader": "x-user",
            "stateKey": "apiKey.user", "removeCredentialHeader": true}"#,
    );
    let r = run(&p, request(&[("x-api-key", "k"), ("x-user", "spoofed")]));
    assert_eq!(r.request_headers.len(), 1);
    assert_eq!(
        (
            r.request_headers[0].name.as_str(),
            r.request_headers[0].value.as_str()
        ),
        ("x-user", "svc")
    );
    assert_eq!(
        r.request_headers[0].action,
        gatehouse_plugin_sdk::AppendAction::OverwriteIfExistsOrAdd
    );
    assert_eq!(r.remove_request_headers[0], "x-api-key");
    assert_eq!(r.state_set[0].key, "apiKey.user");
}

#[test]
fn sha256_keys_match_their_plain_key() {
    // sha256("secret")
    let p = plugin(
        r#"{"keys": [{"sha256": "2BB80D537B1DA3E38BD30361AA855686BDE0EACD7162FEF6A25FE97BF527A25B", "user": "hashed"}]}"#,
    );
    let r = run(&p, request(&[("x-api-key", "secret")]));
    assert_eq!(r.user_id, "hashed");
}

#[test]
fn lookup_finds_each_entry_and_only_those() {
    let mut store = KeyStore::default();
    for i in 0..50 {
        store
            .insert(
                keys::hash_key(&format!("key{i}")),
                format!("user{i}"),
                format!("#{i}"),
            )
            .expect("distinct keys");
    }
    assert_eq!(store.len(), 50);
    for i in [0, 1, 25, 49] {
        assert_eq!(
            store.lookup(&format!("key{i}")),
            Some(format!("user{i}").as_str())
        );
    }
    assert_eq!(store.lookup("key50"), None);
    assert_eq!(store.lookup(""), None);
}

#[test]
fn keys_file_one_per_line() {
    let f = TempFile::new("txt", "# service keys\nfirst\n\n  second  \r\n#third\n");
    let p = plugin(&format!(r#"{{"keysFile": {}}}"#, f.json()));
    assert_eq!(run(&p, request(&[("x-api-key", "first")])).user_id, "key-2");
    assert_eq!(
        run(&p, request(&[("x-api-key", "second")])).user_id,
        "key-4"
    );
    assert_eq!(run(&p, request(&[("x-api-key", "#third")])).status, 401);
}

#[test]
fn keys_file_yaml_map_merges_with_inline_keys() {
    let f = TempFile::new(
        "yaml",
        "# key: user\nk-1: alice\n\"12345\": bob\n67890: dave\n",
    );
    let p = plugin(&format!(
        r#"{{"keysFile": {}, "keys": [{{"key": "inline", "user": "carol"}}]}}"#,
        f.json()
    ));
    assert_eq!(run(&p, request(&[("x-api-key", "k-1")])).user_id, "alice");
    assert_eq!(run(&p, request(&[("x-api-key", "12345")])).user_id, "bob");
    assert_eq!(run(&p, request(&[("x-api-key", "67890")])).user_id, "dave");
    assert_eq!(
        run(&p, request(&[("x-api-key", "inline")])).user_id,
        "carol"
    );
}

#[test]
fn keys_file_errors_name_the_file() {
    let missing = std::env::temp_dir().join("api-key-no-such-file.txt");
    let msg = config_error(&format!(r#"{{"keysFile": {:?}}}"#, missing));
    assert!(msg.starts_with("keysFile: cannot read "), "{msg}");
    assert!(msg.contains("api-key-no-such-file.txt"), "{msg}");

    let f = TempFile::new("yml", "- not\n- a map\n");
    let msg = config_error(&format!(r#"{{"keysFile": {}}}"#, f.json()));
    assert!(msg.contains(&f.0.display().to_string()), "{msg}");
    assert!(msg.contains("not a YAML map"), "{msg}");

    let f = TempFile::new("txt", "# nothing but comments\n");
    let msg = config_error(&format!(r#"{{"keysFile": {}}}"#, f.json()));
    assert!(msg.starts_with("no API keys"), "{msg}");

    let f = TempFile::new("txt", "a\nb\na\n");
    let msg = config_error(&format!(r#"{{"keysFile": {}}}"#, f.json()));
    assert!(
        msg.contains("line 3: duplicate key (already given by keysFile "),
        "{msg}"
    );
    assert!(msg.ends_with("line 1)"), "{msg}");
}

#[test]
fn config_errors_name_the_field() {
    let msg = config_error(r#"{"keys": [{"key": "a", "user": "u"}, {"key": "a", "user": "v"}]}"#);
    assert_eq!(msg, "keys[1]: duplicate key (already given by keys[0])");
    let msg = config_error(r#"{"keys": [{"key": "a", "sha256": "00", "user": "u"}]}"#);
    assert!(msg.starts_with("keys[0]: give either"), "{msg}");
    let msg = config_error(r#"{"keys": [{"user": "u"}]}"#);
    assert!(msg.starts_with("keys[0]: give `key` or `sha256`"), "{msg}");
    let msg = config_error(r#"{"keys": [{"sha256": "xyz", "user": "u"}]}"#);
    assert!(
        msg.starts_with("keys[0]: `sha256` must be 64 hex digits"),
        "{msg}"
    );
    let msg = config_error(r#"{"keys": [{"key": "", "user": "u"}]}"#);
    assert!(msg.starts_with("keys[0]: `key` must not be empty"), "{msg}");
    let msg = config_error(r#"{"keys": [{"key": "a"}]}"#);
    assert!(msg.starts_with("keys[0]: missing field `user`"), "{msg}");
    let msg = config_error("{}");
    assert!(msg.starts_with("no API keys"), "{msg}");
    let msg = config_error(r#"{"keys": [{"key": "a", "user": "u"}], "header": null}"#);
    assert!(msg.contains("`queryParam`"), "{msg}");
    let msg = config_error(r#"{"keys": [{"key": "a", "user": "u"}], "stateKey": ""}"#);
    assert_eq!(msg, "stateKey: must not be empty");
    let msg = config_error(r#"{"keys": [], "headr": "x"}"#);
    assert!(msg.contains("unknown field `headr`"), "{msg}");
}

#[test]
fn debug_output_shows_no_key_material() {
    let p = plugin(r#"{"keys": [{"key": "super-secret", "user": "u"}]}"#);
    let shown = format!("{p:?}");
    assert!(!shown.contains("super-secret"), "{shown}");
    assert!(shown.contains("KeyStore(1 keys)"), "{shown}");
}
