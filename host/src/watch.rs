//! Reload when the config file or the plugin directory changes.
//!
//! Polling, not inotify: a Kubernetes ConfigMap update arrives as an atomic swap
//! of the `..data` symlink, which path-based watches miss; comparing what the
//! path resolves to (content hash) and the plugin directory listing (names,
//! sizes, modification times) every interval sees every kind of change.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime},
};

use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::reload::Reloader;

/// What the watcher compares between two polls.
#[derive(PartialEq, Eq, Debug)]
struct Fingerprint {
    config: Option<Vec<u8>>,
    plugins: Vec<(PathBuf, u64, Option<SystemTime>)>,
}

fn fingerprint(config: &Path, plugin_dir: &Path) -> Fingerprint {
    let config = std::fs::read(config)
        .ok()
        .map(|bytes| Sha256::digest(&bytes).to_vec());
    let mut plugins: Vec<_> = std::fs::read_dir(plugin_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let meta = std::fs::metadata(entry.path()).ok()?;
            Some((entry.path(), meta.len(), meta.modified().ok()))
        })
        .collect();
    plugins.sort();
    Fingerprint { config, plugins }
}

/// Polls every `interval` until `stop`, reloading through `reloader` on change.
pub async fn watch(
    reloader: Arc<Reloader>,
    plugin_dir: PathBuf,
    interval: Duration,
    stop: CancellationToken,
) {
    let config = reloader.config_path().to_path_buf();
    let mut last = fingerprint(&config, &plugin_dir);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        let (config_c, dir_c) = (config.clone(), plugin_dir.clone());
        let Ok(now) = tokio::task::spawn_blocking(move || fingerprint(&config_c, &dir_c)).await
        else {
            continue;
        };
        if now == last {
            continue;
        }
        last = now;
        let reloader = reloader.clone();
        match tokio::task::spawn_blocking(move || reloader.reload()).await {
            Ok(Ok(generation)) => tracing::info!(
                generation,
                "reloaded: config file or plugin directory changed"
            ),
            Ok(Err(error)) => {
                tracing::error!(%error, "reload failed; still serving the previous configuration")
            }
            Err(error) => {
                tracing::error!(%error, "reload task failed; still serving the previous configuration")
            }
        }
    }
}
