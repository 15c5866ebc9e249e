//! Prometheus metrics. Labels come from the configuration (auth config ids,
//! step names), never from request data, so cardinality stays bounded.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use crate::chain::{cache::CacheEvent, Observer, StepResult};

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
}

fn register<T: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: T) -> T {
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are unique");
    metric
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
        Self {
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
            .with_label_values(&[
                config,
                step,
                result.as_str(),
                if shadow { "true" } else { "false" },
            ])
            .inc();
    }

    fn cache(&self, config: &str, step: &str, event: CacheEvent, count: u64) {
        self.step_cache
            .with_label_values(&[config, step, event.as_str()])
            .inc_by(count);
    }
}
