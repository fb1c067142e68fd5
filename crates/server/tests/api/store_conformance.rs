//! Store conformance: the same cases against SQLite and PostgreSQL, through the `Store` trait.

#![allow(clippy::unwrap_used)]

use openscouter_server::domain::ids::SessionId;
use openscouter_server::domain::study::{ConsentRecord, ConsentStreams};
use openscouter_server::domain::{Plan, Role, Scope, SessionStatus, Tenant};
use openscouter_server::store::{
    AuditEntry, EventFilter, EventRow, Guarded, NewApiToken, NewOrganization, NewRefreshToken, NewUser,
    NoteRow, Page, RefreshOutcome, Refusal, StoreError, StreamBatch,
};

use crate::both;
use crate::helpers::{Backend, TestApp};

both!(
    users_and_organizations,
    refresh_rotation_is_atomic,
    api_tokens_are_tenant_scoped,
    migrations_are_idempotent,
    ingest_rechecks_consent_and_tenant_in_its_transaction,
    session_children_are_tenant_scoped,
    session_streams_read_every_event_back_exactly,
    concurrent_batches_each_get_their_own_answer
);

fn user(id: &str, email: &str, role: Role) -> NewUser {
    NewUser {
        id: id.into(),
        email: email.into(),
        full_name: "N".into(),
        role,
        password_hash: "h".into(),
        created_at: 10,
    }
}

fn refresh(id: &str, hash: &str, now: i64) -> NewRefreshToken {
    NewRefreshToken { id: id.into(), token_hash: hash.into(), created_at: now, expires_at: now + 1000 }
}

async fn users_and_organizations(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let s = app.state.store.clone();
    let org = NewOrganization { id: "org_1".into(), name: "Acme".into(), created_at: 10 };
    let u = s.create_user(user("user_1", "a@x.io", Role::Business), Some(org)).await.unwrap();
    assert_eq!(u.organization_id.as_deref(), Some("org_1"));
    assert_eq!(u.status, openscouter_server::domain::UserStatus::Active);
    // duplicate email: conflict, and the second organization is rolled back
    let org2 = NewOrganization { id: "org_2".into(), name: "Dup".into(), created_at: 11 };
    let e = s.create_user(user("user_2", "a@x.io", Role::Business), Some(org2)).await.unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)));
    assert!(s.get_organization(&"org_2".into()).await.unwrap().is_none());
    assert!(s.get_user(&"user_2".into()).await.unwrap().is_none());

    assert_eq!(s.find_credentials("a@x.io").await.unwrap().unwrap().password_hash, "h");
    assert!(s.find_credentials("b@x.io").await.unwrap().is_none());
    assert_eq!(s.update_user_name(&"user_1".into(), "Renamed", 20).await.unwrap().full_name, "Renamed");
    assert!(matches!(s.update_user_name(&"user_nope".into(), "x", 20).await, Err(StoreError::NotFound)));

    let audit = |id: &str| AuditEntry {
        id: id.into(),
        actor_id: Some("user_admin".into()),
        action: "organization.plan_changed".into(),
        target_type: "organization".into(),
        target_id: "org_1".into(),
        details: "{}".into(),
        created_at: 30,
        request_id: None,
    };
    assert_eq!(
        s.set_organization_plan(&"org_1".into(), Plan::Pro, audit("aud_1")).await.unwrap().plan,
        Plan::Pro
    );
    // unknown organization: nothing changes, no audit entry
    assert!(matches!(
        s.set_organization_plan(&"org_x".into(), Plan::Pro, audit("aud_2")).await,
        Err(StoreError::NotFound)
    ));
    let (entries, total) = s.list_audit(Page { page: 1, limit: 10 }).await.unwrap();
    assert_eq!(total, 1);
    assert_eq!(entries[0].id, "aud_1");
}

