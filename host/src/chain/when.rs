//! Conditional steps: `when:` on a config entry lists conditions that must all
//! hold for the step to run. A step whose conditions do not hold is *skipped*:
//! neither allow nor deny (see [`super::boolean`] for how a skipped step counts
//! in `booleanExpr`).
//!
//! ```yaml
//! - name: admin-token
//!   when:
//!     - path: {prefix: /admin}
//!     - method: [POST, DELETE]
//!     - header: {name: x-team, present: true}
//!     - state: {key: jwt.claim.sub, equals: alice}
//!   pluginAuth: {…}
//! ```
//!
//! Regexes are compiled when the config loads, with a size limit; a match is
//! never a backtracking search (the `regex` crate runs in linear time).

use regex::{Regex, RegexBuilder};
use serde::Deserialize;

use crate::model::{Request, State};

/// Largest compiled regex accepted (bytes of the compiled program).
const MAX_REGEX_SIZE: usize = 64 << 10;

/// One condition, as written in YAML: exactly one of its keys per list item.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConditionDocument {
    /// The request path (without the query string).
    #[serde(default)]
    path: Option<Match>,
    /// The request method is one of these (case-sensitive, as HTTP says).
    #[serde(default)]
    method: Option<Vec<String>>,
    /// A request header (all its copies, joined).
    #[serde(default)]
    header: Option<Named>,
    /// A state key set by an earlier step.
    #[serde(default)]
    state: Option<Keyed>,
}

/// How a text is matched: exactly one of the three.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Match {
    prefix: Option<String>,
    exact: Option<String>,
    regex: Option<String>,
}

/// A header condition: present, equal to a value, or matching a regex.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Named {
    name: String,
    #[serde(default)]
    present: Option<bool>,
    #[serde(default)]
    equals: Option<String>,
    #[serde(default)]
    matches: Option<String>,
}

/// A state condition: present or equal to a value.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Keyed {
    key: String,
    #[serde(default)]
    present: Option<bool>,
    #[serde(default)]
    equals: Option<String>,
}

/// The one kind a [`ConditionDocument`] gives.
enum Kind {
    Path(Match),
    Method(Vec<String>),
    Header(Named),
    State(Keyed),
}

/// A text test, compiled.
#[derive(Debug, Clone)]
enum Text {
    Present(bool),
    Prefix(String),
    Exact(String),
    Regex(Regex),
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Text::Present(a), Text::Present(b)) => a == b,
            (Text::Prefix(a), Text::Prefix(b)) | (Text::Exact(a), Text::Exact(b)) => a == b,
            (Text::Regex(a), Text::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl Text {
    fn holds(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (Text::Present(want), value) => value.is_some() == *want,
            (_, None) => false,
            (Text::Prefix(p), Some(v)) => v.starts_with(p.as_str()),
            (Text::Exact(e), Some(v)) => v == e,
            (Text::Regex(r), Some(v)) => r.is_match(v),
        }
    }
}

/// A compiled condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The path (before `?`) passes the test.
    Path(TextTest),
    /// The method is in the list.
    Method(Vec<String>),
    /// The header (lower-case name) passes the test.
    Header(String, TextTest),
    /// The state key passes the test.
    State(String, TextTest),
}

/// A compiled text test (opaque: built by [`compile`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TextTest(Text);

impl TextTest {
    /// The test as written (`prefix`, `exact`, `regex`/`matches`, `present`).
    fn describe(&self, regex_field: &str) -> (String, serde_json::Value) {
        match &self.0 {
            Text::Present(p) => ("present".into(), (*p).into()),
            Text::Prefix(p) => ("prefix".into(), p.as_str().into()),
            Text::Exact(e) if regex_field == "matches" => ("equals".into(), e.as_str().into()),
            Text::Exact(e) => ("exact".into(), e.as_str().into()),
            Text::Regex(r) => (regex_field.into(), r.as_str().into()),
        }
    }
}

impl Condition {
    /// The condition in the shape it is written in YAML (for `/config`).
    pub fn describe(&self) -> serde_json::Value {
        use serde_json::{json, Map, Value};
        let named = |field: &str, value: &str, test: &TextTest| {
            let (kind, given) = test.describe("matches");
            let mut fields = Map::new();
            fields.insert(field.into(), value.into());
            fields.insert(kind, given);
            Value::Object(fields)
        };
        match self {
            Condition::Path(test) => {
                let (kind, given) = test.describe("regex");
                json!({"path": {kind: given}})
            }
            Condition::Method(methods) => json!({"method": methods}),
            Condition::Header(name, test) => json!({"header": named("name", name, test)}),
            Condition::State(key, test) => json!({"state": named("key", key, test)}),
        }
    }
}

fn regex(pattern: &str) -> Result<Text, String> {
    RegexBuilder::new(pattern)
        .size_limit(MAX_REGEX_SIZE)
        .build()
        .map(Text::Regex)
        .map_err(|e| format!("invalid regex: {e}"))
}

