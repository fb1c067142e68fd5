//! `StudyStore` over SQLite and PostgreSQL.

use async_trait::async_trait;
use sqlx::{Database, Encode, QueryBuilder, Type};

use super::*;
use crate::domain::TargetKind;

/// The study columns with its seat and session counts; the statuses counted are spelled by
/// their enums (no status literal in the SQL).
static STUDY_COLS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT s.id, s.organization_id, s.created_by, s.status, s.definition, s.tester_count, \
         s.created_at, s.updated_at, s.launched_at, s.closed_at, \
         (SELECT COUNT(*) FROM study_testers st WHERE st.study_id = s.id AND st.status = '{accepted}'), \
         (SELECT COUNT(*) FROM sessions x WHERE x.study_id = s.id), \
         (SELECT COUNT(*) FROM sessions x WHERE x.study_id = s.id AND x.status = '{confirmed}') \
         FROM studies s WHERE 1 = 1",
        accepted = crate::domain::SeatStatus::Accepted.as_str(),
        confirmed = crate::domain::SessionStatus::Confirmed.as_str(),
    )
});

type StudyRow =
    (StudyId, String, String, StudyStatus, String, i64, i64, i64, Option<i64>, Option<i64>, i64, i64, i64);
type TaskRow = (String, String, i64, String, String, String);

/// A study row with its definition parsed (a definition this server wrote that no longer
/// parses is a store error, not a client's).
fn study_from(r: StudyRow) -> StoreResult<Study> {
    let definition = serde_json::from_str(&r.4)
        .map_err(|e| StoreError::Other(format!("study {} has an unreadable definition: {e}", r.0)))?;
    Ok(Study {
        id: r.0,
        organization_id: r.1.into(),
        created_by: r.2.into(),
        status: r.3,
        definition,
        tester_count: r.5,
        tasks: Vec::new(),
        created_at: r.6,
        updated_at: r.7,
        launched_at: r.8,
        closed_at: r.9,
        seats_taken: r.10,
        sessions_total: r.11,
        sessions_confirmed: r.12,
    })
}

/// The stored form of a definition.
fn definition_json(w: &StudyWrite) -> StoreResult<String> {
    serde_json::to_string(&w.definition).map_err(|e| StoreError::Other(e.to_string()))
}

/// Appends the tenant condition of `scope` (the query already has a `WHERE`).
pub(super) fn push_study_scope<DB: Database>(qb: &mut QueryBuilder<DB>, scope: &StudyScope)
where
    String: for<'t> Encode<'t, DB> + Type<DB>,
    i64: for<'t> Encode<'t, DB> + Type<DB>,
    TargetKind: for<'t> Encode<'t, DB> + Type<DB>,
{
    match scope {
        StudyScope::All => {}
        StudyScope::Organization(org) => {
            qb.push(" AND s.organization_id = ").push_bind(org.clone());
        }
        StudyScope::Tester { tester_id, profile, offered_in } => {
            qb.push(
                " AND (EXISTS (SELECT 1 FROM study_testers st WHERE st.study_id = s.id AND st.tester_id = ",
            )
            .push_bind(tester_id.clone())
            .push(") OR (");
            if offered_in.is_empty() {
                qb.push("1 = 0");
            } else {
                qb.push("s.status IN (");
                let mut sep = qb.separated(", ");
                for st in offered_in {
                    sep.push_bind(st.as_str().to_owned());
                }
                qb.push(")");
            }
            // country: required on both sides
            match &profile.country {
                Some(c) => {
                    qb.push(
                        " AND EXISTS (SELECT 1 FROM study_targets t WHERE t.study_id = s.id AND t.kind = ",
                    )
                    .push_bind(TargetKind::Country)
                    .push(" AND t.value = ")
                    .push_bind(c.clone())
                    .push(")");
                }
                None => {
                    qb.push(" AND 1 = 0");
                }
            }
            // nd categories: at least one in common, unless the study is open to every category
            push_any_of(qb, TargetKind::Nd, &profile.nd_categories, false);
            // languages and devices: only when the study restricts them
            push_any_of(qb, TargetKind::Language, &profile.languages, false);
            push_any_of(qb, TargetKind::Device, &profile.devices, false);
            match profile.age {
                Some(age) => {
                    qb.push(" AND (s.min_age IS NULL OR s.min_age <= ")
                        .push_bind(age)
                        .push(") AND (s.max_age IS NULL OR s.max_age >= ")
                        .push_bind(age)
                        .push(")");
                }
                None => {
                    qb.push(" AND s.min_age IS NULL AND s.max_age IS NULL");
                }
            }
            qb.push("))");
        }
    }
}

