//! Accounts people can recover and organisations with members (api.md §12), through the API:
//! mail written to the outbox, password reset, password and email change, verification,
//! invitations, members and tenancy, notification read state, connected applications. Each
//! abuse case is a test: enumeration, reuse, expiry, sign-outs, the last owner, other tenants.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::Method;
use base64::Engine;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Account, Backend, PASSWORD, TestApp, study_body};

const _: Option<Account> = None;

both!(
    reset_answers_alike_and_its_link_is_single_use,
    reset_link_expires_after_30_minutes,
    password_change_checks_and_signs_out_the_others,
    email_verification_and_change,
    invitations_members_and_tenancy,
    last_owner_cannot_leave_and_invitations_expire,
    notifications_have_a_read_state_per_reader,
    connected_applications_are_listed_and_revoked,
    unverified_accounts_can_be_held_back,
);

/// The decoded text of every part of a raw mail (7bit, quoted-printable or base64).
pub fn mail_text(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let mut out = String::new();
    let mut encoding = String::new();
    let mut in_body = false;
    let mut body = String::new();
    let flush = |encoding: &str, body: &str, out: &mut String| match encoding {
        "base64" => {
            let joined: String = body.split_whitespace().collect();
            if let Ok(b) = base64::engine::general_purpose::STANDARD.decode(joined) {
                out.push_str(&String::from_utf8_lossy(&b));
            }
        }
        "quoted-printable" => {
            let s = body.replace("=\n", "");
            let bytes = s.as_bytes();
            let mut dec = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'='
                    && i + 2 < bytes.len()
                    && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
                {
                    dec.push(v);
                    i += 3;
                    continue;
                }
                dec.push(bytes[i]);
                i += 1;
            }
            out.push_str(&String::from_utf8_lossy(&dec));
        }
        _ => out.push_str(body),
    };
    for line in raw.lines() {
        if line.starts_with("--") {
            flush(&encoding, &body, &mut out);
            body.clear();
            encoding.clear();
            in_body = false;
            continue;
        }
        if !in_body {
            if line.is_empty() {
                in_body = true;
            } else if let Some(v) = line.strip_prefix("Content-Transfer-Encoding:") {
                encoding = v.trim().to_lowercase();
            }
            continue;
        }
        body.push_str(line);
        body.push('\n');
    }
    flush(&encoding, &body, &mut out);
    out
}

/// The token of the first link to `path` in a mail.
pub fn link_token(text: &str, path: &str) -> Option<String> {
    let at = text.find(&format!("{path}?token="))?;
    let rest = &text[at + path.len() + "?token=".len()..];
    Some(rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect())
}

/// Every mail in the app's outbox, oldest first: `(recipient, subject, decoded text)`.
pub fn outbox(app: &TestApp) -> Vec<(String, String, String)> {
    let dir = app.state.config.data_dir.join("outbox");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let raw = std::fs::read_to_string(p).unwrap();
            let header = |name: &str| {
                raw.lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_owned))
                    .unwrap_or_default()
            };
            (header("To"), header("Subject"), mail_text(&raw))
        })
        .collect()
}

/// The newest mail to `to` with a link to `path`: its token.
pub fn token_mailed_to(app: &TestApp, to: &str, path: &str) -> String {
    outbox(app)
        .into_iter()
        .rev()
        .find(|(rcpt, _, text)| rcpt.contains(to) && text.contains(path))
        .and_then(|(_, _, text)| link_token(&text, path))
        .unwrap_or_else(|| panic!("no mail to {to} with a link to {path}: {:?}", outbox(app)))
}

async fn app(b: Backend) -> Option<TestApp> {
    TestApp::with(
        b,
        &[
            ("OPENSCOUTER_PUBLIC_URL", "https://openscouter.test"),
            ("OPENSCOUTER_RATE_LIMIT_UNAUTHENTICATED", "1000"),
            ("OPENSCOUTER_RATE_LIMIT_FREE", "10000"),
        ],
    )
    .await
}

