//! Shared application state handed to every handler and middleware.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::jwt::JwtKeys;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::http::middleware::cors::OriginPolicy;
use crate::ratelimit::RateLimiter;
use crate::store::Store;

/// Shared state: one `Arc`, so the many clones per request (every middleware and `State`
/// extractor takes one) cost a single atomic increment, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

impl AppState {
    pub fn new(inner: AppInner) -> Self {
        Self(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// What the state holds.
pub struct AppInner {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub jwt: Arc<JwtKeys>,
    pub limiter: Arc<dyn RateLimiter>,
    pub clock: SharedClock,
    pub origins: Arc<OriginPolicy>,
    pub metrics: Option<PrometheusHandle>,
    /// The optional LLM narrative (None: deterministic text only).
    pub narrator: Option<Arc<dyn crate::integrations::llm::Narrator>>,
    /// Wakes this process's workers when a job is enqueued here.
    pub jobs_ready: Arc<tokio::sync::Notify>,
}

impl AppInner {
    /// Now, from the injected clock (epoch ms).
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}
