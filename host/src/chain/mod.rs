//! A chain of steps: run in order, first deny stops, state flows forward, header
//! mutations merge. Pure logic over [`Step`] trait objects: unit-tested without
//! any plugin library.

mod headers;

use std::{
    collections::BTreeMap,
    panic::AssertUnwindSafe,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::{future::BoxFuture, FutureExt};

use crate::model::{Allowed, Decision, Denied, Request, State, StepOutcome};
use headers::HeaderMerge;

/// Why a step gave no answer. Every one of these denies the request.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StepError {
    /// The plugin returned an error.
    #[error("plugin error: {0}")]
    Plugin(String),
    /// The plugin panicked (caught at the boundary or by the host).
    #[error("plugin panicked: {0}")]
    Panic(String),
    /// The step did not answer within its timeout.
    #[error("step timed out after {0:?}")]
    Timeout(Duration),
}

/// One step of a chain, as the chain sees it. The loader adapts plugin services
/// to this trait; tests implement it directly.
pub trait Step: Send + Sync {
    /// Decides `request` given the state left by earlier steps.
    fn authorize(
        &self,
        request: &Request,
        state: &State,
    ) -> BoxFuture<'static, Result<StepOutcome, StepError>>;
}

/// A named step in a chain.
#[derive(Clone)]
pub struct ChainStep {
    /// The step's `name` from the auth config (for logs).
    pub name: String,
    /// The step itself.
    pub step: Arc<dyn Step>,
}

/// Settings that apply to every step of a chain.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long one step may take before the request is denied.
    pub step_timeout: Duration,
    /// The HTTP status of a denial caused by an error, panic or timeout.
    pub error_status: u16,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            step_timeout: Duration::from_secs(1),
            error_status: 403,
        }
    }
}

/// An auth config, ready to run.
pub struct Chain {
    id: String,
    steps: Vec<ChainStep>,
    limits: Limits,
}

impl Chain {
    /// A chain named `id` running `steps` in order.
    pub fn new(id: impl Into<String>, steps: Vec<ChainStep>, limits: Limits) -> Self {
        Self {
            id: id.into(),
            steps,
            limits,
        }
    }

    /// The auth config id (`namespace.name` or `name`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs the chain for one request.
    pub async fn run(&self, request: &Request) -> Decision {
        let mut state = State::new();
        let mut upstream = HeaderMerge::new(
            request
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str())),
        );
        let mut response = HeaderMerge::default();
        let mut user_id = None;
        let mut metadata = BTreeMap::new();

        for step in &self.steps {
            let started = Instant::now();
            let result = self.call(step, request, &state).await;
            let micros = started.elapsed().as_micros() as u64;
            let outcome = match result {
                Ok(outcome) => outcome,
                Err(error) => {
                    tracing::warn!(config = %self.id, step = %step.name, %error, micros, "step failed: request denied");
                    return Decision::Deny(Denied {
                        status: self.limits.error_status,
                        body: String::new(),
                        headers: Vec::new(),
                        reason: format!("step '{}' failed: {error}", step.name),
                    });
                }
            };
            if !outcome.allow {
                tracing::debug!(config = %self.id, step = %step.name, status = outcome.status, micros, "step denied");
                let mut headers = HeaderMerge::default();
                headers.apply(&outcome.response_headers, &[]);
                return Decision::Deny(Denied {
                    status: if outcome.status == 0 {
                        403
                    } else {
                        outcome.status
                    },
                    body: outcome.body,
                    headers: headers.into_lines(),
                    reason: format!("denied by step '{}'", step.name),
                });
            }
            tracing::debug!(config = %self.id, step = %step.name, micros, "step allowed");
            upstream.apply(&outcome.request_headers, &outcome.remove_request_headers);
            response.apply(&outcome.response_headers, &[]);
            for key in &outcome.state_remove {
                state.remove(key);
            }
            state.extend(outcome.state_set);
            metadata.extend(outcome.dynamic_metadata);
            user_id = outcome.user_id.or(user_id);
        }

        let (set_headers, remove_headers) = upstream.into_changes();
        Decision::Allow(Allowed {
            set_headers,
            remove_headers,
            response_headers: response.into_lines(),
            user_id,
            dynamic_metadata: metadata,
            state,
        })
    }

    async fn call(
        &self,
        step: &ChainStep,
        request: &Request,
        state: &State,
    ) -> Result<StepOutcome, StepError> {
        // A panic while creating or polling the future is this request's error only.
        let future =
            std::panic::catch_unwind(AssertUnwindSafe(|| step.step.authorize(request, state)))
                .map_err(|p| StepError::Panic(panic_message(p)))?;
        match tokio::time::timeout(
            self.limits.step_timeout,
            AssertUnwindSafe(future).catch_unwind(),
        )
        .await
        {
            Err(_) => Err(StepError::Timeout(self.limits.step_timeout)),
            Ok(Err(panic)) => Err(StepError::Panic(panic_message(panic))),
            Ok(Ok(result)) => result,
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests;