async fn signin(app: &TestApp, email: &str, password: &str) -> crate::helpers::Res {
    app.post("/api/auth/signin", json!({"email": email, "password": password}), None).await
}

async fn reset_answers_alike_and_its_link_is_single_use(b: Backend) {
    let Some(app) = app(b).await else { return };
    let ada = app.signup("business").await;
    let known =
        app.post("/api/auth/password-reset/request", json!({"email": ada.email.to_uppercase()}), None).await;
    let unknown =
        app.post("/api/auth/password-reset/request", json!({"email": "nobody@example.com"}), None).await;
    assert_eq!(known.status, 202, "{}", known.text);
    assert_eq!(unknown.status, 202);
    assert_eq!(known.body, unknown.body, "the same answer for a known and an unknown address");
    app.drain_jobs().await;
    let mails = outbox(&app);
    assert_eq!(mails.len(), 1, "only the account gets a mail: {mails:?}");
    let (to, subject, text) = &mails[0];
    assert!(to.contains(&ada.email));
    assert_eq!(subject, "Reset your OpenScouter password");
    assert!(text.contains("https://openscouter.test/app/reset-password?token=osp_"), "{text}");
    // A flood of requests sends one mail a minute.
    app.post("/api/auth/password-reset/request", json!({"email": ada.email}), None).await;
    app.drain_jobs().await;
    assert_eq!(outbox(&app).len(), 1);
    let token = token_mailed_to(&app, &ada.email, "/app/reset-password");

    // Another sign-in of the account, to be ended by the reset.
    let other = signin(&app, &ada.email, PASSWORD).await.ok().clone();
    let short =
        app.post("/api/auth/password-reset", json!({"token": token, "password": "short"}), None).await;
    short.assert_error(422);
    let res = app
        .post("/api/auth/password-reset", json!({"token": token, "password": "a brand new passphrase"}), None)
        .await;
    assert_eq!(res.ok()["emailVerified"], true, "the link proved the address");
    let again = app
        .post("/api/auth/password-reset", json!({"token": token, "password": "yet another passphrase"}), None)
        .await;
    assert_eq!(again.assert_error(422), "token: this link is invalid, used or expired");
    let forged = app
        .post(
            "/api/auth/password-reset",
            json!({"token": "osp_forged", "password": "yet another passphrase"}),
            None,
        )
        .await;
    forged.assert_error(422);
    // Every sign-in ended: refresh tokens refused, access tokens too.
    for refresh in [&ada.refresh, other["refreshToken"].as_str().unwrap()] {
        app.post("/api/auth/refresh", json!({"refreshToken": refresh}), None).await.assert_error(401);
    }
    app.get("/api/me", Some(&ada.bearer())).await.assert_error(401);
    signin(&app, &ada.email, PASSWORD).await.assert_error(401);
    signin(&app, &ada.email, "a brand new passphrase").await.ok();
    // Bad input: envelope and the right code.
    let res =
        app.call(Method::POST, "/api/auth/password-reset/request", Some(json!({"email": 5})), &[]).await;
    assert!(matches!(res.status.as_u16(), 400 | 422), "{}", res.text);
    app.post("/api/auth/password-reset", json!({"password": "a brand new passphrase"}), None)
        .await
        .assert_error(422);
}

async fn reset_link_expires_after_30_minutes(b: Backend) {
    let Some(app) = app(b).await else { return };
    let ada = app.signup("tester").await;
    app.post("/api/auth/password-reset/request", json!({"email": ada.email}), None).await;
    app.drain_jobs().await;
    let first = token_mailed_to(&app, &ada.email, "/app/reset-password");
    // A newer link supersedes the older one.
    app.clock.advance_ms(61_000);
    app.post("/api/auth/password-reset/request", json!({"email": ada.email}), None).await;
    app.drain_jobs().await;
    let second = token_mailed_to(&app, &ada.email, "/app/reset-password");
    assert_ne!(first, second);
    app.post("/api/auth/password-reset", json!({"token": first, "password": "a brand new passphrase"}), None)
        .await
        .assert_error(422);
    app.clock.advance_ms(30 * 60 * 1000 + 1);
    app.post(
        "/api/auth/password-reset",
        json!({"token": second, "password": "a brand new passphrase"}),
        None,
    )
    .await
    .assert_error(422);
    signin(&app, &ada.email, PASSWORD).await.ok();
}

