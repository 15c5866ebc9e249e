//! Request cases: a request to run through a chain, what must come out, and a
//! diff when it does not.
//!
//! ```yaml
//! cases:
//!   - name: a platform team member passes
//!     request:
//!       method: GET                      # default GET
//!       path: /demo                      # default /
//!       headers: {x-team: platform}      # a value may be a list (repeated header)
//!       body: "…"                        # optional
//!       contextExtensions: {k: v}
//!       state: {tagged: "yes"}           # the chain's state before the first step
//!     expect:
//!       decision: allow                  # allow | deny (required)
//!       setHeaders: {x-gatehouse-team: verified, x-absent: null}
//!       removedHeaders: [x-internal-debug]
//!       responseHeaders: {x-gatehouse-decision: allowed}
//!       state: {requiredHeader: platform}
//!       userId: demo-user
//!       steps: {team-header: ran, audit: shadow}   # ran | skipped | cached | shadow | notRun
//! ```
//!
//! Cases run in order through one chain, so a case after a cached step's miss
//! can expect `cached`.
//!
//! Only what `expect` lists is checked; `null` means "must be absent". A denial
//! is checked with `status`, `body` and `responseHeaders`.

use std::collections::BTreeMap;

use gatehouse::model::{Allowed, Decision, Denied, Request, State};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::steps::STEP_STATES;

/// One request case.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Case {
    /// Shown in the log.
    pub(crate) name: String,
    /// The request (all fields optional).
    #[serde(default)]
    pub(crate) request: CaseRequest,
    /// What must come out.
    pub(crate) expect: Expect,
}

/// The request of a case, as a proxy would describe it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub(crate) struct CaseRequest {
    method: String,
    path: String,
    host: String,
    scheme: String,
    headers: BTreeMap<String, HeaderValues>,
    body: Option<String>,
    context_extensions: BTreeMap<String, String>,
    /// The chain's state before the first step.
    pub(crate) state: State,
}

impl Default for CaseRequest {
    fn default() -> Self {
        Self {
            method: "GET".into(),
            path: "/".into(),
            host: "localhost".into(),
            scheme: "http".into(),
            headers: BTreeMap::new(),
            body: None,
            context_extensions: BTreeMap::new(),
            state: State::new(),
        }
    }
}

/// One header value, or several for a repeated header.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum HeaderValues {
    One(String),
    Many(Vec<String>),
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Verdict {
    /// The chain allowed the request.
    Allow,
    /// The chain denied it.
    Deny,
}

/// What must come out of a case. Only what is listed is checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Expect {
    decision: Verdict,
    /// Deny: the HTTP status.
    #[serde(default)]
    status: Option<u16>,
    /// Deny: the body.
    #[serde(default)]
    body: Option<String>,
    /// Allow: final values of upstream headers the chain sets (null: not set).
    #[serde(default)]
    set_headers: BTreeMap<String, Option<String>>,
    /// Allow: upstream headers the chain removes.
    #[serde(default)]
    removed_headers: Vec<String>,
    /// Headers for the client (allow: added to the response; deny: the denial's).
    #[serde(default)]
    response_headers: BTreeMap<String, Option<String>>,
    /// Allow: state after the last step (null: absent).
    #[serde(default)]
    state: BTreeMap<String, Option<String>>,
    /// Allow: the user id.
    #[serde(default)]
    user_id: Option<String>,
    /// Either decision: how each named step took part (`ran`, `skipped`,
    /// `cached`, `shadow`, `notRun`).
    #[serde(default)]
    steps: BTreeMap<String, String>,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
        }
    }

    fn other(self) -> Self {
        match self {
            Verdict::Allow => Verdict::Deny,
            Verdict::Deny => Verdict::Allow,
        }
    }
}

impl Case {
    /// Refuses expectations that cannot apply to the expected decision.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let e = &self.expect;
        if let Some((step, state)) = e
            .steps
            .iter()
            .find(|(_, s)| !STEP_STATES.contains(&s.as_str()))
        {
            return Err(format!(
                "expect.steps.{step}: '{state}' is not one of {}",
                STEP_STATES.join(", ")
            ));
        }
        let deny_only = [("status", e.status.is_some()), ("body", e.body.is_some())];
        let allow_only = [
            ("setHeaders", !e.set_headers.is_empty()),
            ("removedHeaders", !e.removed_headers.is_empty()),
            ("state", !e.state.is_empty()),
            ("userId", e.user_id.is_some()),
        ];
        let misplaced: Vec<&str> = match e.decision {
            Verdict::Allow => &deny_only[..],
            Verdict::Deny => &allow_only[..],
        }
        .iter()
        .filter(|(_, given)| *given)
        .map(|(name, _)| *name)
        .collect();
        if misplaced.is_empty() {
            return Ok(());
        }
        Err(format!(
            "expect.{}: only checked when the decision is {}, but this case expects {}",
            misplaced.join(", expect."),
            e.decision.other().as_str(),
            e.decision.as_str()
        ))
    }
}

