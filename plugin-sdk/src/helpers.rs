//! The response a step returns: built by [`allow`] and [`deny`], shaped with
//! [`ResponseExt`], read in tests with [`ResponseView`].
//!
//! In a library loaded by a 1.5 host every response is one the host made, and
//! each effect goes straight into the host's own terms (see `host`), so the
//! host takes the answer as it is; elsewhere (unit tests) it is the plugin's
//! own `AuthResponse`. The values and the API are the same either way.

use std::sync::OnceLock;

use gatehouse_plugin_api::{
    abi_stable::std_types::RStr, AnswerBox, AppendAction, AuthResponse, Decision, KeyValue,
};

use crate::host;

/// A step's answer. Built only by [`allow`] and [`deny`] and the
/// [`ResponseExt`] methods, so it cannot say something contradictory (an allow
/// with a denial body, a denial with status 0 or 200). Read it in tests with
/// [`ResponseView`] or through `Deref` (the ABI fields, read-only).
///
/// Small (the answer itself is the host's, behind a pointer), so the builder
/// methods move it cheaply.
pub struct Response {
    answer: AnswerBox,
    /// What `Deref` shows of a host's answer: a copy made when first read
    /// and dropped by the next change.
    view: OnceLock<Box<AuthResponse>>,
}

impl Response {
    /// A response over `answer`.
    fn new(answer: AnswerBox) -> Self {
        Self {
            answer,
            view: OnceLock::new(),
        }
    }

    /// `change` applied to the answer.
    #[inline]
    fn with(mut self, change: impl FnOnce(&mut AnswerBox)) -> Self {
        change(&mut self.answer);
        if self.view.get().is_some() {
            self.view = OnceLock::new();
        }
        self
    }

    /// The answer handed to a 1.5 host.
    pub(crate) fn into_answer(self) -> AnswerBox {
        self.answer
    }

    /// The answer as an `AuthResponse`, for a host before 1.5.
    pub(crate) fn into_abi(self) -> AuthResponse {
        self.answer.into_response()
    }
}

impl std::ops::Deref for Response {
    type Target = AuthResponse;

    /// The plugin's own answer as it is; a host's, copied once per change.
    fn deref(&self) -> &AuthResponse {
        match self.answer.obj.downcast_as::<AuthResponse>() {
            Ok(own) => own,
            Err(_) => self
                .view
                .get_or_init(|| Box::new(self.answer.to_response())),
        }
    }
}

impl Clone for Response {
    /// A copy of the plugin's own (the same values).
    fn clone(&self) -> Self {
        Self::new(AuthResponse::clone(self).into_answer())
    }
}

impl PartialEq for Response {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Response {}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        AuthResponse::fmt(self, f)
    }
}

/// An allow response with no effects; add some with [`ResponseExt`].
#[inline]
pub fn allow() -> Response {
    Response::new(host::answer(Decision::Allow))
}

/// A denial with an HTTP status and body. A status no denial can have (below
/// 300 — 0, 1xx, 2xx — or above 599) becomes 403; redirects (3xx) stay.
pub fn deny(status: u16, body: impl Into<String>) -> Response {
    let status = if (300..=599).contains(&status) {
        status
    } else {
        403
    };
    let body: String = body.into();
    Response::new(host::answer(Decision::Deny)).with(|a| {
        a.set_status(status);
        a.set_body(RStr::from(body.as_str()));
    })
}

/// The last entry of `key` (a later write overrides an earlier one).
pub(crate) fn find<'a>(entries: &'a [KeyValue], key: &str) -> Option<&'a str> {
    entries
        .iter()
        .rev()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.as_str())
}

