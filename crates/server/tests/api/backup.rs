//! Backups (issue #33), through the real binary: `openscouter backup` while clients ingest,
//! `restore` into a fresh directory and a server on it; an erasure made after the backup is
//! re-applied by the restore from the journal; restore refuses a live or non-empty data
//! directory and a damaged file; an older backup is migrated; scheduled backups keep the newest
//! few.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::Method;
use serde_json::json;

use crate::binary::{Server, Setup, bin, data, http, post, setup, start_with};
use crate::both;
use crate::helpers::{Backend, PASSWORD, TestApp};

both!(erasures_are_journaled_and_reapplied);

/// On both stores: `DELETE /api/me` journals the request in the table and the file; re-applying
/// a journal that names a person still present erases them through the ordinary erasure, merges
/// the journals, and a second run finds no one.
async fn erasures_are_journaled_and_reapplied(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let gone = app.signup("tester").await;
    app.send(Method::DELETE, "/api/me", None, &gone.bearer()).await.ok();
    let journal = app.state.config.erasure_journal.clone();
    let line = std::fs::read_to_string(&journal).unwrap();
    assert!(line.starts_with(&format!("{}\t", gone.user_id)) && line.ends_with('\n'), "{line}");
    let table = app.state.store.journaled_erasures().await.unwrap();
    assert_eq!(table.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), [gone.user_id.as_str()]);
    app.drain_jobs().await;

    // A journal from elsewhere (an old data directory) names someone this database still holds,
    // as a restored backup would.
    let present = app.signup("tester").await;
    let other = app.db.data_dir.join("old.journal");
    std::fs::write(&other, format!("{}\t2026-03-16T10:14:32.120Z\n", present.user_id)).unwrap();
    let n = openscouter_server::services::backup::reapply_erasures(&app.state, std::slice::from_ref(&other))
        .await
        .unwrap();
    assert_eq!(n, 1, "only the person still present is erased");
    let signin = json!({"email": present.email, "password": PASSWORD});
    app.post("/api/auth/signin", signin, None).await.assert_error(401);
    assert!(app.state.store.get_user(&present.user_id.as_str().into()).await.unwrap().is_none());
    let merged = app.state.store.journaled_erasures().await.unwrap();
    assert_eq!(merged.len(), 2, "{merged:?}");
    assert!(std::fs::read_to_string(&journal).unwrap().contains(&present.user_id), "the file has the union");
    let again = openscouter_server::services::backup::reapply_erasures(&app.state, &[other]).await.unwrap();
    assert_eq!(again, 0);
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("openscouter-backup-{name}-{}", ulid::Ulid::generate()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The configuration `start_with` gives a server on `dir`, for the other commands.
fn env_of(dir: &Path) -> Vec<(String, String)> {
    vec![
        ("DATABASE_URL".into(), format!("sqlite://{}/db.sqlite", dir.display())),
        ("OPENSCOUTER_DATA_DIR".into(), dir.display().to_string()),
    ]
}

fn run(dir: &Path, args: &[&str]) -> Output {
    bin().envs(env_of(dir)).args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn stop(mut server: Server) {
    let _ = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status();
    let _ = server.child.wait();
}

/// The client ids of the events exported for `session`, counted.
fn exported(port: u16, session: &str, auth: &str) -> BTreeMap<String, usize> {
    let (status, body) =
        http(port, "GET", &format!("/api/sessions/{session}/export"), Some(auth), None).unwrap();
    assert_eq!(status, 200, "{body}");
    let mut seen = BTreeMap::new();
    for r in body
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["kind"] == "event")
    {
        *seen.entry(r["clientId"].as_str().unwrap_or_default().to_owned()).or_insert(0) += 1;
    }
    seen
}

fn batch(client: usize, n: usize, session: &str, size: usize) -> String {
    let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let items: Vec<serde_json::Value> = (0..size)
        .map(|i| json!({"clientId": format!("c{client}-b{n}-i{i}"), "eventType": "click", "targetSelector": "#pay", "timestamp": ts}))
        .collect();
    json!({"sessionId": session, "batch": items}).to_string()
}

/// Backs up while three clients ingest; the restored copy, served by a new server, holds every
/// batch acknowledged before the backup started, each item once, and no batch in part.
#[test]
fn backup_while_clients_ingest_restores_every_acknowledged_item_once() {
    const SIZE: usize = 100;
    let (a, b, out) = (temp("live"), temp("restored"), temp("files"));
    let file = out.join("snapshot.db");
    let server = start_with(&a, &[]);
    let port = server.port;
    let Setup { biz_auth, sessions, tokens, .. } = setup(port, 3);

    let acked: Arc<Mutex<Vec<(usize, usize)>>> = Arc::default();
    let stop_clients = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..3)
        .map(|c| {
            let (acked, stop_clients, token, session) =
                (acked.clone(), stop_clients.clone(), tokens[c].clone(), sessions[c].clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop_clients.load(Ordering::Relaxed) {
                    let (status, body) = http(
                        port,
                        "POST",
                        "/api/data/events",
                        Some(&token),
                        Some(&batch(c, n, &session, SIZE)),
                    )
                    .unwrap();
                    assert_eq!(status, 200, "{body}");
                    acked.lock().unwrap().push((c, n));
                    n += 1;
                }
            })
        })
        .collect();
    while acked.lock().unwrap().len() < 6 {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Every batch acknowledged by now was committed before the snapshot began.
    let before: Vec<(usize, usize)> = acked.lock().unwrap().clone();
    let backup = run(&a, &["backup", file.to_str().unwrap()]);
    let during = acked.lock().unwrap().len() - before.len();
    assert!(backup.status.success(), "{}", text(&backup));
    assert!(text(&backup).contains("integrity ok"), "{}", text(&backup));
    std::thread::sleep(Duration::from_millis(200));
    stop_clients.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let total = acked.lock().unwrap().len();
    stop(server);

    let restore = run(&b, &["restore", file.to_str().unwrap()]);
    assert!(restore.status.success(), "{}", text(&restore));
    assert!(text(&restore).contains("JWT secret restored"), "{}", text(&restore));
    // The business's token still works: the generated JWT secret came back with the data.
    let server = start_with(&b, &[]);
    let mut restored_batches = 0;
    for (c, session) in sessions.iter().enumerate() {
        let seen = exported(server.port, session, &biz_auth);
        assert!(seen.values().all(|n| *n == 1), "an item restored twice");
        let mut per_batch: BTreeMap<usize, usize> = BTreeMap::new();
        for id in seen.keys() {
            let n: usize = id.split('-').nth(1).unwrap().trim_start_matches('b').parse().unwrap();
            assert!(id.starts_with(&format!("c{c}-")), "{id} in the wrong session");
            *per_batch.entry(n).or_insert(0) += 1;
        }
        assert!(per_batch.values().all(|n| *n == SIZE), "a batch restored in part: {per_batch:?}");
        for &(_, n) in before.iter().filter(|(x, _)| *x == c) {
            assert!(
                per_batch.contains_key(&n),
                "batch {n} of client {c} acknowledged before the backup is missing"
            );
        }
        restored_batches += per_batch.len();
    }
    eprintln!(
        "backup test: {} batches acknowledged before the backup, {during} while it ran, {total} in all; {restored_batches} restored",
        before.len()
    );
    stop(server);
    for d in [a, b, out] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// A tester erased after the backup was taken is erased again when that backup is restored:
/// the restore reads the old data directory's journal (`--journal`), and the merged journal
/// lives on in the new data directory.
#[test]
fn an_erasure_after_the_backup_is_reapplied_on_restore() {
    let (a, b, out) = (temp("live"), temp("restored"), temp("files"));
    let file = out.join("snapshot.db");
    let server = start_with(&a, &[]);
    let port = server.port;
    let Setup { biz_auth, sessions, tokens, .. } = setup(port, 2);
    for (c, (session, token)) in sessions.iter().zip(&tokens).enumerate() {
        post(port, "/api/data/events", Some(token), serde_json::from_str(&batch(c, 0, session, 10)).unwrap());
    }
    let backup = run(&a, &["backup", file.to_str().unwrap()]);
    assert!(backup.status.success(), "{}", text(&backup));

    // After the backup, tester 0 asks to be erased.
    let signin = json!({"email": "t0@example.com", "password": "0123456789"});
    let t0 = post(port, "/api/auth/signin", None, signin.clone());
    let t0_auth = format!("Bearer {}", t0["accessToken"].as_str().unwrap());
    let t0_id = t0["user"]["userId"].as_str().unwrap().to_owned();
    let (status, body) = http(port, "DELETE", "/api/me", Some(&t0_auth), None).unwrap();
    assert_eq!(status, 200, "{body}");
    let journal = std::fs::read_to_string(a.join("erasures.journal")).unwrap();
    assert!(journal.starts_with(&format!("{t0_id}\t")), "{journal}");
    stop(server);

    let old_journal = a.join("erasures.journal");
    let restore = run(&b, &["restore", file.to_str().unwrap(), "--journal", old_journal.to_str().unwrap()]);
    assert!(restore.status.success(), "{}", text(&restore));
    assert!(text(&restore).contains("1 erasure(s) re-applied"), "{}", text(&restore));
    assert!(
        std::fs::read_to_string(b.join("erasures.journal")).unwrap().contains(&t0_id),
        "the merged journal is kept in the new data directory"
    );

    let server = start_with(&b, &[]);
    let (status, _) = http(server.port, "POST", "/api/auth/signin", None, Some(&signin.to_string())).unwrap();
    assert_eq!(status, 401, "the erased tester cannot sign in");
    assert!(exported(server.port, &sessions[0], &biz_auth).is_empty(), "the erased tester's events are gone");
    assert_eq!(exported(server.port, &sessions[1], &biz_auth).len(), 10, "the other tester's stay");
    let (_, body) =
        http(server.port, "GET", &format!("/api/sessions/{}", sessions[0]), Some(&biz_auth), None).unwrap();
    assert_ne!(data(&body)["testerId"], t0_id.as_str(), "{body}");
    stop(server);

    // Every later restore of that backup erases the person again.
    let c = temp("again");
    let again = run(&c, &["restore", file.to_str().unwrap(), "--journal", old_journal.to_str().unwrap()]);
    assert!(text(&again).contains("1 erasure(s) re-applied"), "{}", text(&again));
    for d in [a, b, c, out] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Restore never writes over a database or into a non-empty directory, refuses a damaged or
/// foreign file with a message saying so (and leaves nothing behind), a backup never overwrites
/// a file, and on PostgreSQL both point to pg_dump.
#[test]
fn restore_refuses_a_live_directory_and_a_damaged_file() {
    let (a, out) = (temp("live"), temp("files"));
    let file = out.join("snapshot.db");
    let server = start_with(&a, &[]);
    let backup = run(&a, &["backup", file.to_str().unwrap()]);
    assert!(backup.status.success(), "{}", text(&backup));
    let again = run(&a, &["backup", file.to_str().unwrap()]);
    assert!(!again.status.success() && text(&again).contains("never overwrites"), "{}", text(&again));

    // Into the live server's own directory.
    let live = run(&a, &["restore", file.to_str().unwrap()]);
    assert!(!live.status.success());
    assert!(text(&live).contains("never overwrites a database"), "{}", text(&live));
    stop(server);

    // Into a directory holding something else.
    let busy = temp("busy");
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    let refused = run(&busy, &["restore", file.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("is not empty (notes.txt)"), "{}", text(&refused));
    assert!(!busy.join("db.sqlite").exists());

    // Damaged files: not a database at all, a truncated copy, pages overwritten.
    let bytes = std::fs::read(&file).unwrap();
    let not_db = out.join("text.db");
    std::fs::write(&not_db, "this is not a database, just some text that is long enough").unwrap();
    let truncated = out.join("truncated.db");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let scribbled = out.join("scribbled.db");
    let mut damaged = bytes.clone();
    let page = 4096;
    for b in &mut damaged[page..bytes.len() - page] {
        *b = 0xAB;
    }
    std::fs::write(&scribbled, &damaged).unwrap();
    for bad in [&not_db, &truncated, &scribbled] {
        let fresh = temp("fresh");
        let res = run(&fresh, &["restore", bad.to_str().unwrap()]);
        assert!(!res.status.success(), "{} was restored", bad.display());
        let msg = text(&res);
        assert!(msg.contains("is not a usable OpenScouter backup"), "{}: {msg}", bad.display());
        assert_eq!(msg.trim().lines().count(), 1, "one line: {msg}");
        assert!(!fresh.join("db.sqlite").exists(), "nothing restored from {}", bad.display());
        let _ = std::fs::remove_dir_all(fresh);
    }

    // PostgreSQL has pg_dump.
    let pg = bin()
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")
        .env("OPENSCOUTER_DATA_DIR", out.display().to_string())
        .args(["backup", out.join("pg.db").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!pg.status.success());
    assert!(text(&pg).contains("pg_dump"), "{}", text(&pg));
    for d in [a, busy, out] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Scheduled backups: a server with a every-second schedule writes backups into the folder and
/// keeps the newest two; one of them restores.
#[test]
fn scheduled_backups_keep_the_newest() {
    let (a, b) = (temp("live"), temp("restored"));
    let folder = a.join("backups");
    let folder_s = folder.display().to_string();
    let env = [
        ("OPENSCOUTER_BACKUP_SCHEDULE", "* * * * * *"),
        ("OPENSCOUTER_BACKUP_DIR", folder_s.as_str()),
        ("OPENSCOUTER_BACKUP_KEEP", "2"),
    ];
    let server = start_with(&a, &env);
    let names = || -> BTreeSet<String> {
        std::fs::read_dir(&folder)
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default()
    };
    // Wait until backups have been written and pruned: more names seen than are kept.
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 4 {
        assert!(Instant::now() < deadline, "scheduled backups did not appear: {seen:?}");
        seen.extend(names().into_iter().filter(|n| n.ends_with(".db")));
        std::thread::sleep(Duration::from_millis(100));
    }
    stop(server);
    let left: Vec<String> = names().into_iter().filter(|n| n.ends_with(".db")).collect();
    assert_eq!(left.len(), 2, "the newest two are kept: {left:?}");
    assert!(left.iter().all(|n| n.starts_with("openscouter-")), "{left:?}");
    let newest = folder.join(left.last().unwrap());
    let restore = run(&b, &["restore", newest.to_str().unwrap()]);
    assert!(restore.status.success(), "{}", text(&restore));
    for d in [a, b] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// A backup from an older release (here: a database with every migration but the newest,
/// built from the binary's own list, so the test holds whatever the newest one does) is
/// migrated forward by the restore, and the server then reports ready on it.
#[test]
fn an_older_backup_is_migrated_on_restore() {
    use openscouter_server::store::migrate::{CREATE_TABLE, SQLITE};
    use sqlx::Connection;
    let (b, out) = (temp("restored"), temp("files"));
    let file = out.join("snapshot.db");
    // The newest but one (versions may have gaps while branches are merged).
    let previous = SQLITE[SQLITE.len() - 2].version;
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let url = format!("sqlite://{}?mode=rwc", file.display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(CREATE_TABLE).execute(&mut c).await.unwrap();
        for m in &SQLITE[..SQLITE.len() - 1] {
            sqlx::raw_sql(m.sql).execute(&mut c).await.unwrap();
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)")
                .bind(m.version)
                .bind(m.name)
                .execute(&mut c)
                .await
                .unwrap();
        }
        c.close().await.unwrap();
    });
    let restore = run(&b, &["restore", file.to_str().unwrap()]);
    assert!(restore.status.success(), "{}", text(&restore));
    assert!(text(&restore).contains(&format!("schema {previous} + 1 migration(s)")), "{}", text(&restore));
    let server = start_with(&b, &[]);
    let (status, body) = http(server.port, "GET", "/readyz", None, None).unwrap();
    assert_eq!(status, 200, "{body}");
    stop(server);
    for d in [b, out] {
        let _ = std::fs::remove_dir_all(d);
    }
}
