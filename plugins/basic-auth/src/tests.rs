//! Unit tests: credentials, both hash schemes, effects and config errors.
//! Hashes are made here with the lowest costs, so the tests stay fast.

use argon2::{
    password_hash::{PasswordHasher, SaltString},
    Algorithm, Argon2, Params, Version,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use gatehouse_plugin_sdk::{testing, Decision, Request, Response};

use super::*;

fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash(password, 4).expect("bcrypt hash")
}

fn argon2_hash(password: &str) -> String {
    let params = Params::new(8, 1, 1, None).expect("argon2 params");
    let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0").expect("salt");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hash")
        .to_string()
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// A request with `Authorization: <authorization>`, or without the header.
fn request(authorization: Option<&str>) -> Request {
    match authorization {
        Some(value) => testing::request(&[("authorization", value)]),
        None => testing::request(&[]),
    }
}

fn plugin(extra: serde_json::Value) -> BasicAuth {
    let htpasswd = format!(
        "# users\nalice:{}\n\nbob:{}\n",
        bcrypt_hash("alice-pw"),
        argon2_hash("bob-pw")
    );
    let mut config = serde_json::json!({ "htpasswd": htpasswd });
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    let config: Config = serde_json::from_value(config).expect("valid config");
    BasicAuth::new(config).expect("accepted config")
}

fn run(p: &BasicAuth, authorization: Option<&str>) -> Response {
    testing::authorize(p, &request(authorization)).expect("response")
}

fn assert_challenged(r: &Response, body: &str, realm: &str) {
    assert_eq!(
        (r.decision, r.status, r.body.as_str()),
        (Decision::Deny, 401, body)
    );
    assert_eq!(r.response_headers.len(), 1);
    assert_eq!(r.response_headers[0].name, "www-authenticate");
    assert_eq!(
        r.response_headers[0].value,
        format!("Basic realm=\"{realm}\", charset=\"UTF-8\"")
    );
    assert!(r.state_set.is_empty() && r.user_id.is_empty());
}

fn config_error(json: serde_json::Value) -> String {
    testing::config_error::<BasicAuth>(&json.to_string())
}

#[test]
fn right_password_allows_bcrypt_and_argon2_users() {
    let p = plugin(serde_json::json!({}));
    for (user, password) in [("alice", "alice-pw"), ("bob", "bob-pw")] {
        let r = run(&p, Some(&basic(user, password)));
        assert_eq!(r.decision, Decision::Allow, "{user}");
        assert_eq!(r.user_id, user);
        assert_eq!(
            (r.state_set[0].key.as_str(), r.state_set[0].value.as_str()),
            ("user", user)
        );
        assert!(r.request_headers.is_empty() && r.remove_request_headers.is_empty());
    }
}

#[test]
fn wrong_and_missing_credentials_are_challenged() {
    let p = plugin(serde_json::json!({}));
    let cases = [
        (Some(basic("alice", "bob-pw")), "invalid credentials"),
        (Some(basic("bob", "alice-pw")), "invalid credentials"),
        (Some(basic("alice", "")), "invalid credentials"),
        (Some(basic("carol", "alice-pw")), "invalid credentials"),
        (None, "authentication required"),
        (Some("Bearer abc".into()), "authentication required"),
        (Some("Basic".into()), "authentication required"),
        (Some("Basic !!!".into()), "malformed Basic credentials"),
        (
            Some(format!("Basic {}", STANDARD.encode("no-colon"))),
            "malformed Basic credentials",
        ),
    ];
    for (header, body) in cases {
        assert_challenged(&run(&p, header.as_deref()), body, "gatehouse");
    }
}

#[test]
fn bcrypt_2a_and_2b_prefixes_verify() {
    let parts = bcrypt::hash_with_result("pw", 4).expect("hash");
    for version in [
        bcrypt::Version::TwoA,
        bcrypt::Version::TwoB,
        bcrypt::Version::TwoY,
    ] {
        let hash = Hash::parse(&parts.format_for_version(version)).expect("accepted");
        assert!(hash.verify(b"pw"));
        assert!(!hash.verify(b"pw2"));
    }
}

#[test]
fn file_users_realm_forwarding_and_header_removal() {
    let path = std::env::temp_dir().join(format!("basic-auth-{}.htpasswd", std::process::id()));
    std::fs::write(&path, format!("carol:{}\n", bcrypt_hash("c-pw"))).expect("write");
    let p = plugin(serde_json::json!({
        "htpasswdFile": path, "realm": "staff area", "stateKey": "basic.user",
        "forwardUserHeader": "x-user", "removeCredentialHeader": true
    }));
    let _ = std::fs::remove_file(&path);
    let r = run(&p, Some(&basic("carol", "c-pw")));
    assert_eq!(r.decision, Decision::Allow);
    assert_eq!(r.state_set[0].key, "basic.user");
    assert_eq!(
        (
            r.request_headers[0].name.as_str(),
            r.request_headers[0].value.as_str()
        ),
        ("x-user", "carol")
    );
    assert_eq!(r.remove_request_headers[0], "authorization");
    assert_eq!(run(&p, Some(&basic("alice", "alice-pw"))).user_id, "alice");
    assert_challenged(&run(&p, None), "authentication required", "staff area");
}

