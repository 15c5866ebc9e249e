//! Decisions that need no provider: sessions, API clients, callbacks refused
//! before any code exchange.

use gatehouse_plugin_sdk::{testing, Decision, Request, Response};
use serde_json::{json, Value};

use crate::{
    crypto::{decode_key, Sealer},
    now,
    session::Session,
    state::Login,
    Config, Oidc,
};

fn plugin(extra: Value) -> Oidc {
    let key = super::key_file("flow", super::KEY_A);
    let mut config = json!({"issuerUrl": "http://127.0.0.1:9", "clientId": "gh",
        "sessionKeys": {"file": key}, "timeoutMs": 200, "logoutPath": "/logout",
        "headers": [{"claim": "email", "header": "x-auth-email"},
                    {"claim": "groups", "header": "x-auth-groups"}],
        "claims": ["name"]});
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    let config: Config = serde_json::from_value(config).expect("parses");
    Oidc::from_config(config).expect("accepted")
}

fn sealer(key: &str) -> Sealer {
    Sealer::new(&decode_key(key).expect("key"), &[]).expect("sealer")
}

fn session(expires: u64) -> Session {
    Session {
        claims: json!({"sub": "alice", "email": "alice@example.test",
                       "groups": ["dev", "ops"], "name": "Alice"})
        .as_object()
        .cloned()
        .unwrap_or_default(),
        access_token: None,
        refresh_token: None,
        id_token: None,
        access_expires: 0,
        expires,
    }
}

fn with_cookie(value: &str, headers: &[(&str, &str)]) -> Request {
    let cookie = format!("__gatehouse_oidc={value}");
    let mut all = vec![("cookie", cookie.as_str())];
    all.extend_from_slice(headers);
    Request::builder()
        .scheme("https")
        .host("app.test")
        .path("/app")
        .headers(&all)
        .build()
}

fn run(p: &Oidc, r: &Request) -> Response {
    testing::authorize(p, r).expect("response")
}

fn state<'a>(r: &'a Response, key: &str) -> Option<&'a str> {
    r.state_set
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.as_str())
}

fn header<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
    r.request_headers
        .iter()
        .find(|h| h.name == name)
        .map(|h| h.value.as_str())
}

#[test]
fn a_valid_session_allows_and_publishes_the_identity() {
    let p = plugin(json!({}));
    let cookie = session(now() + 3600).seal(&sealer(super::KEY_A));
    let r = run(
        &p,
        &with_cookie(&cookie, &[("x-auth-email", "mallory@evil.test")]),
    );
    assert_eq!(r.decision, Decision::Allow, "{r:?}");
    assert_eq!(r.user_id, "alice");
    assert_eq!(state(&r, "oidc.sub"), Some("alice"));
    assert_eq!(state(&r, "oidc.email"), Some("alice@example.test"));
    assert_eq!(state(&r, "oidc.groups"), Some("[\"dev\",\"ops\"]"));
    assert_eq!(state(&r, "oidc.claim.name"), Some("Alice"));
    assert_eq!(
        header(&r, "x-auth-email"),
        Some("alice@example.test"),
        "replaces the client's"
    );
    assert_eq!(header(&r, "x-auth-groups"), Some("dev,ops"));
    assert!(r.response_headers.is_empty(), "no refresh, no Set-Cookie");
}

#[test]
fn tampered_expired_and_foreign_key_cookies_are_no_session() {
    let p = plugin(json!({}));
    let api = [("accept", "application/json")];
    let good = session(now() + 3600).seal(&sealer(super::KEY_A));
    let mut tampered = good.clone();
    tampered.replace_range(10..11, if &good[10..11] == "A" { "B" } else { "A" });
    let expired = session(now() - 1).seal(&sealer(super::KEY_A));
    let foreign = session(now() + 3600).seal(&sealer(super::KEY_B));
    for (what, value) in [
        ("tampered", tampered),
        ("expired", expired),
        ("foreign key", foreign),
    ] {
        let r = run(&p, &with_cookie(&value, &api));
        assert_eq!(
            (r.decision, r.status),
            (Decision::Deny, 401),
            "{what}: {r:?}"
        );
    }
}

#[test]
fn old_keys_still_open_sessions() {
    let old = super::key_file("old", super::KEY_A);
    let new = super::key_file("new", super::KEY_B);
    let p = plugin(json!({"sessionKeys": {"file": new, "oldFiles": [old]}}));
    let cookie = session(now() + 3600).seal(&sealer(super::KEY_A));
    assert_eq!(
        run(&p, &with_cookie(&cookie, &[])).decision,
        Decision::Allow
    );
}

#[test]
fn api_clients_get_401_and_browsers_a_login_attempt() {
    let p = plugin(json!({"apiClientHeaders": ["x-requested-with"]}));
    let r = run(&p, &with_cookie("none", &[("accept", "application/json")]));
    assert_eq!(r.status, 401);
    let r = run(
        &p,
        &with_cookie(
            "none",
            &[("accept", "text/html"), ("x-requested-with", "fetch")],
        ),
    );
    assert_eq!(r.status, 401, "a configured API header");
    // A browser: the provider (port 9) is down, so no redirect can be built.
    let r = run(&p, &with_cookie("none", &[("accept", "text/html,*/*")]));
    assert_eq!(r.status, 503, "{r:?}");
}

fn callback(query: &str, cookie: Option<&str>) -> Request {
    let c;
    let headers: Vec<(&str, &str)> = match cookie {
        Some(v) => {
            c = format!("__gatehouse_oidc_login={v}");
            vec![("cookie", c.as_str())]
        }
        None => vec![],
    };
    Request::builder()
        .scheme("https")
        .host("app.test")
        .path(&format!("/oauth2/callback?{query}"))
        .headers(&headers)
        .build()
}