async fn password_change_checks_and_signs_out_the_others(b: Backend) {
    let Some(app) = app(b).await else { return };
    let ada = app.signup("business").await;
    let other = signin(&app, &ada.email, PASSWORD).await.ok().clone();
    let wrong = app
        .post(
            "/api/me/password",
            json!({"currentPassword": "not it at all", "password": "a brand new passphrase"}),
            Some(&ada.bearer()),
        )
        .await;
    assert_eq!(wrong.assert_error(422), "currentPassword: is not the account's password");
    let res = app
        .post(
            "/api/me/password",
            json!({"currentPassword": PASSWORD, "password": "a brand new passphrase"}),
            Some(&ada.bearer()),
        )
        .await;
    res.ok();
    // This sign-in stays; the other one ended.
    app.get("/api/me", Some(&ada.bearer())).await.ok();
    app.post("/api/auth/refresh", json!({"refreshToken": ada.refresh}), None).await.ok();
    let other_bearer = format!("Bearer {}", other["accessToken"].as_str().unwrap());
    app.get("/api/me", Some(&other_bearer)).await.assert_error(401);
    app.post("/api/auth/refresh", json!({"refreshToken": other["refreshToken"]}), None)
        .await
        .assert_error(401);
    signin(&app, &ada.email, "a brand new passphrase").await.ok();
    // No bearer, an API token: refused.
    app.post(
        "/api/me/password",
        json!({"currentPassword": PASSWORD, "password": "a brand new passphrase"}),
        None,
    )
    .await
    .assert_error(401);
}

async fn email_verification_and_change(b: Backend) {
    let Some(app) = app(b).await else { return };
    let ada = app.signup("business").await;
    let me = app.get("/api/me", Some(&ada.bearer())).await;
    assert_eq!(me.ok()["user"]["emailVerified"], false);
    assert_eq!(me.ok()["user"]["orgRole"], "owner");
    assert_eq!(me.ok()["unreadNotifications"], 0);
    let res = app.post("/api/auth/verify-email/request", json!({}), Some(&ada.bearer())).await;
    assert_eq!(res.ok()["queued"], true);
    app.drain_jobs().await;
    let token = token_mailed_to(&app, &ada.email, "/app/verify-email");
    let res = app.post("/api/auth/verify-email", json!({"token": token}), None).await;
    assert_eq!(res.ok()["emailVerified"], true);
    app.post("/api/auth/verify-email", json!({"token": token}), None).await.assert_error(422);
    let res = app.post("/api/auth/verify-email/request", json!({}), Some(&ada.bearer())).await;
    assert_eq!(res.ok()["queued"], false);

    // Email change: nothing changes until the new address's link is used.
    let new = format!("new-{}", ada.email);
    let res = app.send(Method::PATCH, "/api/me", Some(json!({"email": new})), &ada.bearer()).await;
    assert_eq!(res.ok()["email"], ada.email);
    app.send(Method::PATCH, "/api/me", Some(json!({"email": ada.email})), &ada.bearer())
        .await
        .assert_error(422);
    app.send(Method::PATCH, "/api/me", Some(json!({"email": "nope"})), &ada.bearer()).await.assert_error(422);
    app.send(Method::PATCH, "/api/me", Some(json!({})), &ada.bearer()).await.assert_error(422);
    app.drain_jobs().await;
    let token = token_mailed_to(&app, &new, "/app/confirm-email");
    let res = app.post("/api/auth/email-change", json!({"token": token}), None).await;
    let user = res.ok();
    assert_eq!(user["email"], new);
    assert_eq!(user["emailVerified"], true);
    app.post("/api/auth/email-change", json!({"token": token}), None).await.assert_error(422);
    app.drain_jobs().await;
    let told = outbox(&app).into_iter().any(|(to, subject, text)| {
        to.contains(&ada.email)
            && subject.contains("was changed")
            && text.contains(&new)
            && !text.contains("token=")
    });
    assert!(told, "the old address is told");
    signin(&app, &new, PASSWORD).await.ok();
    signin(&app, &ada.email, PASSWORD).await.assert_error(401);
    // A change to an address already in use fails when the link is used, not before.
    let taken = app.signup("tester").await;
    app.send(Method::PATCH, "/api/me", Some(json!({"email": taken.email})), &ada.bearer()).await.ok();
    app.drain_jobs().await;
    let token = token_mailed_to(&app, &taken.email, "/app/confirm-email");
    let res = app.post("/api/auth/email-change", json!({"token": token}), None).await;
    assert_eq!(res.assert_error(422), "email: already registered");
}

