//! Native steps: the same decisions as the `required-header` and `set-headers`
//! plugins, written against the host's model, with no ABI in between.

use std::sync::Arc;

use futures::future::{self, BoxFuture};
use gatehouse::{
    chain::{Chain, ChainStep, Limits, Step, StepError, StepInput},
    model::{AppendAction, HeaderOp, StepOutcome},
};

/// `RequiredHeader`: the header must be present with an allowed value; its value
/// goes into the state under `requiredHeader`.
pub struct RequiredHeader {
    /// Header name (lower case).
    pub header: String,
    /// Allowed values.
    pub allowed: Vec<String>,
}

fn deny(status: u16, body: String) -> StepOutcome {
    StepOutcome {
        allow: false,
        status,
        body,
        ..StepOutcome::default()
    }
}

impl Step for RequiredHeader {
    fn authorize<'a>(
        &'a self,
        input: StepInput<'a>,
    ) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        let value = input
            .request()
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&self.header))
            .map(|(_, v)| v.as_str());
        let outcome = match value {
            None => deny(401, format!("missing header {}", self.header)),
            Some(v) if self.allowed.iter().any(|a| a == v) => StepOutcome {
                allow: true,
                state_set: vec![("requiredHeader".into(), v.to_string())],
                ..StepOutcome::default()
            },
            Some(_) => deny(
                403,
                format!("header {} has a value that is not allowed", self.header),
            ),
        };
        Box::pin(future::ready(Ok(outcome)))
    }
}

/// `SetHeaders` (the parts the benchmark chain uses): require state, set
/// headers, set state.
#[derive(Default)]
pub struct SetHeaders {
    /// State entries that must be present with these values.
    pub require_state: Vec<(String, String)>,
    /// Upstream headers to set.
    pub headers: Vec<HeaderOp>,
    /// State entries to set.
    pub set_state: Vec<(String, String)>,
}

impl Step for SetHeaders {
    fn authorize<'a>(
        &'a self,
        input: StepInput<'a>,
    ) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
        for (key, want) in &self.require_state {
            match input.state().get(key) {
                None => {
                    return Box::pin(future::ready(Ok(deny(
                        403,
                        format!("required state `{key}` is missing"),
                    ))))
                }
                Some(have) if have != want => {
                    return Box::pin(future::ready(Ok(deny(
                        403,
                        format!("state `{key}` does not have the required value"),
                    ))))
                }
                Some(_) => {}
            }
        }
        Box::pin(future::ready(Ok(StepOutcome {
            allow: true,
            request_headers: self.headers.clone(),
            state_set: self.set_state.clone(),
            ..StepOutcome::default()
        })))
    }
}

fn op(name: &str, value: &str, action: AppendAction) -> HeaderOp {
    HeaderOp {
        name: name.into(),
        value: value.into(),
        action,
    }
}

fn named(name: &str, step: impl Step + 'static) -> ChainStep {
    ChainStep {
        name: name.into(),
        step: Arc::new(step),
    }
}

/// The three steps of scenario D (bench/configs/three-step.yaml), natively.
pub fn three_steps() -> Vec<ChainStep> {
    vec![
        named(
            "team",
            RequiredHeader {
                header: "x-team".into(),
                allowed: vec!["platform".into(), "security".into()],
            },
        ),
        named(
            "tag",
            SetHeaders {
                headers: vec![
                    op(
                        "x-gatehouse-team",
                        "verified",
                        AppendAction::OverwriteIfExistsOrAdd,
                    ),
                    op(
                        "x-forwarded-for",
                        "10.0.0.1",
                        AppendAction::AppendIfExistsOrAdd,
                    ),
                ],
                set_state: vec![("tier".into(), "gold".into())],
                ..SetHeaders::default()
            },
        ),
        named(
            "checked",
            SetHeaders {
                require_state: vec![("tier".into(), "gold".into())],
                headers: vec![op(
                    "x-gatehouse-checked",
                    "true",
                    AppendAction::OverwriteIfExistsOrAdd,
                )],
                ..SetHeaders::default()
            },
        ),
    ]
}

/// Scenario D's chain with native steps.
pub fn three_step_chain() -> Chain {
    Chain::new(crate::CONFIG_ID, three_steps(), Limits::default())
}
