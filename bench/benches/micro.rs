//! Microbenchmarks: one ABI `authorize` through the trait object (against the
//! same step done natively), the Envoy ⇄ model conversions, and a 3-step chain
//! with its header merge.
//!
//! Needs the release plugin libraries: `cargo build --release -p set-headers
//! -p required-header` (scripts/bench.sh does it); `BENCH_PLUGIN_DIR` overrides
//! where they are looked for (default: the profile directory of this binary).

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::{hint::black_box, path::PathBuf, sync::Arc};

use criterion::{criterion_group, criterion_main, Criterion};
use futures::executor::block_on;
use gatehouse::{
    chain::{Chain, ChainStep, Limits, NoObserver, RequestCache, Step, StepError, StepInput},
    config::StepConfig,
    frontend::envoy::{to_request, to_response},
    loader::{Instance, Loader},
    model::{Request, State, StepOutcome},
};
use gatehouse_bench::{check_request, native};
use tokio_util::sync::CancellationToken;

fn plugin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BENCH_PLUGIN_DIR") {
        return dir.into();
    }
    // target/release/deps/micro-<hash> → target/release
    let exe = std::env::current_exe().expect("bench executable");
    exe.parent()
        .and_then(|p| p.parent())
        .expect("profile dir")
        .to_path_buf()
}

fn instance(
    loader: &Loader,
    file: &str,
    symbol: &str,
    config: serde_json::Value,
) -> Arc<dyn Instance> {
    let instance = loader
        .instantiate(&StepConfig {
            name: symbol.into(),
            plugin_file_name: file.into(),
            exported_symbol_name: symbol.into(),
            config,
            ..StepConfig::default()
        })
        .unwrap_or_else(|e| panic!("{file}: {e} (build with scripts/bench.sh)"));
    instance
        .start(CancellationToken::new())
        .expect("plugin starts");
    instance
}

fn request() -> Request {
    to_request(check_request())
}

/// One `authorize` with `cache` as the chain run's request cache: a fresh cache
/// is the first step of a chain (it converts the request), a reused one a later
/// step (the request is already converted for this interface).
fn call(
    step: &dyn Step,
    state: &State,
    cache: &mut RequestCache,
) -> Result<StepOutcome, StepError> {
    let budget = std::time::Duration::from_secs(1);
    let deadline = std::time::Instant::now() + budget;
    block_on(step.authorize(StepInput::new(cache, black_box(state), deadline, budget)))
}

/// Benches `step` as the first step of a chain and as a later one.
fn bench_step(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    step: &dyn Step,
    request: &Request,
    state: &State,
) {
    // SAFETY (both caches): `request` outlives them.
    group.bench_function(format!("{name} (first step)"), |b| {
        b.iter(|| {
            call(step, state, &mut unsafe {
                RequestCache::new(black_box(request))
            })
        })
    });
    let mut cache = unsafe { RequestCache::new(request) };
    group.bench_function(format!("{name} (later step)"), |b| {
        b.iter(|| call(step, state, &mut cache))
    });
}

fn abi_call(c: &mut Criterion) {
    let loader = Loader::with_copy_dir(
        plugin_dir(),
        std::env::temp_dir().join("gatehouse-bench-libs"),
    );
    let request = request();
    let state = State::new();
    let mut group = c.benchmark_group("authorize");

    let empty = instance(
        &loader,
        "libset_headers.so",
        "SetHeaders",
        serde_json::json!({}),
    );
    bench_step(
        &mut group,
        "abi/set-headers-empty",
        empty.as_ref(),
        &request,
        &state,
    );
    let tag = instance(
        &loader,
        "libset_headers.so",
        "SetHeaders",
        serde_json::json!({"headers": [{"name": "x-gatehouse-team", "value": "verified"}], "setState": {"tier": "gold"}}),
    );
    bench_step(
        &mut group,
        "abi/set-headers-tag",
        tag.as_ref(),
        &request,
        &state,
    );
    let required = instance(
        &loader,
        "librequired_header.so",
        "RequiredHeader",
        serde_json::json!({"requiredHeader": "x-team", "allowedValues": ["platform", "security"]}),
    );
    bench_step(
        &mut group,
        "abi/required-header",
        required.as_ref(),
        &request,
        &state,
    );

    let steps = native::three_steps();
    let native_tag: Arc<dyn Step> = Arc::clone(&steps[1].step);
    bench_step(
        &mut group,
        "native/set-headers-tag",
        native_tag.as_ref(),
        &request,
        &state,
    );
    let native_required: Arc<dyn Step> = Arc::clone(&steps[0].step);
    bench_step(
        &mut group,
        "native/required-header",
        native_required.as_ref(),
        &request,
        &state,
    );
    group.finish();

    let mut chains = c.benchmark_group("chain-3-steps");
    let abi_steps = vec![
        ChainStep {
            name: "team".into(),
            step: required.clone(),
        },
        ChainStep {
            name: "tag".into(),
            step: tag.clone(),
        },
        ChainStep {
            name: "checked".into(),
            step: instance(
                &loader,
                "libset_headers.so",
                "SetHeaders",
                serde_json::json!({"requireState": {"tier": "gold"}, "headers": [{"name": "x-gatehouse-checked", "value": "true"}]}),
            ),
        },
    ];
    let abi_chain = Chain::new("bench", abi_steps, Limits::default());
    // Chain::run applies step timeouts: it needs a tokio runtime with timers.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    let native_chain = native::three_step_chain();
    chains.bench_function("native (chain + header merge)", |b| {
        b.iter(|| rt.block_on(native_chain.run(black_box(&request), &NoObserver)))
    });
    chains.bench_function("abi (.so steps)", |b| {
        b.iter(|| rt.block_on(abi_chain.run(black_box(&request), &NoObserver)))
    });
    chains.finish();

    let mut conv = c.benchmark_group("convert");
    let check = check_request();
    conv.bench_function("CheckRequest -> model Request", |b| {
        b.iter(|| to_request(black_box(check.clone())))
    });
    conv.bench_function("CheckRequest clone (subtract from the above)", |b| {
        b.iter(|| black_box(check.clone()))
    });
    let decision = rt.block_on(native_chain.run(&request, &NoObserver));
    conv.bench_function("Decision -> CheckResponse", |b| {
        b.iter(|| to_response(black_box(decision.clone())))
    });
    conv.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .sample_size(30);
    targets = abi_call
}
criterion_main!(benches);
