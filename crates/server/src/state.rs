//! Shared application state handed to every handler and middleware.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::jwt::JwtKeys;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::http::middleware::cors::OriginPolicy;
use crate::ratelimit::RateLimiter;
use crate::store::Store;

/// Cheap to clone: everything is behind `Arc`.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub jwt: Arc<JwtKeys>,
    pub limiter: Arc<dyn RateLimiter>,
    pub clock: SharedClock,
    pub origins: Arc<OriginPolicy>,
    pub metrics: Option<PrometheusHandle>,
}

impl AppState {
    /// Now, from the injected clock (epoch ms).
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}
