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
        Arc,
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
        }
    }

    /// The config file this reloader reads.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Reads the config file again and applies it.
    pub fn reload(&self) -> Result<u64, ReloadError> {
        let configs = config::load_file(&self.config_path)?;
        self.apply(&configs)
    }

    /// Applies `configs` (all or nothing); returns the new generation number.
    pub fn apply(&self, configs: &[AuthConfig]) -> Result<u64, ReloadError> {
        let stop = CancellationToken::new();
        let mut errors = Vec::new();
        let mut built: Vec<BuiltConfig> = Vec::new();
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
                (id.clone(), Arc::new(Chain::new(id, steps, self.limits)))
            })
            .collect();
        self.router.swap(Arc::new(Generation {
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
