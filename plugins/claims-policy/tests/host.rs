//! `libclaims_policy.so` in the real host over gRPC, reading state the way the
//! `jwt` plugin writes it (`jwt.claim.<name>`). A `SetHeaders` step stands in
//! for `jwt` and writes the claims, so the test needs no tokens.
//! Build first: `cargo build --workspace`.

use gatehouse_tests::{auth_config, check_request, step, verdict, Host, PluginDir, Verdict};

const CP: &str = "libclaims_policy.so";
const SH: &str = "libset_headers.so";

const POLICY: &str = "{rules: [{claim: jwt.claim.role, oneOf: [admin, editor]}, \
                             {claim: jwt.claim.groups, contains: staff}], \
                     requiredScopes: [read, write], \
                     headers: [{name: x-user, value: '${jwt.claim.sub}'}, \
                               {name: x-role, value: '${jwt.claim.role}'}]}";

/// Auth config `id`: a step writing these claims as `jwt` would, then the policy.
fn chain(id: &str, role: &str, scope: &str, groups: &str) -> String {
    let claims = format!(
        "{{setState: {{jwt.claim.sub: u-42, jwt.claim.role: {role}, \
           jwt.claim.scope: '{scope}', jwt.claim.groups: '{groups}'}}}}"
    );
    auth_config(
        id,
        &[
            step("claims", SH, "SetHeaders", &claims),
            step("policy", CP, "ClaimsPolicy", POLICY),
        ],
    )
}

fn denied(v: &Verdict) -> (i32, &str) {
    match v {
        Verdict::Denied { status, body, .. } => (*status, body.as_str()),
        Verdict::Allowed { .. } => panic!("expected a denial, got {v:?}"),
    }
}

#[tokio::test]
async fn allows_with_headers_or_denies_by_rules_and_scopes() {
    let plugins = PluginDir::with(&[SH, CP]);
    let config = [
        chain(
            "editor",
            "editor",
            "openid read write",
            r#"["staff","dev"]"#,
        ),
        chain("viewer", "viewer", "read write", r#"["staff"]"#),
        chain("contractor", "admin", "read write", r#"["contractors"]"#),
        chain("read-only", "admin", "read", r#"["staff"]"#),
    ]
    .concat();
    let host = match Host::start(&config, &plugins, &[]).await {
        Ok(host) => host,
        Err(failure) => panic!("gatehouse did not start: {failure:?}"),
    };
    let decide = |id: &'static str| {
        let host = &host;
        async move {
            let request = check_request(Some(id), "/", &[("x-user", "spoofed")]);
            verdict(&host.check(request).await)
        }
    };

    let ok = decide("editor").await;
    assert_eq!(
        ok.header("x-user"),
        Some("u-42"),
        "overwrites the client's: {ok:?}"
    );
    assert_eq!(ok.header("x-role"), Some("editor"), "{ok:?}");
    assert_eq!(
        denied(&decide("viewer").await),
        (403, "claim `jwt.claim.role` does not satisfy the policy")
    );
    assert_eq!(
        denied(&decide("contractor").await),
        (403, "claim `jwt.claim.groups` does not satisfy the policy")
    );
    assert_eq!(
        denied(&decide("read-only").await),
        (403, "missing required scopes: write")
    );
}
