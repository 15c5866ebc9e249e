use gatehouse_plugin_sdk::jwt::{
    jsonwebtoken::{Algorithm, Header},
    Claims,
};
use serde_json::json;

use crate::idtoken::{access_token_hash, check, Expect, Invalid};

fn claims(value: serde_json::Value) -> Claims {
    value.as_object().cloned().expect("object")
}

fn expect<'a>(nonce: Option<&'a str>, access: Option<&'a str>) -> Expect<'a> {
    Expect {
        client_id: "gh",
        nonce,
        access_token: access,
        now: 1000,
        leeway: 60,
    }
}

#[test]
fn nonce_iat_azp_sub_and_at_hash() {
    let header = Header::new(Algorithm::RS256);
    let token = "access-token-value";
    let good = json!({"sub": "alice", "aud": "gh", "iat": 990, "nonce": "n1",
        "at_hash": access_token_hash(Algorithm::RS256, token)});
    assert_eq!(
        check(
            &header,
            &claims(good.clone()),
            &expect(Some("n1"), Some(token))
        ),
        Ok(())
    );
    let mut c = claims(good.clone());
    c.insert("nonce".into(), json!("n2"));
    assert_eq!(
        check(&header, &c, &expect(Some("n1"), Some(token))),
        Err(Invalid::Nonce)
    );
    c.remove("nonce");
    assert_eq!(
        check(&header, &c, &expect(Some("n1"), Some(token))),
        Err(Invalid::Nonce)
    );
    assert_eq!(
        check(
            &header,
            &claims(good.clone()),
            &expect(Some("n1"), Some("other"))
        ),
        Err(Invalid::AccessTokenHash)
    );
    let mut c = claims(good.clone());
    c.insert("iat".into(), json!(2000));
    assert_eq!(
        check(&header, &c, &expect(Some("n1"), Some(token))),
        Err(Invalid::IssuedAt)
    );
    c.remove("iat");
    assert_eq!(
        check(&header, &c, &expect(Some("n1"), Some(token))),
        Err(Invalid::IssuedAt)
    );
    let mut c = claims(good.clone());
    c.insert("aud".into(), json!(["gh", "other"]));
    assert_eq!(
        check(&header, &c, &expect(Some("n1"), Some(token))),
        Err(Invalid::AuthorizedParty)
    );
    c.insert("azp".into(), json!("gh"));
    assert_eq!(check(&header, &c, &expect(Some("n1"), Some(token))), Ok(()));
    c.insert("azp".into(), json!("other"));
    assert_eq!(
        check(&header, &c, &expect(Some("n1"), Some(token))),
        Err(Invalid::AuthorizedParty)
    );
    let mut c = claims(good);
    c.remove("sub");
    assert_eq!(
        check(&header, &c, &expect(Some("n1"), Some(token))),
        Err(Invalid::Subject)
    );
}

#[test]
fn at_hash_matches_the_spec_example() {
    // OpenID Connect Core, appendix A.3 (RS256).
    assert_eq!(
        access_token_hash(
            Algorithm::RS256,
            "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
        ),
        "77QmUPtjPfzWtF2AnpK9RQ"
    );
}
