//! Applying a configuration, make-before-break:
//! 1. make a new cancellation scope;
//! 2. build every step of every auth config (load, configure, create);
//! 3. start every new service in the new scope;
//! 4. on any error in 2 or 3, cancel only the new scope: the previous
//!    configuration keeps serving exactly as it was, background tasks included;
//! 5. switch the router to the new configuration;
//! 6. cancel the previous scope (its in-flight requests still finish).
//!
//! Gloo cancels the old scope before starting the new services; that leaves a
//! failed start with old chains whose background work (a JWKS refresh) is gone,
//! so here the old generation is cancelled only once the new one serves.

use std::{
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use tokio_util::sync::CancellationToken;

use crate::{
    cache::Caches,
    chain::{Chain, ChainStep, Limits},
    config::{self, AuthConfig, ConfigError},
    loader::{Instance, Loader},
    router::{Generation, Router},
};

/// Why a configuration was not applied. The previous one stays in service.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file could not be read or parsed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// One or more steps could not be built.
    #[error("configuration refused, {} step(s) could not be built:\n  {}", .0.len(), .0.join("\n  "))]
    Build(Vec<String>),
    /// One or more services failed to start.
    #[error("configuration refused, {} service(s) failed to start:\n  {}", .0.len(), .0.join("\n  "))]
    Start(Vec<String>),
}

/// An auth config's chain and its instances (in step order), not yet started.
type BuiltChain = (Arc<Chain>, Vec<Arc<dyn Instance>>);

/// Loads configurations into a [`Router`].
pub struct Reloader {
    config_path: PathBuf,
    loader: Loader,
    router: Arc<Router>,
    limits: Limits,
    /// Where cached steps keep their entries; memory stores outlive a reload
    /// for steps it leaves unchanged.
    caches: Arc<Caches>,
    generations: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// Serialises reloads (SIGHUP and the file watcher may fire together).
    reloading: Mutex<()>,
    /// Run after every reload, applied or refused (see [`Reloader::with_release`]).
    release: Option<fn()>,
}

impl Reloader {
    /// A reloader reading `config_path`, loading plugins with `loader`.
    pub fn new(
        config_path: impl Into<PathBuf>,
        loader: Loader,
        router: Arc<Router>,
        limits: Limits,
    ) -> Self {
        Self {
            config_path: config_path.into(),
            loader,
            router,
            limits,
            caches: Arc::new(Caches::in_memory()),
            generations: AtomicU64::new(0),
            last_error: Mutex::new(None),
            reloading: Mutex::new(()),
            release: None,
        }
    }

    /// Runs `release` after every reload, applied or refused, once the previous
    /// generation is dropped and before the outcome is counted: the binary hands
    /// the memory a reload freed back to the system there (a reload of 10,000
    /// configs frees one generation and the parse's garbage, which the
    /// allocators would otherwise keep resident).
    pub fn with_release(mut self, release: fn()) -> Self {
        self.release = Some(release);
        self
    }

    /// Keeps cached steps' entries in `caches` (e.g. a Redis) instead of memory.
    pub fn with_caches(mut self, caches: Arc<Caches>) -> Self {
        self.caches = caches;
        self
    }

    /// The config file this reloader reads.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The loader (for the libraries it holds).
    pub fn loader(&self) -> &Loader {
        &self.loader
    }

