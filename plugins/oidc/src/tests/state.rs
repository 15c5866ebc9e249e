use crate::{
    crypto::{decode_key, Sealer},
    state::{Login, Refused, UsedStates, LOGIN_SECONDS},
};

fn sealer() -> Sealer {
    Sealer::new(&decode_key(super::KEY_A).expect("key"), &[]).expect("sealer")
}

#[test]
fn the_callback_must_present_the_cookies_state_in_time() {
    let s = sealer();
    let login = Login::new(
        "https://app.test/x".into(),
        "https://app.test/cb".into(),
        1000,
    );
    let cookie = login.seal(&s);
    assert_eq!(
        Login::open(&s, &cookie, &login.state, 1001),
        Ok(login.clone())
    );
    assert_eq!(
        Login::open(&s, &cookie, "forged", 1001),
        Err(Refused::StateMismatch)
    );
    assert_eq!(
        Login::open(&s, &cookie, &login.state, 1001 + LOGIN_SECONDS),
        Err(Refused::Expired)
    );
    let other = Sealer::new(&decode_key(super::KEY_B).expect("key"), &[]).expect("sealer");
    assert_eq!(
        Login::open(&other, &cookie, &login.state, 1001),
        Err(Refused::BadCookie)
    );
}

#[test]
fn pkce_challenge_is_s256_of_the_verifier() {
    // RFC 7636 appendix B.
    let login = Login {
        verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into(),
        ..Login::new(String::new(), String::new(), 0)
    };
    assert_eq!(
        login.challenge(),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    let a = Login::new(String::new(), String::new(), 0);
    let b = Login::new(String::new(), String::new(), 0);
    assert_ne!(a.state, b.state);
    assert_ne!(a.nonce, b.nonce);
    assert_ne!(a.verifier, b.verifier);
    assert!(a.verifier.len() >= 43, "RFC 7636: 43..128 characters");
}

#[test]
fn a_state_is_used_once_and_old_ones_are_forgotten() {
    let used = UsedStates::new(2);
    assert!(used.first_use("a"));
    assert!(!used.first_use("a"));
    assert!(used.first_use("b"));
    assert!(used.first_use("c"));
    assert!(
        used.first_use("a"),
        "a was the oldest, forgotten at capacity"
    );
}
