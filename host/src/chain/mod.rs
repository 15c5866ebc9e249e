//! A chain of steps: run in order, first deny stops, state flows forward, header
//! mutations merge. Pure logic over [`Step`] trait objects: unit-tested without
//! any plugin library.

pub mod boolean;
pub mod cache;
mod effects;
pub mod expr;
pub mod fail_open;
mod headers;
mod input;
mod request_cache;
pub mod when;

pub use input::StepInput;
pub use request_cache::{RequestCache, RunSlot};

use std::{
    any::Any,
    panic::AssertUnwindSafe,
    sync::{Arc, OnceLock},
    task::Poll,
    time::{Duration, Instant},
};

use futures::{future::BoxFuture, FutureExt};
use tracing::Instrument;

use crate::{
    logging::Throttle,
    model::{AppendAction, Decision, Denied, HeaderOp, Request, State, StepOutcome},
};
use cache::{CacheEvent, Lookup, StepCache};
use effects::{deny, Effects, Run};
use expr::Expr;
use fail_open::OwnedHeaders;

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
    /// Decides `input.request()` given the state left by earlier steps. The future
    /// may borrow the input: it is awaited (or dropped) before the next step runs.
    fn authorize<'a>(
        &'a self,
        input: StepInput<'a>,
    ) -> BoxFuture<'a, Result<StepOutcome, StepError>>;
}

/// A named step in a chain.
#[derive(Clone)]
pub struct ChainStep {
    /// The step's `name` from the auth config (for logs).
    pub name: String,
    /// The step itself.
    pub step: Arc<dyn Step>,
}

/// Time limits and the failure policy of a chain.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long one step may take.
    pub step_timeout: Duration,
    /// How long the whole chain may take; keep it below Envoy's ext_authz timeout
    /// (200 ms by default) so the host answers before Envoy gives up.
    pub chain_deadline: Duration,
    /// The HTTP status of a denial caused by an error, panic or timeout.
    pub error_status: u16,
    /// Allow (instead of deny) when a step fails, like Envoy's own
    /// `failure_mode_allow`. Denials by a plugin still deny.
    pub failure_mode_allow: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            step_timeout: Duration::from_secs(1),
            chain_deadline: Duration::from_millis(180),
            error_status: 403,
            failure_mode_allow: false,
        }
    }
}

/// How a step ended, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepResult {
    /// The step allowed.
    Allow,
    /// The step denied.
    Deny,
    /// The plugin returned an error.
    Error,
    /// The plugin panicked.
    Panic,
    /// The step or the chain ran out of time.
    Timeout,
    /// The step's `when` conditions did not hold: it did not run.
    Skipped,
}

// Every result's `as usize` is below `COUNT`.
const _: () = assert!(StepResult::Skipped as usize + 1 == StepResult::COUNT);

impl StepResult {
    /// How many results there are (`result as usize` is below this).
    pub const COUNT: usize = 6;

    /// A short label (`allow`, `deny`, `error`, `panic`, `timeout`, `skipped`).
    pub fn as_str(self) -> &'static str {
        match self {
            StepResult::Allow => "allow",
            StepResult::Deny => "deny",
            StepResult::Error => "error",
            StepResult::Panic => "panic",
            StepResult::Timeout => "timeout",
            StepResult::Skipped => "skipped",
        }
    }
}

/// What an observer resolved once for one chain (e.g. its metric handles), so
/// that recording a step looks nothing up; see [`Observer::prepare`].
pub type Prepared = Box<dyn Any + Send + Sync>;

/// Receives what a chain did, step by step (metrics implement this; the chain
/// itself knows nothing of Prometheus).
pub trait Observer: Send + Sync {
    /// One step finished; `shadow` for a shadow step, whose result decided nothing.
    fn step(&self, config: &str, step: &str, result: StepResult, shadow: bool, elapsed: Duration);

    /// A step's decision cache was consulted or made room.
    fn cache(&self, _config: &str, _step: &str, _event: CacheEvent, _count: u64) {}

    /// Called once per chain, on its first run, with its number of steps: what
    /// [`Observer::step_prepared`] needs for this chain's steps. `None`: every
    /// step is recorded through [`Observer::step`].
    fn prepare(&self, _config: &str, _steps: usize) -> Option<Prepared> {
        None
    }

    /// Step number `index` of the chain finished, `prepared` being what
    /// [`Observer::prepare`] gave for that chain (maybe another observer's:
    /// check it). By default the same as [`Observer::step`].
    #[allow(clippy::too_many_arguments)]
    fn step_prepared(
        &self,
        _prepared: &Prepared,
        _index: usize,
        config: &str,
        step: &str,
        result: StepResult,
        shadow: bool,
        elapsed: Duration,
    ) {
        self.step(config, step, result, shadow, elapsed)
    }
}

