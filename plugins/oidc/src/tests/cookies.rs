use gatehouse_plugin_sdk::testing::request;

use crate::cookies::{self, Attributes, CHUNK};

fn attrs() -> Attributes {
    Attributes {
        domain: Some("example.test".into()),
        secure: true,
        path: "/".into(),
    }
}

#[test]
fn set_cookie_has_the_session_attributes() {
    let c = cookies::set_cookie("s", "v", &attrs(), Some(60));
    assert_eq!(
        c,
        "s=v; Path=/; Domain=example.test; Max-Age=60; Secure; HttpOnly; SameSite=Lax"
    );
    assert!(cookies::clear("s", &attrs()).contains("s=; Path=/; Domain=example.test; Max-Age=0"));
}

#[test]
fn small_values_are_one_cookie_large_ones_chunks_that_read_back() {
    let small = cookies::write_chunked("s", "abc", &attrs(), 60, &[]).expect("fits");
    assert_eq!(small.len(), 1);
    let value = "x".repeat(CHUNK * 2 + 10);
    let set = cookies::write_chunked("s", &value, &attrs(), 60, &["s".into()]).expect("fits");
    // Three chunks and the removal of the old unchunked cookie.
    assert_eq!(set.len(), 4, "{set:?}");
    assert!(
        set.iter().take(3).all(|c| c.len() < 4096),
        "each under 4 KB"
    );
    assert!(set[3].starts_with("s=; "));
    let header: Vec<String> = set[..3]
        .iter()
        .map(|c| c.split(';').next().unwrap_or("").to_string())
        .collect();
    let req = request(&[("cookie", &header.join("; "))]);
    let pairs = cookies::pairs(&req);
    assert_eq!(cookies::read_chunked(&pairs, "s"), Some(value));
    assert_eq!(cookies::present(&pairs, "s"), ["s_0", "s_1", "s_2"]);
    let too_big = "x".repeat(CHUNK * (cookies::MAX_CHUNKS + 1));
    assert!(cookies::write_chunked("s", &too_big, &attrs(), 60, &[]).is_none());
}

#[test]
fn shrinking_clears_the_chunks_left_over() {
    let stale = vec!["s_0".to_string(), "s_1".to_string()];
    let set = cookies::write_chunked("s", "small", &attrs(), 60, &stale).expect("fits");
    assert_eq!(set.len(), 3);
    assert!(set[1].starts_with("s_0=; ") && set[2].starts_with("s_1=; "));
}

#[test]
fn cookie_pairs_from_joined_headers() {
    let req = request(&[("cookie", "a=1; s=\"q\"; b=2")]);
    let pairs = cookies::pairs(&req);
    assert_eq!(cookies::get(&pairs, "s"), Some("q"));
    assert_eq!(cookies::get(&pairs, "b"), Some("2"));
    assert_eq!(cookies::read_chunked(&pairs, "zz"), None);
}
