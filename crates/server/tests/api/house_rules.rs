//! The house rules that a reviewer would otherwise check by hand, checked on the source: who may
//! make the unscoped tenant, that every store method reaching an organisation's data takes a
//! scope (or is listed here with the reason it needs none), and no quoted literal in SQL.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use crate::architecture::rust_files;

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn relative(p: &Path) -> String {
    p.strip_prefix(src()).unwrap().to_string_lossy().replace('\\', "/")
}

/// Where the unscoped tenant may be made: the store (which interprets scopes), the worker (the
/// system's authority for items queued for no organization), an admin's principal, and the
/// operator's cron route. Everywhere else the tenant comes from the caller or the row in hand.
const MAY_MAKE_ALL: [&str; 4] = ["store/", "worker/", "auth/principal.rs", "http/routes/cron.rs"];

#[test]
fn the_unscoped_tenant_is_made_only_by_the_worker_the_admin_and_the_store() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut offenders = Vec::new();
    for file in files {
        let rel = relative(&file);
        if MAY_MAKE_ALL.iter().any(|allowed| rel.starts_with(allowed)) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for needle in ["Tenant::All", "StudyScope::All"] {
                for (at, _) in code.match_indices(needle) {
                    let rest = code[at + needle.len()..].trim_start();
                    // A pattern (`Tenant::All =>`, `Tenant::All |`) reads the tenant, it does not make it.
                    let is_pattern = rest.starts_with("=>") || rest.starts_with('|');
                    if !is_pattern {
                        offenders.push(format!("{rel}:{}: {}", n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "Tenant::All made outside the worker/admin paths:\n{}",
        offenders.join("\n")
    );
}

/// Store methods that take no tenant, scope or owner, and why none is needed. A new method
/// must take one or be added here with its reason; a listed method that gained a scope (or
/// is gone) must leave the list.
const UNSCOPED: &[(&str, &str)] = &[
    // The secret presented is the authority: a token, code or link whose hash finds the row.
    ("find_credentials", "secret"),
    ("rotate_refresh_token", "secret"),
    ("api_token_for_auth", "secret"),
    ("touch_api_token", "secret"),
    ("take_oauth_consent", "secret"),
    ("get_oauth_code", "secret"),
    ("spend_oauth_code", "secret"),
    ("redeem_oauth_code", "secret"),
    ("revoke_oauth_code_grant", "secret"),
    ("get_oauth_refresh", "secret"),
    ("rotate_oauth_refresh", "secret"),
    ("revoke_oauth_token", "secret"),
    ("oauth_access_for_auth", "secret"),
    ("get_mcp_session", "secret"),
    ("share_by_token_hash", "secret"),
    ("session_for_test_token", "secret"),
    ("reset_password", "secret"),
    ("verify_email", "secret"),
    ("change_email", "secret"),
    ("invitation_by_token", "secret"),
    ("create_invited_user", "secret"),
    ("redeem_link_code", "secret"),
    // Inserts whose row names its owner (organization, user or recipient).
    ("create_user", "row names its owner"),
    ("create_api_token", "row names its owner"),
    ("put_payment", "row names its owner"),
    ("insert_connect_account", "row names its owner"),
    ("ensure_payout", "row names its owner"),
    ("reserve_payout_lines", "row names its owner"),
    ("record_quiz_attempt", "row names its owner"),
    ("create_notification", "row names its owner"),
    ("create_oauth_consent", "row names its owner"),
    ("create_oauth_code", "row names its owner"),
    ("create_mcp_session", "row names its owner"),
    ("enqueue", "row names its owner"),
    ("save_report", "row names its owner"),
    ("create_share", "row names its owner"),
    ("create_session", "row names its owner"),
    ("create_account_token", "row names its owner"),
    ("create_invitation", "row names its owner"),
    ("queue_message", "row names its owner"),
    ("create_endpoint", "row names its owner"),
    // The worker and the scheduler: sweeps across organizations and the queue's own rows.
    ("journaled_erasures", "system"),
    ("claim_next", "system"),
    ("renew_lease", "system"),
    ("complete_item", "system"),
    ("fail_item", "system"),
    ("sessions_waiting", "system"),
    ("defer_item", "system"),
    ("running_sessions", "system"),
    ("pending_starts", "system"),
    ("stalled_studies", "system"),
    ("flag_stalled", "system"),
    ("sessions_to_purge", "system"),
    ("purge_streams", "system"),
    ("get_stripe_event", "system"),
    ("mark_stripe_event_processed", "system"),
    ("claim_payout_line", "system"),
    ("finish_payout_line", "system"),
    ("studies_owing_payouts", "system"),
    ("get_bank_payout", "system"),
    ("set_bank_payout_retry", "system"),
    ("texts_quoting", "system"),
    ("rewrite_texts", "system"),
    ("offer_candidates", "system"),
    ("record_sent_offer", "system"),
    ("get_offer", "system"),
    ("finish_offer", "system"),
    ("get_message", "system"),
    ("finish_message", "system"),
    ("delivery_target", "system"),
    ("record_attempt", "system"),
    // Keyed by the provider's own id, arriving through its signed webhook.
    ("insert_stripe_event", "provider"),
    ("update_connect_account", "provider"),
    ("connect_account_by_stripe_id", "provider"),
    ("record_bank_payout", "provider"),
    ("unlink_chat", "provider"),
    ("user_of_chat", "provider"),
    // Not an organization's data: the platform's quiz and OAuth clients, staff-only lists.
    ("active_quiz", "platform"),
    ("quiz", "platform"),
    ("publish_quiz", "platform"),
    ("get_oauth_client", "platform"),
    ("register_oauth_client", "platform"),
    ("oauth_client_used", "platform"),
    ("list_audit", "staff"),
    ("list_testers", "staff"),
    ("study_exists", "existence only"),
    // The machinery: migrations, readiness, cache invalidation, pacing, update ids, ticks.
    ("migrate", "infrastructure"),
    ("ready", "infrastructure"),
    ("notify_invalidation", "infrastructure"),
    ("listen_invalidations", "infrastructure"),
    ("claim_tick", "infrastructure"),
    ("record_update", "infrastructure"),
    ("forget_update", "infrastructure"),
    ("prune_updates", "infrastructure"),
    ("pacer", "infrastructure"),
    ("take_slot", "infrastructure"),
    ("pause_pacer", "infrastructure"),
];

/// What marks a parameter as a scope: a tenant, a study scope, an owning organization or
/// user, a notification's recipient.
const SCOPE_MARKERS: [&str; 6] =
    ["Tenant", "StudyScope", "OrgId", "user_id: &UserId", "tester_id: &UserId", "Recipient"];

/// `(method, parameters)` of every `async fn` in the store's traits (`src/store/*.rs`).
fn store_methods() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(src().join("store")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("async fn ") {
            let after = &rest[at + "async fn ".len()..];
            let name_end = after.find('(').unwrap();
            let name = after[..name_end].trim().to_owned();
            let params_end = after.find("->").or_else(|| after.find(';')).unwrap();
            let params = after[name_end..params_end].split_whitespace().collect::<Vec<_>>().join(" ");
            // Trait methods only: the free functions here (connecting, backups) hold no tenant data.
            if params.contains("&self") {
                out.push((name, params));
            }
            rest = &after[params_end..];
        }
    }
    out
}

#[test]
fn every_store_method_takes_a_scope_or_says_why_not() {
    let methods = store_methods();
    assert!(methods.len() > 150, "found only {} store methods: the parser lost its way", methods.len());
    let listed = |name: &str| UNSCOPED.iter().any(|(n, _)| *n == name);
    let mut missing = Vec::new();
    let mut stale = Vec::new();
    for (name, params) in &methods {
        let scoped = SCOPE_MARKERS.iter().any(|m| params.contains(m));
        if !scoped && !listed(name) {
            missing.push(format!("{name}{params}"));
        }
        if scoped && listed(name) {
            stale.push(name.clone());
        }
    }
    for (name, _) in UNSCOPED {
        if !methods.iter().any(|(n, _)| n == name) {
            stale.push((*name).to_owned());
        }
    }
    assert!(
        missing.is_empty(),
        "store methods with no scope and no recorded reason:\n{}",
        missing.join("\n")
    );
    assert!(stale.is_empty(), "listed as unscoped but scoped now, or gone: {stale:?}");
}

/// The quoted literals on one line of code: two or more word characters between single
/// quotes (a char is one, a lifetime has no closing quote).
fn quoted_literals(code: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(open) = code[i..].find('\'').map(|o| o + i) {
        let Some(close) = code[open + 1..].find('\'').map(|c| c + open + 1) else { break };
        let inner = &code[open + 1..close];
        if inner.len() >= 2 && inner.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            found.push(inner);
        }
        i = close + 1;
    }
    found
}

#[test]
fn the_literal_finder_finds_literals_and_nothing_else() {
    assert_eq!(quoted_literals("\"UPDATE s SET status = 'done' WHERE id = $1\""), ["done"]);
    assert!(quoted_literals("impl<'q, DB> Encode<'q, DB> for T").is_empty());
    assert!(quoted_literals("text = CASE WHEN sensitive THEN '' ELSE text END, c = 'x'").is_empty());
}

#[test]
fn no_quoted_literal_in_sql_outside_the_migrations() {
    let mut files = Vec::new();
    rust_files(&src().join("store"), &mut files);
    let mut offenders = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            // SQLite's own catalogue names its rows by type.
            if code.contains("sqlite_master") {
                continue;
            }
            if !quoted_literals(code).is_empty() {
                offenders.push(format!("{}:{}: {}", relative(&file), n + 1, line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "quoted literals in SQL (bind an enum instead):\n{}", offenders.join("\n"));
}
