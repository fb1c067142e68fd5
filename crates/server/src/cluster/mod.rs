//! Many nodes, one system: the bus that carries identity-cache invalidations between nodes
//! (Redis pub/sub when `REDIS_URL` is set, PostgreSQL `LISTEN/NOTIFY` otherwise; SQLite is
//! one node and publishes nothing), and the lazily connected Redis shared with the limiter.

pub mod redis;

use std::sync::Arc;

use async_trait::async_trait;

use crate::store::{Invalidation, Store};

pub use crate::store::cache::INVALIDATION_CHANNEL as CHANNEL;

/// This process's name among the nodes (`host-pid`): who claimed a queue item or a tick.
pub fn node_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|s| s.trim().to_owned()).unwrap_or_default();
    let host = if host.is_empty() { "node".to_owned() } else { host };
    format!("{host}-{}", std::process::id())
}

/// Carries one node's invalidations to every node (itself included: applying twice is
/// harmless, and it keeps the bus free of node ids).
#[async_trait]
pub trait InvalidationBus: Send + Sync + 'static {
    /// Which bus this is, for logs.
    fn name(&self) -> &'static str;
    /// Sends one invalidation to every node.
    async fn publish(&self, inv: &Invalidation) -> Result<(), String>;
    /// Applies what other nodes publish to `store`'s cache, reconnecting as needed, for as
    /// long as the process runs. After every (re)connection the whole cache is dropped, since
    /// messages sent while disconnected are lost.
    async fn subscribe(&self, store: Arc<dyn Store>);
}

/// PostgreSQL `NOTIFY`/`LISTEN`, both inside the store (the only door to the database).
pub struct DatabaseBus(pub Arc<dyn Store>);

#[async_trait]
impl InvalidationBus for DatabaseBus {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn publish(&self, inv: &Invalidation) -> Result<(), String> {
        self.0.notify_invalidation(inv).await.map_err(|e| e.to_string())
    }

    async fn subscribe(&self, store: Arc<dyn Store>) {
        let mut logged = false;
        loop {
            // Returns only when the connection could not be (re)established.
            if let Err(e) = store.listen_invalidations().await
                && !logged
            {
                tracing::warn!(error = %e, "cannot LISTEN for identity invalidations; retrying every second");
                logged = true;
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
}

/// Picks the bus for this deployment (`None`: SQLite without Redis, a single node).
pub fn bus_for(
    redis: Option<&Arc<redis::RedisConn>>,
    store: &Arc<dyn Store>,
) -> Option<Arc<dyn InvalidationBus>> {
    match redis {
        Some(conn) => Some(Arc::new(redis::RedisBus::new(conn.clone()))),
        None if store.backend() == "postgres" => Some(Arc::new(DatabaseBus(store.clone()))),
        None => None,
    }
}

/// Connects the store's invalidations to the bus: one task forwards this node's, one applies
/// everyone's. The tasks end with the runtime. Returns the bus's name.
pub fn start(redis: Option<&Arc<redis::RedisConn>>, store: &Arc<dyn Store>) -> Option<&'static str> {
    let bus = bus_for(redis, store)?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Invalidation>();
    if !store.forward_invalidations(tx) {
        return None; // already connected (a second state over the same store)
    }
    let publisher = bus.clone();
    tokio::spawn(async move {
        let mut last_warned: Option<std::time::Instant> = None;
        while let Some(inv) = rx.recv().await {
            let sent = publisher.publish(&inv).await;
            if sent.is_err() {
                metrics::counter!("redis_fallbacks_total", "use" => "invalidation_publish").increment(1);
            }
            if let Err(e) = sent
                && last_warned.is_none_or(|at| at.elapsed().as_secs() >= 60)
            {
                // Other nodes fall back on the cache TTL for this one.
                tracing::warn!(bus = publisher.name(), error = %e, "cannot publish an identity invalidation");
                last_warned = Some(std::time::Instant::now());
            }
        }
    });
    let (subscriber, store) = (bus.clone(), store.clone());
    tokio::spawn(async move { subscriber.subscribe(store).await });
    Some(bus.name())
}
