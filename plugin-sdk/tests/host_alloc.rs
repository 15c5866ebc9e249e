//! With a host attached (interface 1.5), every answer the SDK builds is one
//! the host made (`HostAlloc::new_answer`), and every effect goes to it as
//! it is added. Its own test binary: attaching is for the whole library (a
//! static), so it must not leak into the SDK's unit tests, which check the
//! answers without a host.

use std::sync::atomic::{AtomicUsize, Ordering};

use gatehouse_plugin_sdk::{
    __private::attach_host,
    allow,
    api::{
        abi_stable::{
            sabi_trait::TD_Opaque,
            std_types::{RStr, RString},
        },
        Answer, AnswerBox, Answer_TO, AppendAction, AuthResponse, Decision, HostAlloc,
        HostAlloc_TO,
    },
    deny, ResponseExt, ResponseView,
};

static ANSWERS: AtomicUsize = AtomicUsize::new(0);
static EFFECTS: AtomicUsize = AtomicUsize::new(0);
static STRINGS: AtomicUsize = AtomicUsize::new(0);

/// A host that counts the answers it makes and the effects added to them.
#[derive(Clone)]
struct Counting;

impl HostAlloc for Counting {
    fn answer(&self, decision: Decision) -> AuthResponse {
        AuthResponse {
            decision,
            ..AuthResponse::default()
        }
    }

    fn string(&self, text: RStr<'_>) -> RString {
        STRINGS.fetch_add(1, Ordering::SeqCst);
        RString::from(text.as_str())
    }

    fn new_answer(&self, decision: Decision) -> AnswerBox {
        ANSWERS.fetch_add(1, Ordering::SeqCst);
        let answer = AuthResponse {
            decision,
            ..AuthResponse::default()
        };
        Answer_TO::from_value(Recorded(answer), TD_Opaque)
    }
}

/// The host's answer: an `AuthResponse` that counts each effect.
struct Recorded(AuthResponse);

impl Recorded {
    fn effect(&mut self) -> &mut AuthResponse {
        EFFECTS.fetch_add(1, Ordering::SeqCst);
        &mut self.0
    }
}

impl Answer for Recorded {
    fn set_status(&mut self, status: u16) {
        self.effect().set_status(status)
    }
    fn set_body(&mut self, body: RStr<'_>) {
        self.effect().set_body(body)
    }
    fn request_header(&mut self, name: RStr<'_>, value: RStr<'_>, action: AppendAction) {
        self.effect().request_header(name, value, action)
    }
    fn remove_request_header(&mut self, name: RStr<'_>) {
        self.effect().remove_request_header(name)
    }
    fn response_header(&mut self, name: RStr<'_>, value: RStr<'_>, action: AppendAction) {
        self.effect().response_header(name, value, action)
    }
    fn set_user(&mut self, id: RStr<'_>) {
        self.effect().set_user(id)
    }
    fn metadata(&mut self, key: RStr<'_>, value: RStr<'_>) {
        self.effect().metadata(key, value)
    }
    fn set_state(&mut self, key: RStr<'_>, value: RStr<'_>) {
        self.effect().set_state(key, value)
    }
    fn remove_state(&mut self, key: RStr<'_>) {
        self.effect().remove_state(key)
    }
    fn to_response(&self) -> AuthResponse {
        self.0.clone()
    }
    fn into_response(self) -> AuthResponse {
        self.0
    }
}

#[test]
fn an_attached_host_makes_every_answer_and_gets_every_effect() {
    attach_host(HostAlloc_TO::from_value(Counting, TD_Opaque));
    let allowed = allow()
        .request_header("x-a", "1", AppendAction::AddIfAbsent)
        .set_header("x-b", "2")
        .remove_header("cookie")
        .response_header("x-r", "3")
        .set_state("k", "v")
        .remove_state("old")
        .user("alice")
        .metadata("m", "4");
    assert_eq!(ANSWERS.load(Ordering::SeqCst), 1);
    assert_eq!(EFFECTS.load(Ordering::SeqCst), 8);
    assert_eq!(
        STRINGS.load(Ordering::SeqCst),
        0,
        "no strings made one by one"
    );
    // Read through a copy of the host's answer...
    assert!(allowed.is_allowed());
    assert_eq!(allowed.upstream_header("x-b"), Some("2"));
    assert_eq!(allowed.state_set("k"), Some("v"));
    assert_eq!(allowed.user_id(), Some("alice"));
    assert_eq!(allowed.remove_request_headers[0], "cookie");
    // ...which the next change replaces.
    let allowed = allowed.set_header("x-b", "3");
    assert_eq!(allowed.upstream_header("x-b"), Some("3"));
    assert_eq!(allowed.request_headers.len(), 3);

    let denied = deny(302, "moved").response_header("location", "/login");
    assert_eq!(ANSWERS.load(Ordering::SeqCst), 2);
    // Status, body, the header.
    assert_eq!(EFFECTS.load(Ordering::SeqCst), 12);
    assert_eq!(denied.deny_status(), Some(302));
    assert_eq!(denied.body, "moved");
    assert_eq!(denied.response_headers[0].value, "/login");
    assert_eq!(denied.clone(), denied, "a clone has the same values");
}
