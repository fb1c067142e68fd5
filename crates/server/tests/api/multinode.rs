//! Many nodes, one system (issue #17): states sharing one PostgreSQL database (and Redis when
//! `OPENSCOUTER_TEST_REDIS_URL` is set) hold one rate limit, drop a revoked sign-in everywhere
//! within a second, and never run one queue item twice. The scheduler's two-node test is
//! `scheduler::two_nodes_on_one_postgres_run_each_tick_exactly_once`; the multi-process test
//! (two `--role api` nodes and a `--role worker`) is `binary::two_api_nodes_and_a_worker`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openscouter_server::clock::SystemClock;
use openscouter_server::config::LimiterFallback;
use openscouter_server::domain::QueueKind;
use openscouter_server::ratelimit::{InProcessLimiter, Quota, RateLimiter, RedisLimiter};
use openscouter_server::services::queue::{Done, Outcome, Work, enqueue};
use openscouter_server::store::EnqueueGuard;
use openscouter_server::worker::{Handler, run_next};
use secrecy::SecretString;

use crate::helpers::{Backend, TestApp, test_config};

/// `OPENSCOUTER_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:6379`). Without it Redis tests
/// return early, unless `OPENSCOUTER_REQUIRE_REDIS=1` (CI), which fails them.
pub fn redis_url() -> Option<String> {
    let url = std::env::var("OPENSCOUTER_TEST_REDIS_URL").ok().filter(|s| !s.is_empty());
    if url.is_none() {
        if std::env::var("OPENSCOUTER_REQUIRE_REDIS").is_ok_and(|v| v == "1") {
            panic!("OPENSCOUTER_REQUIRE_REDIS=1 but OPENSCOUTER_TEST_REDIS_URL is not set");
        }
        eprintln!("skipped: set OPENSCOUTER_TEST_REDIS_URL to run the Redis tests");
    }
    url
}

fn redis_limiter(url: &str, fallback: LimiterFallback) -> RedisLimiter {
    let conn =
        openscouter_server::cluster::redis::RedisConn::new(&SecretString::from(url.to_owned())).unwrap();
    RedisLimiter::new(Arc::new(conn), fallback, Arc::new(SystemClock))
}

/// The same GCRA in Redis: a burst of exactly the limit, then refusals with `Retry-After`,
/// and costs that never partially apply; two limiters (two nodes) share the bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_limiter_is_one_gcra_across_nodes() {
    let Some(url) = redis_url() else { return };
    let (a, b) = (redis_limiter(&url, LimiterFallback::Closed), redis_limiter(&url, LimiterFallback::Closed));
    let key = format!("test:{}", ulid::Ulid::generate());
    let q = Quota { per_minute: 30 };
    for i in 0..30u32 {
        let node = if i % 2 == 0 { &a } else { &b };
        let d = node.check(&key, q, 1).await;
        assert!(d.allowed, "request {i}: {d:?}");
        assert_eq!(d.remaining, 29 - i);
    }
    let d = b.check(&key, q, 1).await;
    assert!(!d.allowed);
    assert_eq!((d.remaining, d.retry_after_secs), (0, 2), "one cell every 2 s");
    let items = format!("items:{}", ulid::Ulid::generate());
    let q = Quota { per_minute: 1000 };
    assert!(a.check(&items, q, 600).await.allowed);
    let d = b.check(&items, q, 600).await;
    assert!(!d.allowed);
    assert_eq!((d.remaining, d.retry_after_secs), (400, 12));
    assert!(b.check(&items, q, 400).await.allowed);
    assert!(!a.check(&format!("big:{}", ulid::Ulid::generate()), Quota { per_minute: 10 }, 11).await.allowed);
}

