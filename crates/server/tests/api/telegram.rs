//! Telegram against a local fake Bot API: linking a chat, offers with buttons, accepting
//! through a button (a session and its token in the chat), `job-notify`'s documented shape,
//! the webhook secret, replayed updates, and `send-job` to 200 testers paced under 30
//! messages a second through a 429.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use axum::http::Method;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Account, Backend, Res, TestApp, study_body};

both!(
    link_offer_accept_by_button,
    job_notify_answers_the_documented_shape,
    webhook_secret_is_checked_and_updates_are_idempotent,
    send_job_paces_two_hundred_offers_through_a_429,
    telegram_off_means_503_for_telegram_only,
    the_flow_tells_a_linked_tester_in_telegram,
);

pub const SECRET: &str = "tg-webhook-secret";
pub const TOKEN: &str = "123456:test-bot-token";

/// One request the fake Bot API received.
#[derive(Debug, Clone)]
pub struct BotCall {
    pub token: String,
    pub method: String,
    pub body: Value,
    /// What the fake answered.
    pub status: u16,
}

/// A local stand-in for `https://api.telegram.org`: records every call and answers like the
/// Bot API; can answer one `sendMessage` with 429 and `retry_after`.
#[derive(Clone)]
pub struct FakeBot {
    pub base: String,
    calls: Arc<Mutex<Vec<BotCall>>>,
    /// `(n, retry_after)`: the n-th `sendMessage` (1-based) answers 429.
    limit_at: Arc<Mutex<Option<(usize, u64)>>>,
}

