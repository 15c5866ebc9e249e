//! What the host tells a step about the call it is deciding (interface 1.3):
//! its deadline, its cancellation, and Envoy's metadata.

use std::time::{Duration, Instant};

use gatehouse_plugin_api::{CallContext, CancelHandle};

/// The context of one `authorize` call. Cheap to clone: move a clone into
/// work spawned for the call so it can stop when the host stops waiting.
#[derive(Clone)]
pub struct Context {
    deadline: Instant,
    cancel: Option<CancelHandle>,
    metadata_context: Option<String>,
    route_metadata: Option<String>,
}

impl Context {
    /// When the call the host lent `context` for must end: read as it starts.
    pub(crate) fn deadline_of(context: &CallContext) -> Instant {
        Instant::now() + Duration::from_millis(context.budget_ms)
    }

    /// The context the host lent, with its [`Context::deadline_of`].
    pub(crate) fn from_abi(context: &CallContext, deadline: Instant) -> Self {
        let text = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
        Self {
            deadline,
            cancel: Some(context.cancel.clone()),
            metadata_context: text(context.metadata_context.as_str()),
            route_metadata: text(context.route_metadata.as_str()),
        }
    }

    /// A context for tests and for hosts before 1.3: `budget` from now, never
    /// cancelled, no metadata.
    pub fn with_budget(budget: Duration) -> Self {
        Self {
            deadline: Instant::now() + budget,
            cancel: None,
            metadata_context: None,
            route_metadata: None,
        }
    }

    /// When the host stops waiting for this step's answer.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The time left before [`Context::deadline`] (zero once it passed). Give
    /// outbound calls at most this much.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// True once the host has stopped waiting for this call (the deadline
    /// passed, the client left, or the answer was given).
    pub fn is_cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.is_cancelled())
    }

    /// Completes when the host stops waiting for this call; never, for a
    /// context without a host.
    pub async fn cancelled(&self) {
        match &self.cancel {
            Some(cancel) => cancel.cancelled().await,
            None => std::future::pending().await,
        }
    }

    /// Envoy's `metadata_context` as JSON text (`{"<namespace>": {<fields>}}`,
    /// the namespaces Envoy's `metadata_context_namespaces` lists); `None` when
    /// the gateway sent none (the HTTP and SPOE frontends never do).
    pub fn metadata_context(&self) -> Option<&str> {
        self.metadata_context.as_deref()
    }

    /// Envoy's route metadata as JSON text, in the same shape
    /// (`route_metadata_context_namespaces`); `None` when absent.
    pub fn route_metadata(&self) -> Option<&str> {
        self.route_metadata.as_deref()
    }
}

/// The context of the call whose `authorize` is running on this thread, or of
/// the call a task started with [`crate::runtime::spawn`] was spawned from.
pub fn current() -> Option<Context> {
    crate::scope::current().and_then(|scope| scope.context)
}
