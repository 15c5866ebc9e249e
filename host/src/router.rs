//! Which auth config decides a request: `context_extensions.config_id` looked up
//! in the configuration generation that is current when the request arrives.

use std::{collections::HashMap, sync::Arc};

use arc_swap::ArcSwapOption;
use tokio_util::sync::CancellationToken;

use crate::{
    chain::Chain,
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
    pub(crate) stop: CancellationToken,
}

/// Holds the current generation; requests take a snapshot of it, so a reload
/// never changes the chain of a request already running.
#[derive(Default)]
pub struct Router {
    current: ArcSwapOption<Generation>,
}

impl Router {
    /// A router with no configuration yet (every request is denied).
    pub fn new() -> Self {
        Self::default()
    }

    /// The current generation, if any configuration has been loaded.
    pub fn current(&self) -> Option<Arc<Generation>> {
        self.current.load_full()
    }

    /// Installs `next`, returning the previous generation.
    pub(crate) fn swap(&self, next: Arc<Generation>) -> Option<Arc<Generation>> {
        self.current.swap(Some(next))
    }

    /// Routes `request` to its chain and runs it. Fails closed: no configuration,
    /// no `config_id` or an unknown one denies with 403.
    pub async fn decide(&self, request: &Request) -> Decision {
        let Some(generation) = self.current() else {
            return refuse(request, "no auth configuration is loaded yet".into());
        };
        let Some(id) = request.context_extensions.get(CONFIG_ID_KEY) else {
            return refuse(
                request,
                format!("the route sets no context_extensions.{CONFIG_ID_KEY}, so no auth config applies"),
            );
        };
        let Some(chain) = generation.chains.get(id) else {
            let mut known: Vec<_> = generation.chains.keys().map(String::as_str).collect();
            known.sort_unstable();
            return refuse(
                request,
                format!("unknown auth config '{id}' (loaded: {})", known.join(", ")),
            );
        };
        chain.run(request).await
    }
}

fn refuse(request: &Request, reason: String) -> Decision {
    tracing::warn!(request_id = %request.id, path = %request.path, %reason, "request denied");
    Decision::Deny(Denied {
        status: 403,
        body: String::new(),
        headers: Vec::new(),
        reason,
    })
}