async fn refresh_rotation_is_atomic(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let s = app.state.store.clone();
    s.create_user(user("user_1", "a@x.io", Role::Tester), None).await.unwrap();
    s.create_auth_session("asn_1", &"user_1".into(), refresh("rft_1", "h1", 100)).await.unwrap();
    assert!(s.principal_for_session("asn_1", &"user_1".into()).await.unwrap().is_some());
    assert!(s.principal_for_session("asn_1", &"user_other".into()).await.unwrap().is_none());

    // concurrent exchanges of one token: exactly one rotates, the other is reuse
    let (a, b2) = tokio::join!(
        s.rotate_refresh_token("h1", refresh("rft_2", "h2", 110), 110),
        s.rotate_refresh_token("h1", refresh("rft_3", "h3", 110), 110),
    );
    let outcomes = [a.unwrap(), b2.unwrap()];
    let rotated = outcomes.iter().filter(|o| matches!(o, RefreshOutcome::Rotated { .. })).count();
    let reused = outcomes.iter().filter(|o| matches!(o, RefreshOutcome::ReuseDetected)).count();
    assert_eq!((rotated, reused), (1, 1), "{outcomes:?}");
    // reuse revoked the family, including the token the winner received
    assert!(s.principal_for_session("asn_1", &"user_1".into()).await.unwrap().is_none());
    assert_eq!(
        s.rotate_refresh_token("h2", refresh("rft_4", "h4", 120), 120).await.unwrap(),
        RefreshOutcome::Invalid
    );
    assert_eq!(
        s.rotate_refresh_token("h3", refresh("rft_5", "h5", 120), 120).await.unwrap(),
        RefreshOutcome::Invalid
    );
    // expiry
    s.create_auth_session("asn_2", &"user_1".into(), refresh("rft_6", "h6", 200)).await.unwrap();
    assert_eq!(
        s.rotate_refresh_token("h6", refresh("rft_7", "h7", 1200), 1200).await.unwrap(),
        RefreshOutcome::Invalid
    );
}

async fn api_tokens_are_tenant_scoped(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let s = app.state.store.clone();
    s.create_user(
        user("user_1", "a@x.io", Role::Business),
        Some(NewOrganization { id: "org_1".into(), name: "A".into(), created_at: 1 }),
    )
    .await
    .unwrap();
    s.create_user(
        user("user_2", "b@x.io", Role::Business),
        Some(NewOrganization { id: "org_2".into(), name: "B".into(), created_at: 1 }),
    )
    .await
    .unwrap();
    for i in 0..3 {
        s.create_api_token(NewApiToken {
            id: format!("tok_{i}"),
            user_id: "user_1".into(),
            name: format!("t{i}"),
            token_hash: format!("hash{i}"),
            token_prefix: "ost_x".into(),
            scopes: vec![Scope::Read, Scope::Ingest],
            created_at: 100 + i,
            expires_at: if i == 2 { Some(500) } else { None },
        })
        .await
        .unwrap();
    }
    let (page, total) = s.list_api_tokens(&"user_1".into(), Page { page: 1, limit: 2 }).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(page.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["tok_2", "tok_1"]);
    let (page2, _) = s.list_api_tokens(&"user_1".into(), Page { page: 2, limit: 2 }).await.unwrap();
    assert_eq!(page2[0].id, "tok_0");
    assert_eq!(s.list_api_tokens(&"user_2".into(), Page { page: 1, limit: 20 }).await.unwrap().1, 0);

    let auth = s.api_token_for_auth("hash0", 200).await.unwrap().unwrap();
    assert_eq!(auth.principal.user_id, "user_1");
    assert_eq!(auth.scopes, vec![Scope::Read, Scope::Ingest]);
    assert!(s.api_token_for_auth("hash2", 600).await.unwrap().is_none(), "expired");
    // another tenant cannot revoke
    assert!(s.revoke_api_token(&"user_2".into(), "tok_0", 300).await.unwrap().is_none());
    assert!(s.api_token_for_auth("hash0", 300).await.unwrap().is_some());
    let revoked = s.revoke_api_token(&"user_1".into(), "tok_0", 300).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(300));
    // revoking again keeps the first time
    assert_eq!(
        s.revoke_api_token(&"user_1".into(), "tok_0", 400).await.unwrap().unwrap().revoked_at,
        Some(300)
    );
    assert!(s.api_token_for_auth("hash0", 301).await.unwrap().is_none());
    s.touch_api_token("tok_1", 777).await.unwrap();
    assert_eq!(s.api_token_for_auth("hash1", 800).await.unwrap().unwrap().last_used_at, Some(777));
}