#[test]
fn forged_missing_and_replayed_states_are_refused_before_any_exchange() {
    let p = plugin(json!({}));
    let login = Login::new(
        "https://app.test/app".into(),
        "https://app.test/oauth2/callback".into(),
        now(),
    );
    let sealed = login.seal(&sealer(super::KEY_A));
    let r = run(&p, &callback("code=c&state=forged", Some(&sealed)));
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains("state does not match"), "{}", r.body);
    let r = run(
        &p,
        &callback(&format!("code=c&state={}", login.state), None),
    );
    assert_eq!(r.status, 400);
    let r = run(&p, &callback("state=x", Some(&sealed)));
    assert_eq!(r.status, 400, "no code");
    // First use gets as far as the provider (down: 503); the replay does not.
    let q = format!("code=c&state={}", login.state);
    assert_eq!(run(&p, &callback(&q, Some(&sealed))).status, 503);
    let r = run(&p, &callback(&q, Some(&sealed)));
    assert_eq!(r.status, 400);
    assert!(r.body.contains("already used"), "{}", r.body);
    let r = run(&p, &callback("error=access_denied", None));
    assert_eq!(r.status, 401);
}

#[test]
fn a_login_state_returning_elsewhere_is_refused() {
    let p = plugin(json!({}));
    let login = Login::new(
        "https://evil.test/".into(),
        "https://app.test/oauth2/callback".into(),
        now(),
    );
    let sealed = login.seal(&sealer(super::KEY_A));
    let r = run(
        &p,
        &callback(&format!("code=c&state={}", login.state), Some(&sealed)),
    );
    assert_eq!(r.status, 400);
    assert!(r.body.contains("return URL not allowed"), "{}", r.body);
}

#[test]
fn logout_clears_the_session_cookie() {
    let p = plugin(json!({"afterLogoutUrl": "https://app.test/bye"}));
    let cookie = session(now() + 3600).seal(&sealer(super::KEY_A));
    let r = with_cookie(&cookie, &[])
        .into_builder()
        .path("/logout")
        .build();
    let r = run(&p, &r);
    assert_eq!(r.status, 302);
    let location = r
        .response_headers
        .iter()
        .find(|h| h.name == "location")
        .map(|h| h.value.as_str());
    assert_eq!(
        location,
        Some("https://app.test/bye"),
        "no provider: afterLogoutUrl"
    );
    assert!(r.response_headers.iter().any(|h| h.name == "set-cookie"
        && h.value.starts_with("__gatehouse_oidc=; ")
        && h.value.contains("Max-Age=0")));
}

#[test]
fn a_fixed_redirect_url_pins_the_origin_a_login_may_start_on() {
    let p = plugin(json!({"redirectUrl": "https://gw.test/oauth2/callback"}));
    let r = Request::builder()
        .scheme("https")
        .host("evil.test")
        .path("/app")
        .header("accept", "text/html")
        .build();
    let r = run(&p, &r);
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        r.body.contains("not one a login may return to"),
        "{}",
        r.body
    );
}

#[test]
fn cookie_domain_and_secure_come_from_the_config() {
    let p = plugin(json!({"cookie": {"name": "s", "domain": "example.test", "secure": false}}));
    let sealed = session(now() + 60).seal(&sealer(super::KEY_A));
    let r = Request::builder()
        .scheme("https")
        .host("app.test")
        .path("/logout")
        .header("cookie", &format!("s={sealed}"))
        .build();
    let r = run(&p, &r);
    let set: Vec<&str> = r
        .response_headers
        .iter()
        .filter(|h| h.name == "set-cookie")
        .map(|h| h.value.as_str())
        .collect();
    assert_eq!(
        set,
        ["s=; Path=/; Domain=example.test; Max-Age=0; HttpOnly; SameSite=Lax"]
    );
}

#[test]
fn an_unreachable_redis_is_503_never_a_login_or_an_allow() {
    let p = plugin(json!({"redis": {"address": "127.0.0.1:9"}}));
    let pointer = crate::session::Pointer {
        id: "abc".into(),
        expires: now() + 60,
    }
    .seal(&sealer(super::KEY_A));
    let r = run(&p, &with_cookie(&pointer, &[("accept", "text/html")]));
    assert_eq!((r.decision, r.status), (Decision::Deny, 503), "{r:?}");
}

#[test]
fn refresh_is_due_only_with_a_refresh_token_near_expiry() {
    let mut s = session(2000);
    s.access_expires = 1100;
    assert!(!s.wants_refresh(1050, 60), "no refresh token");
    s.refresh_token = Some("rt".into());
    assert!(s.wants_refresh(1050, 60));
    assert!(!s.wants_refresh(1000, 60), "not yet");
    assert!(
        !s.wants_refresh(1050, 0),
        "refreshBeforeSeconds: 0 never refreshes"
    );
}

#[test]
fn a_callback_error_is_not_echoed_and_never_rendered_as_html() {
    let p = plugin(json!({}));
    let r = run(
        &p,
        &callback("error=%3Cscript%3Ealert(1)%3C%2Fscript%3E", None),
    );
    assert_eq!(r.status, 401);
    assert!(!r.body.contains('<') && !r.body.contains('('), "{}", r.body);
    let header = |n: &str| {
        r.response_headers
            .iter()
            .find(|h| h.name == n)
            .map(|h| h.value.as_str())
    };
    assert_eq!(header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(header("x-content-type-options"), Some("nosniff"));
}