impl CaseRequest {
    /// The host request for this case. `config_id` is added to the context
    /// extensions (as the route would) unless the case sets one.
    pub(crate) fn to_request(&self, id: String, config_id: Option<&str>) -> Request {
        let mut context_extensions = self.context_extensions.clone();
        if let Some(config_id) = config_id {
            context_extensions
                .entry(gatehouse::router::CONFIG_ID_KEY.to_string())
                .or_insert_with(|| config_id.to_string());
        }
        Request {
            id,
            method: self.method.clone(),
            scheme: self.scheme.clone(),
            host: self.host.clone(),
            path: self.path.clone(),
            headers: self
                .headers
                .iter()
                .flat_map(|(name, values)| {
                    let name = name.to_ascii_lowercase();
                    let values = match values {
                        HeaderValues::One(v) => vec![v.clone()],
                        HeaderValues::Many(vs) => vs.clone(),
                    };
                    values.into_iter().map(move |v| (name.clone(), v))
                })
                .collect(),
            body: self.body.clone().map(String::into_bytes),
            context_extensions,
            ..Request::default()
        }
    }
}

/// The differences between `expect` and `got`, as `- expected` / `+ got`
/// line pairs; empty when the case passes.
pub(crate) fn diff(
    expect: &Expect,
    got: &Decision,
    steps: &BTreeMap<String, &'static str>,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut check = |what: String, want: String, have: String| {
        if want != have {
            lines.push(format!("- {what}: {want}"));
            lines.push(format!("+ {what}: {have}"));
        }
    };
    for (step, want) in &expect.steps {
        let have = steps.get(step).copied().unwrap_or("notRun");
        check(format!("steps.{step}"), want.clone(), have.into());
    }
    match (expect.decision, got) {
        (Verdict::Allow, Decision::Deny(_)) | (Verdict::Deny, Decision::Allow(_)) => {
            let want = expect.decision;
            check(
                "decision".into(),
                want.as_str().into(),
                want.other().as_str().into(),
            );
        }
        (Verdict::Deny, Decision::Deny(denied)) => {
            if let Some(status) = expect.status {
                check(
                    "status".into(),
                    status.to_string(),
                    denied.status.to_string(),
                );
            }
            if let Some(body) = &expect.body {
                check("body".into(), quoted(body), quoted(&denied.body));
            }
            for (name, want) in &expect.response_headers {
                let have = joined(&denied.headers, name);
                check(
                    format!("responseHeaders.{name}"),
                    or_absent(want.as_deref()),
                    or_absent(have.as_deref()),
                );
            }
        }
        (Verdict::Allow, Decision::Allow(allowed)) => {
            for (name, want) in &expect.set_headers {
                let have = joined(&allowed.set_headers, name);
                check(
                    format!("setHeaders.{name}"),
                    or_absent(want.as_deref()),
                    or_absent(have.as_deref()),
                );
            }
            for name in &expect.removed_headers {
                let removed = allowed
                    .remove_headers
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(name));
                check(
                    format!("removedHeaders.{name}"),
                    "removed".into(),
                    if removed { "removed" } else { "(not removed)" }.into(),
                );
            }
            for (name, want) in &expect.response_headers {
                let have = joined(&allowed.response_headers, name);
                check(
                    format!("responseHeaders.{name}"),
                    or_absent(want.as_deref()),
                    or_absent(have.as_deref()),
                );
            }
            for (key, want) in &expect.state {
                check(
                    format!("state.{key}"),
                    or_absent(want.as_deref()),
                    or_absent(allowed.state.get(key).map(String::as_str)),
                );
            }
            if let Some(user) = &expect.user_id {
                check(
                    "userId".into(),
                    quoted(user),
                    or_absent(allowed.user_id.as_deref()),
                );
            }
        }
    }
    lines
}

/// What came out of a case, for the log.
pub(crate) fn outcome(got: &Decision) -> Value {
    match got {
        Decision::Allow(Allowed {
            set_headers,
            remove_headers,
            response_headers,
            user_id,
            dynamic_metadata,
            state,
        }) => json!({
            "decision": "allow",
            "setHeaders": pairs(set_headers),
            "removedHeaders": remove_headers,
            "responseHeaders": pairs(response_headers),
            "state": state,
            "userId": user_id,
            "dynamicMetadata": dynamic_metadata,
        }),
        Decision::Deny(Denied {
            status,
            body,
            headers,
            reason,
        }) => json!({
            "decision": "deny",
            "status": status,
            "body": body,
            "responseHeaders": pairs(headers),
            "reason": reason,
        }),
    }
}

