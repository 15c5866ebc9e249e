//! Prometheus metrics. Labels come from the configuration (auth config ids,
//! step names), never from request data, so cardinality stays bounded.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        OnceLock,
    },
    time::Duration,
};

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::chain::{cache::CacheEvent, Chain, Observer, Prepared, StepResult};

/// Every metric the host exports.
pub struct Metrics {
    registry: Registry,
    /// Requests by auth config and final decision (`allow`, `deny`).
    pub requests: IntCounterVec,
    /// Step latency by auth config and step.
    pub step_seconds: HistogramVec,
    /// Step outcomes by auth config, step and result (allow/deny/error/panic/timeout).
    pub steps: IntCounterVec,
    /// Decision-cache events by auth config, step and event (hit/miss/eviction).
    pub step_cache: IntCounterVec,
    /// Configuration reloads by result (`ok`, `failed`).
    pub reloads: IntCounterVec,
    /// Plugin libraries loaded in this process.
    pub loaded_libraries: IntGauge,
    /// The current configuration generation.
    pub generation: IntGauge,
    /// Tells this instance's prepared handles from another's (never reused).
    instance: u64,
}

/// One chain's metric handles, resolved by label on first use only: the hot
/// path then hashes no labels. Made by [`Observer::prepare`] and kept by the
/// chain; a series still appears only once something was counted in it.
struct ChainMetrics {
    /// The [`Metrics`] whose handles these are.
    instance: u64,
    steps: Vec<StepMetrics>,
    /// `gatehouse_requests_total` for this chain: allow, deny.
    requests: [OnceLock<IntCounter>; 2],
}

/// One step's handles.
#[derive(Default)]
struct StepMetrics {
    seconds: OnceLock<Histogram>,
    /// `gatehouse_step_results_total` by result (as index) and shadow.
    results: [[OnceLock<IntCounter>; 2]; StepResult::COUNT],
}

fn shadow_label(shadow: bool) -> &'static str {
    if shadow {
        "true"
    } else {
        "false"
    }
}

fn verdict_label(allowed: bool) -> &'static str {
    if allowed {
        "allow"
    } else {
        "deny"
    }
}

fn register<T: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: T) -> T {
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are unique");
    metric
}

/// `gatehouse_build_info{version, pgo_profile} 1`: which build this host is
/// (`pgo_profile` empty unless built by `scripts/build-host.sh --pgo`).
fn build_info(registry: &Registry) {
    let info = register(
        registry,
        IntGaugeVec::new(
            Opts::new(
                "gatehouse_build_info",
                "The host's version and PGO training profile (empty: none)",
            ),
            &["version", "pgo_profile"],
        )
        .expect("valid metric"),
    );
    let profile = crate::build::PGO_PROFILE.unwrap_or("");
    info.with_label_values(&[crate::build::VERSION, profile])
        .set(1);
}

