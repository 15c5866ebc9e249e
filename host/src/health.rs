//! Readiness, shared by `grpc.health.v1` and the admin `/readyz`: NOT_SERVING
//! until the first configuration is loaded, SERVING after, NOT_SERVING again
//! while draining for shutdown.

use std::sync::atomic::{AtomicBool, Ordering};

use tonic_health::{
    pb::health_server::{Health, HealthServer},
    server::HealthReporter,
    ServingStatus,
};

use crate::server::AUTHORIZATION_SERVICE;

/// The host's readiness and the gRPC health service reporting it.
pub struct Readiness {
    reporter: HealthReporter,
    loaded: AtomicBool,
    draining: AtomicBool,
}

impl Readiness {
    /// Starts NOT_SERVING; returns the gRPC health service to mount.
    pub async fn new() -> (Self, HealthServer<impl Health>) {
        let (reporter, service) = tonic_health::server::health_reporter();
        let readiness = Self {
            reporter,
            loaded: AtomicBool::new(false),
            draining: AtomicBool::new(false),
        };
        readiness.publish(ServingStatus::NotServing).await;
        (readiness, service)
    }

    async fn publish(&self, status: ServingStatus) {
        self.reporter.set_service_status("", status).await;
        self.reporter
            .set_service_status(AUTHORIZATION_SERVICE, status)
            .await;
    }

    /// The first configuration is in place: start serving.
    pub async fn set_loaded(&self) {
        self.loaded.store(true, Ordering::SeqCst);
        if !self.draining.load(Ordering::SeqCst) {
            self.publish(ServingStatus::Serving).await;
        }
    }

    /// Shutting down: tell load balancers to stop sending.
    pub async fn set_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.publish(ServingStatus::NotServing).await;
    }

    /// True when loaded and not draining.
    pub fn is_ready(&self) -> bool {
        self.loaded.load(Ordering::SeqCst) && !self.draining.load(Ordering::SeqCst)
    }

    /// True once shutdown began.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}