/// An observer that ignores everything.
pub struct NoObserver;

impl Observer for NoObserver {
    fn step(&self, _: &str, _: &str, _: StepResult, _: bool, _: Duration) {}
}

/// An auth config, ready to run.
pub struct Chain {
    id: String,
    steps: Vec<ChainStep>,
    limits: Limits,
    owned: OwnedHeaders,
    /// `spec.booleanExpr`; `None` runs every step in order (AND).
    expr: Option<Expr>,
    /// Per-step options, by index (shorter than `steps`: the rest have none).
    options: Vec<StepOptions>,
    /// What the auth config said, for the admin port's `/config`, as JSON
    /// text: a few hundred bytes, where the `Value` is kilobytes of map nodes
    /// (half of a generation's memory with 10,000 configs; BENCHMARKS.md).
    description: Box<str>,
    /// What the observer of the chain's first run prepared for it.
    observed: OnceLock<Option<Prepared>>,
}

/// How one step takes part in a chain, beyond its plugin.
#[derive(Clone, Default)]
pub struct StepOptions {
    /// A shadow step runs, and its would-be result is logged and counted
    /// (`shadow="true"`), but it never denies, fails the chain, or changes
    /// headers or state: for rolling out a policy safely.
    pub shadow: bool,
    /// The step runs only when all of these hold; otherwise it is skipped.
    pub when: Vec<when::Condition>,
    /// A hit replays the step's recorded outcome without calling the plugin.
    pub cache: Option<Arc<dyn StepCache>>,
}

impl std::fmt::Debug for StepOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepOptions")
            .field("shadow", &self.shadow)
            .field("when", &self.when)
            .field("cache", &self.cache.is_some())
            .finish()
    }
}

/// What running one step came to.
#[derive(Debug)]
enum Ran {
    /// It allowed; its effects were taken over.
    Allowed,
    /// It denied with this answer.
    Denied(StepOutcome),
    /// Its `when` did not hold, or it is a shadow step: it decided nothing.
    Skipped,
}

impl Chain {
    /// A chain named `id` running `steps` in order.
    pub fn new(id: impl Into<String>, steps: Vec<ChainStep>, limits: Limits) -> Self {
        Self {
            id: id.into(),
            steps,
            limits,
            owned: OwnedHeaders::default(),
            expr: None,
            options: Vec::new(),
            description: "null".into(),
            observed: OnceLock::new(),
        }
    }

    /// Attaches what the auth config said (shown by `/config`).
    pub fn with_description(mut self, description: serde_json::Value) -> Self {
        self.description = description.to_string().into();
        self
    }

    /// What the auth config said (`booleanExpr`, each step's options).
    pub fn description(&self) -> serde_json::Value {
        serde_json::from_str(&self.description).unwrap_or_default()
    }

    /// Gives the steps their options, by index (see [`StepOptions`]).
    pub fn with_step_options(mut self, options: Vec<StepOptions>) -> Self {
        self.options = options;
        self
    }

    /// Decides with `expr` (Gloo's `booleanExpr`) instead of "every step allows";
    /// see [`boolean`] for the semantics.
    pub fn with_expr(mut self, expr: Expr) -> Self {
        self.expr = Some(expr);
        self
    }

    /// Declares upstream headers this chain owns (`spec.failureModeAllowRemoveHeaders`):
    /// a fail-open allow removes a client's copy of them; see [`fail_open`].
    pub fn with_owned_headers(mut self, names: Vec<String>) -> Self {
        self.owned = OwnedHeaders::declared(names);
        self
    }

    /// The auth config id (`namespace.name` or `name`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The step names, in order.
    pub fn step_names(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().map(|s| s.name.as_str())
    }

    /// The chain's limits and failure policy.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// What an observer prepared for this chain (see [`Observer::prepare`]),
    /// once the chain has run.
    pub fn prepared(&self) -> Option<&Prepared> {
        self.observed.get().and_then(Option::as_ref)
    }

    /// Tells `observer` that step `index` finished, through what it prepared
    /// for this chain on the chain's first run.
    fn observe(
        &self,
        observer: &dyn Observer,
        index: usize,
        result: StepResult,
        shadow: bool,
        elapsed: Duration,
    ) {
        let step = &self.steps[index].name;
        let prepared = self
            .observed
            .get_or_init(|| observer.prepare(&self.id, self.steps.len()));
        match prepared {
            Some(prepared) => {
                observer.step_prepared(prepared, index, &self.id, step, result, shadow, elapsed)
            }
            None => observer.step(&self.id, step, result, shadow, elapsed),
        }
    }

