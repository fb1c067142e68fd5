//! The study report as a research tool (issue #26): sessions excluded from the synthesis with
//! the reason kept, the report re-synthesised live for a segment (ND category, variant, task
//! outcome), the report's tables as CSV, the testers' own words on a session page, and
//! revocable read-only share links (token hashed at rest, compared in constant time).

use std::collections::BTreeSet;

use openscouter_analysis::{Outcome, StudyReport};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::auth::principal::Principal;
use crate::auth::secrets::{ct_eq, new_opaque_token, sha256_hex};
use crate::domain::ids::{SessionId, StudyId, new_id, prefix};
use crate::domain::{Role, Tenant};
use crate::error::{AppError, AppResult};
use crate::services::sessions::{self, Access};
use crate::services::{analysis_input, reports, studies};
use crate::store::{Page, ReportRow, Session, ShareRow, Study, StudyScope};

/// The longest reason kept for an exclusion.
pub const MAX_REASON_CHARS: usize = 500;
/// Share links live at most this long.
pub const MAX_SHARE_DAYS: i64 = 90;
/// The prefix of a share link's token.
pub const SHARE_TOKEN_PREFIX: &str = "oss_";
const DAY_MS: i64 = 86_400_000;

fn business_only(p: &Principal) -> AppResult<Tenant> {
    match p.tenant()? {
        Tenant::Tester(_) => Err(AppError::Forbidden("Only the study's business may do this".into())),
        t => Ok(t),
    }
}

/// Excludes a session from its study's synthesis with `reason` (`None` includes it again),
/// then queues the study report again when it has a confirmed session, so the report follows.
pub async fn set_exclusion(
    state: &App,
    caller: &Principal,
    session_id: &SessionId,
    reason: Option<&str>,
) -> AppResult<Session> {
    let tenant = business_only(caller)?;
    let reason = match reason.map(str::trim) {
        None => None,
        Some("") => return Err(AppError::Unprocessable("reason: say why the session is left out".into())),
        Some(r) if r.chars().count() > MAX_REASON_CHARS => {
            return Err(AppError::Unprocessable(format!("reason: at most {MAX_REASON_CHARS} characters")));
        }
        Some(r) if r.chars().any(|c| c.is_control() && c != '\n') => {
            return Err(AppError::Unprocessable("reason: control characters are not allowed".into()));
        }
        Some(r) => Some(r),
    };
    let s = sessions::authorize(state, caller, session_id, Access::Read).await?;
    if !state.store.set_session_exclusion(&tenant, session_id, reason.map(|r| (r, state.now()))).await? {
        return Err(AppError::not_found("Session"));
    }
    match reports::request_study_report(state, caller, &s.study_id).await {
        Ok(_) | Err(AppError::Unprocessable(_)) => {}
        Err(e) => return Err(e),
    }
    sessions::authorize(state, caller, session_id, Access::Read).await
}

/// A segment of the study: the confirmed sessions of testers in an ND category, of a variant,
/// or with a task attempt of an outcome (all optional, combined with AND).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportFilter {
    /// An ND category at least 2 of the study's testers share.
    #[serde(default, deserialize_with = "empty_none")]
    pub nd: Option<String>,
    /// A/B variant label.
    #[serde(default, deserialize_with = "empty_none")]
    pub variant: Option<String>,
    /// `success`, `indirect`, `fail` or `abandon`.
    #[serde(default, deserialize_with = "empty_none")]
    pub outcome: Option<String>,
}

/// A form's empty select (`?nd=`) is no filter.
fn empty_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v: Option<String> = Option::deserialize(d)?;
    Ok(v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()))
}

impl ReportFilter {
    /// True when no filter is set.
    pub fn is_empty(&self) -> bool {
        self.nd.is_none() && self.variant.is_none() && self.outcome.is_none()
    }

    fn outcome(&self) -> AppResult<Option<Outcome>> {
        self.outcome
            .as_deref()
            .map(|o| {
                serde_json::from_value(serde_json::Value::String(o.to_owned())).map_err(|_| {
                    AppError::Unprocessable("outcome: must be success, indirect, fail or abandon".into())
                })
            })
            .transpose()
    }

    /// The query string of this filter (`nd=…&variant=…`), empty without one.
    pub fn query(&self) -> String {
        serde_urlencoded::to_string(self).unwrap_or_default()
    }
}