/// Builder-style effects on a response.
pub trait ResponseExt: Sized {
    /// Sets a header on the upstream request with an explicit merge rule.
    fn request_header(self, name: &str, value: &str, action: AppendAction) -> Self;
    /// Sets (replaces) a header on the upstream request: Envoy v2 `append: false`.
    fn set_header(self, name: &str, value: &str) -> Self {
        self.request_header(name, value, AppendAction::OverwriteIfExistsOrAdd)
    }
    /// Appends a value to a header on the upstream request: Envoy v2 `append: true`.
    fn append_header(self, name: &str, value: &str) -> Self {
        self.request_header(name, value, AppendAction::AppendIfExistsOrAdd)
    }
    /// Removes a header from the upstream request.
    fn remove_header(self, name: &str) -> Self;
    /// Adds a header to the client's response (the denial's headers on a deny).
    fn response_header(self, name: &str, value: &str) -> Self;
    /// Sets a state entry for later steps.
    fn set_state(self, key: &str, value: &str) -> Self;
    /// Removes a state entry for later steps.
    fn remove_state(self, key: &str) -> Self;
    /// Records the authenticated user.
    fn user(self, id: &str) -> Self;
    /// Adds an entry to Envoy's dynamic metadata.
    fn metadata(self, key: &str, value: &str) -> Self;
    /// Sets a state entry to `value` as JSON (read it with
    /// [`Request::state_json`](crate::Request::state_json)); a value that cannot be serialized is an error.
    fn set_state_json<T: serde::Serialize>(self, key: &str, value: &T) -> Result<Self, String> {
        let text = serde_json::to_string(value).map_err(|e| format!("state `{key}`: {e}"))?;
        Ok(self.set_state(key, &text))
    }
}

/// Read access to a response, for tests.
pub trait ResponseView {
    /// True for an allow.
    fn is_allowed(&self) -> bool;
    /// The denial's HTTP status (403 for a denial without one); None on allow.
    fn deny_status(&self) -> Option<u16>;
    /// The value set for upstream header `name`, if any (the last one set).
    fn upstream_header(&self, name: &str) -> Option<&str>;
    /// The value set for state `key`, if any (the last one set).
    fn state_set(&self, key: &str) -> Option<&str>;
    /// The authenticated user, if set.
    fn user_id(&self) -> Option<&str>;
}

impl ResponseView for Response {
    fn is_allowed(&self) -> bool {
        (**self).is_allowed()
    }

    fn deny_status(&self) -> Option<u16> {
        (**self).deny_status()
    }

    fn upstream_header(&self, name: &str) -> Option<&str> {
        (**self).upstream_header(name)
    }

    fn state_set(&self, key: &str) -> Option<&str> {
        ResponseView::state_set(&**self, key)
    }

    fn user_id(&self) -> Option<&str> {
        ResponseView::user_id(&**self)
    }
}

impl ResponseView for AuthResponse {
    fn is_allowed(&self) -> bool {
        self.decision == Decision::Allow
    }

    fn deny_status(&self) -> Option<u16> {
        match self.decision {
            Decision::Allow => None,
            Decision::Deny if self.status == 0 => Some(403),
            Decision::Deny => Some(self.status),
        }
    }

    fn upstream_header(&self, name: &str) -> Option<&str> {
        self.request_headers
            .iter()
            .rev()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    fn state_set(&self, key: &str) -> Option<&str> {
        find(&self.state_set, key)
    }

    fn user_id(&self) -> Option<&str> {
        Some(self.user_id.as_str()).filter(|u| !u.is_empty())
    }
}

/// A key/value entry (of a request built in a test).
pub(crate) fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
    }
}

impl ResponseExt for Response {
    #[inline]
    fn request_header(self, name: &str, value: &str, action: AppendAction) -> Self {
        self.with(|a| a.request_header(name.into(), value.into(), action))
    }

    #[inline]
    fn remove_header(self, name: &str) -> Self {
        self.with(|a| a.remove_request_header(name.into()))
    }

    #[inline]
    fn response_header(self, name: &str, value: &str) -> Self {
        self.with(|a| {
            a.response_header(name.into(), value.into(), AppendAction::AppendIfExistsOrAdd)
        })
    }

    #[inline]
    fn set_state(self, key: &str, value: &str) -> Self {
        self.with(|a| a.set_state(key.into(), value.into()))
    }

