//! With a host's allocator attached (interface 1.4), every string of an
//! answer the SDK builds is made by the host's `HostAlloc` and every answer
//! starts from its `answer`. Its own test binary: attaching is for the whole
//! library (a static), so it must not leak into the SDK's unit tests, which
//! check the answers without a host.

use std::sync::atomic::{AtomicUsize, Ordering};

use gatehouse_plugin_sdk::{
    __private::attach_host,
    allow,
    api::{
        abi_stable::{
            sabi_trait::TD_Opaque,
            std_types::{RStr, RString},
        },
        AuthResponse, Decision, HostAlloc, HostAlloc_TO,
    },
    deny, AppendAction, ResponseExt, ResponseView,
};

static ANSWERS: AtomicUsize = AtomicUsize::new(0);
static STRINGS: AtomicUsize = AtomicUsize::new(0);

/// A host allocator that counts what it is asked for.
#[derive(Clone)]
struct Counting;

impl HostAlloc for Counting {
    fn answer(&self, decision: Decision) -> AuthResponse {
        ANSWERS.fetch_add(1, Ordering::SeqCst);
        AuthResponse {
            decision,
            ..AuthResponse::default()
        }
    }

    fn string(&self, text: RStr<'_>) -> RString {
        STRINGS.fetch_add(1, Ordering::SeqCst);
        RString::from(text.as_str())
    }
}

#[test]
fn an_attached_host_makes_every_string_and_starts_every_answer() {
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
    // 2 per header (3 headers), 1 removal, 2 state, 1 state removal, 1 user, 2 metadata.
    assert_eq!(STRINGS.load(Ordering::SeqCst), 13);
    assert_eq!(ANSWERS.load(Ordering::SeqCst), 1);
    assert!(allowed.is_allowed());
    assert_eq!(allowed.upstream_header("x-b"), Some("2"));
    assert_eq!(allowed.state_set("k"), Some("v"));
    assert_eq!(allowed.user_id(), Some("alice"));
    assert_eq!(allowed.remove_request_headers[0], "cookie");

    let denied = deny(302, "moved").response_header("location", "/login");
    assert_eq!(ANSWERS.load(Ordering::SeqCst), 2);
    // The body and the one header's name and value.
    assert_eq!(STRINGS.load(Ordering::SeqCst), 16);
    assert_eq!(denied.deny_status(), Some(302));
    assert_eq!(denied.body, "moved");
    assert_eq!(denied.response_headers[0].value, "/login");
}