/// What a segment gives: its report, or the reason it cannot be shown.
#[derive(Debug)]
pub enum Segment {
    /// The report re-synthesised from the segment's sessions, and their ids.
    Report(Box<StudyReport>, Vec<String>),
    /// No confirmed session is in the segment.
    Empty,
    /// The segment names an ND category and holds fewer than 2 testers: not shown
    /// (analysis.md §4, the same rule as the strata).
    Suppressed,
}

/// The options a filter form offers: the nameable ND categories and the variants seen.
pub async fn filter_options(state: &App, study: &Study) -> AppResult<(Vec<String>, Vec<String>)> {
    let nd: Vec<String> =
        sessions::nameable_categories(state, &study.owner(), &study.id).await?.into_iter().collect();
    let mut variants: Vec<String> = study
        .definition
        .ab_test
        .as_ref()
        .map(|a| a.split_ratio.keys().cloned().collect())
        .unwrap_or_default();
    variants.sort();
    variants.dedup();
    Ok((nd, variants))
}

/// The study report re-synthesised live for the segment `filter` (no LLM wording: the
/// deterministic summary). Refuses a category too few testers share, as the strata do.
pub async fn segment(
    state: &App,
    caller: &Principal,
    study_id: &StudyId,
    filter: &ReportFilter,
) -> AppResult<Segment> {
    business_only(caller)?;
    let study = studies::get_visible(state, caller, study_id).await?;
    let outcome = filter.outcome()?;
    if let Some(nd) = &filter.nd
        && !sessions::nameable_categories(state, &study.owner(), &study.id).await?.contains(nd)
    {
        return Ok(Segment::Suppressed);
    }
    if filter.variant.as_deref().is_some_and(|v| v.chars().count() > 40) {
        return Err(AppError::Unprocessable("variant: at most 40 characters".into()));
    }
    let (kept, _) = reports::cohort(state, &study).await?;
    let mut confirmed = Vec::new();
    for s in kept {
        if filter.variant.is_some() && s.variant != filter.variant {
            continue;
        }
        if let Some(nd) = &filter.nd
            && !analysis_input::nd_categories(&s).contains(nd)
        {
            continue;
        }
        // The outcome is read from the streams, so only the matching sessions are analysed.
        let input = analysis_input::load(state, &s, &study).await?;
        if outcome.is_some_and(|o| !input.task_attempts.iter().any(|a| a.outcome == o)) {
            continue;
        }
        confirmed.push(reports::confirmed_from_input(state, &s, input).await?);
    }
    if confirmed.is_empty() {
        return Ok(Segment::Empty);
    }
    let testers: BTreeSet<&str> = confirmed.iter().map(|c| c.input.session.tester_label.as_str()).collect();
    if filter.nd.is_some() && testers.len() < sessions::MIN_TESTERS_PER_CATEGORY {
        return Ok(Segment::Suppressed);
    }
    let ids: Vec<String> = confirmed.iter().map(|c| c.input.session.session_id.clone()).collect();
    let meta = reports::study_meta(&study);
    let report =
        tokio::task::spawn_blocking(move || openscouter_analysis::synthesize_study(&confirmed, &meta))
            .await
            .map_err(AppError::internal)?;
    Ok(Segment::Report(Box::new(report), ids))
}

/// Which table of the report a CSV holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CsvTable {
    Findings,
    Tasks,
}

