//! Which auth config decides a request: `context_extensions.config_id` looked up
//! in the configuration generation that is current when the request arrives.
//! Also where requests too large to hand to plugins are refused.

use std::{collections::HashMap, sync::Arc};

use arc_swap::ArcSwapOption;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    chain::Chain,
    logging::{LogText, Throttle},
    metrics::Metrics,
    model::{Decision, Denied, Request},
};

/// The context extension that names the auth config.
pub const CONFIG_ID_KEY: &str = "config_id";

/// One loaded configuration: its chains and the stop signal of their plugins.
pub struct Generation {
    /// Increments with every successful (re)load.
    pub number: u64,
    /// Auth config id → chain.
    pub chains: HashMap<String, Arc<Chain>>,
    /// Cancelled when this generation is replaced or the host stops.
    pub stop: CancellationToken,
}

/// Bounds on what a request may carry into plugins.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// Largest body passed to plugins; a larger one is refused with 413.
    pub max_body_bytes: usize,
    /// Most headers; more are refused with 431.
    pub max_headers: usize,
    /// Largest total of header names and values; more is refused with 431.
    pub max_header_bytes: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            max_headers: 200,
            max_header_bytes: 64 << 10,
        }
    }
}

impl RequestLimits {
    /// The status and reason for a request over the limits, if it is.
    fn check(&self, request: &Request) -> Option<(u16, String)> {
        let body = request.body.as_ref().map_or(0, Vec::len);
        if body > self.max_body_bytes {
            return Some((
                413,
                format!(
                    "body of {body} bytes exceeds the limit of {} bytes",
                    self.max_body_bytes
                ),
            ));
        }
        if request.headers.len() > self.max_headers {
            return Some((
                431,
                format!(
                    "{} headers exceed the limit of {}",
                    request.headers.len(),
                    self.max_headers
                ),
            ));
        }
        let size: usize = request.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
        if size > self.max_header_bytes {
            return Some((
                431,
                format!(
                    "headers of {size} bytes exceed the limit of {} bytes",
                    self.max_header_bytes
                ),
            ));
        }
        if let Some(reason) = request.oversized_metadata() {
            return Some((403, reason));
        }
        None
    }
}

/// Holds the current generation; requests take a snapshot of it, so a reload
/// never changes the chain of a request already running.
pub struct Router {
    current: ArcSwapOption<Generation>,
    metrics: Arc<Metrics>,
    limits: RequestLimits,
}

impl Default for Router {
    fn default() -> Self {
        Self::new(Arc::new(Metrics::new()), RequestLimits::default())
    }
}

impl Router {
    /// A router with no configuration yet (every request is denied).
    pub fn new(metrics: Arc<Metrics>, limits: RequestLimits) -> Self {
        Self {
            current: ArcSwapOption::empty(),
            metrics,
            limits,
        }
    }

    /// The bounds requests are held to.
    pub fn limits(&self) -> &RequestLimits {
        &self.limits
    }

    /// The metrics this router records into.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The current generation, if any configuration has been loaded.
    pub fn current(&self) -> Option<Arc<Generation>> {
        self.current.load_full()
    }

    /// Installs `next`, returning the previous generation. The reload path calls
    /// this; so may an embedder or a benchmark that builds its chains itself.
    pub fn install(&self, next: Arc<Generation>) -> Option<Arc<Generation>> {
        self.metrics.generation.set(next.number as i64);
        self.current.swap(Some(next))
    }

    /// Routes `request` to its chain and runs it. Fails closed: no configuration,
    /// no `config_id`, an unknown one, or a request over the limits is denied.
    pub async fn decide(&self, request: &Request) -> Decision {
        let config_id = request
            .context_extensions
            .get(CONFIG_ID_KEY)
            .map(String::as_str)
            .unwrap_or("");
        let span = tracing::info_span!("check", request_id = %LogText(&request.id), config_id);
        let generation = self.current();
        let (chain, decision) = self
            .route(generation.as_deref(), request)
            .instrument(span)
            .await;
        let allowed = matches!(decision, Decision::Allow(_));
        match chain {
            Ok(chain) => self.metrics.decided(chain, allowed),
            Err(label) => self.metrics.refused(label),
        }
        decision
    }

    /// Returns the chain that decided (or the metrics label of a request no
    /// chain could take: never client input) and the decision.
    async fn route<'g>(
        &self,
        generation: Option<&'g Generation>,
        request: &Request,
    ) -> (Result<&'g Chain, &'static str>, Decision) {
        let Some(generation) = generation else {
            return refuse(
                request,
                Err("(none)"),
                403,
                "no auth configuration is loaded yet".into(),
            );
        };
        let Some(id) = request.context_extensions.get(CONFIG_ID_KEY) else {
            let reason = format!(
                "the route sets no context_extensions.{CONFIG_ID_KEY}, so no auth config applies"
            );
            return refuse(request, Err("(none)"), 403, reason);
        };
        let Some(chain) = generation.chains.get(id) else {
            let mut known: Vec<_> = generation.chains.keys().map(String::as_str).collect();
            known.sort_unstable();
            let reason = format!("unknown auth config '{id}' (loaded: {})", known.join(", "));
            return refuse(request, Err("(unknown)"), 403, reason);
        };
        if let Some((status, reason)) = self.limits.check(request) {
            return refuse(request, Ok(chain), status, reason);
        }
        let decision = chain.run(request, self.metrics.as_ref()).await;
        if let Decision::Deny(denied) = &decision {
            tracing::debug!(status = denied.status, reason = %denied.reason, "denied");
        }
        (Ok(chain), decision)
    }
}

/// Refusals are caused by clients (an unknown config id, oversized headers):
/// logged at most this often, so a client cannot flood the log.
static REFUSALS: Throttle = Throttle::new(10);

fn refuse<'g>(
    request: &Request,
    chain: Result<&'g Chain, &'static str>,
    status: u16,
    reason: String,
) -> (Result<&'g Chain, &'static str>, Decision) {
    if let Some(suppressed) = REFUSALS.admit() {
        tracing::warn!(path = %request.path, %reason, suppressed, "request denied");
    }
    (
        chain,
        Decision::Deny(Denied {
            status,
            body: String::new(),
            headers: Vec::new(),
            reason,
        }),
    )
}