    /// Runs the chain for one request, starting from an empty state.
    pub async fn run(&self, request: &Request, observer: &dyn Observer) -> Decision {
        self.run_with_state(request, State::new(), observer).await
    }

    /// Runs the chain for one request, starting from `state`.
    pub async fn run_with_state(
        &self,
        request: &Request,
        state: State,
        observer: &dyn Observer,
    ) -> Decision {
        let began = Instant::now();
        let mut run = Run {
            request,
            effects: Effects::new(request, state),
            // SAFETY: the run borrows `request` for as long as it lives.
            cache: unsafe { RequestCache::new(request) },
            deadline: began + self.limits.chain_deadline,
            clock: began,
        };
        if let Some(expr) = &self.expr {
            return self.run_expr(expr, run, observer).await;
        }
        for index in 0..self.steps.len() {
            match self.step(index, &mut run, observer).await {
                Ok(Ran::Allowed | Ran::Skipped) => {}
                Ok(Ran::Denied(denial)) => return deny(denial, &self.steps[index].name),
                Err(error) => return self.on_failure(&self.steps[index].name, error, run.effects),
            }
        }
        self.allow(run.effects)
    }

    /// The allow of a chain whose steps said yes.
    fn allow(&self, mut effects: Effects<'_>) -> Decision {
        // The chain owns its failure-mode marker: a client's copy never passes.
        effects.upstream.remove_untouched(FAILURE_MODE_HEADER);
        Decision::Allow(effects.into_allowed())
    }

    /// Runs step `index` unless its `when` conditions do not hold; an allow's
    /// effects are taken over.
    async fn step(
        &self,
        index: usize,
        run: &mut Run<'_>,
        observer: &dyn Observer,
    ) -> Result<Ran, StepError> {
        let step = &self.steps[index];
        let options = self.options.get(index);
        let shadow = options.is_some_and(|o| o.shadow);
        let when = options.map_or(&[][..], |o| o.when.as_slice());
        if !when
            .iter()
            .all(|c| c.holds(run.request, &run.effects.state))
        {
            self.observe(observer, index, StepResult::Skipped, shadow, Duration::ZERO);
            tracing::debug!(step = %step.name, "step skipped: its `when` does not hold");
            return Ok(Ran::Skipped);
        }
        let span = tracing::debug_span!("step", step = %step.name, decision = tracing::field::Empty, micros = tracing::field::Empty);
        let started = run.clock;
        let cache = options.and_then(|o| o.cache.as_deref());
        let decided = self.decide(index, cache, run, observer);
        // A disabled span (the default: it is `debug`) has nothing to enter on each poll.
        let result = if span.is_disabled() {
            decided.await
        } else {
            decided.instrument(span.clone()).await
        };
        let ended = Instant::now();
        run.clock = ended;
        let elapsed = ended.saturating_duration_since(started);
        span.record("micros", elapsed.as_micros() as u64);
        let kind = match &result {
            Ok(outcome) if outcome.allow => StepResult::Allow,
            Ok(_) => StepResult::Deny,
            Err(StepError::Plugin(_)) => StepResult::Error,
            Err(StepError::Panic(_)) => StepResult::Panic,
            Err(StepError::Timeout(_)) => StepResult::Timeout,
        };
        span.record("decision", kind.as_str());
        self.observe(observer, index, kind, shadow, elapsed);
        if shadow {
            let _entered = span.enter();
            tracing::info!(
                result = kind.as_str(),
                "shadow step: would-be decision, not applied"
            );
            return Ok(Ran::Skipped);
        }
        let outcome = result?;
        let _entered = span.enter();
        tracing::debug!(status = outcome.status, "step done");
        if !outcome.allow {
            return Ok(Ran::Denied(outcome));
        }
        if self.limits.failure_mode_allow {
            self.owned
                .learn(&outcome.request_headers, &outcome.remove_request_headers);
        }
        run.effects.apply(outcome);
        Ok(Ran::Allowed)
    }

    /// A step could not decide: deny (fail closed) unless the auth config opted in
    /// to `failureModeAllow`; see [`fail_open`] for exactly what that lets through.
    fn on_failure(&self, step: &str, error: StepError, mut effects: Effects<'_>) -> Decision {
        let fail_open = self.limits.failure_mode_allow;
        if let Some(suppressed) = FAILURES.admit() {
            let outcome = if fail_open {
                "allowed by failureModeAllow"
            } else {
                "request denied"
            };
            tracing::warn!(config = %self.id, %step, %error, suppressed, "step failed: {outcome}");
        }
        if fail_open {
            for name in self.owned.names() {
                effects.upstream.remove_untouched(&name);
            }
            let marker = HeaderOp {
                name: FAILURE_MODE_HEADER.into(),
                value: "true".into(),
                action: AppendAction::OverwriteIfExistsOrAdd,
            };
            effects.upstream.apply(vec![marker], &[]);
            return Decision::Allow(effects.into_allowed());
        }
        Decision::Deny(Denied {
            status: self.limits.error_status,
            body: String::new(),
            headers: Vec::new(),
            reason: format!("step '{step}' failed: {error}"),
        })
    }

