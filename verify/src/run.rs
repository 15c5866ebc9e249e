//! The verification itself, in the host's lifecycle order and through the
//! host's own code: every step is built by the host's [`Loader`] (resolve the
//! file in the plugin directory, open it, check interface version and layouts,
//! find the exported plugin, build it from its config), then every built
//! service is started, request cases run through the host's [`Chain`], and
//! finally the services are stopped by cancelling their token.
//!
//! Unlike the host, verify does not stop at the first failure: it reports every
//! step and runs the cases of every chain that was built and started. Each
//! chain is verified in its own child process ([`crate::child`]).

use std::{collections::HashMap, sync::Arc, time::Duration};

use gatehouse::{
    cache::Caches,
    chain::{Chain, ChainStep, Limits, Step},
    config::StepConfig,
    loader::{Instance, Library, LoadError, Loader, PanicStrategy},
};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::{
    cases::{self, Case},
    log::{Fields, Log},
    manifest::ChainPlan,
    report::{Failure, Report},
    steps::StepRecorder,
};

/// How long a plugin's `start` may take before verify calls it hung. The host
/// has no such limit: a start that never returns would hang its reload.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The debug line before a library is opened.
const OPENING: &str =
    "opening library: resolve in plugin dir, check interface version and type layouts";

/// The warning for a library that cannot say how it panics.
const UNRECORDED: &str = "library does not record its panic strategy (built against interface \
    1.0/1.1 or an older 1.2): if it was built with panic = \"abort\", its first panic kills the \
    host; rebuild it against gatehouse-plugin-api 1.2 to have it checked";

/// A step that was built: its name, instance, and how to report on it.
struct Built {
    name: String,
    file: String,
    instance: Arc<dyn Instance>,
    fields: Fields,
    label: String,
}

/// One chain as built: the steps that were built, and whether all were (and,
/// after starting, whether all started).
struct BuiltChain {
    steps: Vec<Built>,
    complete: bool,
}

/// Verifies one chain with plugins from `loader`, into `report`; cases run
/// with `limits`. Before plugin code runs, `report` is told what runs (see
/// [`crate::child`]: a plugin may kill the process).
pub(crate) async fn verify_chain(
    chain: &ChainPlan,
    loader: &Loader,
    limits: Limits,
    log: Log,
    report: &mut Report,
) {
    // Build every step (the host's reload step 2).
    let mut opened = HashMap::new();
    let mut built = BuiltChain {
        steps: Vec::new(),
        complete: true,
    };
    for (index, step) in chain.steps().iter().enumerate() {
        let doing = format!(
            "{} ({}): loading and building it",
            step_label(chain, index, step),
            step.plugin_file_name
        );
        report.stage(Failure::Load, &doing);
        match build(loader, &mut opened, chain, index, step, log) {
            Ok(step) => built.steps.push(step),
            Err((failure, what)) => {
                report.step_failed(failure, what);
                built.complete = false;
            }
        }
    }

    // Start every service that was built (the host's reload step 5; the host
    // would stop before this on a build error, verify goes on to find more).
    let stop = CancellationToken::new();
    for step in &built.steps {
        report.stage(Failure::Config, &format!("{}: starting it", step.label));
        match start(step, &stop, log).await {
            Ok(()) => report.step_passed(),
            Err(what) => {
                report.step_failed(Failure::Config, what);
                built.complete = false;
            }
        }
    }

    // Request cases, in order, through one chain the host would build: a
    // cached step's entries carry from one case to the next.
    let runnable = built
        .complete
        .then(|| host_chain(chain, &built.steps, limits));
    for (index, case) in chain.cases.iter().enumerate() {
        let mut fields = chain_fields(chain);
        fields.push(("case", json!(case.name)));
        let Some(runnable) = &runnable else {
            fields.push((
                "reason",
                json!("a plugin of this chain failed to load or start"),
            ));
            log.warn("request case skipped", fields);
            report.case_skipped();
            continue;
        };
        report.stage(Failure::Case, &case_label(chain, case));
        match run_case(chain, runnable, index, case, fields, log).await {
            Ok(()) => report.case_passed(),
            Err(what) => report.case_failed(what),
        }
    }

    // Stop (the host cancels a generation's token when it is replaced).
    report.stage(
        Failure::Config,
        &format!("'{}': stopping its services", chain.id()),
    );
    stop.cancel();
    log.debug("services stopped", vec![]);
}

/// How a request case is named in the summary line.
fn case_label(chain: &ChainPlan, case: &Case) -> String {
    format!(
        "{} '{}' case '{}'",
        if chain.auth_config {
            "auth config"
        } else {
            "plugin"
        },
        chain.id(),
        case.name
    )
}

/// Log fields naming a chain.
fn chain_fields(chain: &ChainPlan) -> Fields {
    if chain.auth_config {
        vec![("authConfig", json!(chain.id()))]
    } else {
        vec![("name", json!(chain.id()))]
    }
}

/// Log fields naming one step of a chain.
fn step_fields(chain: &ChainPlan, step: &StepConfig) -> Fields {
    let mut fields = chain_fields(chain);
    if chain.auth_config {
        fields.push(("step", json!(step.name)));
    }
    fields.push(("plugin", json!(step.exported_symbol_name)));
    fields.push(("file", json!(step.plugin_file_name)));
    fields
}

/// How a step is named in the summary line.
fn step_label(chain: &ChainPlan, index: usize, step: &StepConfig) -> String {
    if chain.auth_config {
        format!(
            "auth config '{}' step {} '{}'",
            chain.id(),
            index + 1,
            step.name
        )
    } else {
        format!("plugin '{}'", chain.id())
    }
}

