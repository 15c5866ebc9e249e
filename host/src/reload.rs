//! Applying a configuration, in Gloo's lifecycle order:
//! 1. make a new cancellation scope;
//! 2. build every step of every auth config (load, configure, create);
//! 3. on any error stop here, keep the previous configuration, report why;
//! 4. cancel the previous scope;
//! 5. start every new service;
//! 6. switch the router to the new configuration.

use std::{
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use tokio_util::sync::CancellationToken;

use crate::{
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

/// An auth config id with its named, not yet started instances.
type BuiltConfig = (String, Vec<(String, Arc<dyn Instance>)>);

/// Loads configurations into a [`Router`].
pub struct Reloader {
    config_path: PathBuf,
    loader: Loader,
    router: Arc<Router>,
    limits: Limits,
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
            generations: AtomicU64::new(0),
            last_error: Mutex::new(None),
            reloading: Mutex::new(()),
        }
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
        let stop = CancellationToken::new();
        let mut errors = Vec::new();
        let mut built: Vec<BuiltConfig> = Vec::new();
        let mut limits = std::collections::HashMap::new();
        for auth in configs {
            let mut steps = Vec::new();
            for (index, step) in auth.steps.iter().enumerate() {
                match self.loader.instantiate(step) {
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
            limits.insert(
                auth.id(),
                Limits {
                    failure_mode_allow: auth.failure_mode_allow,
                    ..self.limits
                },
            );
            built.push((auth.id(), steps));
        }
        if !errors.is_empty() {
            return Err(ReloadError::Build(errors));
        }

        if let Some(previous) = self.router.current() {
            previous.stop.cancel();
        }

        let mut start_errors = Vec::new();
        for (id, steps) in &built {
            for (name, instance) in steps {
                if let Err(e) = instance.start(stop.clone()) {
                    start_errors.push(format!("auth config '{id}' step '{name}': {e}"));
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
            .map(|(id, steps)| {
                let steps = steps
                    .into_iter()
                    .map(|(name, instance)| ChainStep {
                        name,
                        step: instance,
                    })
                    .collect();
                let limits = limits.get(&id).copied().unwrap_or(self.limits);
                (id.clone(), Arc::new(Chain::new(id, steps, limits)))
            })
            .collect();
        self.router.install(Arc::new(Generation {
            number,
            chains,
            stop,
        }));
        tracing::info!(
            generation = number,
            auth_configs = configs.len(),
            "configuration applied"
        );
        Ok(number)
    }
}