async fn migrations_are_idempotent(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    assert_eq!(app.state.store.migrate().await.unwrap(), 0);
    assert!(app.state.store.ready().await.unwrap());
}

fn click(id: &str, ts: i64) -> EventRow {
    EventRow {
        id: id.into(),
        client_id: None,
        ts,
        event_type: "click".into(),
        target_selector: "#pay".into(),
        x: None,
        y: None,
        scroll_y: None,
        input_length: None,
        viewport_width: None,
        viewport_height: None,
        url: None,
        target_text: None,
        task_id: None,
        hover_ms: None,
        error_message: None,
        extra: Default::default(),
    }
}

/// A consent withdrawal that lands after the ingestion service read the session (the race a
/// check outside the transaction would lose): the store refuses the batch, storing nothing.
async fn ingest_rechecks_consent_and_tenant_in_its_transaction(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let live = app.live_session().await;
    let sid = SessionId::from(live.sid.as_str());
    let s = app.state.store.clone();
    let tester = Tenant::Tester(live.tester.user_id.clone().into());
    let now = app.state.now();
    let batch = || StreamBatch::Events(vec![click("evt_race", now)]);
    let withdrawn =
        ConsentRecord { version: "v2".into(), streams: ConsentStreams::default(), given_at: String::new() };
    let g = s.set_consent(&tester, &sid, &[SessionStatus::Active], &withdrawn, now).await.unwrap();
    assert!(matches!(g, Guarded::Done(())));
    let out = s.ingest(&tester, &sid, SessionStatus::Active, batch()).await.unwrap();
    assert!(matches!(out, Guarded::WrongState(Refusal::NoConsent)), "{out:?}");
    // Another tester, or a business tenant, cannot write into the session at all.
    let other = Tenant::Tester("user_someone_else".into());
    assert!(matches!(
        s.ingest(&other, &sid, SessionStatus::Active, batch()).await.unwrap(),
        Guarded::NotFound
    ));
    let org = Tenant::Organization(live.biz.organization_id.clone().unwrap().into());
    assert!(matches!(s.ingest(&org, &sid, SessionStatus::Active, batch()).await.unwrap(), Guarded::NotFound));
    let (rows, total) = s
        .list_events(&Tenant::All, &sid, &EventFilter::default(), Page { page: 1, limit: 10 })
        .await
        .unwrap();
    assert_eq!((rows.len(), total), (0, 0), "nothing was stored");
    // A session that is no longer running refuses consent changes in the same transaction.
    let g = s.set_consent(&tester, &sid, &[SessionStatus::Paused], &withdrawn, now).await.unwrap();
    assert!(matches!(g, Guarded::WrongState(Refusal::Session(SessionStatus::Active))), "{g:?}");
}

