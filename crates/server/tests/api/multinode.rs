//! Many nodes, one system (issue #17): states sharing one PostgreSQL database (and Redis when
//! `OPENSCOUTER_TEST_REDIS_URL` is set) hold one rate limit, drop a revoked sign-in everywhere
//! within a second, and never run one queue item twice. The scheduler's two-node test is
//! `scheduler::two_nodes_on_one_postgres_run_each_tick_exactly_once`; the multi-process test
//! (two `--role api` nodes and a `--role worker`) is `binary::two_api_nodes_and_a_worker`.
//! The flow of api.md §11 on two worker nodes: `two_worker_nodes_run_each_step_of_the_flow_once`.

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

/// `GET /api/me` on another node's router, as a client from 127.0.0.1 sends it.
async fn me_on(router: axum::Router, auth: String) -> axum::response::Response {
    use tower::ServiceExt;
    let req = axum::http::Request::get("/api/me")
        .header("authorization", auth)
        .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 9))))
        .body(axum::body::Body::empty())
        .unwrap();
    router.oneshot(req).await.unwrap()
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
        async move { me_on(router, auth).await.status().as_u16() }
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

/// Node B sends `GET /api/me` as it rendered it while nothing changed; a rename on node A
/// reaches B's answer through the bus well within the cache's TTL (5 s), not after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_on_one_node_reaches_the_other_nodes_me() {
    let Some(app) = TestApp::new(Backend::Postgres).await else { return };
    let node_b = second_node(&app, &[]).await;
    let router_b = openscouter_server::http::router(node_b.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let user = app.signup("business").await;
    let name_on_b = || {
        let router = router_b.clone();
        let auth = user.bearer();
        async move {
            let res = me_on(router, auth).await;
            let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            v["data"]["user"]["fullName"].as_str().unwrap().to_owned()
        }
    };
    let before = name_on_b().await;
    assert_eq!(name_on_b().await, before, "B answers from what it rendered");
    let res = app
        .send(
            axum::http::Method::PATCH,
            "/api/me",
            Some(serde_json::json!({"fullName": "Renamed on A"})),
            &user.bearer(),
        )
        .await;
    res.ok();
    let renamed = Instant::now();
    while name_on_b().await != "Renamed on A" {
        assert!(renamed.elapsed() < Duration::from_secs(1), "B still sends the old name");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Two nodes, two workers each, one PostgreSQL queue: every item runs exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_never_run_one_queue_item_twice() {
    let Some(app) = TestApp::new(Backend::Postgres).await else { return };
    let node_b = second_node(&app, &[]).await;
    let org = app.signup("business").await.organization_id.unwrap();
    let org = openscouter_server::domain::ids::OrgId::from(org.as_str());
    let mut ids = Vec::new();
    for i in 0..60 {
        let subject = format!("subject-{i}");
        let work = Work {
            kind: QueueKind::AnalyzeSession,
            subject_id: &subject,
            organization_id: Some(&org),
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
                    let (runs, me, id) = (handler_runs.clone(), me.clone(), item.id.to_string());
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

/// One run of a queue item: (kind, subject, item, worker).
type Run = (QueueKind, String, String, String);

/// api.md §11 on two worker nodes (two workers each, the real handlers) sharing one
/// PostgreSQL database: three testers complete and confirm through node A's API while both
/// nodes run the queue. Each step ran exactly once: one Agent 2 and one Agent 3 per session,
/// one payout run paying each session once, one Agent 4, one study report.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_worker_nodes_run_each_step_of_the_flow_once() {
    use openscouter_server::worker::dispatch;
    use std::sync::atomic::{AtomicBool, Ordering};

    let fake = crate::billing::FakeStripe::start().await;
    let Some(app) = crate::billing::billing_app(Backend::Postgres, &fake, &[]).await else { return };
    let node_b = second_node(&app, &crate::billing::stripe_env(&fake)).await;
    let biz = app.signup("business").await;
    let job = crate::billing::paid_study(&app, &biz, 3).await;
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await;
    let task = study.ok()["tasks"][0]["taskId"].as_str().unwrap().to_owned();
    let mut testers = Vec::new();
    for _ in 0..3 {
        let (t, _) = crate::billing::paid_tester(&app, true).await;
        let (sid, token) = app.session(&t, &job).await;
        testers.push((t, sid, format!("Token {token}")));
    }
    assert_eq!(app.drain_jobs().await, 0, "nothing pending before the testers finish");

    // (kind, subject, item, worker) of every run.
    let runs: Arc<Mutex<Vec<Run>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for (node, state) in [("a", app.state.app.clone()), ("b", node_b.app.clone())] {
        for w in 0..2 {
            let (state, runs, stop) = (state.clone(), runs.clone(), stop.clone());
            let name = format!("node-{node}-worker-{w}");
            workers.push(tokio::spawn(async move {
                let me = name.clone();
                let handler: Box<Handler> = Box::new(move |state, item| {
                    let (runs, me) = (runs.clone(), me.clone());
                    Box::pin(async move {
                        let run = (item.kind, item.subject_id.clone(), item.id.to_string(), me);
                        runs.lock().unwrap().push(run);
                        dispatch(state, item).await
                    })
                });
                while !stop.load(Ordering::SeqCst) {
                    if !run_next(&state, &name, &*handler).await.unwrap() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }));
        }
    }
    let wait_for = |what: &'static str| {
        let started = Instant::now();
        move || assert!(started.elapsed() < Duration::from_secs(60), "{what} did not happen within 60 s")
    };

    for (_, sid, tt) in &testers {
        app.broken_checkout(sid, tt, &task).await;
    }
    let check = wait_for("every analysis");
    for (_, sid, _) in &testers {
        while app.get(&format!("/api/sessions/{sid}"), Some(&biz.bearer())).await.ok()["status"] != "analyzed"
        {
            check();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // The three confirm at once.
    let app_ref = &app;
    let confirmations = testers.iter().map(|(t, sid, _)| {
        let auth = t.bearer();
        async move { app_ref.confirm_all(sid, &auth).await }
    });
    for res in futures_util::future::join_all(confirmations).await {
        assert_eq!(res.ok()["status"], "confirmed", "{}", res.text);
    }
    let check = wait_for("the study report and the payouts");
    loop {
        let report = app.get(&format!("/api/reports/job/{job}"), Some(&biz.bearer())).await;
        let lines = crate::billing::ledger(&app, &job).await;
        let paid =
            lines.iter().filter(|l| l.status == openscouter_server::domain::PayoutLineStatus::Paid).count();
        if report.status == 200 && paid == 3 {
            break;
        }
        check();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let anything that would run twice show up, then stop the workers.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }

    let runs = runs.lock().unwrap().clone();
    let of = |kind: QueueKind, subject: &str| runs.iter().filter(|r| r.0 == kind && r.1 == subject).count();
    for (_, sid, _) in &testers {
        assert_eq!(of(QueueKind::AnalyzeSession, sid), 1, "Agent 2 of {sid}: {runs:?}");
        assert_eq!(of(QueueKind::SessionReport, sid), 1, "Agent 3 of {sid}: {runs:?}");
    }
    assert_eq!(of(QueueKind::StudyReport, &job), 1, "one Agent 4: {runs:?}");
    assert_eq!(of(QueueKind::StudyPayout, &job), 1, "one payout run: {runs:?}");
    let mut items: Vec<&str> = runs.iter().map(|r| r.2.as_str()).collect();
    items.sort_unstable();
    let n = items.len();
    items.dedup();
    assert_eq!(items.len(), n, "no queue item ran twice: {runs:?}");
    let sessions: Vec<String> = testers.iter().map(|(_, s, _)| s.clone()).collect();
    let lines = crate::billing::ledger(&app, &job).await;
    crate::billing::assert_paid_once(&fake, &lines, &sessions, 2040);
    // The business was told of each report once: three session reports and the study's.
    let notices = app.get("/api/notifications?limit=100", Some(&biz.bearer())).await;
    let ready = notices.ok().as_array().unwrap().iter().filter(|n| n["kind"] == "report.ready").count();
    assert_eq!(ready, 4, "{}", notices.text);
    let nodes: std::collections::BTreeSet<&str> = runs.iter().map(|r| &r.3[..6]).collect();
    eprintln!("flow items run per node: {nodes:?}, {} runs", runs.len());
}
