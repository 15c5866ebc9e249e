//! The plugin-side view of the host's stop signal.

use gatehouse_plugin_api::StopHandle;

/// Fires when the host replaces or shuts down the configuration this service
/// belongs to. Cheap to clone; move a clone into each background task.
#[derive(Clone)]
pub struct Stop(StopHandle);

impl Stop {
    pub(crate) fn new(handle: StopHandle) -> Self {
        Self(handle)
    }

    /// True once the host has cancelled this service's configuration.
    pub fn is_stopped(&self) -> bool {
        self.0.is_stopped()
    }

    /// Completes when the host cancels this service's configuration.
    pub async fn stopped(&self) {
        self.0.stopped().await
    }
}
