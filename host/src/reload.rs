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
    chain::{ChainStep, Limits},
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

/// An auth config with its named, not yet started instances.
type BuiltConfig<'c> = (&'c AuthConfig, Vec<(String, Arc<dyn Instance>)>);

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
        }
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
    pub fn apply(&self, configs: &[AuthConfig]) -> Result<u64, ReloadError> {
        let built = self.build(configs)?;
        let stop = CancellationToken::new();
        let mut start_errors = Vec::new();
        for (auth, steps) in &built {
            for (name, instance) in steps {
                if let Err(e) = instance.start(stop.clone()) {
                    start_errors.push(format!("auth config '{}' step '{name}': {e}", auth.id()));
                }
            }
        }
        if !start_errors.is_empty() {
            stop.cancel();
            return Err(ReloadError::Start(start_errors));
        }

        let number = self.generations.fetch_add(1, Ordering::SeqCst) + 1;
        let chains = built
            .into_iter()
            .map(|(auth, steps)| {
                let steps = steps
                    .into_iter()
                    .map(|(name, instance)| ChainStep {
                        name,
                        step: instance,
                    })
                    .collect();
                (
                    auth.id(),
                    Arc::new(auth.chain(steps, self.limits, &self.caches)),
                )
            })
            .collect();
        let previous = self.router.install(Arc::new(Generation {
            number,
            chains,
            stop,
        }));
        if let Some(previous) = previous {
            previous.stop.cancel();
        }
        tracing::info!(
            generation = number,
            auth_configs = configs.len(),
            "configuration applied"
        );
        Ok(number)
    }

    /// Builds every step of every auth config, or says which could not be built.
    fn build<'c>(&self, configs: &'c [AuthConfig]) -> Result<Vec<BuiltConfig<'c>>, ReloadError> {
        let mut errors = Vec::new();
        let mut built = Vec::new();
        // Each distinct library is looked at once per reload, not once per step.
        let pass = self.loader.pass();
        for auth in configs {
            let mut steps = Vec::new();
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
            built.push((auth, steps));
        }
        if errors.is_empty() {
            Ok(built)
        } else {
            Err(ReloadError::Build(errors))
        }
    }
}