/// Notes, events, attempts and findings of a session are filtered by tenant in the store.
async fn session_children_are_tenant_scoped(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let live = app.live_session().await;
    let sid = SessionId::from(live.sid.as_str());
    let s = app.state.store.clone();
    let owner = Tenant::Tester(live.tester.user_id.clone().into());
    let org = Tenant::Organization(live.biz.organization_id.clone().unwrap().into());
    let stranger = Tenant::Organization("org_stranger".into());
    let note =
        NoteRow { id: "note_1".into(), ts: app.state.now(), text: "hmm".into(), created_at: app.state.now() };
    assert!(matches!(s.add_note(&stranger, &sid, note.clone()).await.unwrap(), Guarded::NotFound));
    assert!(matches!(s.add_note(&owner, &sid, note).await.unwrap(), Guarded::Done(())));
    let page = Page { page: 1, limit: 10 };
    assert_eq!(s.list_notes(&org, &sid, page).await.unwrap().1, 1);
    assert_eq!(s.list_notes(&owner, &sid, page).await.unwrap().1, 1);
    assert_eq!(s.list_notes(&stranger, &sid, page).await.unwrap(), (vec![], 0));
    assert!(s.list_findings(&stranger, &sid).await.unwrap().is_empty());
    assert!(s.list_attempts(&stranger, &sid).await.unwrap().is_empty());
    assert!(matches!(s.session_streams(&stranger, &sid).await, Err(StoreError::NotFound)));
    assert_eq!(s.session_streams(&org, &sid).await.unwrap().notes.len(), 1);
    assert!(s.get_session(&stranger, &sid).await.unwrap().is_none());
    // What a worker or a page reads by session or by study id alone is scoped too.
    assert_eq!(s.think_aloud_items(&org, &sid).await.unwrap(), 1);
    assert_eq!(s.think_aloud_items(&stranger, &sid).await.unwrap(), 0);
    assert!(s.last_item_at(&owner, &sid).await.unwrap().is_some());
    assert!(s.last_item_at(&stranger, &sid).await.unwrap().is_none());
    let study = s.get_session(&org, &sid).await.unwrap().unwrap().study_id;
    let active = SessionStatus::Active;
    assert_eq!(s.sessions_in(&org, &study, active).await.unwrap(), vec![sid.clone()]);
    assert!(s.sessions_in(&stranger, &study, active).await.unwrap().is_empty());
    assert_eq!(s.payable_sessions(&org, &study, active).await.unwrap().len(), 1);
    assert!(s.payable_sessions(&stranger, &study, active).await.unwrap().is_empty());
    assert_eq!(s.pipeline_counts(&org, &study).await.unwrap().len(), 1);
    assert!(s.pipeline_counts(&stranger, &study).await.unwrap().is_empty());
    assert_eq!(s.study_tester_categories(&org, &study).await.unwrap().len(), 1);
    assert!(s.study_tester_categories(&stranger, &study).await.unwrap().is_empty());
    assert!(s.payout_lines(&stranger, &study).await.unwrap().is_empty());
    assert!(s.offer_counts(&stranger, &study).await.unwrap().is_empty());
    let collecting = openscouter_server::domain::PipelineStatus::Collecting;
    let confirmed = SessionStatus::Confirmed;
    assert_eq!(s.sessions_with_pipeline(&org, &study, collecting, confirmed).await.unwrap().len(), 1);
    assert!(s.sessions_with_pipeline(&stranger, &study, collecting, confirmed).await.unwrap().is_empty());
    let org_id = live.biz.organization_id.clone().unwrap();
    let invitation = openscouter_server::store::NewInvitation {
        id: "inv_1".into(),
        organization_id: org_id.clone().into(),
        email: "new@example.com".into(),
        org_role: openscouter_server::domain::OrgRole::Member,
        invited_by: live.biz.user_id.clone(),
        created_at: app.state.now(),
        expires_at: app.state.now() + 60_000,
    };
    s.create_invitation(invitation).await.unwrap();
    assert!(s.get_invitation(&stranger, "inv_1").await.unwrap().is_none());
    s.set_invitation_token(&stranger, "inv_1", "hash_by_stranger").await.unwrap();
    assert!(
        s.invitation_by_token("hash_by_stranger", app.state.now()).await.unwrap().is_none(),
        "another tenant wrote nothing"
    );
    assert!(s.get_invitation(&org, "inv_1").await.unwrap().is_some());
    s.set_invitation_token(&org, "inv_1", "hash_by_owner").await.unwrap();
    assert!(s.invitation_by_token("hash_by_owner", app.state.now()).await.unwrap().is_some());
    s.save_realtime(&stranger, &sid, "{\"x\":1}", app.state.now()).await.unwrap();
    assert!(
        s.get_session(&org, &sid).await.unwrap().unwrap().realtime.is_none(),
        "another tenant wrote nothing"
    );
    s.save_realtime(&org, &sid, "{\"x\":1}", app.state.now()).await.unwrap();
    assert!(s.get_session(&org, &sid).await.unwrap().unwrap().realtime.is_some());
}