/// Redis unreachable: each configured fallback answers at once, never an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_falls_back_as_configured() {
    let url = "redis://127.0.0.1:1"; // nothing listens there
    let q = Quota { per_minute: 2 };
    let started = Instant::now();
    let local = redis_limiter(url, LimiterFallback::Local);
    assert!(local.check("k", q, 1).await.allowed);
    assert!(local.check("k", q, 1).await.allowed);
    assert!(!local.check("k", q, 1).await.allowed, "the in-process limiter counts meanwhile");
    let open = redis_limiter(url, LimiterFallback::Open);
    for _ in 0..5 {
        assert!(open.check("k", q, 1).await.allowed);
    }
    let closed = redis_limiter(url, LimiterFallback::Closed);
    let d = closed.check("k", q, 1).await;
    assert!(!d.allowed && d.retry_after_secs == 1, "{d:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

/// Decisions per second of each limiter, one key per simulated caller (`--ignored`; the
/// figure for bench/README.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: cargo test --test api multinode::limiter_throughput -- --ignored --nocapture"]
async fn limiter_throughput() {
    let Some(url) = redis_url() else { return };
    let limiters: Vec<(&str, Arc<dyn RateLimiter>)> = vec![
        ("in-process", Arc::new(InProcessLimiter::new(Arc::new(SystemClock)))),
        ("redis", Arc::new(redis_limiter(&url, LimiterFallback::Closed))),
    ];
    for (name, limiter) in limiters {
        let n = 20_000;
        let started = Instant::now();
        let tasks: Vec<_> = (0..16)
            .map(|t| {
                let limiter = limiter.clone();
                tokio::spawn(async move {
                    for i in 0..n / 16 {
                        let key = format!("bench:{t}:{}", i % 500);
                        // Closed fallback: a decision that did not come from Redis is a refusal.
                        assert!(limiter.check(&key, Quota { per_minute: 600 }, 1).await.allowed);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        eprintln!("{name}: {n} decisions in {secs:.2} s = {:.0} decisions/s", f64::from(n) / secs);
    }
}

/// A second node over the same database (and the same Redis, when given).
async fn second_node(app: &TestApp, overrides: &[(&str, &str)]) -> openscouter_server::http::state::AppState {
    openscouter_server::build_state(test_config(&app.db, overrides), Arc::new(app.clock.clone()))
        .await
        .unwrap()
}

/// Signs out on node A; measures how long node B (whose cache holds the sign-in) keeps
/// accepting it. Must be under a second (the cache TTL is 5 s).
async fn sign_out_reaches_the_other_node(overrides: &[(&str, &str)]) -> Duration {
    let app = TestApp::with(Backend::Postgres, overrides).await.unwrap();
    let node_b = second_node(&app, overrides).await;
    let router_b = openscouter_server::http::router(node_b.clone());
    // Let B's listener subscribe before anything is published.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let user = app.signup("business").await;
    let me_on_b = || {
        let router = router_b.clone();
        let auth = user.bearer();
        async move {
            use tower::ServiceExt;
            let req = axum::http::Request::get("/api/me")
                .header("authorization", auth)
                .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 9))))
                .body(axum::body::Body::empty())
                .unwrap();
            router.oneshot(req).await.unwrap().status().as_u16()
        }
    };
    assert_eq!(me_on_b().await, 200, "B caches the sign-in");
    assert_eq!(me_on_b().await, 200);
    app.post("/api/auth/signout", serde_json::json!({}), Some(&user.bearer())).await.ok();
    let signed_out = Instant::now();
    loop {
        if me_on_b().await == 401 {
            return signed_out.elapsed();
        }
        assert!(signed_out.elapsed() < Duration::from_secs(1), "B still accepts a signed-out session");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_reaches_every_node_through_postgres_notify() {
    if crate::helpers::postgres_admin_url().is_none() {
        return;
    }
    let latency = sign_out_reaches_the_other_node(&[]).await;
    eprintln!("revocation across nodes (PostgreSQL LISTEN/NOTIFY): {latency:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_reaches_every_node_through_redis() {
    let (Some(url), Some(_)) = (redis_url(), crate::helpers::postgres_admin_url()) else { return };
    let latency = sign_out_reaches_the_other_node(&[("REDIS_URL", &url)]).await;
    eprintln!("revocation across nodes (Redis pub/sub): {latency:?}");
}

/// Two nodes, two workers each, one PostgreSQL queue: every item runs exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_never_run_one_queue_item_twice() {
    let Some(app) = TestApp::new(Backend::Postgres).await else { return };
    let node_b = second_node(&app, &[]).await;
    let org = app.signup("business").await.organization_id.unwrap();
    let mut ids = Vec::new();
    for i in 0..60 {
        let subject = format!("subject-{i}");
        let work = Work {
            kind: QueueKind::AnalyzeSession,
            subject_id: &subject,
            organization_id: &org,
            tester_id: None,
            payload: None,
        };
        let item = enqueue(&app.state, work, EnqueueGuard::Unconditional).await.unwrap();
        let openscouter_server::store::Guarded::Done(item) = item else { panic!("not enqueued") };
        ids.push(item.id);
    }
    let runs: Arc<Mutex<BTreeMap<String, Vec<String>>>> = Arc::default();
    let mut workers = Vec::new();
    for (node, state) in [("a", app.state.app.clone()), ("b", node_b.app.clone())] {
        for w in 0..2 {
            let (state, runs) = (state.clone(), runs.clone());
            let name = format!("node-{node}-worker-{w}");
            workers.push(tokio::spawn(async move {
                let handler_runs = runs.clone();
                let me = name.clone();
                let handler: Box<Handler> = Box::new(move |_, item| {
                    let (runs, me, id) = (handler_runs.clone(), me.clone(), item.id.clone());
                    Box::pin(async move {
                        runs.lock().unwrap().entry(id.clone()).or_default().push(me);
                        tokio::time::sleep(Duration::from_millis(3)).await;
                        Ok(Outcome::Done(Done::referring_to(&id)))
                    })
                });
                while run_next(&state, &name, &*handler).await.unwrap() {}
            }));
        }
    }
    for w in workers {
        w.await.unwrap();
    }
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len(), ids.len(), "every item ran");
    for (id, by) in &runs {
        assert_eq!(by.len(), 1, "{id} ran {} times: {by:?}", by.len());
    }
    let nodes: std::collections::BTreeSet<&str> = runs.values().map(|b| &b[0][..6]).collect();
    assert_eq!(nodes.len(), 2, "both nodes took work: {nodes:?}");
}