impl Metrics {
    /// Creates and registers the metrics.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "gatehouse_requests_total",
                    "Authorization requests by auth config and decision",
                ),
                &["auth_config", "decision"],
            )
            .expect("valid metric"),
        );
        let step_seconds = register(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "gatehouse_step_duration_seconds",
                    "Time spent in one chain step",
                )
                .buckets(vec![
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    1.0,
                ]),
                &["auth_config", "step"],
            )
            .expect("valid metric"),
        );
        let steps = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "gatehouse_step_results_total",
                    "Step outcomes: allow, deny, error, panic, timeout",
                ),
                &["auth_config", "step", "result", "shadow"],
            )
            .expect("valid metric"),
        );
        let step_cache = register(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "gatehouse_step_cache_total",
                    "Decision-cache events of cached steps: hit, miss, eviction",
                ),
                &["auth_config", "step", "event"],
            )
            .expect("valid metric"),
        );
        let reloads = register(
            &registry,
            IntCounterVec::new(
                Opts::new("gatehouse_reloads_total", "Configuration reloads by result"),
                &["result"],
            )
            .expect("valid metric"),
        );
        let loaded_libraries = register(
            &registry,
            IntGauge::new(
                "gatehouse_loaded_plugin_libraries",
                "Plugin libraries loaded in this process",
            )
            .expect("valid metric"),
        );
        let generation = register(
            &registry,
            IntGauge::new(
                "gatehouse_config_generation",
                "Current configuration generation",
            )
            .expect("valid metric"),
        );
        build_info(&registry);
        static INSTANCES: AtomicU64 = AtomicU64::new(0);
        Self {
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
            registry,
            requests,
            step_seconds,
            steps,
            step_cache,
            reloads,
            loaded_libraries,
            generation,
        }
    }

    /// Counts one decision of `chain` (`gatehouse_requests_total`), through the
    /// handles prepared for it when it has them.
    pub fn decided(&self, chain: &Chain, allowed: bool) {
        match self.prepared(chain.prepared()) {
            Some(prepared) => prepared.requests[usize::from(!allowed)]
                .get_or_init(|| self.request_counter(chain.id(), allowed))
                .inc(),
            None => self.request_counter(chain.id(), allowed).inc(),
        }
    }

    /// Counts one request refused before any chain (label `(none)`, `(unknown)`).
    pub fn refused(&self, label: &str) {
        self.request_counter(label, false).inc();
    }

    fn request_counter(&self, label: &str, allowed: bool) -> IntCounter {
        self.requests
            .with_label_values(&[label, verdict_label(allowed)])
    }

    /// `prepared` if it holds this instance's handles.
    fn prepared<'p>(&self, prepared: Option<&'p Prepared>) -> Option<&'p ChainMetrics> {
        prepared
            .and_then(|p| p.downcast_ref::<ChainMetrics>())
            .filter(|p| p.instance == self.instance)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Observer for Metrics {
    fn step(&self, config: &str, step: &str, result: StepResult, shadow: bool, elapsed: Duration) {
        self.step_seconds
            .with_label_values(&[config, step])
            .observe(elapsed.as_secs_f64());
        self.steps
            .with_label_values(&[config, step, result.as_str(), shadow_label(shadow)])
            .inc();
    }

    fn prepare(&self, _config: &str, steps: usize) -> Option<Prepared> {
        Some(Box::new(ChainMetrics {
            instance: self.instance,
            steps: (0..steps).map(|_| StepMetrics::default()).collect(),
            requests: Default::default(),
        }))
    }

    fn step_prepared(
        &self,
        prepared: &Prepared,
        index: usize,
        config: &str,
        step: &str,
        result: StepResult,
        shadow: bool,
        elapsed: Duration,
    ) {
        let Some(handles) = self
            .prepared(Some(prepared))
            .and_then(|p| p.steps.get(index))
        else {
            return self.step(config, step, result, shadow, elapsed);
        };
        handles
            .seconds
            .get_or_init(|| self.step_seconds.with_label_values(&[config, step]))
            .observe(elapsed.as_secs_f64());
        handles.results[result as usize][usize::from(shadow)]
            .get_or_init(|| {
                self.steps
                    .with_label_values(&[config, step, result.as_str(), shadow_label(shadow)])
            })
            .inc();
    }

    fn cache(&self, config: &str, step: &str, event: CacheEvent, count: u64) {
        self.step_cache
            .with_label_values(&[config, step, event.as_str()])
            .inc_by(count);
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use futures::{future::BoxFuture, FutureExt};

    use super::Metrics;
    use crate::{
        chain::{Chain, ChainStep, Limits, Observer, Step, StepError, StepInput, StepResult},
        model::{Request, StepOutcome},
    };

    struct Allow;

    impl Step for Allow {
        fn authorize<'a>(
            &'a self,
            _: StepInput<'a>,
        ) -> BoxFuture<'a, Result<StepOutcome, StepError>> {
            async {
                Ok(StepOutcome {
                    allow: true,
                    ..Default::default()
                })
            }
            .boxed()
        }
    }

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(prefix))
    }

    const RESULT: &str = "gatehouse_step_results_total{auth_config=\"c\",result=\"allow\",shadow=\"false\",step=\"two\"}";
    const SECONDS: &str = "gatehouse_step_duration_seconds_count{auth_config=\"c\",step=\"two\"}";

    #[test]
    fn prepared_handles_count_into_the_labelled_series_and_make_none_early() {
        let metrics = Metrics::new();
        let prepared = metrics.prepare("c", 2).expect("metrics prepare handles");
        let ms = Duration::from_millis(1);
        metrics.step_prepared(&prepared, 1, "c", "two", StepResult::Allow, false, ms);
        metrics.step("c", "two", StepResult::Allow, false, ms);
        metrics.step_prepared(&prepared, 1, "c", "two", StepResult::Allow, false, ms);
        let text = metrics.render();
        assert_eq!(line(&text, RESULT), Some(&*format!("{RESULT} 3")), "{text}");
        assert_eq!(
            line(&text, SECONDS),
            Some(&*format!("{SECONDS} 3")),
            "{text}"
        );
        // Nothing was counted for step one or for other results: no series.
        assert!(!text.contains("step=\"one\""), "{text}");
        assert!(!text.contains("result=\"deny\""), "{text}");
    }

    #[test]
    fn handles_prepared_by_another_instance_are_not_used() {
        let first = Metrics::new();
        let second = Metrics::new();
        let prepared = first.prepare("c", 2).expect("handles");
        let ms = Duration::from_millis(1);
        second.step_prepared(&prepared, 1, "c", "two", StepResult::Allow, false, ms);
        first.step_prepared(&prepared, 5, "c", "two", StepResult::Allow, false, ms);
        assert!(line(&second.render(), RESULT).is_some_and(|l| l.ends_with(" 1")));
        // An index beyond the prepared steps is counted by label.
        assert!(line(&first.render(), RESULT).is_some_and(|l| l.ends_with(" 1")));
    }

    #[tokio::test]
    async fn a_chain_keeps_its_handles_and_requests_are_counted_through_them() {
        let metrics = Metrics::new();
        let step = |name: &str| ChainStep {
            name: name.into(),
            step: Arc::new(Allow),
        };
        let chain = Chain::new("c", vec![step("one"), step("two")], Limits::default());
        assert!(chain.prepared().is_none(), "prepared on the first run");
        for _ in 0..3 {
            chain.run(&Request::default(), &metrics).await;
            metrics.decided(&chain, true);
        }
        assert!(chain.prepared().is_some());
        metrics.decided(&chain, false);
        let text = metrics.render();
        assert_eq!(line(&text, RESULT), Some(&*format!("{RESULT} 3")), "{text}");
        for (verdict, count) in [("allow", 3), ("deny", 1)] {
            let series =
                format!("gatehouse_requests_total{{auth_config=\"c\",decision=\"{verdict}\"}}");
            assert_eq!(
                line(&text, &series),
                Some(&*format!("{series} {count}")),
                "{text}"
            );
        }
    }
}
