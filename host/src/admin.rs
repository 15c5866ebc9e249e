//! The admin HTTP port: `/metrics` (Prometheus), `/healthz` (liveness),
//! `/readyz` (readiness) and `/config` (what is loaded, and the last reload error).

use std::sync::Arc;

use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Json};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::{
    health::Readiness,
    listener::{
        http::{self, Protocol},
        ConnLimits, Drain,
    },
    loader::SUPPORTED_INTERFACES,
    reload::Reloader,
    router::Router,
};

/// What the admin handlers read.
#[derive(Clone)]
pub struct Admin {
    /// Current configuration and metrics.
    pub router: Arc<Router>,
    /// Loaded libraries and the last reload error.
    pub reloader: Arc<Reloader>,
    /// Readiness.
    pub readiness: Arc<Readiness>,
}

/// Serves the admin endpoints on `listener`, each connection held to
/// `limits`, until `drain` stops it.
pub async fn serve(listener: TcpListener, admin: Admin, limits: ConnLimits, drain: Drain) {
    let app = axum::Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/config", get(config))
        .with_state(admin);
    http::serve(listener, "admin", Protocol::Http1, app, limits, drain).await;
}

async fn metrics(State(admin): State<Admin>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        admin.router.metrics().render(),
    )
}

async fn readyz(State(admin): State<Admin>) -> impl IntoResponse {
    if admin.readiness.is_ready() {
        (StatusCode::OK, "ready\n")
    } else if admin.readiness.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "no configuration loaded yet\n",
        )
    }
}

async fn config(State(admin): State<Admin>) -> Json<Value> {
    let generation = admin.router.current();
    let mut auth_configs: Vec<Value> = generation
        .iter()
        .flat_map(|g| g.chains.values())
        .map(|chain| {
            let description = chain.description();
            json!({
                "id": chain.id(),
                "steps": chain.step_names().collect::<Vec<_>>(),
                "failureModeAllow": chain.limits().failure_mode_allow,
                "booleanExpr": description["booleanExpr"],
                "configs": description["configs"],
            })
        })
        .collect();
    auth_configs.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let mut libraries: Vec<Value> = admin
        .reloader
        .loader()
        .libraries()
        .iter()
        .map(|lib| {
            json!({
                "file": lib.path().display().to_string(),
                "interface": lib.interface(),
                "buildInfo": lib.build_info(),
                "plugins": lib.plugin_names(),
            })
        })
        .collect();
    libraries.sort_by(|a, b| a["file"].as_str().cmp(&b["file"].as_str()));
    Json(json!({
        "ready": admin.readiness.is_ready(),
        "generation": generation.as_ref().map(|g| g.number),
        "configFile": admin.reloader.config_path().display().to_string(),
        "pluginDir": admin.reloader.loader().plugin_dir().display().to_string(),
        "supportedInterfaces": SUPPORTED_INTERFACES,
        "authConfigs": auth_configs,
        "libraries": libraries,
        "lastReloadError": admin.reloader.last_error(),
    }))
}