/// `kind` matches when the study lists one of `values` (or, unless `required`, lists none).
fn push_any_of<DB: Database>(qb: &mut QueryBuilder<DB>, kind: TargetKind, values: &[String], required: bool)
where
    String: for<'t> Encode<'t, DB> + Type<DB>,
    TargetKind: for<'t> Encode<'t, DB> + Type<DB>,
{
    qb.push(" AND (");
    if !required {
        qb.push("NOT EXISTS (SELECT 1 FROM study_targets t WHERE t.study_id = s.id AND t.kind = ")
            .push_bind(kind)
            .push(") OR ");
    }
    if values.is_empty() {
        qb.push("1 = 0)");
        return;
    }
    qb.push("EXISTS (SELECT 1 FROM study_targets t WHERE t.study_id = s.id AND t.kind = ")
        .push_bind(kind)
        .push(" AND t.value IN (");
    let mut sep = qb.separated(", ");
    for v in values {
        sep.push_bind(v.clone());
    }
    qb.push(")))");
}

impl SqlStore {
    /// Loads the tasks of `studies` (one query) and attaches them.
    async fn attach_tasks(&self, studies: &mut [Study]) -> StoreResult<()> {
        if studies.is_empty() {
            return Ok(());
        }
        let ids: Vec<StudyId> = studies.iter().map(|s| s.id.clone()).collect();
        let rows: Vec<TaskRow> = read!(self, p => {
            let mut qb = QueryBuilder::new(
                "SELECT study_id, id, ord, title, description, success_criteria FROM study_tasks WHERE study_id IN (",
            );
            let mut sep = qb.separated(", ");
            for id in &ids {
                sep.push_bind(id.clone());
            }
            qb.push(") ORDER BY ord");
            qb.build_query_as().fetch_all(p).await?
        });
        for (study_id, id, order, title, description, success_criteria) in rows {
            if let Some(s) = studies.iter_mut().find(|s| s.id == study_id) {
                s.tasks.push(StudyTask { id, order, title, description, success_criteria });
            }
        }
        Ok(())
    }

    /// The study after a guarded change.
    async fn reload_study(&self, id: &StudyId) -> StoreResult<Guarded<Study>> {
        Ok(self.get_study(&StudyScope::All, id).await?.map_or(Guarded::NotFound, Guarded::Done))
    }
}

