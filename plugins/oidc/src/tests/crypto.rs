use crate::crypto::{decode_key, Sealer};

fn key(hex: &str) -> Vec<u8> {
    decode_key(hex).expect("key")
}

#[test]
fn seal_open_round_trip_and_fresh_nonce() {
    let s = Sealer::new(&key(super::KEY_A), &[]).expect("sealer");
    let a = s.seal("p", b"hello");
    let b = s.seal("p", b"hello");
    assert_ne!(a, b, "each seal uses a new nonce");
    assert_eq!(s.open("p", &a).as_deref(), Some(&b"hello"[..]));
}

#[test]
fn tampered_other_purpose_and_foreign_key_do_not_open() {
    let s = Sealer::new(&key(super::KEY_A), &[]).expect("sealer");
    let sealed = s.seal("session", b"{\"sub\":\"alice\"}");
    // Flip one character in the middle of the ciphertext.
    let mut chars: Vec<char> = sealed.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    assert_eq!(s.open("session", &tampered), None);
    assert_eq!(s.open("login", &sealed), None, "bound to its purpose");
    let other = Sealer::new(&key(super::KEY_B), &[]).expect("sealer");
    assert_eq!(other.open("session", &sealed), None, "foreign key");
    assert_eq!(s.open("session", "v1.!!!"), None);
    assert_eq!(s.open("session", "v2.AAAA"), None);
    assert_eq!(s.open("session", ""), None);
}

#[test]
fn rotation_old_keys_open_and_the_current_one_seals() {
    let old = Sealer::new(&key(super::KEY_A), &[]).expect("sealer");
    let sealed_old = old.seal("p", b"x");
    let rotated = Sealer::new(&key(super::KEY_B), &[key(super::KEY_A)]).expect("sealer");
    assert_eq!(rotated.open("p", &sealed_old).as_deref(), Some(&b"x"[..]));
    let sealed_new = rotated.seal("p", b"y");
    assert_eq!(
        old.open("p", &sealed_new),
        None,
        "new values use the new key"
    );
}

#[test]
fn key_text_forms() {
    assert_eq!(key(super::KEY_A).len(), 32);
    let b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    assert_eq!(decode_key(b64), Ok(key(super::KEY_A)));
    assert!(decode_key("abcd").unwrap_err().contains("want 32"));
    assert!(decode_key("not a key at all!").is_err());
    assert!(decode_key(&"é".repeat(32)).is_err());
}