#[test]
fn credentials_parsing() {
    let encoded = STANDARD.encode(b"u:p:with:colons\xff");
    assert_eq!(
        credentials::parse(Some(&format!("  bAsIc   {encoded} "))),
        Credentials::Basic {
            user: "u".into(),
            password: b"p:with:colons\xff".to_vec()
        }
    );
    let bad_user = STANDARD.encode(b"\xff:p");
    assert_eq!(
        credentials::parse(Some(&format!("Basic {bad_user}"))),
        Credentials::Malformed
    );
    assert_eq!(credentials::parse(None), Credentials::Absent);
}

#[test]
fn concurrent_verifications_all_complete() {
    let p = std::sync::Arc::new(plugin(serde_json::json!({})));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let decisions = runtime.block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let p = std::sync::Arc::clone(&p);
                let password = if i % 2 == 0 { "alice-pw" } else { "wrong" };
                tokio::spawn(async move {
                    let r = p.authorize(&request(Some(&basic("alice", password)))).await;
                    r.expect("response").decision
                })
            })
            .collect();
        let mut decisions = Vec::new();
        for task in tasks {
            decisions.push(task.await.expect("task"));
        }
        decisions
    });
    let expected: Vec<_> = (0..8)
        .map(|i| {
            if i % 2 == 0 {
                Decision::Allow
            } else {
                Decision::Deny
            }
        })
        .collect();
    assert_eq!(decisions, expected);
}

#[test]
fn unsupported_schemes_are_refused_naming_the_line() {
    for (hash, scheme) in [
        ("$apr1$abc$def", "`$apr1$`"),
        ("$6$salt$hash", "`$6$`"),
        ("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "`{SHA}`"),
        ("plaintext", "(crypt(3) DES or plain text)"),
    ] {
        let msg = config_error(
            serde_json::json!({"htpasswd": format!("ok:{}\nbad:{hash}", bcrypt_hash("x"))}),
        );
        assert!(
            msg.starts_with(&format!(
                "htpasswd line 2 (user bad): unsupported hash scheme {scheme}"
            )),
            "{msg}"
        );
        assert!(!msg.contains(hash), "the hash is not shown: {msg}");
    }
}

#[test]
fn config_errors() {
    let good = bcrypt_hash("x");
    let cases = [
        (serde_json::json!({}), "no users: give `htpasswd`"),
        (serde_json::json!({"htpasswd": "# none\n"}), "no users"),
        (
            serde_json::json!({"htpasswd": "nocolon"}),
            "htpasswd line 1: expected `user:hash`",
        ),
        (
            serde_json::json!({"htpasswd": format!(":{good}")}),
            "htpasswd line 1: empty user name",
        ),
        (
            serde_json::json!({"htpasswd": format!("a:{good}\n\na:{good}")}),
            "htpasswd line 3: duplicate user a (first on htpasswd line 1)",
        ),
        (
            serde_json::json!({"htpasswd": "a:$2y$10$short"}),
            "htpasswd line 1 (user a): malformed bcrypt hash",
        ),
        (
            serde_json::json!({"htpasswd": format!("a:{}", good.replacen("$04$", "$99$", 1))}),
            "htpasswd line 1 (user a): bcrypt cost 99",
        ),
        (
            serde_json::json!({"htpasswd": "a:$argon2id$v=19$nonsense"}),
            "htpasswd line 1 (user a): ",
        ),
        (
            serde_json::json!({"htpasswdFile": "/nonexistent/gatehouse-users"}),
            "htpasswdFile: cannot read /nonexistent/gatehouse-users: ",
        ),
        (
            serde_json::json!({"htpasswd": format!("a:{good}"), "realm": "a\"b"}),
            "realm: ",
        ),
        (
            serde_json::json!({"htpasswd": format!("a:{good}"), "stateKey": ""}),
            "stateKey: ",
        ),
        (
            serde_json::json!({"htpasswd": format!("a:{good}"), "relm": "x"}),
            "unknown field `relm`",
        ),
    ];
    for (json, expected) in cases {
        let msg = config_error(json);
        assert!(
            msg.contains(expected),
            "{msg:?} should contain {expected:?}"
        );
    }
}

#[test]
fn debug_output_shows_no_hashes() {
    let p = plugin(serde_json::json!({}));
    let shown = format!("{p:?}");
    assert!(
        shown.contains("Bcrypt(..)") && !shown.contains("$2"),
        "{shown}"
    );
}