fn with(mut fields: Fields, more: impl IntoIterator<Item = (&'static str, Value)>) -> Fields {
    fields.extend(more);
    fields
}

/// Loads and builds one step through the host's loader. `opened` keeps the
/// libraries already opened, by file name, only to describe them in the log:
/// [`Loader::instantiate`] opens (or reuses) the library itself, as in the host.
fn build(
    loader: &Loader,
    opened: &mut HashMap<String, Arc<Library>>,
    chain: &ChainPlan,
    index: usize,
    step: &StepConfig,
    log: Log,
) -> Result<Built, (Failure, String)> {
    let fields = step_fields(chain, step);
    let label = step_label(chain, index, step);
    let fail = |error: LoadError| {
        let (failure, check, msg) = classify(&error);
        let text = error.to_string();
        log.error(
            msg,
            with(
                fields.clone(),
                [("check", json!(check)), ("error", json!(text))],
            ),
        );
        (failure, format!("{label}: {text}"))
    };

    let library = match opened.get(&step.plugin_file_name) {
        Some(library) => Arc::clone(library),
        None => {
            log.debug(
                OPENING,
                with(
                    fields.clone(),
                    [(
                        "pluginDir",
                        json!(loader.plugin_dir().display().to_string()),
                    )],
                ),
            );
            let library = loader.library(&step.plugin_file_name).map_err(fail)?;
            if library.panic_strategy() == PanicStrategy::Unrecorded {
                log.warn(UNRECORDED, fields.clone());
            }
            opened.insert(step.plugin_file_name.clone(), Arc::clone(&library));
            library
        }
    };
    let library_fields = [
        ("interface", json!(library.interface())),
        ("build", json!(library.build_info())),
        ("exports", json!(library.plugin_names())),
        ("panic", json!(library.panic_strategy().as_str())),
    ];
    log.debug(
        "library opened; building the plugin from its config",
        with(fields.clone(), library_fields.clone()),
    );
    let instance = loader.instantiate(step).map_err(fail)?;
    log.info("plugin loaded", with(fields.clone(), library_fields));
    Ok(Built {
        name: step.name.clone(),
        file: step.plugin_file_name.clone(),
        instance,
        fields,
        label,
    })
}

/// Which failure a load error is, which check failed, and the log message.
fn classify(error: &LoadError) -> (Failure, &'static str, &'static str) {
    const NOT_LOADED: &str = "plugin could not be loaded";
    match error {
        LoadError::Path { .. } => (Failure::Load, "file", NOT_LOADED),
        LoadError::Open { .. } => (Failure::Load, "library", NOT_LOADED),
        LoadError::Interface { .. } => (Failure::Load, "interface", NOT_LOADED),
        LoadError::Layout { .. } => (Failure::Load, "layout", NOT_LOADED),
        LoadError::UnknownPlugin { .. } => (Failure::Load, "export", NOT_LOADED),
        LoadError::PanicAbort { .. } => (Failure::Load, "panic", NOT_LOADED),
        LoadError::Config { .. } => (Failure::Config, "config", "plugin config invalid"),
        LoadError::Factory { .. } => (Failure::Config, "build", "plugin could not be built"),
    }
}

/// Starts one service, as the host does after building a configuration.
async fn start(step: &Built, stop: &CancellationToken, log: Log) -> Result<(), String> {
    log.debug("starting", step.fields.clone());
    let instance = Arc::clone(&step.instance);
    let token = stop.clone();
    let started = tokio::time::timeout(
        START_TIMEOUT,
        tokio::task::spawn_blocking(move || instance.start(token)),
    )
    .await;
    let error = match started {
        Ok(Ok(Ok(()))) => {
            log.debug("started", step.fields.clone());
            return Ok(());
        }
        Ok(Ok(Err(e))) => e,
        Ok(Err(join)) => format!("start panicked in the host: {join}"),
        Err(_) => format!(
            "start did not return within {}s (the host would hang on this reload)",
            START_TIMEOUT.as_secs()
        ),
    };
    let text = format!("{}: failed to start: {error}", step.file);
    log.error(
        "plugin failed to start",
        with(
            step.fields.clone(),
            [("check", json!("start")), ("error", json!(text))],
        ),
    );
    Err(format!("{}: {text}", step.label))
}

/// The chain the host would build from the built steps, with memory caches.
fn host_chain(chain: &ChainPlan, built: &[Built], limits: Limits) -> Chain {
    let steps = built
        .iter()
        .map(|b| ChainStep {
            name: b.name.clone(),
            step: Arc::clone(&b.instance) as Arc<dyn Step>,
        })
        .collect();
    chain.config.chain(steps, limits, &Caches::in_memory())
}

/// Runs one case through the chain.
async fn run_case(
    chain: &ChainPlan,
    runnable: &Chain,
    index: usize,
    case: &Case,
    fields: Fields,
    log: Log,
) -> Result<(), String> {
    let request = case.request.to_request(
        format!("verify-case-{}", index + 1),
        chain.auth_config.then_some(chain.id().as_str()),
    );
    log.debug(
        "running request case",
        with(
            fields.clone(),
            [(
                "request",
                json!({"method": request.method, "path": request.path, "headers": request.headers}),
            )],
        ),
    );
    let seen = StepRecorder::default();
    let decision = runnable
        .run_with_state(&request, case.request.state.clone(), &seen)
        .await;
    let diff = cases::diff(&case.expect, &decision, &seen.into_map());
    let got = cases::outcome(&decision);
    if diff.is_empty() {
        log.info(
            "request case passed",
            with(fields, [("decision", got["decision"].clone())]),
        );
        return Ok(());
    }
    let what = format!("{}: {}", case_label(chain, case), diff.join(" "));
    log.error(
        "request case failed",
        with(fields, [("diff", json!(diff)), ("got", got)]),
    );
    Err(what)
}