impl FakeBot {
    pub async fn start() -> Self {
        let calls: Arc<Mutex<Vec<BotCall>>> = Arc::default();
        let limit_at: Arc<Mutex<Option<(usize, u64)>>> = Arc::default();
        let (c, l) = (calls.clone(), limit_at.clone());
        let app = axum::Router::new().route(
            "/{bot}/{method}",
            axum::routing::post(
                move |axum::extract::Path((bot, method)): axum::extract::Path<(String, String)>,
                      body: String| {
                    let (calls, limit_at) = (c.clone(), l.clone());
                    async move {
                        let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                        let mut calls = calls.lock().unwrap();
                        let sends = calls.iter().filter(|c| c.method == "sendMessage").count() + 1;
                        let limited = method == "sendMessage"
                            && limit_at.lock().unwrap().is_some_and(|(n, _)| n == sends);
                        let (status, answer) = if limited {
                            let retry = limit_at.lock().unwrap().map_or(1, |(_, r)| r);
                            (
                                429,
                                json!({"ok": false, "error_code": 429,
                                "description": format!("Too Many Requests: retry after {retry}"),
                                "parameters": {"retry_after": retry}}),
                            )
                        } else if method == "sendMessage" {
                            let ok =
                                calls.iter().filter(|c| c.method == "sendMessage" && c.status == 200).count();
                            (
                                200,
                                json!({"ok": true, "result": {"message_id": 100 + ok, "date": 1_795_000_000,
                                "chat": {"id": body["chat_id"], "type": "private"}, "text": body["text"]}}),
                            )
                        } else {
                            (200, json!({"ok": true, "result": true}))
                        };
                        calls.push(BotCall {
                            token: bot.strip_prefix("bot").unwrap_or("").to_owned(),
                            method,
                            body,
                            status,
                        });
                        (axum::http::StatusCode::from_u16(status).unwrap(), axum::Json(answer))
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base: format!("http://{addr}"), calls, limit_at }
    }

    pub fn limit_send(&self, n: usize, retry_after: u64) {
        *self.limit_at.lock().unwrap() = Some((n, retry_after));
    }

    pub fn calls(&self) -> Vec<BotCall> {
        self.calls.lock().unwrap().clone()
    }

    /// Messages delivered (answered 200), in order.
    pub fn delivered(&self) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == "sendMessage" && c.status == 200)
            .map(|c| c.body)
            .collect()
    }

    /// Delivered messages to `chat`.
    pub fn to_chat(&self, chat: i64) -> Vec<Value> {
        self.delivered().into_iter().filter(|b| b["chat_id"] == chat).collect()
    }
}

/// Configuration of an app talking to `bot`.
pub fn env(bot: &FakeBot) -> Vec<(&'static str, String)> {
    vec![
        ("OPENSCOUTER_TELEGRAM_API_BASE", bot.base.clone()),
        ("OPENSCOUTER_TELEGRAM_BOT_TOKEN", TOKEN.into()),
        ("OPENSCOUTER_TELEGRAM_BOT_USERNAME", "OpenScouterBot".into()),
        ("OPENSCOUTER_TELEGRAM_WEBHOOK_SECRET", SECRET.into()),
        ("OPENSCOUTER_WEBHOOK_ALLOW_PRIVATE", "true".into()),
    ]
}

/// An app with Telegram pointed at a fresh fake bot, plus `extra` settings.
pub async fn app_with_bot(b: Backend, extra: &[(&'static str, &str)]) -> Option<(TestApp, FakeBot)> {
    let bot = FakeBot::start().await;
    let mut e: Vec<(&str, String)> = env(&bot);
    e.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let refs: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::with(b, &refs).await?;
    Some((app, bot))
}

/// Posts an update to the webhook with the secret Telegram sends.
pub async fn update(app: &TestApp, body: Value) -> Res {
    app.call(
        Method::POST,
        "/api/telegram/webhook",
        Some(body),
        &[("x-telegram-bot-api-secret-token", SECRET)],
    )
    .await
}

/// Links `tester`'s account to `chat` the way a tester does: a link code, then `/start <code>`.
pub async fn link(app: &TestApp, tester: &Account, chat: i64, update_id: i64) {
    let res = app.post("/api/testers/me/telegram-link", json!({}), Some(&tester.bearer())).await;
    let code = res.ok()["linkCode"].as_str().unwrap().to_owned();
    let res = update(
        app,
        json!({"update_id": update_id, "message": {"message_id": 1, "from": {"id": chat, "username": "tester"},
               "chat": {"id": chat, "type": "private"}, "text": format!("/start {code}")}}),
    )
    .await;
    assert_eq!(res.body, json!({"ok": true}), "{}", res.text);
}

fn button(update_id: i64, chat: i64, data: &str) -> Value {
    json!({"update_id": update_id, "callback_query": {"id": format!("cb{update_id}"), "from": {"id": chat},
           "message": {"message_id": 7, "chat": {"id": chat, "type": "private"}}, "data": data}})
}

async fn link_offer_accept_by_button(b: Backend) {
    let Some((app, bot)) = app_with_bot(b, &[]).await else { return };
    let biz = app.signup("business").await;
    let tester = app.tester().await;
    // the link: one-time code and the t.me URL
    let res = app.post("/api/testers/me/telegram-link", json!({}), Some(&tester.bearer())).await;
    let code = res.ok()["linkCode"].as_str().unwrap().to_owned();
    assert_eq!(res.ok()["linkUrl"], format!("https://t.me/OpenScouterBot?start={code}"));
    assert!(res.ok()["expiresAt"].as_str().unwrap().ends_with('Z'));
    app.post("/api/testers/me/telegram-link", json!({}), Some(&biz.bearer())).await.assert_error(403);
    let start = |id: i64, code: &str| {
        json!({"update_id": id, "message": {"message_id": id, "from": {"id": 555}, "chat": {"id": 555, "type": "private"},
               "text": format!("/start {code}")}})
    };
    assert_eq!(update(&app, start(1, &code)).await.body, json!({"ok": true}));
    app.drain_jobs().await;
    let replies = bot.to_chat(555);
    assert_eq!(replies.len(), 1);
    assert!(replies[0]["text"].as_str().unwrap().starts_with("Connected"), "{replies:?}");
    assert!(bot.calls().iter().all(|c| c.token == TOKEN), "calls go to /bot<token>/<method>");
    // single use: the same code from another chat links nothing
    update(&app, start(2, &code)).await;
    app.drain_jobs().await;
    assert!(bot.to_chat(556).is_empty() || bot.to_chat(556)[0]["text"].as_str().unwrap().contains("expired"));

    // launching offers the study to the linked, matching tester, with buttons
    let job = app.launched_study(&biz, study_body()).await;
    app.drain_jobs().await;
    let offers: Vec<Value> = bot.to_chat(555).into_iter().filter(|m| m["reply_markup"].is_object()).collect();
    assert_eq!(offers.len(), 1, "{:?}", bot.to_chat(555));
    let keyboard = &offers[0]["reply_markup"]["inline_keyboard"][0];
    assert_eq!(keyboard[0]["callback_data"], format!("accept:{job}"));
    assert_eq!(keyboard[1]["callback_data"], format!("decline:{job}"));
    let text = offers[0]["text"].as_str().unwrap();
    assert!(
        text.contains("Checkout usability") && text.contains("45 minutes") && text.contains("25.50 GBP"),
        "{text}"
    );
    // the offer is not sent twice, even when send-job runs again
    let res = app.post("/api/telegram/send-job", json!({"jobId": job}), Some(&biz.bearer())).await;
    assert_eq!((res.ok()["queued"].as_u64(), res.ok()["sent"].as_u64()), (Some(0), Some(1)));

    // Accept: the same rules as POST /api/jobs/:id/accept, then a session and its token
    assert_eq!(update(&app, button(3, 555, &format!("accept:{job}"))).await.body, json!({"ok": true}));
    assert!(
        bot.calls().iter().any(|c| c.method == "answerCallbackQuery" && c.body["callback_query_id"] == "cb3")
    );
    let sessions = app.get("/api/sessions", Some(&tester.bearer())).await;
    assert_eq!(sessions.body["metadata"]["total"], 1, "{}", sessions.text);
    let session = sessions.ok()[0].clone();
    let sid = session["sessionId"].as_str().or(session["id"].as_str()).unwrap().to_owned();
    assert_eq!(session["status"], "active");
    app.drain_jobs().await;
    let last = bot.to_chat(555).last().cloned().unwrap();
    let text = last["text"].as_str().unwrap();
    assert!(text.contains(&format!("_os_session={sid}")), "{text}");
    let token = text
        .split_whitespace()
        .find(|w| w.len() == 48 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .expect("the test token in the chat");
    // the token works for that session
    let consent = json!({"version": "v1", "streams": {"events": true}});
    app.post(&format!("/api/sessions/{sid}/consent"), consent, Some(&format!("Token {token}"))).await.ok();
    // tapping Accept again starts nothing new
    update(&app, button(4, 555, &format!("accept:{job}"))).await;
    app.drain_jobs().await;
    assert!(bot.to_chat(555).last().unwrap()["text"].as_str().unwrap().contains("already started"));
    assert_eq!(app.get("/api/sessions", Some(&tester.bearer())).await.body["metadata"]["total"], 1);
    // the business sees an anonymous label, never the chat
    let view = app.get(&format!("/api/jobs/{job}/sessions"), Some(&biz.bearer())).await;
    assert!(!view.text.contains("555") && !view.text.contains(&tester.user_id), "{}", view.text);

    // Decline on another study through its button; /stop unlinks
    let job2 = app.launched_study(&biz, study_body()).await;
    app.drain_jobs().await;
    update(&app, button(5, 555, &format!("decline:{job2}"))).await;
    app.drain_jobs().await;
    assert!(bot.to_chat(555).last().unwrap()["text"].as_str().unwrap().starts_with("Declined"));
    let res = app.post(&format!("/api/jobs/{job2}/accept"), json!({}), Some(&tester.bearer())).await;
    res.ok();
    let stop = json!({"update_id": 6, "message": {"message_id": 6, "from": {"id": 555}, "chat": {"id": 555, "type": "private"}, "text": "/stop"}});
    update(&app, stop).await;
    app.drain_jobs().await;
    assert!(bot.to_chat(555).last().unwrap()["text"].as_str().unwrap().starts_with("Disconnected"));
    update(&app, button(7, 555, &format!("accept:{job2}"))).await;
    app.drain_jobs().await;
    assert!(bot.to_chat(555).last().unwrap()["text"].as_str().unwrap().contains("not connected"));
}

async fn job_notify_answers_the_documented_shape(b: Backend) {
    let Some((app, bot)) = app_with_bot(b, &[]).await else { return };
    let biz = app.signup("business").await;
    let admin = app.admin().await;
    let tester = app.tester().await;
    let job = app.launched_study(&biz, study_body()).await;
    app.drain_jobs().await;
    // not linked yet: 404
    let body = json!({"testerId": tester.user_id, "jobId": job});
    app.post("/api/telegram/job-notify", body.clone(), Some(&admin.bearer())).await.assert_error(404);
    link(&app, &tester, 123_456_789, 10).await;
    // only staff: the answer carries the tester's chat id
    app.post("/api/telegram/job-notify", body.clone(), Some(&biz.bearer())).await.assert_error(403);
    let custom = "A new study matching your profile is available. Tap below to view details.";
    let res = app
        .post(
            "/api/telegram/job-notify",
            json!({"testerId": tester.user_id, "jobId": job, "message": custom}),
            Some(&admin.bearer()),
        )
        .await;
    let data = res.ok().as_object().unwrap().clone();
    let mut keys: Vec<&str> = data.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["messageId", "sentAt", "telegramChatId", "testerId"]);
    assert_eq!(data["testerId"], json!(tester.user_id));
    assert_eq!(data["telegramChatId"], json!(123_456_789));
    assert!(data["messageId"].is_i64());
    assert!(chrono::DateTime::parse_from_rfc3339(data["sentAt"].as_str().unwrap()).is_ok());
    let sent = bot.to_chat(123_456_789);
    let offer = sent.last().unwrap();
    assert_eq!(offer["text"], custom);
    assert_eq!(offer["reply_markup"]["inline_keyboard"][0][0]["callback_data"], format!("accept:{job}"));
    assert_eq!(data["messageId"], json!(100 + sent.len() - 1));
    // the broadcast does not offer it again
    let res = app.post("/api/telegram/send-job", json!({"jobId": job}), Some(&biz.bearer())).await;
    assert_eq!(res.ok()["queued"], 0);
    // unknown study: 404; a draft: 422
    let draft = app.post("/api/jobs", study_body(), Some(&biz.bearer())).await;
    let draft = draft.ok()["jobId"].as_str().or(draft.ok()["id"].as_str()).unwrap().to_owned();
    let res = app
        .post(
            "/api/telegram/job-notify",
            json!({"testerId": tester.user_id, "jobId": draft}),
            Some(&admin.bearer()),
        )
        .await;
    res.assert_error(422);
    let res = app
        .post(
            "/api/telegram/job-notify",
            json!({"testerId": tester.user_id, "jobId": "job_nope"}),
            Some(&admin.bearer()),
        )
        .await;
    res.assert_error(404);
}

async fn webhook_secret_is_checked_and_updates_are_idempotent(b: Backend) {
    let Some((app, bot)) = app_with_bot(b, &[]).await else { return };
    let hello = json!({"update_id": 42, "message": {"message_id": 1, "from": {"id": 9}, "chat": {"id": 9, "type": "private"}, "text": "hello"}});
    for headers in [
        vec![],
        vec![("x-telegram-bot-api-secret-token", "wrong")],
        vec![("x-webhook-secret", "tg-webhook-secre")],
        vec![("authorization", "Bearer tg-webhook-secret")],
    ] {
        let res = app.call(Method::POST, "/api/telegram/webhook", Some(hello.clone()), &headers).await;
        res.assert_error(401);
    }
    app.drain_jobs().await;
    assert!(bot.delivered().is_empty(), "nothing handled without the secret");
    // the seed's header works too
    let res = app
        .call(Method::POST, "/api/telegram/webhook", Some(hello.clone()), &[("x-webhook-secret", SECRET)])
        .await;
    assert_eq!(res.body, json!({"ok": true}));
    // a replay (Telegram resends after a timeout) is acknowledged and ignored
    assert_eq!(update(&app, hello.clone()).await.body, json!({"ok": true}));
    app.drain_jobs().await;
    assert_eq!(bot.to_chat(9).len(), 1, "one reply for one update");
    assert!(bot.to_chat(9)[0]["text"].as_str().unwrap().contains("not connected"));
    // an update type the bot does not use is acknowledged
    let res = update(&app, json!({"update_id": 43, "edited_message": {"message_id": 1}})).await;
    assert_eq!(res.body, json!({"ok": true}));
    // a link code is single use and expires after 15 minutes
    let tester = app.tester().await;
    let res = app.post("/api/testers/me/telegram-link", json!({}), Some(&tester.bearer())).await;
    let code = res.ok()["linkCode"].as_str().unwrap().to_owned();
    // not in a group, where anyone could tap Accept for the tester
    let group = json!({"update_id": 45, "message": {"message_id": 3, "from": {"id": 10}, "chat": {"id": -100, "type": "group"}, "text": format!("/start {code}")}});
    update(&app, group).await;
    app.drain_jobs().await;
    assert!(bot.to_chat(-100)[0]["text"].as_str().unwrap().contains("private chat"));
    app.clock.advance_ms(15 * 60 * 1000 + 1);
    let start = json!({"update_id": 44, "message": {"message_id": 2, "from": {"id": 10}, "chat": {"id": 10, "type": "private"}, "text": format!("/start {code}")}});
    update(&app, start).await;
    app.drain_jobs().await;
    assert!(bot.to_chat(10)[0]["text"].as_str().unwrap().contains("expired"));
}

async fn send_job_paces_two_hundred_offers_through_a_429(b: Backend) {
    let limits =
        [("OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED", "100000"), ("OPENSCOUTER_RATE_LIMIT_INGEST", "100000")];
    let Some((app, bot)) = app_with_bot(b, &limits).await else { return };
    let biz = app.signup("business").await;
    let mut body = study_body();
    body["targeting"]["testerCount"] = json!(100);
    let job = app.launched_study(&biz, body).await;
    assert_eq!(app.drain_jobs().await, 1, "the launch fan-out found nobody yet");
    const N: i64 = 200;
    for i in 0..N {
        let t = app.tester().await;
        link(&app, &t, 10_000 + i, 1_000 + i).await;
    }
    // a linked tester outside the targeting and an unavailable one get nothing
    let outside = app.signup("tester").await;
    app.make_eligible(&outside).await;
    let mut profile = crate::helpers::profile_body();
    profile["country"] = json!("FR");
    app.send(Method::PUT, "/api/testers/me/profile", Some(profile), &outside.bearer()).await.ok();
    link(&app, &outside, 99_001, 5_001).await;
    let away = app.signup("tester").await;
    app.make_eligible(&away).await;
    let mut profile = crate::helpers::profile_body();
    profile["available"] = json!(false);
    app.send(Method::PUT, "/api/testers/me/profile", Some(profile), &away.bearer()).await.ok();
    link(&app, &away, 99_002, 5_002).await;
    app.drain_jobs().await;
    let replies = bot.delivered().len();
    assert_eq!(replies as i64, N + 2, "one 'Connected' reply per chat");

    // the 60th send of the broadcast is answered 429, retry after 3 s
    bot.limit_send(replies + 60, 3);
    let res = app
        .post("/api/telegram/send-job", json!({"jobId": job, "filterBySegment": true}), Some(&biz.bearer()))
        .await;
    assert_eq!(res.ok()["queued"], N, "{}", res.text);
    assert_eq!(res.ok()["pending"], N);
    // at most one offer per tester and study
    let again = app.post("/api/telegram/send-job", json!({"jobId": job}), Some(&biz.bearer())).await;
    assert_eq!(again.ok()["queued"], 0);

    // Work the queue one simulated second at a time; record what went out when.
    let start = app.clock_ms();
    let mut per_second: Vec<(i64, usize, usize)> = Vec::new(); // (t, delivered, 429s)
    let (mut seen_ok, mut seen_429) = (replies, 0);
    for _ in 0..40 {
        app.drain_jobs().await;
        let calls = bot.calls();
        let ok = calls.iter().filter(|c| c.method == "sendMessage" && c.status == 200).count();
        let limited = calls.iter().filter(|c| c.status == 429).count();
        per_second.push((app.clock_ms() - start, ok - seen_ok, limited - seen_429));
        (seen_ok, seen_429) = (ok, limited);
        if ok - replies == N as usize {
            break;
        }
        app.clock.advance_ms(1_000);
    }
    let offers: Vec<Value> = bot.delivered().into_iter().skip(replies).collect();
    assert_eq!(offers.len() as i64, N, "every eligible tester got the offer: {per_second:?}");
    let mut chats: Vec<i64> = offers.iter().map(|m| m["chat_id"].as_i64().unwrap()).collect();
    chats.sort_unstable();
    chats.dedup();
    assert_eq!(chats.len() as i64, N, "once each");
    assert!(chats.iter().all(|c| (10_000..10_000 + N).contains(c)), "only eligible testers");
    // never more than 30 in a second
    assert!(per_second.iter().all(|(_, n, _)| *n <= 30), "{per_second:?}");
    // the 429 was honoured: nothing went out for retry_after seconds after it
    let (hit, ..) = *per_second.iter().find(|(_, _, l)| *l > 0).expect("the fake 429 happened");
    let quiet: Vec<_> =
        per_second.iter().filter(|(t, n, _)| *t > hit && *t < hit + 3_000 && *n > 0).collect();
    assert!(quiet.is_empty(), "sent during the pause: {per_second:?}");
    // 200 messages at ≤ 30/s take at least 6 simulated seconds, plus the 3 s pause
    assert!(per_second.last().unwrap().0 >= 9_000, "{per_second:?}");
    let res = app.post("/api/telegram/send-job", json!({"jobId": job}), Some(&biz.bearer())).await;
    assert_eq!(
        (res.ok()["sent"].as_i64(), res.ok()["pending"].as_i64(), res.ok()["failed"].as_i64()),
        (Some(N), Some(0), Some(0))
    );
    // another business cannot broadcast this study; a tester may not at all
    let other = app.signup("business").await;
    app.post("/api/telegram/send-job", json!({"jobId": job}), Some(&other.bearer())).await.assert_error(404);
    app.post("/api/telegram/send-job", json!({"jobId": job}), Some(&outside.bearer()))
        .await
        .assert_error(403);
}

async fn telegram_off_means_503_for_telegram_only(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let biz = app.signup("business").await;
    let tester = app.tester().await;
    let admin = app.admin().await;
    let job = app.launched_study(&biz, study_body()).await;
    app.post("/api/testers/me/telegram-link", json!({}), Some(&tester.bearer())).await.assert_error(503);
    let res = app
        .call(
            Method::POST,
            "/api/telegram/webhook",
            Some(json!({"update_id": 1})),
            &[("x-webhook-secret", SECRET)],
        )
        .await;
    res.assert_error(503);
    let body = json!({"testerId": tester.user_id, "jobId": job});
    app.post("/api/telegram/job-notify", body, Some(&admin.bearer())).await.assert_error(503);
    app.post("/api/telegram/send-job", json!({"jobId": job}), Some(&biz.bearer())).await.assert_error(503);
    // everything else works: the study launched, the tester sees it, notifications list
    app.get(&format!("/api/jobs/{job}"), Some(&tester.bearer())).await.ok();
    assert_eq!(app.get("/api/notifications", Some(&tester.bearer())).await.body["metadata"]["total"], 0);
    assert_eq!(app.drain_jobs().await, 0, "no offer work without a bot");
}

impl TestApp {
    /// The injected clock, in epoch ms.
    pub fn clock_ms(&self) -> i64 {
        use openscouter_server::clock::Clock;
        self.clock.now_ms()
    }
}

/// api.md §11, row 2: when Agent 2 finishes, a tester whose chat is linked is told in Telegram
/// too, with the link to the page where they confirm; the reminders (after the study's
/// `reminderAfterHours`, and at 72 h) go there as well, each once.
async fn the_flow_tells_a_linked_tester_in_telegram(b: Backend) {
    const CRON: &str = "cron-secret-for-tests";
    let extra =
        [("OPENSCOUTER_CRON_SECRET", CRON), ("OPENSCOUTER_PUBLIC_URL", "https://openscouter.example")];
    let Some((app, bot)) = app_with_bot(b, &extra).await else { return };
    let biz = app.signup("business").await;
    let tester = app.tester().await;
    link(&app, &tester, 777, 1).await;
    // A try abandoned: the offer's Accept button starts a new session (api.md §11).
    let first_job = app.launched_study(&biz, study_body()).await;
    app.drain_jobs().await;
    update(&app, button(2, 777, &format!("accept:{first_job}"))).await;
    let mine = app.get(&format!("/api/sessions?jobId={first_job}"), Some(&tester.bearer())).await;
    let tried = mine.ok()[0]["sessionId"].as_str().unwrap().to_owned();
    let res = app.post(&format!("/api/sessions/{tried}/abandon"), json!({}), Some(&tester.bearer())).await;
    assert_eq!(res.ok()["status"], "abandoned");
    update(&app, button(3, 777, &format!("accept:{first_job}"))).await;
    app.drain_jobs().await;
    let mine = app.get(&format!("/api/sessions?jobId={first_job}"), Some(&tester.bearer())).await;
    assert_eq!(mine.body["metadata"]["total"], 2, "{}", mine.text);
    let last = bot.to_chat(777).last().cloned().unwrap();
    assert!(!last["text"].as_str().unwrap().contains("already started"), "{last}");
    let job = app.launched_study(&biz, study_body()).await; // reminderAfterHours: 24
    let study = app.get(&format!("/api/jobs/{job}"), Some(&biz.bearer())).await;
    let task = study.ok()["tasks"][0]["taskId"].as_str().unwrap().to_owned();
    let (sid, token) = app.session(&tester, &job).await;
    app.broken_checkout(&sid, &format!("Token {token}"), &task).await;
    app.drain_jobs().await; // Agent 2, then the Telegram copy of the notice
    let link = format!("https://openscouter.example/app/sessions/{sid}");
    let about = |bot: &FakeBot| -> Vec<String> {
        bot.to_chat(777)
            .iter()
            .filter_map(|m| m["text"].as_str())
            .filter(|t| t.contains(&link))
            .map(str::to_owned)
            .collect()
    };
    let told = about(&bot);
    assert_eq!(told.len(), 1, "{:?}", bot.to_chat(777));
    assert!(told[0].contains("Checkout usability") && told[0].contains("confirm"), "{}", told[0]);
    // Running the queue again sends nothing new.
    app.drain_jobs().await;
    assert_eq!(about(&bot).len(), 1);

    app.clock.advance_ms(25 * 3_600_000);
    assert_eq!(reminders(&app, CRON).await, Some(1));
    app.drain_jobs().await;
    let told = about(&bot);
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told[1].contains("Reminder"), "{}", told[1]);
    assert_eq!(reminders(&app, CRON).await, Some(0));
    app.clock.advance_ms(48 * 3_600_000);
    assert_eq!(reminders(&app, CRON).await, Some(1), "and at 72 h");
    app.drain_jobs().await;
    assert_eq!(about(&bot).len(), 3);
}

/// Runs the reminders job now; how many it sent.
async fn reminders(app: &TestApp, cron: &str) -> Option<u64> {
    let auth = format!("Bearer {cron}");
    app.post("/api/cron/reminders", json!({}), Some(&auth)).await.ok()["processed"].as_u64()
}
