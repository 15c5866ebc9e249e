//! The plugins/README.md example `jwt` → `ClaimsPolicy` in the real host, with
//! EdDSA tokens signed here and the JWKS in a file. Needs `libjwt.so` and
//! `libclaims_policy.so`: `cargo build --workspace`.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use gatehouse_tests::{check_request, verdict, Host, PluginDir, Verdict};
use ring::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use serde_json::{json, Value};

/// The YAML of the `<!-- example: claims-policy -->` block in plugins/README.md.
fn readme_example() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("read plugins/README.md");
    let (_, after) = readme
        .split_once("<!-- example: claims-policy -->\n```yaml\n")
        .expect("the claims-policy example in plugins/README.md");
    let (yaml, _) = after.split_once("\n```").expect("end of the example");
    format!("---\n{yaml}\n")
}

/// An Ed25519 key that signs tokens, and its JWKS.
struct Signer(Ed25519KeyPair);

impl Signer {
    fn new() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("keygen");
        Self(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key"))
    }

    fn jwks(&self) -> Value {
        let x = URL_SAFE_NO_PAD.encode(self.0.public_key().as_ref());
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "alg": "EdDSA", "x": x}]})
    }

    fn sign(&self, claims: &Value) -> String {
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let input = format!(
            "{}.{}",
            part(&json!({"alg": "EdDSA", "typ": "JWT", "kid": "k1"})),
            part(claims)
        );
        let signature = URL_SAFE_NO_PAD.encode(self.0.sign(input.as_bytes()).as_ref());
        format!("Bearer {input}.{signature}")
    }
}

/// Claims that satisfy the example's policy; tests change one thing each.
fn good_claims() -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    json!({
        "iss": "https://idp.example.com/", "aud": "orders-api", "sub": "u-42",
        "iat": now, "exp": now + 600,
        "role": "support", "groups": ["orders", "billing"],
        "org": {"tier": "enterprise"}, "org_id": 7,
        "scope": "orders:read orders:write"
    })
}

#[tokio::test]
async fn jwt_then_claims_policy() {
    let plugins = PluginDir::with(&["libjwt.so", "libclaims_policy.so"]);
    let signer = Signer::new();
    let jwks = plugins.path().join("jwks.json");
    std::fs::write(&jwks, signer.jwks().to_string()).expect("write jwks");
    let config = readme_example().replace(
        "/etc/gatehouse/jwks.json",
        jwks.to_str().expect("utf-8 path"),
    );
    let host = match Host::start(&config, &plugins, &[]).await {
        Ok(host) => host,
        Err(failure) => panic!("gatehouse did not start: {failure:?}"),
    };
    let check = |authorization: Option<String>| {
        let host = &host;
        async move {
            let headers: Vec<(&str, &str)> = authorization
                .as_deref()
                .map(|a| ("authorization", a))
                .into_iter()
                .collect();
            let request = check_request(Some("gloo-system.orders-admin"), "/orders", &headers);
            verdict(&host.check(request).await)
        }
    };
    let with = |key: &str, value: Value| {
        let mut claims = good_claims();
        claims[key] = value;
        Some(signer.sign(&claims))
    };
    let denied = |v: &Verdict| match v {
        Verdict::Denied { status, body, .. } => (*status, body.clone()),
        Verdict::Allowed { .. } => panic!("expected a denial, got {v:?}"),
    };

    let ok = check(Some(signer.sign(&good_claims()))).await;
    assert_eq!(ok.header("x-user"), Some("u-42"), "{ok:?}");
    assert_eq!(ok.header("x-org"), Some("org-7"), "{ok:?}");

    let cases = [
        (
            "role",
            json!("viewer"),
            "claim `jwt.claim.role` does not satisfy the policy",
        ),
        (
            "groups",
            json!(["billing"]),
            "claim `jwt.claim.groups` does not satisfy the policy",
        ),
        (
            "org",
            json!({"tier": "free"}),
            "claim `jwt.claims` does not satisfy the policy",
        ),
        (
            "scope",
            json!("orders:read"),
            "missing required scopes: orders:write",
        ),
    ];
    for (claim, value, body) in cases {
        let v = check(with(claim, value)).await;
        assert_eq!(denied(&v), (403, body.to_string()), "{claim}");
    }
    assert_eq!(check(None).await.denied_status(), Some(401));
    let expired = check(with("exp", json!(1))).await;
    assert_eq!(expired.denied_status(), Some(401), "{expired:?}");
}