    /// The step's outcome: replayed from its cache on a hit, otherwise from
    /// the plugin (and then offered to the cache).
    async fn decide(
        &self,
        index: usize,
        cache: Option<&dyn StepCache>,
        run: &mut Run<'_>,
        observer: &dyn Observer,
    ) -> Result<StepOutcome, StepError> {
        let step = &self.steps[index];
        let key = match cache {
            None => None,
            Some(cache) => match cache.lookup(run.request, &run.effects.state).await {
                Lookup::Hit(outcome) => {
                    observer.cache(&self.id, &step.name, CacheEvent::Hit, 1);
                    tracing::debug!("decision replayed from the step's cache");
                    return Ok(outcome);
                }
                Lookup::Miss(key) => {
                    observer.cache(&self.id, &step.name, CacheEvent::Miss, 1);
                    Some((cache, key))
                }
            },
        };
        // The step's start is its call's "now", unless a cache lookup (which
        // may wait on Redis) came between them.
        let now = if key.is_some() {
            Instant::now()
        } else {
            run.clock
        };
        let state = &run.effects.state;
        let result = self
            .call(step, state, &mut run.cache, run.deadline, now)
            .await;
        if let (Some((cache, key)), Ok(outcome)) = (key, &result) {
            let evicted = cache.store(key, outcome);
            if evicted > 0 {
                observer.cache(&self.id, &step.name, CacheEvent::Eviction, evicted);
            }
        }
        result
    }

    /// Calls the step's plugin at `now`, giving it the step timeout or what
    /// is left of the chain's `deadline`, whichever is shorter.
    async fn call(
        &self,
        step: &ChainStep,
        state: &State,
        cache: &mut RequestCache,
        deadline: Instant,
        now: Instant,
    ) -> Result<StepOutcome, StepError> {
        let budget = self
            .limits
            .step_timeout
            .min(deadline.saturating_duration_since(now));
        // A panic while creating or polling the future is this request's error only.
        let input = StepInput::new(cache, state, now + budget, budget);
        let future = std::panic::catch_unwind(AssertUnwindSafe(move || step.step.authorize(input)))
            .map_err(|p| StepError::Panic(panic_message(p)))?;
        let mut future = AssertUnwindSafe(future).catch_unwind();
        // A step that answers on its first poll needs no timer: poll it once
        // before arming one. `timeout` polls its future before its timer, so a
        // step is polled exactly as before: first poll, then (still pending) the
        // timer, and on every wake the step before the timer. The deadline is
        // the one fixed before that first poll.
        //
        // The wait is a boxed future of its own, made only for a step still
        // pending: the timer stays out of every step's future (and of the
        // futures that hold it, which are moved as they are made).
        // (The first poll's result is dropped before the wait, so it takes no
        // room in this future either.)
        if let Poll::Ready(answer) = futures::poll!(&mut future) {
            return answered(answer);
        }
        Box::pin(wait(future, now + budget, budget)).await
    }
}

/// A step's future that panicked (caught) or answered.
type Answered = Result<Result<StepOutcome, StepError>, Box<dyn Any + Send>>;

/// A step's answer, a panic (caught) being its error.
fn answered(answer: Answered) -> Result<StepOutcome, StepError> {
    answer.unwrap_or_else(|panic| Err(StepError::Panic(panic_message(panic))))
}

/// Waits for a step that did not answer on its first poll, until `deadline`
/// (`budget` after the call). The step is not polled again before it wakes.
async fn wait<F>(
    mut future: F,
    deadline: Instant,
    budget: Duration,
) -> Result<StepOutcome, StepError>
where
    F: std::future::Future<Output = Answered> + Unpin,
{
    let mut polled = true;
    let rest = std::future::poll_fn(move |cx| {
        if std::mem::take(&mut polled) {
            Poll::Pending // just polled, with this task's waker
        } else {
            future.poll_unpin(cx)
        }
    });
    match tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), rest).await {
        Ok(answer) => answered(answer),
        Err(_) => Err(StepError::Timeout(budget)),
    }
}

/// Step failures are logged at most this often (a client may cause them at will).
static FAILURES: Throttle = Throttle::new(20);

/// Set on the upstream request when `failureModeAllow` let a failed chain through.
pub const FAILURE_MODE_HEADER: &str = "x-gatehouse-failure-mode-allowed";

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests;
