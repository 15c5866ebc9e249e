//! Since 1.5: the answer a plugin builds, one effect at a time, in the host's
//! own terms ([`Answer`]) or as the plugin's own [`AuthResponse`].
// The code `#[sabi_trait]` writes for the by-value `into_response` casts a
// pointer to its own type.
#![allow(clippy::unnecessary_cast)]

use abi_stable::{
    sabi_trait,
    sabi_trait::TD_CanDowncast,
    std_types::{RBox, RStr},
};

use crate::types::{AppendAction, AuthResponse, Decision, HeaderMutation, KeyValue};

/// Since 1.5: an answer being built. Made empty by [`HostAlloc::new_answer`]
/// with its decision, filled by the plugin one effect at a time, and returned
/// by [`AuthService::authorize_answer`]. The host's own kind keeps each effect
/// in the host's terms as it is added, so an answer needs no conversion when
/// the call ends; [`AuthResponse`] is the other kind, the plugin's own (a
/// plugin may use either).
#[sabi_trait]
pub trait Answer: Send + Sync {
    /// The HTTP status of a denial (0 means 403).
    fn set_status(&mut self, status: u16);

    /// The body of a denial.
    fn set_body(&mut self, body: RStr<'_>);

    /// On allow: a header to set on the upstream request.
    fn request_header(&mut self, name: RStr<'_>, value: RStr<'_>, action: AppendAction);

    /// On allow: a header name to remove from the upstream request.
    fn remove_request_header(&mut self, name: RStr<'_>);

    /// A header of the client's response (of the denial, on deny).
    fn response_header(&mut self, name: RStr<'_>, value: RStr<'_>, action: AppendAction);

    /// The authenticated user.
    fn set_user(&mut self, id: RStr<'_>);

    /// An entry of Envoy's dynamic metadata.
    fn metadata(&mut self, key: RStr<'_>, value: RStr<'_>);

    /// A state entry to set for later steps.
    fn set_state(&mut self, key: RStr<'_>, value: RStr<'_>);

    /// A state key to remove for later steps.
    fn remove_state(&mut self, key: RStr<'_>);

    /// What the answer says so far, as an [`AuthResponse`] (a copy: for a
    /// plugin or a test reading its own answer).
    fn to_response(&self) -> AuthResponse;

    /// The answer as an [`AuthResponse`], consumed.
    #[sabi(last_prefix_field)]
    fn into_response(self) -> AuthResponse;
}

/// An answer as returned to the host (since 1.5).
pub type AnswerBox = Answer_TO<'static, RBox<()>>;

impl AuthResponse {
    /// An empty answer of `decision` of the caller's own (not the host's).
    pub fn answer(decision: Decision) -> AnswerBox {
        Self {
            decision,
            ..Self::default()
        }
        .into_answer()
    }

    /// This response as an [`Answer`] (of the caller's own; a reader can
    /// downcast it back to an `AuthResponse`).
    pub fn into_answer(self) -> AnswerBox {
        Answer_TO::from_value(self, TD_CanDowncast)
    }
}

/// The caller's own kind of answer: effects appended to the response's lists.
impl Answer for AuthResponse {
    fn set_status(&mut self, status: u16) {
        self.status = status;
    }

    fn set_body(&mut self, body: RStr<'_>) {
        self.body = body.into();
    }

    fn request_header(&mut self, name: RStr<'_>, value: RStr<'_>, action: AppendAction) {
        self.request_headers.push(mutation(name, value, action));
    }

    fn remove_request_header(&mut self, name: RStr<'_>) {
        self.remove_request_headers.push(name.into());
    }

    fn response_header(&mut self, name: RStr<'_>, value: RStr<'_>, action: AppendAction) {
        self.response_headers.push(mutation(name, value, action));
    }

    fn set_user(&mut self, id: RStr<'_>) {
        self.user_id = id.into();
    }

    fn metadata(&mut self, key: RStr<'_>, value: RStr<'_>) {
        self.dynamic_metadata.push(pair(key, value));
    }

    fn set_state(&mut self, key: RStr<'_>, value: RStr<'_>) {
        self.state_set.push(pair(key, value));
    }

    fn remove_state(&mut self, key: RStr<'_>) {
        self.state_remove.push(key.into());
    }

    fn to_response(&self) -> AuthResponse {
        self.clone()
    }

    fn into_response(self) -> AuthResponse {
        self
    }
}

fn mutation(name: RStr<'_>, value: RStr<'_>, action: AppendAction) -> HeaderMutation {
    HeaderMutation {
        name: name.into(),
        value: value.into(),
        action,
    }
}

fn pair(key: RStr<'_>, value: RStr<'_>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
    }
}
