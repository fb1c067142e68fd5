//! OpenScouter server library: configuration, store, HTTP API and the `run` entry point.

pub mod app;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod integrations;
pub mod origin;
pub mod random;
pub mod ratelimit;
pub mod services;
pub mod store;
pub mod telemetry;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::{App, AppCore};
use crate::auth::jwt::JwtKeys;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::http::middleware::cors::OriginPolicy;
use crate::http::state::{AppState, EdgeState};
use crate::ratelimit::{InProcessLimiter, RedisLimiter};
use crate::store::{Store, StoreError};

/// Which parts of the server run in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// HTTP only.
    Api,
    /// Background jobs only.
    Worker,
    /// Both (the default).
    All,
}

/// Opens the configured store (SQLite or PostgreSQL).
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StoreError> {
    let store = if config.database_url.starts_with("sqlite:") {
        store::sqlite::connect(&config.database_url, config.db_max_connections, config.sqlite_page_size)
            .await?
    } else {
        store::postgres::connect(&config.database_url, config.db_max_connections).await?
    };
    let ttl = std::time::Duration::from_secs(config.identity_cache_secs);
    Ok(Arc::new(store.with_identity_cache(ttl)))
}

/// `openscouter restore FILE`: the backup's files into the empty data directory
/// (`services::backup::restore_files`), then the store opened, the migrations it lacks applied,
/// and the erasures journaled in it, in the configured journal file and in `journals`
/// re-applied.
pub async fn restore(
    config: Config,
    file: &std::path::Path,
    journals: &[std::path::PathBuf],
) -> Result<services::backup::Restored, String> {
    let mut restored = services::backup::restore_files(&config, file, journals).await?;
    let store = open_store(&config).await.map_err(|e| e.to_string())?;
    restored.migrations_applied = store.migrate().await.map_err(|e| format!("migrations failed: {e}"))?;
    let state = state_with_store(config, Arc::new(clock::SystemClock), store).map_err(|e| e.to_string())?;
    restored.erasures_reapplied =
        services::backup::reapply_erasures(&state.app, journals).await.map_err(|e| e.to_string())?;
    Ok(restored)
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    #[error("invalid JWT configuration: {0}")]
    Jwt(String),
    #[error("invalid LLM configuration: {0}")]
    Llm(String),
    #[error("invalid Telegram configuration: {0}")]
    Telegram(String),
    #[error("invalid mail configuration: {0}")]
    Mail(String),
    #[error("invalid Stripe configuration: {0}")]
    Stripe(String),
    #[error("invalid Redis configuration: {0}")]
    Redis(String),
}

/// Builds the state from configuration: opens and migrates the store, and connects the
/// identity cache to the other nodes (`cluster::start`).
pub async fn build_state(config: Config, clock: SharedClock) -> Result<AppState, StartError> {
    let store = open_store(&config).await?;
    store.migrate().await?;
    let state = state_with_store(config, clock, store)?;
    if let Some(bus) = cluster::start(state.app.redis.as_ref(), &state.app.store) {
        tracing::info!(bus, "identity invalidations shared across nodes");
    }
    Ok(state)
}

