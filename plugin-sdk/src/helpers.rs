//! The response a step returns: built by [`allow`] and [`deny`], shaped with
//! [`ResponseExt`], read in tests with [`ResponseView`].
//!
//! In a library loaded by a 1.4 host every string and vector of a response is
//! made in the host's allocator (see `host`), so the host takes the answer
//! over without copying it; elsewhere (unit tests, older hosts) they are the
//! plugin's own, as before. The values and the API are the same either way.

use gatehouse_plugin_api::{AppendAction, AuthResponse, Decision, HeaderMutation, KeyValue};

use crate::host;

/// A step's answer. Built only by [`allow`] and [`deny`] and the
/// [`ResponseExt`] methods, so it cannot say something contradictory (an allow
/// with a denial body, a denial with status 0 or 200). Read it in tests with
/// [`ResponseView`] or through `Deref` (the ABI fields, read-only).
///
/// Boxed: the builder methods take and return it by value, and a box moves
/// as one word where the answer itself is ~280 bytes (a copy per call). The
/// box costs a plugin `malloc` and `free`, less than the copies it saves
/// (BENCHMARKS.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response(Box<AuthResponse>);

impl Response {
    /// `answer`, boxed.
    fn new(answer: AuthResponse) -> Self {
        Self(Box::new(answer))
    }

    /// The ABI value handed to the host.
    pub(crate) fn into_abi(self) -> AuthResponse {
        *self.0
    }
}

impl std::ops::Deref for Response {
    type Target = AuthResponse;

    fn deref(&self) -> &AuthResponse {
        &self.0
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
    let mut answer = host::answer(Decision::Deny);
    answer.status = status;
    answer.body = host::owned_string(body.into());
    Response::new(answer)
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
        self.0.is_allowed()
    }

    fn deny_status(&self) -> Option<u16> {
        self.0.deny_status()
    }

    fn upstream_header(&self, name: &str) -> Option<&str> {
        self.0.upstream_header(name)
    }

    fn state_set(&self, key: &str) -> Option<&str> {
        ResponseView::state_set(&*self.0, key)
    }

    fn user_id(&self) -> Option<&str> {
        ResponseView::user_id(&*self.0)
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

#[inline]
fn mutation(name: &str, value: &str, action: AppendAction) -> HeaderMutation {
    HeaderMutation {
        name: host::string(name),
        value: host::string(value),
        action,
    }
}

/// A key/value entry (of a request built in a test).
pub(crate) fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
    }
}

/// A key/value entry of an answer.
#[inline]
fn answer_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: host::string(key),
        value: host::string(value),
    }
}

impl ResponseExt for Response {
    #[inline]
    fn request_header(mut self, name: &str, value: &str, action: AppendAction) -> Self {
        self.0.request_headers.push(mutation(name, value, action));
        self
    }

    #[inline]
    fn remove_header(mut self, name: &str) -> Self {
        self.0.remove_request_headers.push(host::string(name));
        self
    }

    #[inline]
    fn response_header(mut self, name: &str, value: &str) -> Self {
        self.0
            .response_headers
            .push(mutation(name, value, AppendAction::AppendIfExistsOrAdd));
        self
    }

    #[inline]
    fn set_state(mut self, key: &str, value: &str) -> Self {
        self.0.state_set.push(answer_kv(key, value));
        self
    }

    #[inline]
    fn remove_state(mut self, key: &str) -> Self {
        self.0.state_remove.push(host::string(key));
        self
    }

    #[inline]
    fn user(mut self, id: &str) -> Self {
        self.0.user_id = host::string(id);
        self
    }

    #[inline]
    fn metadata(mut self, key: &str, value: &str) -> Self {
        self.0.dynamic_metadata.push(answer_kv(key, value));
        self
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_plugin_api::abi_stable::std_types::{RString, RVec};

    use super::*;
    use crate::Request;

    /// No host attached (a unit test): the SDK builds exactly the answers it
    /// built before interface 1.4, in the plugin's own allocator, and a
    /// denial's owned body is taken over without a copy.
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

        let body = String::from("go away");
        let buffer = body.as_ptr();
        let denied = deny(401, body).response_header("www-authenticate", "Basic");
        assert_eq!(denied.body.as_ptr(), buffer, "the owned body, not a copy");
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