/// Exactly one of `choices` must be given; `what` names the fields for errors.
fn one(choices: Vec<Option<Result<Text, String>>>, what: &str) -> Result<TextTest, String> {
    let mut given = choices.into_iter().flatten();
    match (given.next(), given.next()) {
        (Some(test), None) => test.map(TextTest),
        _ => Err(format!("give exactly one of {what}")),
    }
}

/// Compiles one condition; the error says what is wrong (the caller adds where).
pub fn compile(document: ConditionDocument) -> Result<Condition, String> {
    let kind = match document {
        ConditionDocument {
            path: Some(m),
            method: None,
            header: None,
            state: None,
        } => Kind::Path(m),
        ConditionDocument {
            path: None,
            method: Some(m),
            header: None,
            state: None,
        } => Kind::Method(m),
        ConditionDocument {
            path: None,
            method: None,
            header: Some(h),
            state: None,
        } => Kind::Header(h),
        ConditionDocument {
            path: None,
            method: None,
            header: None,
            state: Some(s),
        } => Kind::State(s),
        _ => return Err("give exactly one of path, method, header, state".into()),
    };
    Ok(match kind {
        Kind::Path(m) => Condition::Path(one(
            vec![
                m.prefix.map(|p| Ok(Text::Prefix(p))),
                m.exact.map(|e| Ok(Text::Exact(e))),
                m.regex.as_deref().map(regex),
            ],
            "prefix, exact, regex",
        )?),
        Kind::Method(methods) if methods.is_empty() => {
            return Err("method: list at least one method".into())
        }
        Kind::Method(methods) => Condition::Method(methods),
        Kind::Header(h) => Condition::Header(
            h.name.to_ascii_lowercase(),
            one(
                vec![
                    h.present.map(|p| Ok(Text::Present(p))),
                    h.equals.map(|e| Ok(Text::Exact(e))),
                    h.matches.as_deref().map(regex),
                ],
                "present, equals, matches",
            )?,
        ),
        Kind::State(s) => Condition::State(
            s.key,
            one(
                vec![
                    s.present.map(|p| Ok(Text::Present(p))),
                    s.equals.map(|e| Ok(Text::Exact(e))),
                ],
                "present, equals",
            )?,
        ),
    })
}

impl Condition {
    /// Whether the condition holds for `request` after the state `state`.
    pub fn holds(&self, request: &Request, state: &State) -> bool {
        match self {
            Condition::Path(test) => {
                let path = request.path.split('?').next().unwrap_or_default();
                test.0.holds(Some(path))
            }
            Condition::Method(methods) => methods.contains(&request.method),
            Condition::Header(name, test) => {
                let value = request.headers.iter().find(|(n, _)| n == name);
                test.0.holds(value.map(|(_, v)| v.as_str()))
            }
            Condition::State(key, test) => test.0.holds(state.get(key).map(String::as_str)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(yaml: &str) -> Result<Condition, String> {
        compile(serde_yaml::from_str(yaml).map_err(|e| e.to_string())?)
    }

    fn request() -> Request {
        Request {
            method: "POST".into(),
            path: "/admin/users?x=/public".into(),
            headers: vec![("x-team".into(), "platform, intern".into())],
            ..Request::default()
        }
    }

    #[test]
    fn each_kind_of_condition_holds_or_not() {
        let state = State::from([("jwt.sub".to_string(), "alice".to_string())]);
        for (yaml, want) in [
            ("path: {prefix: /admin}", true),
            ("path: {prefix: /public}", false),
            ("path: {exact: /admin/users}", true),
            ("path: {regex: '^/admin/[a-z]+$'}", true),
            ("method: [GET, POST]", true),
            ("method: [GET]", false),
            ("header: {name: X-Team, present: true}", true),
            ("header: {name: x-other, present: false}", true),
            ("header: {name: x-team, equals: platform}", false),
            ("header: {name: x-team, matches: intern}", true),
            ("state: {key: jwt.sub, equals: alice}", true),
            ("state: {key: jwt.sub, present: false}", false),
        ] {
            let c = condition(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
            assert_eq!(c.holds(&request(), &state), want, "{yaml}");
        }
    }

    #[test]
    fn bad_conditions_say_what_is_wrong() {
        let e = |yaml| condition(yaml).unwrap_err();
        assert_eq!(
            e("path: {prefix: /a, exact: /b}"),
            "give exactly one of prefix, exact, regex"
        );
        assert_eq!(e("path: {}"), "give exactly one of prefix, exact, regex");
        assert!(e("header: {name: a, matches: '('}").starts_with("invalid regex"));
        assert!(
            e("path: {regex: '\\w{1000}{1000}'}").contains("size limit"),
            "{}",
            e("path: {regex: '\\w{1000}{1000}'}")
        );
        assert!(e("cookie: {name: a}").contains("unknown field `cookie`"));
        assert_eq!(
            e("{method: [GET], path: {exact: /}}"),
            "give exactly one of path, method, header, state"
        );
        assert_eq!(e("method: []"), "method: list at least one method");
    }
}
