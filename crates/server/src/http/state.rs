//! The HTTP edge's state: the application core plus what only the edge needs (CORS policy,
//! metrics handle). Handlers pass `&state` to services, which see only `App`.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::app::App;
use crate::cache::TtlCache;
use crate::http::middleware::cors::OriginPolicy;

/// Shared state: one `Arc`, so the many clones per request (every middleware and `State`
/// extractor takes one) cost a single atomic increment, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<EdgeState>);

impl AppState {
    pub fn new(inner: EdgeState) -> Self {
        Self(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = EdgeState;
    fn deref(&self) -> &EdgeState {
        &self.0
    }
}

/// What the edge holds.
pub struct EdgeState {
    pub app: App,
    pub origins: Arc<OriginPolicy>,
    pub metrics: Option<PrometheusHandle>,
    /// `GET /api/me` bodies as sent, per credential kind and user (or API token), with the
    /// store's identity version they were drawn at; the identity cache's TTL (`routes::me`).
    pub me_bodies: TtlCache<(u64, axum::body::Bytes)>,
}

/// Handlers read configuration and the clock through the core; `&state` coerces to `&App`
/// where a service is called.
impl std::ops::Deref for EdgeState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.app
    }
}