/// Header lines as a JSON object; repeated names joined with `, `.
fn pairs(lines: &[(String, String)]) -> Value {
    let mut map = serde_json::Map::new();
    for (name, _) in lines {
        if !map.contains_key(name) {
            map.insert(name.clone(), json!(joined(lines, name)));
        }
    }
    Value::Object(map)
}

/// Every value of header `name` (case-insensitive) joined with `, `, or None.
fn joined(lines: &[(String, String)], name: &str) -> Option<String> {
    let values: Vec<&str> = lines
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

fn quoted(text: &str) -> String {
    Value::from(text).to_string()
}

fn or_absent(value: Option<&str>) -> String {
    value.map(quoted).unwrap_or_else(|| "(absent)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(yaml: &str) -> Expect {
        serde_yaml::from_str(yaml).expect("expect")
    }

    fn allowed() -> Allowed {
        Allowed {
            set_headers: vec![("x-team".into(), "platform".into())],
            remove_headers: vec!["x-debug".into()],
            response_headers: vec![
                ("set-cookie".into(), "a=1".into()),
                ("set-cookie".into(), "b=2".into()),
            ],
            user_id: Some("alice".into()),
            state: State::from([("tagged".into(), "yes".into())]),
            ..Allowed::default()
        }
    }

    #[test]
    fn matching_allow_has_no_diff() {
        let e = expect(
            "decision: allow\nsetHeaders: {X-Team: platform, x-none: null}\nremovedHeaders: [x-debug]\nresponseHeaders: {set-cookie: 'a=1, b=2'}\nstate: {tagged: 'yes', gone: null}\nuserId: alice\n",
        );
        assert_eq!(
            diff(&e, &Decision::Allow(allowed()), &BTreeMap::new()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn mismatches_show_expected_and_got() {
        let e = expect(
            "decision: allow\nsetHeaders: {x-team: security, x-new: v}\nremovedHeaders: [x-other]\nstate: {tagged: null}\n",
        );
        assert_eq!(
            diff(&e, &Decision::Allow(allowed()), &BTreeMap::new()),
            [
                "- setHeaders.x-new: \"v\"",
                "+ setHeaders.x-new: (absent)",
                "- setHeaders.x-team: \"security\"",
                "+ setHeaders.x-team: \"platform\"",
                "- removedHeaders.x-other: removed",
                "+ removedHeaders.x-other: (not removed)",
                "- state.tagged: (absent)",
                "+ state.tagged: \"yes\"",
            ]
        );
    }

    #[test]
    fn wrong_decision_and_denial_details() {
        let denied = Decision::Deny(Denied {
            status: 401,
            body: "missing header x-team".into(),
            headers: vec![],
            reason: "denied by step 'team'".into(),
        });
        assert_eq!(
            diff(&expect("decision: allow"), &denied, &BTreeMap::new()),
            ["- decision: allow", "+ decision: deny"]
        );
        assert_eq!(
            diff(
                &expect("decision: deny\nstatus: 403\nbody: nope"),
                &denied,
                &BTreeMap::new()
            ),
            [
                "- status: 403",
                "+ status: 401",
                "- body: \"nope\"",
                "+ body: \"missing header x-team\""
            ]
        );
        assert_eq!(outcome(&denied)["reason"], "denied by step 'team'");
    }

    #[test]
    fn expectations_must_fit_the_decision() {
        let case = |yaml: &str| -> Case { serde_yaml::from_str(yaml).expect("case") };
        let err = case("name: c\nexpect: {decision: allow, status: 401}")
            .validate()
            .unwrap_err();
        assert_eq!(
            err,
            "expect.status: only checked when the decision is deny, but this case expects allow"
        );
        assert!(case("name: c\nexpect: {decision: deny, state: {a: b}}")
            .validate()
            .is_err());
        assert!(case("name: c\nexpect: {decision: deny, status: 401}")
            .validate()
            .is_ok());
    }

    #[test]
    fn requests_get_defaults_lower_case_headers_and_the_config_id() {
        let r: CaseRequest = serde_yaml::from_str(
            "headers: {X-Team: platform, accept: [a, b]}\ncontextExtensions: {k: v}\nbody: hi\n",
        )
        .expect("request");
        let request = r.to_request("verify-1".into(), Some("ns.demo"));
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("GET", "/")
        );
        assert_eq!(
            request.headers,
            [
                ("x-team".to_string(), "platform".to_string()),
                ("accept".to_string(), "a".to_string()),
                ("accept".to_string(), "b".to_string())
            ]
        );
        assert_eq!(request.context_extensions["config_id"], "ns.demo");
        assert_eq!(request.context_extensions["k"], "v");
        assert_eq!(request.body.as_deref(), Some(&b"hi"[..]));
    }
}
