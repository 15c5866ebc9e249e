//! Where tokens are found.

use crate::{config::TokenSourceConfig, token::TokenSource};

use gatehouse_plugin_sdk::testing::request;

fn source(header: Option<&str>, cookie: Option<&str>, scheme: Option<&str>) -> TokenSource {
    TokenSource::from(&TokenSourceConfig {
        header: header.map(Into::into),
        cookie: cookie.map(Into::into),
        scheme: scheme.map(Into::into),
    })
}

#[test]
fn default_is_bearer_in_authorization() {
    let s = source(None, None, None);
    assert_eq!(
        s.find(&request(&[("Authorization", "Bearer abc")])),
        Some("abc")
    );
    assert_eq!(
        s.find(&request(&[("authorization", "bearer  abc ")])),
        Some("abc")
    );
    assert_eq!(s.find(&request(&[("authorization", "Basic abc")])), None);
    assert_eq!(s.find(&request(&[("authorization", "Bearer ")])), None);
    assert_eq!(s.find(&request(&[("authorization", "abc")])), None);
    assert_eq!(s.find(&request(&[])), None);
}

#[test]
fn other_header_takes_the_whole_value_unless_a_scheme_is_set() {
    let s = source(Some("x-token"), None, None);
    assert_eq!(s.find(&request(&[("x-token", "abc")])), Some("abc"));
    let s = source(Some("x-token"), None, Some("Token"));
    assert_eq!(s.find(&request(&[("x-token", "Token abc")])), Some("abc"));
    assert_eq!(s.find(&request(&[("x-token", "abc")])), None);
    let s = source(Some("authorization"), None, Some(""));
    assert_eq!(s.find(&request(&[("authorization", "abc")])), Some("abc"));
}

#[test]
fn cookie_is_found_among_others() {
    let s = source(None, Some("session"), None);
    let r = request(&[("cookie", "a=1; session=tok; b=2")]);
    assert_eq!(s.find(&r), Some("tok"));
    let r = request(&[("cookie", "a=1"), ("cookie", "session=\"tok2\"")]);
    assert_eq!(s.find(&r), Some("tok2"));
    let r = request(&[("cookie", "xsession=no; session=")]);
    assert_eq!(s.find(&r), None);
}