/// What the engine reads back is what was stored, field for field and bit for bit, in
/// `(ts, seq)` order, across the chunks `session_streams` reads events in (2,000 each):
/// coordinates without a short decimal form, text that JSON must escape, booleans, nulls.
/// (At extreme exponents, 1e250, SQLite's own decimal output of a REAL can be an ulp or two
/// off; the engine reads pixels, and the JSON parse on the way in is no closer there.)
async fn session_streams_read_every_event_back_exactly(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let live = app.live_session().await;
    let s = app.state.store.clone();
    let tester = Tenant::Tester(live.tester.user_id.clone().into());
    let now = app.state.now();
    let texts = ["plain", "quote \" and \\ back", "line\nbreak\ttab", "ünïcödé ✓ 🚀", "NULL", "", "\u{1}"];
    let events: Vec<EventRow> = (0..4_500i64)
        .map(|i| {
            let mut e = click(&format!("evt_{i:05}"), now - 10_000 + (i * 7919) % 4_001);
            let f = i as f64;
            e.client_id = (i % 3 == 0).then(|| format!("c{i}"));
            e.event_type = ["click", "input", "scroll", "navigation"][(i % 4) as usize].into();
            e.target_selector = format!("#el{} > {}", i % 40, texts[(i % 7) as usize]);
            e.x = (i % 5 != 0).then_some(f / 3.0);
            e.y = (i % 6 != 0).then_some(0.1 * f + 1e-9);
            // Any bits from 0 up to 1e9 (the pseudo-random `r`), thirds, sevenths, tiny and zero.
            let r = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
            e.scroll_y = match i % 5 {
                0 => None,
                1 => Some(r as f64 / (1u64 << 53) as f64 * 1e9),
                2 => Some(-f / 7.0),
                3 => Some(f * 1e-7 / 3.0),
                _ => Some(0.0),
            };
            e.input_length = (i % 2 == 0).then_some(i);
            e.viewport_width = Some(1280);
            e.viewport_height = (i % 9 != 0).then_some(720);
            e.url = Some(format!("https://x.io/p{}?q={}", i % 11, texts[(i % 5) as usize]));
            e.target_text = (i % 4 != 1).then(|| texts[(i % 7) as usize].to_string());
            e.task_id = (i % 8 == 0).then(|| "task_1".into());
            e.hover_ms = (i % 10 == 0).then_some(i * 3);
            e.error_message = (i % 13 == 0).then(|| "Card \"declined\"".into());
            e.extra.deletions = (i % 5 == 1).then_some(2);
            e.extra.selection_length = (i % 5 == 2).then_some(0);
            e.extra.mutations = (i % 5 == 3).then_some(i64::MAX);
            e.extra.opens_new_context = [None, Some(true), Some(false)][(i % 3) as usize];
            e.extra.role = (i % 6 == 5).then(|| "button".into());
            e.extra.word_count = (i % 7 == 6).then_some(-1);
            e
        })
        .collect();
    let out = s
        .ingest(
            &tester,
            &SessionId::from(live.sid.as_str()),
            SessionStatus::Active,
            StreamBatch::Events(events.clone()),
        )
        .await
        .unwrap();
    assert!(matches!(out, Guarded::Done(_)), "{out:?}");
    let mut expected = events;
    expected.sort_by_key(|e| e.ts); // stable: equal times keep their (seq) order of arrival
    let got = s.session_streams(&tenant_of(&live), &SessionId::from(live.sid.as_str())).await.unwrap().events;
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g, e);
        for (a, b) in [(g.x, e.x), (g.y, e.y), (g.scroll_y, e.scroll_y)] {
            assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits), "{}", e.id);
        }
    }
}

fn tenant_of(live: &crate::helpers::Live) -> Tenant {
    Tenant::Organization(live.biz.organization_id.clone().unwrap().into())
}