/// A CSV cell: quoted when needed, and a leading `=`, `+`, `-`, `@` (a spreadsheet formula)
/// defused with an apostrophe.
fn cell(s: &str) -> String {
    let s = s.replace('\0', "\u{FFFD}");
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

fn num(v: Option<f64>) -> String {
    v.map(|x| format!("{x}")).unwrap_or_default()
}

/// One table of a study report as CSV (header line first, `\n` line ends). Only what the
/// report holds: confirmed, merged findings and task metrics; no tester is named.
pub fn report_csv(r: &StudyReport, table: CsvTable) -> String {
    let mut out = String::new();
    match table {
        CsvTable::Findings => {
            out.push_str("findingId,title,severity,wcagCriterion,wcagName,prevalence,testersAffected,ndCategories,taskId,urlPath,selector,dominantSignal,plainDescription,recommendation,sessions\n");
            for f in &r.findings {
                let sev = serde_json::to_value(f.severity).ok().and_then(|v| v.as_str().map(str::to_owned));
                let sig =
                    serde_json::to_value(f.dominant_signal).ok().and_then(|v| v.as_str().map(str::to_owned));
                let row = [
                    cell(&f.finding_id),
                    cell(&f.title),
                    cell(&sev.unwrap_or_default()),
                    cell(f.wcag.as_ref().map_or("", |w| w.criterion.as_str())),
                    cell(f.wcag.as_ref().map_or("", |w| w.name.as_str())),
                    num(f.prevalence),
                    f.testers_affected.to_string(),
                    cell(&f.nd_categories.join("; ")),
                    cell(f.task_id.as_deref().unwrap_or("")),
                    cell(f.url_path.as_deref().unwrap_or("")),
                    cell(f.selector.as_deref().unwrap_or("")),
                    cell(&sig.unwrap_or_default()),
                    cell(&f.plain_description),
                    cell(&f.recommendation),
                    f.session_ids.len().to_string(),
                ];
                out.push_str(&row.join(","));
                out.push('\n');
            }
        }
        CsvTable::Tasks => {
            out.push_str("taskId,title,attempts,success,indirect,fail,abandon,successRate,ci95Low,ci95High,timeOnTaskGeoMeanSeconds,seqMean,lostness\n");
            for t in &r.tasks {
                let row = [
                    cell(&t.task_id),
                    cell(&t.title),
                    t.attempts.to_string(),
                    t.outcomes.success.to_string(),
                    t.outcomes.indirect.to_string(),
                    t.outcomes.fail.to_string(),
                    t.outcomes.abandon.to_string(),
                    num(Some(t.success_rate)),
                    num(Some(t.ci95[0])),
                    num(Some(t.ci95[1])),
                    num(t.time_on_task_geo_mean_seconds),
                    num(t.seq_mean),
                    num(t.lostness),
                ];
                out.push_str(&row.join(","));
                out.push('\n');
            }
        }
    }
    out
}

/// The newest study report, parsed, with its row (creation time, id).
pub async fn latest_report(
    state: &App,
    caller: &Principal,
    study_id: &StudyId,
) -> AppResult<Option<(ReportRow, StudyReport)>> {
    let Some(row) = reports::latest_for_study(state, caller, study_id).await? else { return Ok(None) };
    let report = serde_json::from_str(&row.data).map_err(AppError::internal)?;
    Ok(Some((row, report)))
}

/// A share link as its owner sees it (the token only once, on creation).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShareOut {
    pub share_id: String,
    pub job_id: String,
    pub created_at: String,
    pub expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    pub status: crate::domain::ShareStatus,
    /// The link's secret, shown once: the page is `/app/share/<token>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl ShareOut {
    fn of(s: &ShareRow, now: i64, token: Option<String>) -> Self {
        use crate::domain::ShareStatus;
        let status = if s.revoked_at.is_some() {
            ShareStatus::Revoked
        } else if s.expires_at <= now {
            ShareStatus::Expired
        } else {
            ShareStatus::Active
        };
        Self {
            share_id: s.id.clone(),
            job_id: s.study_id.to_string(),
            created_at: crate::domain::format_ms(s.created_at),
            expires_at: crate::domain::format_ms(s.expires_at),
            revoked_at: s.revoked_at.map(crate::domain::format_ms),
            status,
            path: token.as_ref().map(|t| format!("/app/share/{t}")),
            token,
        }
    }
}

/// Creates a read-only link to the study's report, valid `days` (1..=90) days.
pub async fn create_share(
    state: &App,
    caller: &Principal,
    study_id: &StudyId,
    days: i64,
) -> AppResult<ShareOut> {
    business_only(caller)?;
    if !(1..=MAX_SHARE_DAYS).contains(&days) {
        return Err(AppError::Unprocessable(format!("expiresInDays: 1 to {MAX_SHARE_DAYS}")));
    }
    let study = studies::get_visible(state, caller, study_id).await?;
    let now = state.now();
    let token = new_opaque_token(SHARE_TOKEN_PREFIX);
    let row = ShareRow {
        id: new_id(prefix::SHARE, now),
        study_id: study.id.clone(),
        organization_id: study.organization_id.clone(),
        token_hash: sha256_hex(&token),
        created_at: now,
        expires_at: now.saturating_add(days.saturating_mul(DAY_MS)),
        revoked_at: None,
    };
    state.store.create_share(&row).await?;
    Ok(ShareOut::of(&row, now, Some(token)))
}

