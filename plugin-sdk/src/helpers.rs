//! Small helpers over the ABI request and response types.

use gatehouse_plugin_api::{
    abi_stable::std_types::RString, AppendAction, AuthRequest, AuthResponse, Decision,
    HeaderMutation, KeyValue,
};

/// An allow response with no effects; add some with [`ResponseExt`].
pub fn allow() -> AuthResponse {
    AuthResponse {
        decision: Decision::Allow,
        ..AuthResponse::default()
    }
}

/// A denial with an HTTP status and body.
pub fn deny(status: u16, body: impl Into<String>) -> AuthResponse {
    AuthResponse {
        decision: Decision::Deny,
        status,
        body: body.into().into(),
        ..AuthResponse::default()
    }
}

fn find<'a>(entries: &'a [KeyValue], key: &str) -> Option<&'a str> {
    entries
        .iter()
        .rev()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.as_str())
}

/// Read access to a request.
pub trait RequestExt {
    /// The first value of header `name` (case-insensitive).
    fn header(&self, name: &str) -> Option<&str>;
    /// Every value of header `name` (case-insensitive), in order.
    fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str>;
    /// A state entry left by an earlier step.
    fn state(&self, key: &str) -> Option<&str>;
    /// A context extension of the route.
    fn context_extension(&self, key: &str) -> Option<&str>;
    /// The first value of query parameter `name` (not percent-decoded).
    fn query_param(&self, name: &str) -> Option<&str>;
}

impl RequestExt for AuthRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    fn state(&self, key: &str) -> Option<&str> {
        find(&self.state, key)
    }

    fn context_extension(&self, key: &str) -> Option<&str> {
        find(&self.context_extensions, key)
    }

    fn query_param(&self, name: &str) -> Option<&str> {
        let (_, query) = self.path.split_once('?')?;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }
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
}

fn mutation(name: &str, value: &str, action: AppendAction) -> HeaderMutation {
    HeaderMutation {
        name: name.into(),
        value: value.into(),
        action,
    }
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
    }
}

impl ResponseExt for AuthResponse {
    fn request_header(mut self, name: &str, value: &str, action: AppendAction) -> Self {
        self.request_headers.push(mutation(name, value, action));
        self
    }

    fn remove_header(mut self, name: &str) -> Self {
        self.remove_request_headers.push(RString::from(name));
        self
    }

    fn response_header(mut self, name: &str, value: &str) -> Self {
        self.response_headers
            .push(mutation(name, value, AppendAction::AppendIfExistsOrAdd));
        self
    }

    fn set_state(mut self, key: &str, value: &str) -> Self {
        self.state_set.push(kv(key, value));
        self
    }

    fn remove_state(mut self, key: &str) -> Self {
        self.state_remove.push(RString::from(key));
        self
    }

    fn user(mut self, id: &str) -> Self {
        self.user_id = id.into();
        self
    }

    fn metadata(mut self, key: &str, value: &str) -> Self {
        self.dynamic_metadata.push(kv(key, value));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_plugin_api::Header;

    #[test]
    fn request_lookups() {
        let req = AuthRequest {
            path: "/a?x=1&key=abc&flag".into(),
            headers: vec![
                Header {
                    name: "x-a".into(),
                    value: "1".into(),
                },
                Header {
                    name: "x-a".into(),
                    value: "2".into(),
                },
            ]
            .into(),
            state: vec![kv("user", "old"), kv("user", "new")].into(),
            ..Default::default()
        };
        assert_eq!(req.header("X-A"), Some("1"));
        assert_eq!(req.header_values("x-a").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(req.header("x-b"), None);
        assert_eq!(req.state("user"), Some("new"));
        assert_eq!(req.query_param("key"), Some("abc"));
        assert_eq!(req.query_param("flag"), Some(""));
        assert_eq!(req.query_param("nope"), None);
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
        let d = deny(401, "no").response_header("www-authenticate", "Basic");
        assert_eq!(
            (d.decision, d.status, d.body.as_str()),
            (Decision::Deny, 401, "no")
        );
    }
}