    #[inline]
    fn remove_state(self, key: &str) -> Self {
        self.with(|a| a.remove_state(key.into()))
    }

    #[inline]
    fn user(self, id: &str) -> Self {
        self.with(|a| a.set_user(id.into()))
    }

    #[inline]
    fn metadata(self, key: &str, value: &str) -> Self {
        self.with(|a| a.metadata(key.into(), value.into()))
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_plugin_api::{
        abi_stable::std_types::{RString, RVec},
        HeaderMutation,
    };

    use super::*;
    use crate::Request;

    /// No host attached (a unit test): the SDK builds the same answers as the
    /// plugin's own `AuthResponse`, read without a copy.
    #[test]
    fn without_a_host_answers_are_built_as_before() {
        let built = allow()
            .request_header("x-a", "1", AppendAction::AddIfAbsent)
            .remove_header("cookie")
            .response_header("x-r", "2")
            .set_state("k", "v")
            .remove_state("old")
            .user("alice")
            .metadata("m", "3");
        let header = |name: &str, value: &str, action| HeaderMutation {
            name: name.into(),
            value: value.into(),
            action,
        };
        let pair = |key: &str, value: &str| KeyValue {
            key: key.into(),
            value: value.into(),
        };
        let expected = AuthResponse {
            decision: Decision::Allow,
            request_headers: RVec::from(vec![header("x-a", "1", AppendAction::AddIfAbsent)]),
            remove_request_headers: RVec::from(vec![RString::from("cookie")]),
            response_headers: RVec::from(vec![header(
                "x-r",
                "2",
                AppendAction::AppendIfExistsOrAdd,
            )]),
            state_set: RVec::from(vec![pair("k", "v")]),
            state_remove: RVec::from(vec![RString::from("old")]),
            user_id: "alice".into(),
            dynamic_metadata: RVec::from(vec![pair("m", "3")]),
            ..AuthResponse::default()
        };
        assert_eq!(*built, expected);
        assert!(built.view.get().is_none(), "read in place, not copied");

        let denied =
            deny(401, String::from("go away")).response_header("www-authenticate", "Basic");
        assert_eq!(
            (denied.decision, denied.status, denied.body.as_str()),
            (Decision::Deny, 401, "go away")
        );
        assert_eq!(denied.response_headers.len(), 1);
        assert_eq!(
            *allow(),
            AuthResponse {
                decision: Decision::Allow,
                ..AuthResponse::default()
            }
        );
    }

    #[test]
    fn response_builders() {
        let r = allow()
            .set_header("a", "1")
            .append_header("a", "2")
            .set_state("k", "v")
            .user("u");
        assert_eq!(r.decision, Decision::Allow);
        assert_eq!(
            r.request_headers[1].action,
            AppendAction::AppendIfExistsOrAdd
        );
        assert_eq!(r.state_set[0], kv("k", "v"));
        assert_eq!(r.user_id, "u");
        assert_eq!(deny(0, "x").deny_status(), Some(403));
        assert_eq!(deny(200, "x").deny_status(), Some(403));
        assert_eq!(deny(302, "x").deny_status(), Some(302));
        assert_eq!(r.upstream_header("A"), Some("2"));
        assert_eq!(
            (r.is_allowed(), ResponseView::user_id(&r), r.state_set("k")),
            (true, Some("u"), Some("v"))
        );
        let typed = allow()
            .set_state_json("n", &vec![1, 2])
            .expect("serializes");
        let req = Request::builder()
            .state("n", typed.state_set("n").expect("set"))
            .build();
        assert_eq!(req.state_json::<Vec<u8>>("n"), Some(Ok(vec![1, 2])));
        assert!(matches!(req.state_json::<String>("n"), Some(Err(_))));
        let d = deny(401, "no").response_header("www-authenticate", "Basic");
        assert_eq!(
            (d.decision, d.status, d.body.as_str()),
            (Decision::Deny, 401, "no")
        );
    }
}