/// Builds the state around an already-open store.
pub fn state_with_store(
    config: Config,
    clock: SharedClock,
    store: Arc<dyn Store>,
) -> Result<AppState, StartError> {
    let jwt = JwtKeys::new(config.jwt_secret.expose_secret().as_bytes()).map_err(StartError::Jwt)?;
    let narrator: Option<Arc<dyn integrations::llm::Narrator>> = match &config.llm {
        Some((url, model, key, timeout)) => Some(Arc::new(
            integrations::llm::OpenAiNarrator::new(
                url,
                model,
                key.clone(),
                std::time::Duration::from_secs(*timeout),
            )
            .map_err(StartError::Llm)?,
        )),
        None => None,
    };
    let telegram: Option<Arc<dyn integrations::telegram::Telegram>> = match &config.telegram {
        Some(t) => Some(Arc::new(
            integrations::telegram::BotApi::new(&t.api_base, t.bot_token.clone())
                .map_err(StartError::Telegram)?,
        )),
        None => None,
    };
    let billing: Option<Arc<dyn integrations::stripe::Billing>> = match &config.stripe {
        Some(stripe) => Some(Arc::new(
            integrations::stripe::StripeClient::new(
                &stripe.api_base,
                stripe.secret_key.clone(),
                std::time::Duration::from_secs(30),
            )
            .map_err(StartError::Stripe)?,
        )),
        None => None,
    };
    let redis = match &config.redis_url {
        Some(url) => Some(Arc::new(cluster::redis::RedisConn::new(url).map_err(StartError::Redis)?)),
        None => None,
    };
    let limiter: Arc<dyn ratelimit::RateLimiter> = match &redis {
        Some(conn) => Arc::new(RedisLimiter::new(conn.clone(), config.limiter_fallback, clock.clone())),
        None => Arc::new(InProcessLimiter::new(clock.clone())),
    };
    let mailer: Arc<dyn integrations::mail::Mailer> = match &config.smtp_url {
        Some(url) => {
            Arc::new(integrations::mail::SmtpMailer::new(url, &config.mail_from).map_err(StartError::Mail)?)
        }
        None => {
            Arc::new(integrations::mail::OutboxMailer::new(config.data_dir.join("outbox"), &config.mail_from))
        }
    };
    let passwords =
        auth::password::PasswordPool::new(config.password_hash_workers, config.password_hash_queue);
    Ok(AppState::new(EdgeState {
        origins: Arc::new(OriginPolicy::new(&config.cors_origins, config.env)),
        metrics: telemetry::metrics_handle(),
        me_bodies: cache::TtlCache::new(std::time::Duration::from_secs(config.identity_cache_secs)),
        app: App::new(AppCore {
            jwt: Arc::new(jwt),
            limiter,
            redis,
            config: Arc::new(config),
            store,
            clock,
            queue_ready: Arc::new(tokio::sync::Notify::new()),
            passwords,
            rotations: Arc::default(),
            mailer,
            narrator,
            telegram,
            billing,
        }),
    }))
}

/// Serves `state` on `listener` until `shutdown` is cancelled; in-flight requests finish.
///
/// Connections are guarded below the router (`http::middleware::connection`): a cap, header-read
/// and keep-alive timeouts, and the envelope on hyper's own error answers.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    role: Role,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let workers = if role == Role::Api {
        Vec::new()
    } else {
        let mut w = worker::spawn(state.app.clone(), state.config.workers, shutdown.clone());
        w.push(services::scheduler::spawn(state.app.clone(), shutdown.clone()));
        w.extend(services::backup::spawn_schedule(state.app.clone(), shutdown.clone()));
        w
    };
    if role == Role::Worker {
        println!(
            "worker running ({} workers and the scheduler, no HTTP listener); pid {}",
            state.config.workers,
            std::process::id()
        );
        shutdown.cancelled().await;
    } else {
        let config = &state.config;
        let limits = http::middleware::connection::ConnectionLimits {
            max_connections: config.max_connections,
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
            keep_alive_timeout: Duration::from_secs(config.keep_alive_timeout_secs),
            hsts: config.hsts,
        };
        let app = http::router(state);
        println!("listening on http://{addr}");
        tracing::info!(%addr, "listening");
        http::middleware::connection::serve(listener, app, limits, shutdown.clone()).await?;
    }
    // Workers finish the job in hand, then stop.
    shutdown.cancel();
    for w in workers {
        let _ = w.await;
    }
    Ok(())
}

/// Cancels `token` on SIGINT or SIGTERM.
pub fn cancel_on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {},
            _ = term => {},
        }
        tracing::info!("shutdown requested; finishing in-flight requests");
        token.cancel();
    });
}
