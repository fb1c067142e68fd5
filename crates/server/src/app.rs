//! The application core that services and the queue workers run on: configuration, the
//! store, the clock, signing keys and the optional integrations. Nothing HTTP lives here;
//! the HTTP edge wraps it in `http::state::AppState` with its own parts (limiter, CORS, metrics).

use std::sync::Arc;

use crate::auth::jwt::JwtKeys;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::integrations::llm::Narrator;
use crate::integrations::stripe::Billing;
use crate::integrations::telegram::Telegram;
use crate::ratelimit::RateLimiter;
use crate::store::Store;

/// One `Arc`, so the clones every request and worker takes cost a single atomic increment.
#[derive(Clone)]
pub struct App(Arc<AppCore>);

impl App {
    pub fn new(core: AppCore) -> Self {
        Self(Arc::new(core))
    }
}

impl std::ops::Deref for App {
    type Target = AppCore;
    fn deref(&self) -> &AppCore {
        &self.0
    }
}

/// What the core holds.
pub struct AppCore {
    pub config: Arc<Config>,
    /// The only door to the database; used by services and the queue, never by the HTTP edge.
    pub store: Arc<dyn Store>,
    pub jwt: Arc<JwtKeys>,
    /// Rate limits: the edge's per-caller tiers and ingestion's per-session item count.
    pub limiter: Arc<dyn RateLimiter>,
    pub clock: SharedClock,
    /// The optional LLM narrative (None: deterministic text only).
    pub narrator: Option<Arc<dyn Narrator>>,
    /// Stripe billing (None: billing routes answer 503 and studies launch without payment).
    pub billing: Option<Arc<dyn Billing>>,
    /// Wakes this process's queue workers when work is enqueued here.
    pub queue_ready: Arc<tokio::sync::Notify>,
    /// The Telegram bot (None: not configured; its routes answer 503).
    pub telegram: Option<Arc<dyn Telegram>>,
    /// Redis, when `REDIS_URL` is set: shared by the limiter and the invalidation bus.
    pub redis: Option<Arc<crate::cluster::redis::RedisConn>>,
    /// The bounded password hashing pool; its threads start on first use.
    pub passwords: crate::auth::password::PasswordPool,
    /// Refresh tokens rotated within the reuse grace, by presented hash (per node).
    pub rotations: Arc<crate::auth::rotations::RecentRotations>,
    /// Outgoing mail: SMTP, or `.eml` files in the outbox.
    pub mailer: Arc<dyn crate::integrations::mail::Mailer>,
}

impl AppCore {
    /// Now, from the injected clock (epoch ms).
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}
