//! Gloo's `spec.booleanExpr` through the real binary and real plugins: a Gloo
//! document with names on its config entries loads unchanged and decides with
//! OR, NOT and parentheses, short-circuiting.

use gatehouse_tests::{check_request, http_of, verdict, Host, PluginDir};

const RH: &str = "librequired_header.so";
const SH: &str = "libset_headers.so";

/// The last step of every config here: tags what it allows.
const TAG: &str = "  - pluginAuth:
      name: tag
      pluginFileName: libset_headers.so
      exportedSymbolName: SetHeaders
      config: {headers: [{name: x-checked, value: 'yes'}]}
";

/// `config` (whose last line ends `spec.configs`) with [`TAG`] as its last step.
fn with_tag(config: &str) -> String {
    format!("{config}{TAG}")
}

/// A host serving `config` + [`TAG`], with the plugins these tests use.
async fn start(config: &str) -> (Host, PluginDir) {
    let plugins = PluginDir::with(&[RH, SH]);
    match Host::start(&with_tag(config), &plugins, &[]).await {
        Ok(host) => (host, plugins),
        Err(failure) => panic!("gatehouse did not start: {failure:?}"),
    }
}

/// `(team || service) && !blocked`, then the tagging step, as a Gloo user writes it.
const EITHER: &str = "apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata: {name: either, namespace: gloo-system}
spec:
  booleanExpr: ((team || service) && !blocked) && tag
  configs:
  - name: team
    pluginAuth:
      name: team-header
      pluginFileName: librequired_header.so
      exportedSymbolName: RequiredHeader
      config: {requiredHeader: x-team, allowedValues: [platform]}
  - name: service
    pluginAuth:
      name: service-header
      pluginFileName: librequired_header.so
      exportedSymbolName: RequiredHeader
      config: {requiredHeader: x-service, allowedValues: [billing]}
  - pluginAuth:
      name: blocked
      pluginFileName: librequired_header.so
      exportedSymbolName: RequiredHeader
      config: {requiredHeader: x-blocked, allowedValues: ['yes']}
";

#[tokio::test]
async fn boolean_expr_decides_with_or_not_and_parentheses() {
    let (host, _plugins) = start(EITHER).await;
    let decide = |headers: &'static [(&'static str, &'static str)]| {
        let host = &host;
        async move {
            verdict(
                &host
                    .check(check_request(Some("gloo-system.either"), "/", headers))
                    .await,
            )
        }
    };
    let team = decide(&[("x-team", "platform")]).await;
    assert_eq!(team.header("x-checked"), Some("yes"), "{team:?}");
    let service = decide(&[("x-service", "billing")]).await;
    assert_eq!(service.header("x-checked"), Some("yes"), "{service:?}");
    // Neither identity: the last denial (service-header's 401) is returned.
    assert_eq!(
        decide(&[("x-team", "intern")]).await.denied_status(),
        Some(401)
    );
    // An identity, but the NOT-ed step allows: 403.
    let blocked = decide(&[("x-team", "platform"), ("x-blocked", "yes")]).await;
    assert_eq!(blocked.denied_status(), Some(403), "{blocked:?}");

    let (_, metrics) = host.admin_get("/metrics");
    let calls = |step: &str| {
        metrics
            .lines()
            .filter(|l| {
                l.starts_with("gatehouse_step_results_total")
                    && l.contains(&format!("step=\"{step}\""))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum::<u64>()
    };
    assert_eq!(calls("team-header"), 4, "team runs every time:\n{metrics}");
    assert_eq!(
        calls("service-header"),
        2,
        "service runs only when team denied:\n{metrics}"
    );
    assert_eq!(
        calls("tag"),
        2,
        "tag runs only when the rest is true:\n{metrics}"
    );
}

#[tokio::test]
async fn an_expression_naming_an_unknown_config_is_refused_at_load() {
    let plugins = PluginDir::with(&[RH, SH]);
    let broken = EITHER.replace("!blocked", "!oidc");
    let failure = match Host::start(&with_tag(&broken), &plugins, &[]).await {
        Ok(_) => panic!("started with a booleanExpr naming no config"),
        Err(failure) => failure,
    };
    assert!(
        failure
            .log
            .contains("spec.booleanExpr at position 24: no config named 'oidc' in spec.configs"),
        "{}",
        failure.log
    );
}

#[tokio::test]
async fn a_shadow_step_is_counted_but_never_denies_nor_sets_headers() {
    let config = "kind: AuthConfig
metadata: {name: rollout}
spec:
  configs:
  - shadow: true
    pluginAuth:
      name: new-policy
      pluginFileName: librequired_header.so
      exportedSymbolName: RequiredHeader
      config: {requiredHeader: x-team, allowedValues: [platform]}
  - shadow: true
    pluginAuth:
      name: new-tag
      pluginFileName: libset_headers.so
      exportedSymbolName: SetHeaders
      config: {headers: [{name: x-new, value: 'yes'}]}
";
    let (host, _plugins) = start(config).await;
    for _ in 0..2 {
        let allowed = verdict(&host.check(check_request(Some("rollout"), "/", &[])).await);
        assert_eq!(allowed.header("x-checked"), Some("yes"), "{allowed:?}");
        assert_eq!(
            allowed.header("x-new"),
            None,
            "a shadow step changes no header"
        );
    }
    let (_, metrics) = host.admin_get("/metrics");
    for line in [
        "gatehouse_step_results_total{auth_config=\"rollout\",result=\"deny\",shadow=\"true\",step=\"new-policy\"} 2",
        "gatehouse_step_results_total{auth_config=\"rollout\",result=\"allow\",shadow=\"true\",step=\"new-tag\"} 2",
        "gatehouse_step_results_total{auth_config=\"rollout\",result=\"allow\",shadow=\"false\",step=\"tag\"} 2",
        "gatehouse_requests_total{auth_config=\"rollout\",decision=\"allow\"} 2",
    ] {
        assert!(metrics.contains(line), "missing `{line}` in:\n{metrics}");
    }
    assert!(
        host.logs().contains("shadow step: would-be decision"),
        "{}",
        host.logs()
    );
}

#[tokio::test]
async fn a_when_step_runs_only_where_its_conditions_hold() {
    let config = "kind: AuthConfig
metadata: {name: routes}
spec:
  configs:
  - when:
    - path: {prefix: /admin}
    - method: [POST, DELETE]
    pluginAuth:
      name: admins-only
      pluginFileName: librequired_header.so
      exportedSymbolName: RequiredHeader
      config: {requiredHeader: x-team, allowedValues: [platform]}
";
    let (host, _plugins) = start(config).await;
    let decide = |method: &'static str, path: &'static str| {
        let host = &host;
        async move {
            let mut request = check_request(Some("routes"), path, &[]);
            http_of(&mut request).method = method.into();
            verdict(&host.check(request).await)
        }
    };
    assert_eq!(
        decide("POST", "/public").await.header("x-checked"),
        Some("yes")
    );
    assert_eq!(
        decide("GET", "/admin/users").await.header("x-checked"),
        Some("yes")
    );
    assert_eq!(
        decide("POST", "/admin/users").await.denied_status(),
        Some(401)
    );
    let (_, metrics) = host.admin_get("/metrics");
    for line in [
        "gatehouse_step_results_total{auth_config=\"routes\",result=\"skipped\",shadow=\"false\",step=\"admins-only\"} 2",
        "gatehouse_step_results_total{auth_config=\"routes\",result=\"deny\",shadow=\"false\",step=\"admins-only\"} 1",
    ] {
        assert!(metrics.contains(line), "missing `{line}` in:\n{metrics}");
    }
}