/// Batches sent at once (on SQLite they share one group commit, decision 234) are each checked
/// against their own caller and session, and each answer counts only its own rows.
async fn concurrent_batches_each_get_their_own_answer(b: Backend) {
    let Some(app) = TestApp::new(b).await else { return };
    let (a, bee) = (app.live_session().await, app.live_session().await);
    let (sa, sb) = (SessionId::from(a.sid.as_str()), SessionId::from(bee.sid.as_str()));
    let s = app.state.store.clone();
    let tester = |l: &crate::helpers::Live| Tenant::Tester(l.tester.user_id.clone().into());
    let (ta, tb) = (tester(&a), tester(&bee));
    let now = app.state.now();
    let no_facial = ConsentRecord {
        version: "v2".into(),
        streams: ConsentStreams { events: true, ..Default::default() },
        given_at: String::new(),
    };
    s.set_consent(&ta, &sa, &[SessionStatus::Active], &no_facial, now).await.unwrap();
    let clicks = |ids: &[&str]| {
        StreamBatch::Events(
            ids.iter()
                .enumerate()
                .map(|(i, c)| EventRow {
                    client_id: Some((*c).into()),
                    ..click(&format!("evt_{}_{c}_{i}", ids.len()), now + i as i64)
                })
                .collect(),
        )
    };
    let facial = StreamBatch::Facial(vec![openscouter_server::store::FacialRow {
        id: "fac_1".into(),
        client_id: None,
        ts: now,
        emotion: "sad".into(),
        confidence: 0.9,
        face_detected: true,
        action_units: None,
        capture_interval_ms: None,
    }]);
    let org = Tenant::Organization(a.biz.organization_id.clone().unwrap().into());
    let active = SessionStatus::Active;
    let (first, again, stranger, other, no_consent, business, system) = tokio::join!(
        s.ingest(&ta, &sa, active, clicks(&["c1", "c2", "c3"])),
        s.ingest(&ta, &sa, active, clicks(&["c1", "c2", "c3", "c4"])),
        s.ingest(&tb, &sa, active, clicks(&["x1"])),
        s.ingest(&tb, &sb, active, clicks(&["b1", "b2"])),
        s.ingest(&ta, &sa, active, facial),
        s.ingest(&org, &sa, active, clicks(&["o1"])),
        s.ingest(&Tenant::All, &sb, active, clicks(&["s1"])),
    );
    let counts = |g: Guarded<openscouter_server::store::IngestCounts>| match g {
        Guarded::Done(c) => Some((c.stored, c.duplicates)),
        _ => None,
    };
    // The two batches to the same session: whichever ran first stored its rows, the other
    // stored only what was new; together, four rows and three duplicates.
    let (f, g) = (counts(first.unwrap()).unwrap(), counts(again.unwrap()).unwrap());
    assert_eq!((f.0 + g.0, f.1 + g.1), (4, 3), "{f:?} {g:?}");
    assert!(matches!(stranger.unwrap(), Guarded::NotFound));
    assert_eq!(counts(other.unwrap()), Some((2, 0)));
    assert!(matches!(no_consent.unwrap(), Guarded::WrongState(Refusal::NoConsent)));
    assert!(matches!(business.unwrap(), Guarded::NotFound));
    assert_eq!(counts(system.unwrap()), Some((1, 0)));
    let total = |sid: SessionId| {
        let s = s.clone();
        async move {
            s.list_events(&Tenant::All, &sid, &EventFilter::default(), Page { page: 1, limit: 50 })
                .await
                .unwrap()
                .1
        }
    };
    assert_eq!((total(sa.clone()).await, total(sb.clone()).await), (4, 3));
    // A session that stopped taking data refuses its batch while others in flight are stored.
    app.post(&format!("/api/sessions/{}/pause", a.sid), serde_json::json!({}), Some(&a.tt)).await.ok();
    let (late, fine) = tokio::join!(
        s.ingest(&ta, &sa, active, clicks(&["late"])),
        s.ingest(&tb, &sb, active, clicks(&["b3"])),
    );
    let late = late.unwrap();
    assert!(matches!(late, Guarded::WrongState(Refusal::Session(SessionStatus::Paused))), "{late:?}");
    assert_eq!(counts(fine.unwrap()), Some((1, 0)));
}