/// The study's share links, newest first.
pub async fn list_shares(state: &App, caller: &Principal, study_id: &StudyId) -> AppResult<Vec<ShareOut>> {
    let tenant = business_only(caller)?;
    studies::get_visible(state, caller, study_id).await?;
    let now = state.now();
    Ok(state.store.list_shares(&tenant, study_id).await?.iter().map(|s| ShareOut::of(s, now, None)).collect())
}

/// Revokes a link at once (404 when the study has no such link).
pub async fn revoke_share(
    state: &App,
    caller: &Principal,
    study_id: &StudyId,
    share_id: &str,
) -> AppResult<()> {
    let tenant = business_only(caller)?;
    studies::get_visible(state, caller, study_id).await?;
    if state.store.revoke_share(&tenant, study_id, share_id, state.now()).await? {
        Ok(())
    } else {
        Err(AppError::not_found("Share link"))
    }
}

/// What a share link opens: the study and its newest report. Every failure is the same 404
/// (unknown, malformed, revoked or expired), so a link's state is not told to a guesser.
pub async fn open_share(state: &App, token: &str) -> AppResult<(Study, Option<StudyReport>, i64)> {
    let gone = || AppError::not_found("Share link");
    let well_formed = token.strip_prefix(SHARE_TOKEN_PREFIX).is_some_and(|t| {
        t.len() == 43 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if !well_formed {
        return Err(gone());
    }
    let hash = sha256_hex(token);
    let share = state.store.share_by_token_hash(&hash).await?.ok_or_else(gone)?;
    if !ct_eq(share.token_hash.as_bytes(), hash.as_bytes())
        || share.revoked_at.is_some()
        || share.expires_at <= state.now()
    {
        return Err(gone());
    }
    // The link opens its organization's study and nothing else.
    let study = state
        .store
        .get_study(&StudyScope::Organization(share.organization_id.clone()), &share.study_id)
        .await?
        .ok_or_else(gone)?;
    let report = match state.store.latest_report(&study.owner(), &study.id).await? {
        Some(r) => Some(serde_json::from_str(&r.data).map_err(AppError::internal)?),
        None => None,
    };
    Ok((study, report, share.expires_at))
}

/// What the tester said and wrote in a session, for the business's session page: the
/// think-aloud transcript, their notes, what they added on confirming, and their comments on
/// the findings they confirmed (never on rejected ones).
#[derive(Debug, Default)]
pub struct TestersWords {
    /// `(timestamp, text)` of each voice segment with words.
    pub transcript: Vec<(i64, String)>,
    /// `(timestamp, text)` of each note.
    pub notes: Vec<(i64, String)>,
    /// Added on confirming.
    pub added_notes: Option<String>,
}

/// The longest transcript a page shows.
const MAX_WORDS_ITEMS: i64 = 1000;

pub async fn testers_words(state: &App, caller: &Principal, session: &Session) -> AppResult<TestersWords> {
    let s = sessions::authorize(state, caller, &session.id, Access::Read).await?;
    let tenant = caller.tenant()?;
    let voice = state.store.voice_after(&tenant, &s.id, (i64::MIN, i64::MIN), MAX_WORDS_ITEMS).await?;
    let (notes, _) = state.store.list_notes(&tenant, &s.id, Page { page: 1, limit: 100 }).await?;
    Ok(TestersWords {
        transcript: voice
            .into_iter()
            .filter(|(_, v)| !v.transcript.trim().is_empty())
            .map(|(_, v)| (v.ts, v.transcript))
            .collect(),
        notes: notes.into_iter().map(|n| (n.ts, n.text)).collect(),
        added_notes: s.added_notes.filter(|_| caller.role != Role::Tester || caller.user_id == s.tester_id),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_quote_and_defuse_formulas() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("-1"), "'-1");
    }

    #[test]
    fn an_empty_select_is_no_filter() {
        let f: ReportFilter = serde_urlencoded::from_str("nd=&variant=B&outcome=").unwrap();
        assert_eq!(f, ReportFilter { nd: None, variant: Some("B".into()), outcome: None });
        assert_eq!(f.query(), "variant=B");
        assert!(ReportFilter { outcome: Some("maybe".into()), ..Default::default() }.outcome().is_err());
    }
}
