//! The Redis connection shared by the rate limiter and the invalidation bus: connected on
//! first use (a node starts, and serves, while Redis is down), then kept by `redis`'s
//! `ConnectionManager`, which reconnects by itself. After a failure callers skip Redis for a
//! second instead of each waiting on a timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};

use super::{CHANNEL, InvalidationBus};
use crate::store::{Invalidation, Store};

/// Longest wait for one Redis command before the caller falls back.
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);
/// After a failure, Redis is not tried again for this long.
const BACKOFF: Duration = Duration::from_secs(1);

/// A lazily connected, self-healing Redis connection.
pub struct RedisConn {
    client: redis::Client,
    conn: std::sync::Mutex<Option<ConnectionManager>>,
    connecting: tokio::sync::Mutex<()>,
    /// Milliseconds since `epoch` before which Redis is not tried (0: try).
    down_until: AtomicU64,
    epoch: Instant,
}

impl std::fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisConn(<redacted>)") // the URL may carry a password
    }
}

impl RedisConn {
    /// Parses the URL; connects on first use.
    pub fn new(url: &SecretString) -> Result<Self, String> {
        let client =
            redis::Client::open(url.expose_secret()).map_err(|e| format!("REDIS_URL: {:?}", e.kind()))?;
        Ok(Self {
            client,
            conn: std::sync::Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            down_until: AtomicU64::new(0),
            epoch: Instant::now(),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Records a failure: Redis is skipped for `BACKOFF`.
    pub fn mark_down(&self) {
        let until = self.now_ms().saturating_add(u64::try_from(BACKOFF.as_millis()).unwrap_or(1000));
        self.down_until.store(until, Ordering::Relaxed);
    }

    fn cached(&self) -> Option<ConnectionManager> {
        match self.conn.lock() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// A connection, or why there is none right now (never waits longer than a connect timeout).
    pub async fn get(&self) -> Result<ConnectionManager, String> {
        if self.now_ms() < self.down_until.load(Ordering::Relaxed) {
            return Err("Redis was unreachable less than a second ago".into());
        }
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        // One caller connects; the others wait for its answer (bounded by the connect timeout)
        // rather than each opening a connection.
        let _guard = self.connecting.lock().await;
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        if self.now_ms() < self.down_until.load(Ordering::Relaxed) {
            return Err("Redis is unreachable".into());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1);
        match tokio::time::timeout(
            COMMAND_TIMEOUT * 2,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await
        {
            Ok(Ok(c)) => {
                match self.conn.lock() {
                    Ok(mut g) => *g = Some(c.clone()),
                    Err(poisoned) => *poisoned.into_inner() = Some(c.clone()),
                }
                tracing::info!("connected to Redis");
                Ok(c)
            }
            Ok(Err(e)) => {
                self.mark_down();
                Err(format!("cannot connect to Redis: {:?}", e.kind()))
            }
            Err(_) => {
                self.mark_down();
                Err("connecting to Redis timed out".into())
            }
        }
    }

    /// The client, for connections that cannot be shared (pub/sub).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }
}

/// Redis pub/sub: `PUBLISH` on the shared connection, `SUBSCRIBE` on a dedicated one.
pub struct RedisBus {
    conn: Arc<RedisConn>,
}

impl RedisBus {
    pub fn new(conn: Arc<RedisConn>) -> Self {
        Self { conn }
    }
}

#[async_trait]
impl InvalidationBus for RedisBus {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn publish(&self, inv: &Invalidation) -> Result<(), String> {
        let mut c = self.conn.get().await?;
        let sent = tokio::time::timeout(
            COMMAND_TIMEOUT,
            redis::cmd("PUBLISH").arg(CHANNEL).arg(inv.encode()).query_async::<i64>(&mut c),
        )
        .await;
        match sent {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("PUBLISH failed: {:?}", e.kind())),
            Err(_) => Err("PUBLISH timed out".into()),
        }
    }

    async fn subscribe(&self, store: Arc<dyn Store>) {
        let mut logged = false;
        // Set once a subscription was lost or could not be made, so its return is logged.
        let mut down = false;
        loop {
            match self.conn.client().get_async_pubsub().await {
                Ok(mut pubsub) => match pubsub.subscribe(CHANNEL).await {
                    Ok(()) => {
                        if down {
                            tracing::info!(
                                "Redis invalidation subscription restored; identity cache dropped"
                            );
                        }
                        logged = false;
                        // Whatever was published while this node was not listening is lost.
                        store.apply_invalidation(&Invalidation::All);
                        let mut messages = pubsub.on_message();
                        while let Some(msg) = messages.next().await {
                            if let Some(inv) =
                                msg.get_payload::<String>().ok().and_then(|t| Invalidation::decode(&t))
                            {
                                store.apply_invalidation(&inv);
                            }
                        }
                        metrics::counter!("redis_fallbacks_total", "use" => "invalidation_subscription")
                            .increment(1);
                        tracing::warn!("lost the Redis invalidation subscription; reconnecting");
                        down = true;
                    }
                    Err(e) if !logged => {
                        down = true;
                        tracing::warn!(error = ?e.kind(), "cannot SUBSCRIBE to Redis; retrying every second");
                        logged = true;
                    }
                    Err(_) => {}
                },
                Err(e) if !logged => {
                    down = true;
                    tracing::warn!(error = ?e.kind(), "cannot connect to Redis for invalidations; retrying every second");
                    logged = true;
                }
                Err(_) => {}
            }
            tokio::time::sleep(BACKOFF).await;
        }
    }
}