    /// Why the last reload failed, until a later one succeeds.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reads the config file again and applies it, recording the outcome in the
    /// metrics and in [`Reloader::last_error`].
    pub fn reload(&self) -> Result<u64, ReloadError> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let result = config::load_file(&self.config_path)
            .map_err(ReloadError::from)
            .and_then(|configs| self.apply(&configs));
        if let Some(release) = self.release {
            release();
        }
        let metrics = self.router.metrics();
        metrics
            .loaded_libraries
            .set(self.loader.libraries().len() as i64);
        let mut last_error = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        match &result {
            Ok(_) => {
                metrics.reloads.with_label_values(&["ok"]).inc();
                *last_error = None;
            }
            Err(e) => {
                metrics.reloads.with_label_values(&["failed"]).inc();
                *last_error = Some(e.to_string());
            }
        }
        result
    }

    /// Applies `configs` (all or nothing); returns the new generation number.
    ///
    /// The parsed configs outlive the whole reload and are freed together
    /// after it: dropping each once its chain was built lowered the peak by
    /// 12 MiB at 10,000 configs, but spread the new generation over their
    /// freed pages, which then could not be handed back (RSS +10 MiB over 20
    /// reloads instead of +2.6; BENCHMARKS.md).
    pub fn apply(&self, configs: &[AuthConfig]) -> Result<u64, ReloadError> {
        let built = self.build(configs)?;
        let stop = CancellationToken::new();
        let mut start_errors = Vec::new();
        for (chain, instances) in &built {
            for (instance, name) in instances.iter().zip(chain.step_names()) {
                if let Err(e) = instance.start(stop.clone()) {
                    start_errors.push(format!("auth config '{}' step '{name}': {e}", chain.id()));
                }
            }
        }
        if !start_errors.is_empty() {
            stop.cancel();
            return Err(ReloadError::Start(start_errors));
        }

        let number = self.generations.fetch_add(1, Ordering::SeqCst) + 1;
        let auth_configs = built.len();
        let chains = built
            .into_iter()
            .map(|(chain, _)| (chain.id().to_string(), chain))
            .collect();
        let previous = self.router.install(Arc::new(Generation {
            number,
            chains,
            stop,
        }));
        if let Some(previous) = previous {
            previous.stop.cancel();
        }
        tracing::info!(generation = number, auth_configs, "configuration applied");
        Ok(number)
    }

    /// Builds every step of every auth config and each config's chain (its
    /// instances not yet started), or says which steps could not be built.
    fn build(&self, configs: &[AuthConfig]) -> Result<Vec<BuiltChain>, ReloadError> {
        let mut errors = Vec::new();
        let mut built = Vec::new();
        // Each distinct library is looked at once per reload, not once per step.
        let pass = self.loader.pass();
        for auth in configs {
            let mut steps = Vec::with_capacity(auth.steps.len());
            for (index, step) in auth.steps.iter().enumerate() {
                match pass.instantiate(step) {
                    Ok(instance) => steps.push((step.name.clone(), instance)),
                    Err(e) => errors.push(format!(
                        "auth config '{}' ({}) step {} '{}': {e}",
                        auth.id(),
                        auth.origin,
                        index + 1,
                        step.name
                    )),
                }
            }
            // After an error nothing is kept: the rest is built only to name
            // every step that fails.
            if errors.is_empty() {
                let instances = steps.iter().map(|(_, i)| Arc::clone(i)).collect();
                let steps = steps
                    .into_iter()
                    .map(|(name, instance)| ChainStep {
                        name,
                        step: instance,
                    })
                    .collect();
                let chain = auth.chain(steps, self.limits, &self.caches);
                built.push((Arc::new(chain), instances));
            }
        }
        if errors.is_empty() {
            Ok(built)
        } else {
            Err(ReloadError::Build(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex, OnceLock};

    use super::Reloader;
    use crate::{loader::Loader, router::Router};

    /// The router of the test below, and the reload counts each release saw.
    static ROUTER: OnceLock<Arc<Router>> = OnceLock::new();
    static SEEN: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());

    fn record() {
        let reloads = &ROUTER.get().expect("router").metrics().reloads;
        let counts = (
            reloads.with_label_values(&["ok"]).get(),
            reloads.with_label_values(&["failed"]).get(),
        );
        SEEN.lock().expect("seen").push(counts);
    }

    #[test]
    fn memory_is_released_after_every_reload_applied_or_refused_before_it_is_counted() {
        use std::os::unix::fs::PermissionsExt;
        let root = std::env::temp_dir().join(format!("gatehouse-release-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let plugins = root.join("plugins");
        std::fs::create_dir_all(&plugins).expect("mkdir");
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        std::fs::copy(
            crate::loader::tests::set_headers_library(),
            plugins.join("libset_headers.so"),
        )
        .expect("copy");
        let file = root.join("configs.yaml");
        let config = "kind: AuthConfig\nmetadata: {name: a}\nspec:\n  configs:\n    - pluginAuth:\n        name: tag\n        pluginFileName: libset_headers.so\n        exportedSymbolName: SetHeaders\n        config: {headers: [{name: x-a, value: b}]}\n";
        std::fs::write(&file, config).expect("write");
        let router = ROUTER.get_or_init(|| Arc::new(Router::default())).clone();
        let loader = Loader::with_copy_dir(&plugins, root.join("staging"));
        let reloader =
            Reloader::new(&file, loader, router, Default::default()).with_release(record);

        reloader.reload().expect("applies");
        std::fs::write(&file, "kind: [").expect("write");
        reloader.reload().expect_err("bad YAML is refused");
        reloader.reload().expect_err("still refused");

        // Each release ran once its reload was over and before it was counted.
        assert_eq!(*SEEN.lock().expect("seen"), [(0, 0), (1, 0), (1, 1)]);
        let _ = std::fs::remove_dir_all(&root);
    }
}
