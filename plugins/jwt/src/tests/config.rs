//! Config errors name the field.

use serde_json::json;

use super::refused;

#[test]
fn keys_are_required() {
    assert!(refused(json!({})).contains("no keys"));
    assert!(refused(json!({"jwks": {}})).contains("exactly one of"));
    let both = refused(json!({"jwks": {"url": "http://x/", "file": "/x"}}));
    assert!(both.contains("exactly one of"), "{both}");
}

#[test]
fn url_scheme_and_ranges_are_checked() {
    let msg = refused(json!({"jwks": {"url": "ftp://x/keys"}}));
    assert!(msg.starts_with("jwks: url"), "{msg}");
    let msg = refused(json!({"jwks": {"url": "http://x/", "refreshSeconds": 0}}));
    assert!(msg.contains("refreshSeconds"), "{msg}");
    let msg = refused(json!({"hsSecret": "s", "leewaySeconds": 100000}));
    assert!(msg.contains("leewaySeconds"), "{msg}");
}

#[test]
fn alg_none_and_unknown_fields_are_refused() {
    let msg = refused(json!({"hsSecret": "s", "algorithms": ["HS256", "none"]}));
    assert!(
        msg.starts_with("algorithms[1]: unknown variant `none`"),
        "{msg}"
    );
    let msg = refused(json!({"hsSecret": "s", "bogus": 1}));
    assert!(msg.contains("unknown field `bogus`"), "{msg}");
    let msg = refused(json!({"hsSecret": "s", "algorithms": []}));
    assert!(msg.contains("algorithms"), "{msg}");
}

#[test]
fn hs_secret_needs_an_hmac_algorithm() {
    let msg = refused(json!({"hsSecret": "s", "algorithms": ["RS256"]}));
    assert!(msg.starts_with("hsSecret"), "{msg}");
}

#[test]
fn token_source_is_header_or_cookie() {
    let msg = refused(json!({"hsSecret": "s", "tokenSource": {"header": "a", "cookie": "b"}}));
    assert!(msg.starts_with("tokenSource"), "{msg}");
    let msg = refused(json!({"hsSecret": "s", "tokenSource": {"cookie": "b", "scheme": "Bearer"}}));
    assert!(msg.contains("scheme"), "{msg}");
}

#[test]
fn unreadable_file_and_bad_inline_jwks_are_refused() {
    let msg = refused(json!({"jwks": {"file": "/nonexistent/jwks.json"}}));
    assert!(msg.contains("cannot read /nonexistent/jwks.json"), "{msg}");
    let msg = refused(json!({"jwks": {"inline": {"keys": [{"kty": "EC", "crv": "P-999"}]}}}));
    assert!(msg.contains("no usable signing key"), "{msg}");
    let msg = refused(json!({"jwks": {"inline": "not json"}}));
    assert!(msg.contains("not JSON"), "{msg}");
}