macro_rules! write_study_parts {
    ($tx:ident, $id:expr, $w:expr) => {{
        sqlx::query("DELETE FROM study_targets WHERE study_id = $1").bind($id).execute(&mut *$tx).await?;
        sqlx::query("DELETE FROM study_tasks WHERE study_id = $1").bind($id).execute(&mut *$tx).await?;
        for (kind, value) in &$w.targets {
            sqlx::query("INSERT INTO study_targets (study_id, kind, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind($id)
                .bind(kind)
                .bind(value)
                .execute(&mut *$tx)
                .await?;
        }
        for t in &$w.tasks {
            sqlx::query(
                "INSERT INTO study_tasks (id, study_id, ord, title, description, success_criteria) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&t.id)
            .bind($id)
            .bind(t.order)
            .bind(&t.title)
            .bind(&t.description)
            .bind(&t.success_criteria)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

/// Reads the study's status and organization in the transaction and returns early with
/// `NotFound` (absent, or another organization's) or `WrongState` (status not in `$allowed`).
macro_rules! guard_study {
    ($tx:ident, $id:expr, $org:expr, $allowed:expr) => {{
        let current: Option<(StudyStatus, String)> =
            sqlx::query_as("SELECT status, organization_id FROM studies WHERE id = $1")
                .bind($id)
                .fetch_optional(&mut *$tx)
                .await?;
        match current {
            None => return Ok(Guarded::NotFound),
            Some((_, org)) if $org.is_some_and(|o: &OrgId| *o != org) => return Ok(Guarded::NotFound),
            Some((status, _)) if !$allowed.contains(&status) => {
                return Ok(Guarded::WrongState(Refusal::Study(status)));
            }
            Some(_) => {}
        }
    }};
}

#[async_trait]
impl StudyStore for SqlStore {
    async fn create_study(
        &self,
        id: &StudyId,
        org_id: &OrgId,
        created_by: &UserId,
        w: StudyWrite,
        now: i64,
    ) -> StoreResult<Study> {
        let definition = definition_json(&w)?;
        write!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO studies (id, organization_id, created_by, status, definition, tester_count, min_age, max_age, created_at, updated_at) \
                 VALUES ($1, $2, $3, $9, $4, $5, $6, $7, $8, $8)",
            )
            .bind(id)
            .bind(org_id)
            .bind(created_by)
            .bind(&definition)
            .bind(w.tester_count)
            .bind(w.min_age)
            .bind(w.max_age)
            .bind(now)
            .bind(StudyStatus::Draft)
            .execute(&mut *tx)
            .await?;
            write_study_parts!(tx, id, w);
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.get_study(&StudyScope::All, id).await?.ok_or(StoreError::NotFound)
    }

    async fn get_study(&self, scope: &StudyScope, id: &StudyId) -> StoreResult<Option<Study>> {
        let row: Option<StudyRow> = read!(self, p => {
            let mut qb = QueryBuilder::new(STUDY_COLS.as_str());
            qb.push(" AND s.id = ").push_bind(id.to_owned());
            push_study_scope(&mut qb, scope);
            qb.build_query_as().fetch_optional(p).await?
        });
        let Some(row) = row else { return Ok(None) };
        let mut studies = [study_from(row)?];
        self.attach_tasks(&mut studies).await?;
        let [study] = studies;
        Ok(Some(study))
    }

    async fn list_studies(
        &self,
        scope: &StudyScope,
        status: Option<StudyStatus>,
        page: Page,
    ) -> StoreResult<(Vec<Study>, u64)> {
        let (rows, total): (Vec<StudyRow>, u64) = read!(self, p => {
            let filters = |qb: &mut QueryBuilder<_>| {
                push_study_scope(qb, scope);
                if let Some(st) = status {
                    qb.push(" AND s.status = ").push_bind(st);
                }
            };
            fetch_page!(
                p,
                STUDY_COLS.as_str(),
                "SELECT COUNT(*) FROM studies s WHERE 1 = 1",
                filters,
                "s.created_at DESC, s.id DESC",
                page,
                |row| <StudyRow as sqlx::FromRow<_>>::from_row(row)?
            )
        });
        let mut studies = rows.into_iter().map(study_from).collect::<StoreResult<Vec<_>>>()?;
        self.attach_tasks(&mut studies).await?;
        Ok((studies, total))
    }

    async fn update_draft(
        &self,
        org_id: Option<&OrgId>,
        id: &StudyId,
        from: &[StudyStatus],
        w: StudyWrite,
        now: i64,
    ) -> StoreResult<Guarded<Study>> {
        let definition = definition_json(&w)?;
        write!(self, p => {
            let mut tx = p.begin().await?;
            guard_study!(tx, id, org_id, from);
            sqlx::query(
                "UPDATE studies SET definition = $1, tester_count = $2, min_age = $3, max_age = $4, updated_at = $5 WHERE id = $6",
            )
            .bind(&definition)
            .bind(w.tester_count)
            .bind(w.min_age)
            .bind(w.max_age)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            write_study_parts!(tx, id, w);
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.reload_study(id).await
    }

    async fn set_study_status(
        &self,
        org_id: Option<&OrgId>,
        id: &StudyId,
        from: &[StudyStatus],
        to: StudyStatus,
        then: FollowUps,
        now: i64,
    ) -> StoreResult<Guarded<Study>> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            guard_study!(tx, id, org_id, from);
            sqlx::query(
                "UPDATE studies SET status = $1, updated_at = $2, \
                 launched_at = CASE WHEN $1 = $4 THEN $2 ELSE launched_at END, \
                 closed_at = CASE WHEN $1 = $5 THEN $2 ELSE closed_at END WHERE id = $3",
            )
            .bind(to)
            .bind(now)
            .bind(id)
            .bind(StudyStatus::Open)
            .bind(StudyStatus::Closed)
            .execute(&mut *tx)
            .await?;
            apply_follow_ups!(tx, &then, now);
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.after_follow_ups(&then);
        self.reload_study(id).await
    }

    async fn accept_study(
        &self,
        tester_id: &UserId,
        id: &StudyId,
        open_in: &[StudyStatus],
        now: i64,
    ) -> StoreResult<AcceptOutcome> {
        let lock = if matches!(self.db, Db::Postgres(_)) { " FOR UPDATE" } else { "" };
        let select = format!("SELECT status, tester_count FROM studies WHERE id = $1{lock}");
        write!(self, p => {
            let mut tx = p.begin().await?;
            // PostgreSQL: the row lock serialises accepts of one study (seat count); SQLite has one writer.
            let study: Option<(StudyStatus, i64)> =
                sqlx::query_as(sqlx::AssertSqlSafe(select)).bind(id).fetch_optional(&mut *tx).await?;
            let Some((status, tester_count)) = study else { return Ok(AcceptOutcome::NotFound) };
            if !open_in.contains(&status) {
                return Ok(AcceptOutcome::NotOpen(status));
            }
            let offer: Option<(String,)> =
                sqlx::query_as("SELECT status FROM study_testers WHERE study_id = $1 AND tester_id = $2")
                    .bind(id)
                    .bind(tester_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if offer.is_some_and(|(s,)| s == "accepted") {
                return Ok(AcceptOutcome::AlreadyAccepted);
            }
            let Some(label_no) = take_seat!(tx, id, tester_id, tester_count, now) else {
                return Ok(AcceptOutcome::Full);
            };
            tx.commit().await?;
            Ok(AcceptOutcome::Accepted { label_no })
        })
    }

    async fn decline_study(&self, tester_id: &UserId, id: &StudyId, now: i64) -> StoreResult<Guarded<()>> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            let study: Option<(StudyStatus,)> = sqlx::query_as("SELECT status FROM studies WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
            if study.is_none() {
                return Ok(Guarded::NotFound);
            }
            // An abandoned try does not bind the tester to the study.
            let (sessions,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM sessions WHERE study_id = $1 AND tester_id = $2 AND status <> $3",
            )
            .bind(id)
            .bind(tester_id)
            .bind(SessionStatus::Abandoned)
            .fetch_one(&mut *tx)
            .await?;
            if sessions > 0 {
                return Ok(Guarded::WrongState(Refusal::Started));
            }
            sqlx::query(
                "INSERT INTO study_testers (study_id, tester_id, status, label_no, created_at, updated_at) \
                 VALUES ($1, $2, $4, NULL, $3, $3) \
                 ON CONFLICT (study_id, tester_id) DO UPDATE SET status = $4, updated_at = $3",
            )
            .bind(id)
            .bind(tester_id)
            .bind(now)
            .bind(crate::domain::SeatStatus::Declined)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Guarded::Done(()))
        })
    }

    async fn study_exists(&self, id: &StudyId) -> StoreResult<bool> {
        read!(self, p => {
            let found: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM studies WHERE id = $1").bind(id).fetch_optional(p).await?;
            Ok(found.is_some())
        })
    }

    async fn offer_status(
        &self,
        tester_id: &UserId,
        study_id: &StudyId,
    ) -> StoreResult<Option<(String, Option<i64>)>> {
        read!(self, p => {
            Ok(sqlx::query_as("SELECT status, label_no FROM study_testers WHERE study_id = $1 AND tester_id = $2")
                .bind(study_id)
                .bind(tester_id)
                .fetch_optional(p)
                .await?)
        })
    }

    async fn get_profile(&self, user_id: &UserId) -> StoreResult<Option<TesterProfile>> {
        read!(self, p => {
            let row: Option<(String, String, bool, i64, Option<String>, crate::domain::UserStatus)> = sqlx::query_as(
                "SELECT user_id, profile, capacity_verified, updated_at, consent_version, status FROM tester_profiles \
                 WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_optional(p)
            .await?;
            row.map(|r| {
                let profile = serde_json::from_str(&r.1)
                    .map_err(|e| StoreError::Other(format!("profile of {} is unreadable: {e}", r.0)))?;
                Ok(TesterProfile {
                    user_id: r.0.into(),
                    profile,
                    capacity_verified: r.2,
                    updated_at: r.3,
                    consent_version: r.4,
                    status: r.5,
                })
            })
            .transpose()
        })
    }

    async fn put_profile(&self, user_id: &UserId, profile: &Profile, now: i64) -> StoreResult<TesterProfile> {
        let profile = serde_json::to_string(profile).map_err(|e| StoreError::Other(e.to_string()))?;
        write!(self, p => {
            sqlx::query(
                "INSERT INTO tester_profiles (user_id, profile, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET profile = $2, updated_at = $3",
            )
            .bind(user_id)
            .bind(&profile)
            .bind(now)
            .execute(p)
            .await?;
            Ok::<_, StoreError>(())
        })?;
        self.get_profile(user_id).await?.ok_or(StoreError::NotFound)
    }
}