async fn invite(app: &TestApp, owner: &Account, email: &str, role: &str) -> (String, String) {
    let res =
        app.post("/api/org/invitations", json!({"email": email, "role": role}), Some(&owner.bearer())).await;
    let id = res.ok()["invitationId"].as_str().unwrap().to_owned();
    app.drain_jobs().await;
    (id, token_mailed_to(app, email, "/app/invitations/accept"))
}

async fn invitations_members_and_tenancy(b: Backend) {
    let Some(app) = app(b).await else { return };
    let owner = app.signup("business").await;
    let job = app.post("/api/jobs", study_body(), Some(&owner.bearer())).await.ok()["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    let colleague = format!("colleague-{}", owner.email);
    let (_, token) = invite(&app, &owner, &colleague, "member").await;
    let listed = app.get("/api/org/invitations", Some(&owner.bearer())).await;
    assert_eq!(listed.ok().as_array().unwrap().len(), 1);
    assert_eq!(listed.ok()[0]["email"], colleague);
    // Only the invited address can use it.
    let wrong = app
        .post("/api/auth/signup", json!({"email": "someone-else@example.com", "password": PASSWORD, "fullName": "Eve", "role": "business", "invitationToken": token}), None)
        .await;
    wrong.assert_error(422);
    let res = app
        .post("/api/auth/signup", json!({"email": colleague, "password": PASSWORD, "fullName": "Grace", "role": "business", "invitationToken": token}), None)
        .await;
    let data = res.ok().clone();
    assert_eq!(data["user"]["organizationId"], owner.organization_id.clone().unwrap());
    assert_eq!(data["user"]["orgRole"], "member");
    assert_eq!(data["user"]["emailVerified"], true);
    let member = format!("Bearer {}", data["accessToken"].as_str().unwrap());
    let member_id = data["user"]["userId"].as_str().unwrap().to_owned();
    // Spent.
    app.post("/api/auth/signup", json!({"email": colleague, "password": PASSWORD, "fullName": "Grace", "role": "business", "invitationToken": token}), None)
        .await
        .assert_error(422);
    assert!(app.get("/api/org/invitations", Some(&owner.bearer())).await.ok().as_array().unwrap().is_empty());
    // The member sees and acts on the organization's studies.
    app.get(&format!("/api/jobs/{job}"), Some(&member)).await.ok();
    let members = app.get("/api/org/members", Some(&member)).await;
    let roles: Vec<&str> =
        members.ok().as_array().unwrap().iter().map(|m| m["orgRole"].as_str().unwrap()).collect();
    assert_eq!(roles, ["owner", "member"]);
    // Another organization never sees it, nor its members.
    let stranger = app.signup("business").await;
    app.get(&format!("/api/jobs/{job}"), Some(&stranger.bearer())).await.assert_error(404);
    let theirs = app.get("/api/org/members", Some(&stranger.bearer())).await;
    assert_eq!(theirs.ok().as_array().unwrap().len(), 1);
    app.send(Method::DELETE, &format!("/api/org/members/{member_id}"), None, &stranger.bearer())
        .await
        .assert_error(404);
    // Members do not manage members; testers have no organization.
    app.post("/api/org/invitations", json!({"email": "x@example.com"}), Some(&member))
        .await
        .assert_error(403);
    app.send(Method::DELETE, &format!("/api/org/members/{}", owner.user_id), None, &member)
        .await
        .assert_error(403);
    // Owners manage the API tokens (api.md §12); the owner may.
    app.post("/api/tokens", json!({"name": "ci", "scopes": ["read"]}), Some(&member)).await.assert_error(403);
    app.post("/api/tokens", json!({"name": "ci", "scopes": ["read"]}), Some(&owner.bearer())).await.ok();
    let tester = app.signup("tester").await;
    app.get("/api/org/members", Some(&tester.bearer())).await.assert_error(403);
    app.post("/api/org/invitations", json!({"email": "bad"}), Some(&owner.bearer())).await.assert_error(422);
    app.post("/api/org/invitations", json!({"email": colleague}), Some(&owner.bearer()))
        .await
        .assert_error(422);
    app.post(
        "/api/org/invitations",
        json!({"email": "x@example.com", "role": "king"}),
        Some(&owner.bearer()),
    )
    .await;
    // A signed-in business account joins by the accept endpoint, its address matching.
    let solo = app.signup("business").await;
    let (_, token) = invite(&app, &owner, &solo.email, "owner").await;
    app.post("/api/org/invitations/accept", json!({"token": token}), Some(&tester.bearer()))
        .await
        .assert_error(403);
    app.post("/api/org/invitations/accept", json!({"token": token}), Some(&stranger.bearer()))
        .await
        .assert_error(422);
    let joined = app.post("/api/org/invitations/accept", json!({"token": token}), Some(&solo.bearer())).await;
    assert_eq!(joined.ok()["orgRole"], "owner");
    app.get(&format!("/api/jobs/{job}"), Some(&solo.bearer())).await.ok();
    // The owner removes the member, who loses the studies at once.
    app.send(Method::DELETE, &format!("/api/org/members/{member_id}"), None, &owner.bearer()).await.ok();
    app.get(&format!("/api/jobs/{job}"), Some(&member)).await.assert_error(403);
    app.send(Method::DELETE, &format!("/api/org/members/{member_id}"), None, &owner.bearer())
        .await
        .assert_error(404);
    // Withdrawn invitations stop working.
    let (id, token) = invite(&app, &owner, "late@example.com", "member").await;
    app.send(Method::DELETE, &format!("/api/org/invitations/{id}"), None, &owner.bearer()).await.ok();
    app.send(Method::DELETE, &format!("/api/org/invitations/{id}"), None, &owner.bearer())
        .await
        .assert_error(404);
    app.post("/api/auth/signup", json!({"email": "late@example.com", "password": PASSWORD, "fullName": "Late", "role": "business", "invitationToken": token}), None)
        .await
        .assert_error(422);
}

async fn last_owner_cannot_leave_and_invitations_expire(b: Backend) {
    let Some(app) = app(b).await else { return };
    let owner = app.signup("business").await;
    let res =
        app.send(Method::DELETE, &format!("/api/org/members/{}", owner.user_id), None, &owner.bearer()).await;
    assert_eq!(res.assert_error(422), "The last owner cannot leave: make another member an owner first");
    let (_, week) = invite(&app, &owner, "week@example.com", "member").await;
    // With a second owner, the first may leave; then the second is the last.
    let second = format!("second-{}", owner.email);
    let (_, token) = invite(&app, &owner, &second, "owner").await;
    let res = app
        .post("/api/auth/signup", json!({"email": second, "password": PASSWORD, "fullName": "Second", "role": "business", "invitationToken": token}), None)
        .await;
    let data = res.ok().clone();
    let second_bearer = format!("Bearer {}", data["accessToken"].as_str().unwrap());
    app.send(Method::DELETE, &format!("/api/org/members/{}", owner.user_id), None, &owner.bearer())
        .await
        .ok();
    let me = app.get("/api/me", Some(&owner.bearer())).await;
    assert_eq!(me.ok()["user"]["organizationId"], Value::Null);
    let id = data["user"]["userId"].as_str().unwrap();
    app.send(Method::DELETE, &format!("/api/org/members/{id}"), None, &second_bearer).await.assert_error(422);
    // An owner whose organization has members cannot walk off to another one.
    let other = app.signup("business").await;
    let res = app.post("/api/org/invitations", json!({"email": second}), Some(&other.bearer())).await;
    res.ok();
    app.drain_jobs().await;
    let token = token_mailed_to(&app, &second, "/app/invitations/accept");
    let joined = app.post("/api/org/invitations/accept", json!({"token": token}), Some(&second_bearer)).await;
    // `second` is the only member left: leaving an empty organization is allowed.
    assert_eq!(joined.ok()["organizationId"], other.organization_id.clone().unwrap());
    let boss = app.signup("business").await;
    let (_, t) = invite(&app, &boss, "staff@example.com", "member").await;
    app.post("/api/auth/signup", json!({"email": "staff@example.com", "password": PASSWORD, "fullName": "Staff", "role": "business", "invitationToken": t}), None)
        .await
        .ok();
    app.post("/api/org/invitations", json!({"email": boss.email}), Some(&other.bearer())).await.ok();
    app.drain_jobs().await;
    let token = token_mailed_to(&app, &boss.email, "/app/invitations/accept");
    let res = app.post("/api/org/invitations/accept", json!({"token": token}), Some(&boss.bearer())).await;
    assert!(res.assert_error(422).contains("last owner"));
    // Seven days later the first invitation no longer works.
    app.clock.advance_ms(7 * 24 * 60 * 60 * 1000 + 1);
    app.post("/api/auth/signup", json!({"email": "week@example.com", "password": PASSWORD, "fullName": "Week", "role": "business", "invitationToken": week}), None)
        .await
        .assert_error(422);
}

async fn notifications_have_a_read_state_per_reader(b: Backend) {
    use openscouter_server::domain::NotificationKind;
    use openscouter_server::services::notifications::{Notice, notify};
    use openscouter_server::store::Recipient;
    let Some(app) = app(b).await else { return };
    let owner = app.signup("business").await;
    let org = owner.organization_id.clone().unwrap();
    let colleague = format!("c-{}", owner.email);
    let (_, token) = invite(&app, &owner, &colleague, "member").await;
    let res = app
        .post("/api/auth/signup", json!({"email": colleague, "password": PASSWORD, "fullName": "C", "role": "business", "invitationToken": token}), None)
        .await;
    let member = format!("Bearer {}", res.ok()["accessToken"].as_str().unwrap());
    let kind = NotificationKind::ALL[0];
    for i in 0..2 {
        let notice =
            Notice { kind, title: format!("Notice {i}"), body: "b".into(), data: json!({}), once: None };
        notify(
            &app.state,
            Recipient::Organization(org.clone().into()),
            notice,
            Some(&org.clone().into()),
            None,
        )
        .await
        .unwrap();
    }
    let tester = app.signup("tester").await;
    let notice = Notice { kind, title: "Yours".into(), body: "b".into(), data: json!({}), once: None };
    notify(&app.state, Recipient::User(tester.user_id.clone().into()), notice, None, None).await.unwrap();
    let unread = |who: String| {
        let app = &app;
        async move { app.get("/api/me", Some(&who)).await.ok()["unreadNotifications"].as_u64().unwrap() }
    };
    assert_eq!(unread(owner.bearer()).await, 2);
    assert_eq!(unread(member.clone()).await, 2);
    let list = app.get("/api/notifications?unread=true", Some(&owner.bearer())).await;
    let first = list.ok()[0]["notificationId"].as_str().unwrap().to_owned();
    assert_eq!(list.ok()[0]["read"], false);
    app.post(&format!("/api/notifications/{first}/read"), json!({}), Some(&owner.bearer())).await.ok();
    app.post(&format!("/api/notifications/{first}/read"), json!({}), Some(&owner.bearer())).await.ok();
    assert_eq!(unread(owner.bearer()).await, 1);
    assert_eq!(unread(member.clone()).await, 2, "read state is per reader");
    let list = app.get("/api/notifications?unread=true", Some(&owner.bearer())).await;
    assert_eq!(list.body["metadata"]["total"], 1);
    let all = app.get("/api/notifications", Some(&owner.bearer())).await;
    assert_eq!(all.body["metadata"]["total"], 2);
    // Another tenant's notification: 404, whatever its id.
    let theirs = app.get("/api/notifications", Some(&tester.bearer())).await.ok()[0]["notificationId"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(&format!("/api/notifications/{theirs}/read"), json!({}), Some(&owner.bearer()))
        .await
        .assert_error(404);
    app.post("/api/notifications/ntf_nope/read", json!({}), Some(&owner.bearer())).await.assert_error(404);
    let res = app.post("/api/notifications/read-all", json!({}), Some(&member)).await;
    assert_eq!(res.ok()["marked"], 2);
    assert_eq!(unread(member).await, 0);
    assert_eq!(unread(tester.bearer()).await, 1);
    app.get("/api/notifications?unread=maybe", Some(&owner.bearer())).await.assert_error(400);
}

async fn connected_applications_are_listed_and_revoked(b: Backend) {
    let Some(app) = crate::oauth::app(b).await else { return };
    let ada = app.signup("business").await;
    let (client, access, _refresh) = crate::oauth::tokens_for(&app, &ada, &["read"]).await;
    let res = app.get("/api/oauth/connections", Some(&ada.bearer())).await;
    let list = res.ok().as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["clientId"], client);
    assert_eq!(list[0]["scopes"], json!(["read"]));
    let oauth = format!("Bearer {access}");
    app.get("/api/me", Some(&oauth)).await.ok();
    // Not with the client's own token, and not someone else's.
    app.get("/api/oauth/connections", Some(&oauth)).await.assert_error(403);
    let eve = app.signup("business").await;
    app.send(Method::DELETE, &format!("/api/oauth/connections/{client}"), None, &eve.bearer())
        .await
        .assert_error(404);
    app.send(Method::DELETE, &format!("/api/oauth/connections/{client}"), None, &ada.bearer()).await.ok();
    app.get("/api/me", Some(&oauth)).await.assert_error(401);
    assert!(app.get("/api/oauth/connections", Some(&ada.bearer())).await.ok().as_array().unwrap().is_empty());
    app.send(Method::DELETE, &format!("/api/oauth/connections/{client}"), None, &ada.bearer())
        .await
        .assert_error(404);
}

async fn unverified_accounts_can_be_held_back(b: Backend) {
    let Some(app) = TestApp::with(b, &[("OPENSCOUTER_REQUIRE_VERIFIED_EMAIL", "true")]).await else { return };
    let biz = app.signup("business").await;
    let job = app.post("/api/jobs", study_body(), Some(&biz.bearer())).await.ok()["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app.post(&format!("/api/jobs/{job}/launch"), json!({}), Some(&biz.bearer())).await;
    assert_eq!(res.assert_error(403), "Verify your email address before you launch a study");
    app.post("/api/auth/verify-email/request", json!({}), Some(&biz.bearer())).await.ok();
    app.drain_jobs().await;
    let token = token_mailed_to(&app, &biz.email, "/app/verify-email");
    app.post("/api/auth/verify-email", json!({"token": token}), None).await.ok();
    app.post(&format!("/api/jobs/{job}/launch"), json!({}), Some(&biz.bearer())).await.ok();
    let tester = app.tester().await;
    let res = app.post(&format!("/api/jobs/{job}/accept"), json!({}), Some(&tester.bearer())).await;
    assert_eq!(res.assert_error(403), "Verify your email address before you accept a study");
}
