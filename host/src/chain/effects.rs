//! One chain run in progress: what the steps that allowed did so far, and the
//! denial a step answered with.

use std::{collections::BTreeMap, time::Instant};

use super::{headers::HeaderMerge, RequestCache};
use crate::model::{Allowed, Decision, Denied, Request, State, StepOutcome};

/// One chain run in progress.
pub(super) struct Run<'r> {
    pub(super) request: &'r Request,
    pub(super) effects: Effects<'r>,
    pub(super) cache: RequestCache,
    pub(super) deadline: Instant,
    /// When the last step that ran ended (or the run began): the next step's
    /// start, so that timing a step costs one clock read, not three.
    pub(super) clock: Instant,
}

/// What the allowing steps of one run did so far.
pub(super) struct Effects<'r> {
    pub(super) upstream: HeaderMerge<'r>,
    response: HeaderMerge<'r>,
    user_id: Option<String>,
    metadata: BTreeMap<String, String>,
    pub(super) state: State,
}

impl<'r> Effects<'r> {
    pub(super) fn new(request: &'r Request, state: State) -> Self {
        Self {
            upstream: HeaderMerge::new(&request.headers),
            response: HeaderMerge::default(),
            user_id: None,
            metadata: BTreeMap::new(),
            state,
        }
    }

    /// Takes one allowing step's effects over.
    pub(super) fn apply(&mut self, outcome: StepOutcome) {
        self.upstream
            .apply(outcome.request_headers, &outcome.remove_request_headers);
        self.response.apply(outcome.response_headers, &[]);
        for key in &outcome.state_remove {
            self.state.remove(key);
        }
        self.state.extend(outcome.state_set);
        self.metadata.extend(outcome.dynamic_metadata);
        self.user_id = outcome.user_id.or(self.user_id.take());
    }

    pub(super) fn into_allowed(self) -> Allowed {
        let (set_headers, remove_headers) = self.upstream.into_changes();
        Allowed {
            set_headers,
            remove_headers,
            response_headers: self.response.into_lines(),
            user_id: self.user_id,
            dynamic_metadata: self.metadata,
            state: self.state,
        }
    }
}

/// The denial a step answered with.
pub(super) fn deny(outcome: StepOutcome, step: &str) -> Decision {
    let mut headers = HeaderMerge::default();
    headers.apply(outcome.response_headers, &[]);
    Decision::Deny(Denied {
        status: if outcome.status == 0 {
            403
        } else {
            outcome.status
        },
        body: outcome.body,
        headers: headers.into_lines(),
        reason: format!("denied by step '{step}'"),
    })
}
