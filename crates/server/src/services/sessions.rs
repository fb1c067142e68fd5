//! Sessions (tests): creation with test tokens and variant assignment, who may read or control
//! a session, the state machine, consent, notes and feedback.

use crate::auth::principal::{AuthMethod, Principal};
use crate::auth::secrets::{new_hex_token, sha256_hex};
use crate::domain::Role;
use crate::domain::ids::{new_id, prefix};
use crate::error::{ApiError, ApiResult};
use crate::services::studies::{self, StudyIn};
use crate::state::AppState;
use crate::store::{
    CreateSessionOutcome, Guarded, NewSession, Session, SessionChange, SessionScope, StudyScope,
};

/// Test-token lifetime (spec §1.4: 24 h).
pub const TEST_TOKEN_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// What the caller wants to do with a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read it, its events, notes, export: owner tester, the study's business, admin.
    Read,
    /// Pause, resume, complete, consent, notes, feedback: owner tester, its test token, admin.
    Control,
    /// Stream data in: owner tester or its test token; nobody else.
    Ingest,
}

/// The session if `p` may do `access` on it; 404 when it is not visible, 403 when visible but
/// not allowed.
pub async fn authorize(
    state: &AppState,
    p: &Principal,
    session_id: &str,
    access: Access,
) -> ApiResult<Session> {
    if let AuthMethod::TestToken { session_id: bound } = &p.method {
        if bound != session_id {
            return Err(ApiError::Forbidden("This test token belongs to another session".into()));
        }
        if access == Access::Read {
            return Err(ApiError::Forbidden("A test token cannot read session data".into()));
        }
        return state
            .store
            .get_session(&SessionScope::All, session_id)
            .await?
            .ok_or_else(|| ApiError::not_found("Session"));
    }
    let scope = match p.role {
        Role::Admin => SessionScope::All,
        Role::Tester => SessionScope::Tester(p.user_id.clone()),
        Role::Business => SessionScope::Organization(
            p.organization_id.clone().ok_or_else(|| ApiError::Forbidden("No organization".into()))?,
        ),
    };
    let session =
        state.store.get_session(&scope, session_id).await?.ok_or_else(|| ApiError::not_found("Session"))?;
    let allowed = matches!(
        (access, p.role),
        (Access::Read, _) | (Access::Control, Role::Tester | Role::Admin) | (Access::Ingest, Role::Tester)
    );
    if allowed { Ok(session) } else { Err(ApiError::Forbidden("You may not change this session".into())) }
}

/// A created session with its test token (shown once).
pub struct Created {
    pub session: Session,
    pub test_token: String,
}

/// Starts a session for `tester_id` in `study_id` (the tester must have accepted it).
pub async fn create(
    state: &AppState,
    p: &Principal,
    study_id: &str,
    tester_id: &str,
    variant: Option<String>,
) -> ApiResult<Created> {
    match p.role {
        Role::Tester if p.user_id == tester_id => {}
        Role::Tester => return Err(ApiError::Forbidden("Testers can only start their own sessions".into())),
        Role::Admin => {}
        Role::Business => return Err(ApiError::Forbidden("Only testers (or admins) start sessions".into())),
    }
    let study = state
        .store
        .get_study(&StudyScope::All, study_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Study"))?;
    let definition: StudyIn = serde_json::from_str(&study.definition).map_err(ApiError::internal)?;
    let ab = definition.ab_test.filter(|a| a.enabled);
    if let Some(v) = &variant {
        let known = ab.as_ref().is_some_and(|a| a.split_ratio.contains_key(v));
        if !known {
            return Err(ApiError::Unprocessable(format!(
                "variant: {v:?} is not a variant of this study's A/B test"
            )));
        }
    }
    let now = state.now();
    let test_token = new_hex_token(24);
    let new = NewSession {
        id: new_id(prefix::SESSION, now),
        study_id: study_id.to_owned(),
        tester_id: tester_id.to_owned(),
        token_hash: sha256_hex(&test_token),
        token_expires_at: now + TEST_TOKEN_TTL_MS,
        now,
    };
    let chooser = move |counts: &[(String, i64)]| {
        variant.clone().or_else(|| studies::choose_variant(ab.as_ref(), counts))
    };
    match state.store.create_session(new, &chooser).await? {
        CreateSessionOutcome::Created(id) => {
            let session = state
                .store
                .get_session(&SessionScope::All, &id)
                .await?
                .ok_or_else(|| ApiError::not_found("Session"))?;
            Ok(Created { session, test_token })
        }
        CreateSessionOutcome::StudyNotFound => Err(ApiError::not_found("Study")),
        CreateSessionOutcome::StudyNotOpen(s) => {
            Err(ApiError::Unprocessable(format!("The study is {s}; sessions need an open study")))
        }
        CreateSessionOutcome::NotAccepted => {
            Err(ApiError::Unprocessable("The tester has not accepted this study".into()))
        }
        CreateSessionOutcome::AlreadyExists => {
            Err(ApiError::Unprocessable("The tester already has a session in this study".into()))
        }
    }
}

/// Applies a state change, with a 422 naming the current state when it does not apply.
pub async fn change(state: &AppState, session: &Session, change: SessionChange) -> ApiResult<Session> {
    let (from, verb): (&[&str], &str) = match change {
        SessionChange::Pause => (&["active"], "pause"),
        SessionChange::Resume => (&["paused"], "resume"),
        SessionChange::Complete { .. } => (&["active", "paused"], "complete"),
    };
    match state.store.change_session(&session.id, from, change, state.now()).await? {
        Guarded::Done(s) => Ok(s),
        Guarded::NotFound => Err(ApiError::not_found("Session")),
        Guarded::WrongState(s) => {
            Err(ApiError::Unprocessable(format!("Cannot {verb} a session that is {s}")))
        }
    }
}

/// Seconds of testing: from start to completion (or now), pauses excluded.
pub fn duration_seconds(s: &Session, now: i64) -> i64 {
    let end = s.completed_at.unwrap_or(now);
    let paused_now = s.paused_at.map_or(0, |p| (now - p).max(0));
    ((end - s.started_at - s.paused_ms - paused_now).max(0)) / 1000
}
