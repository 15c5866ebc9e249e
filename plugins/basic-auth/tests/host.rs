//! `libbasic_auth.so` in the real host over gRPC: right, wrong and missing
//! credentials with the challenge, argon2 and bcrypt users, a refused hash
//! scheme, and the plugins/README.md example (a chain into `ClaimsPolicy`).
//! Build first: `cargo build --workspace`.

use argon2::{
    password_hash::{PasswordHasher, SaltString},
    Algorithm, Argon2, Params, Version,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use gatehouse_tests::{
    auth_config, check_request, plugins_readme_example, step, verdict, Host, PluginDir, Verdict,
};

const BA: &str = "libbasic_auth.so";
const CP: &str = "libclaims_policy.so";

/// htpasswd text with `alice` (bcrypt, cost 4) and `bob` (argon2id, tiny params).
fn htpasswd() -> String {
    let alice = bcrypt::hash("alice-pw", 4).expect("bcrypt");
    let params = Params::new(8, 1, 1, None).expect("params");
    let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0").expect("salt");
    let bob = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(b"bob-pw", &salt)
        .expect("argon2")
        .to_string();
    format!("alice:{alice}\nbob:{bob}\n")
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// Writes the users to a file in the plugin dir and returns a step using it.
fn basic_step(plugins: &PluginDir, extra: &str) -> String {
    let file = plugins.path().join("users.htpasswd");
    std::fs::write(&file, htpasswd()).expect("write htpasswd");
    let config = format!(
        "{{htpasswdFile: '{}', realm: staff{extra}}}",
        file.display()
    );
    step("basic", BA, "BasicAuth", &config)
}

async fn start(config: &str, plugins: &PluginDir) -> Host {
    match Host::start(config, plugins, &[]).await {
        Ok(host) => host,
        Err(failure) => panic!("gatehouse did not start: {failure:?}"),
    }
}

async fn check(host: &Host, id: &str, authorization: Option<&str>) -> Verdict {
    let headers: Vec<(&str, &str)> = authorization
        .map(|a| ("authorization", a))
        .into_iter()
        .collect();
    verdict(&host.check(check_request(Some(id), "/", &headers)).await)
}

fn assert_challenged(v: &Verdict, expected_body: &str) {
    let Verdict::Denied {
        status,
        body,
        headers,
    } = v
    else {
        panic!("expected a denial, got {v:?}")
    };
    assert_eq!((*status, body.as_str()), (401, expected_body));
    assert!(
        headers.contains(&(
            "www-authenticate".into(),
            "Basic realm=\"staff\", charset=\"UTF-8\"".into()
        )),
        "{headers:?}"
    );
}

#[tokio::test]
async fn right_wrong_and_missing_credentials() {
    let plugins = PluginDir::with(&[BA]);
    let config = auth_config(
        "basic",
        &[basic_step(&plugins, ", forwardUserHeader: x-user")],
    );
    let host = start(&config, &plugins).await;

    for (user, password) in [("alice", "alice-pw"), ("bob", "bob-pw")] {
        let ok = check(&host, "basic", Some(&basic(user, password))).await;
        assert_eq!(ok.header("x-user"), Some(user), "{ok:?}");
    }
    assert_challenged(
        &check(&host, "basic", Some(&basic("alice", "bob-pw"))).await,
        "invalid credentials",
    );
    assert_challenged(
        &check(&host, "basic", Some(&basic("nobody", "x"))).await,
        "invalid credentials",
    );
    assert_challenged(
        &check(&host, "basic", None).await,
        "authentication required",
    );
    assert_challenged(
        &check(&host, "basic", Some("Basic %%%")).await,
        "malformed Basic credentials",
    );
}

#[tokio::test]
async fn unsupported_hash_scheme_refuses_the_config_naming_the_line() {
    let plugins = PluginDir::with(&[BA]);
    let config = auth_config(
        "basic",
        &[step(
            "basic",
            BA,
            "BasicAuth",
            "{htpasswd: \"# md5 is not accepted\\nold:$apr1$x$y\\n\"}",
        )],
    );
    match Host::start(&config, &plugins, &[]).await {
        Ok(_) => panic!("an $apr1$ hash must be refused"),
        Err(failure) => assert!(
            failure
                .log
                .contains("htpasswd line 2 (user old): unsupported hash scheme `$apr1$`"),
            "{}",
            failure.log
        ),
    }
}

#[tokio::test]
async fn readme_example_runs_with_policy_chain() {
    let plugins = PluginDir::with(&[BA, CP]);
    let file = plugins.path().join("staff.htpasswd");
    let users = htpasswd().replace("bob:", "carol:");
    std::fs::write(&file, users).expect("write htpasswd");
    let config = plugins_readme_example("basic-auth").replace(
        "/etc/gatehouse/staff.htpasswd",
        file.to_str().expect("utf-8 path"),
    );
    let host = start(&config, &plugins).await;
    let id = "gloo-system.staff-console";

    let alice = check(&host, id, Some(&basic("alice", "alice-pw"))).await;
    assert_eq!(alice.header("x-user"), Some("alice"), "{alice:?}");
    assert_eq!(alice.header("x-console-role"), Some("admin"), "{alice:?}");
    let Verdict::Allowed { removed, .. } = &alice else {
        panic!("{alice:?}")
    };
    assert_eq!(removed, &vec!["authorization".to_string()]);

    let carol = check(&host, id, Some(&basic("carol", "bob-pw"))).await;
    assert_eq!(
        carol.denied_status(),
        Some(403),
        "authenticated, but not allowed: {carol:?}"
    );
    let challenge = "Basic realm=\"staff console\", charset=\"UTF-8\"";
    for (authorization, body) in [
        (Some(basic("alice", "wrong")), "invalid credentials"),
        (Some(basic("mallory", "alice-pw")), "invalid credentials"),
        (None, "authentication required"),
    ] {
        let v = check(&host, id, authorization.as_deref()).await;
        let Verdict::Denied {
            status,
            body: got,
            headers,
        } = &v
        else {
            panic!("{v:?}")
        };
        assert_eq!((*status, got.as_str()), (401, body));
        assert!(
            headers.contains(&("www-authenticate".into(), challenge.into())),
            "{headers:?}"
        );
    }
}
