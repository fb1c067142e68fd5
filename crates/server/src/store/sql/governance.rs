//! `GovernanceStore` over SQLite and PostgreSQL.

use async_trait::async_trait;

use super::*;

type QuizTuple = (String, i64, i64, String, i64);

fn quiz_from(r: QuizTuple) -> QuizRow {
    QuizRow { id: r.0, version: r.1, passing_score: r.2, questions: r.3, created_at: r.4 }
}

fn json_text<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Other(e.to_string()))
}

/// `audit.details` with `before` added (the store is where the previous value is read).
fn with_before(audit: &AuditEntry, before: &str) -> AuditEntry {
    let mut details: serde_json::Value = serde_json::from_str(&audit.details).unwrap_or_default();
    if let serde_json::Value::Object(m) = &mut details {
        m.insert("before".into(), serde_json::Value::from(before));
    }
    AuditEntry { details: details.to_string(), ..audit.clone() }
}

#[async_trait]
impl GovernanceStore for SqlStore {
    async fn active_quiz(&self) -> StoreResult<Option<QuizRow>> {
        read!(self, p => {
            let row: Option<QuizTuple> = sqlx::query_as(
                "SELECT id, version, passing_score, questions, created_at FROM quizzes ORDER BY version DESC LIMIT 1",
            )
            .fetch_optional(p)
            .await?;
            Ok(row.map(quiz_from))
        })
    }

    async fn quiz(&self, id: &str) -> StoreResult<Option<QuizRow>> {
        read!(self, p => {
            let row: Option<QuizTuple> =
                sqlx::query_as("SELECT id, version, passing_score, questions, created_at FROM quizzes WHERE id = $1")
                    .bind(id)
                    .fetch_optional(p)
                    .await?;
            Ok(row.map(quiz_from))
        })
    }

    async fn publish_quiz(
        &self,
        id_prefix: &str,
        passing_score: i64,
        questions: &str,
        audit: AuditEntry,
        now: i64,
    ) -> StoreResult<QuizRow> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            let (max,): (Option<i64>,) = sqlx::query_as("SELECT MAX(version) FROM quizzes").fetch_one(&mut *tx).await?;
            let version = max.unwrap_or(0) + 1;
            let id = format!("{id_prefix}{version}");
            sqlx::query("INSERT INTO quizzes (id, version, passing_score, questions, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&id)
                .bind(version)
                .bind(passing_score)
                .bind(questions)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let audit = AuditEntry { target_id: id.clone(), ..audit };
            insert_audit!(tx, audit);
            tx.commit().await?;
            Ok(QuizRow { id, version, passing_score, questions: questions.to_owned(), created_at: now })
        })
    }

    async fn record_quiz_attempt(&self, a: NewQuizAttempt, limit: AttemptLimit) -> StoreResult<Guarded<()>> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            let (n,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM quiz_attempts WHERE tester_id = $1 AND created_at >= $2")
                    .bind(&a.tester_id)
                    .bind(limit.since)
                    .fetch_one(&mut *tx)
                    .await?;
            if n >= limit.max {
                return Ok(Guarded::WrongState(Refusal::Limit));
            }
            sqlx::query(
                "INSERT INTO quiz_attempts (id, quiz_id, tester_id, score, passed, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&a.id)
            .bind(&a.quiz_id)
            .bind(&a.tester_id)
            .bind(a.score)
            .bind(a.passed)
            .bind(a.now)
            .execute(&mut *tx)
            .await?;
            if a.passed {
                sqlx::query(
                    "INSERT INTO tester_profiles (user_id, profile, capacity_verified, updated_at) VALUES ($1, '{}', TRUE, $2) \
                     ON CONFLICT (user_id) DO UPDATE SET capacity_verified = TRUE, updated_at = $2",
                )
                .bind(&a.tester_id)
                .bind(a.now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(Guarded::Done(()))
        })
    }

    async fn give_special_consent(
        &self,
        tester_id: &UserId,
        history_id: &str,
        version: &str,
        now: i64,
    ) -> StoreResult<()> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO tester_consents (id, tester_id, version, action, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(history_id)
            .bind(tester_id)
            .bind(version)
            .bind(crate::domain::ConsentAction::Given)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO tester_profiles (user_id, profile, consent_version, updated_at) VALUES ($1, '{}', $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET consent_version = $2, updated_at = $3",
            )
            .bind(tester_id)
            .bind(version)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    async fn withdraw_special_consent(
        &self,
        tester_id: &UserId,
        history_id: &str,
        cleared: &Profile,
        now: i64,
    ) -> StoreResult<Guarded<()>> {
        let cleared = json_text(cleared)?;
        write!(self, p => {
            let mut tx = p.begin().await?;
            let current: Option<(Option<String>,)> =
                sqlx::query_as("SELECT consent_version FROM tester_profiles WHERE user_id = $1")
                    .bind(tester_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some((Some(version),)) = current else { return Ok(Guarded::NotFound) };
            sqlx::query(
                "INSERT INTO tester_consents (id, tester_id, version, action, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(history_id)
            .bind(tester_id)
            .bind(&version)
            .bind(crate::domain::ConsentAction::Withdrawn)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE tester_profiles SET consent_version = NULL, profile = $1, updated_at = $2 WHERE user_id = $3")
                .bind(&cleared)
                .bind(now)
                .bind(tester_id)
                .execute(&mut *tx)
                .await?;
            for table in ["facial", "voice"] {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE session_id IN (SELECT id FROM sessions WHERE tester_id = $1)"
                )))
                .bind(tester_id)
                .execute(&mut *tx)
                .await?;
            }
            // Running sessions stop taking facial and voice items at once.
            sqlx::query(
                "UPDATE sessions SET consent_facial = FALSE, consent_voice = FALSE, updated_at = $1 WHERE tester_id = $2",
            )
            .bind(now)
            .bind(tester_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Guarded::Done(()))
        })
    }

    async fn consent_history(
        &self,
        tester_id: &UserId,
    ) -> StoreResult<Vec<(String, crate::domain::ConsentAction, i64)>> {
        read!(self, p => {
            Ok(sqlx::query_as(
                "SELECT version, action, created_at FROM tester_consents WHERE tester_id = $1 ORDER BY created_at, id",
            )
            .bind(tester_id)
            .fetch_all(p)
            .await?)
        })
    }

    async fn list_testers(
        &self,
        filter: &TesterFilter,
        completed: CompletedStates<'_>,
    ) -> StoreResult<Vec<TesterSummary>> {
        type Row = (
            String,
            String,
            String,
            crate::domain::UserStatus,
            Option<String>,
            bool,
            Option<String>,
            i64,
            i64,
        );
        read!(self, p => {
            let mut qb = QueryBuilder::new("SELECT u.id, u.email, u.full_name, COALESCE(tp.status, ");
            qb.push_bind(crate::domain::UserStatus::Pending);
            qb.push(
                "), tp.profile, COALESCE(tp.capacity_verified, FALSE), tp.consent_version, \
                 (SELECT COUNT(*) FROM sessions x WHERE x.tester_id = u.id AND x.status IN (",
            );
            let mut sep = qb.separated(", ");
            for s in completed {
                sep.push_bind(s.as_str().to_owned());
            }
            qb.push(")), u.created_at FROM users u LEFT JOIN tester_profiles tp ON tp.user_id = u.id WHERE u.role = ");
            qb.push_bind(crate::domain::Role::Tester);
            if let Some(status) = &filter.status {
                qb.push(" AND COALESCE(tp.status, ").push_bind(crate::domain::UserStatus::Pending);
                qb.push(") = ").push_bind(*status);
            }
            qb.push(" ORDER BY u.created_at DESC, u.id DESC");
            let rows: Vec<Row> = qb.build_query_as().fetch_all(p).await?;
            Ok(rows
                .into_iter()
                .filter(|r| filter.min_sessions.is_none_or(|m| r.7 >= m))
                .map(|r| TesterSummary {
                    profile: r.4.as_deref().and_then(|t| serde_json::from_str(t).ok()),
                    user_id: r.0.into(),
                    email: r.1,
                    full_name: r.2,
                    status: r.3,
                    capacity_verified: r.5,
                    consent_version: r.6,
                    completed_sessions: r.7,
                    joined_at: r.8,
                })
                .collect())
        })
    }

    async fn set_tester_status(
        &self,
        tester_id: &UserId,
        status: crate::domain::UserStatus,
        drop_open_offers: bool,
        audit: AuditEntry,
    ) -> StoreResult<Guarded<crate::domain::UserStatus>> {
        let before = write!(self, p => {
            let mut tx = p.begin().await?;
            let current: Option<(Option<crate::domain::UserStatus>,)> = sqlx::query_as(
                "SELECT tp.status FROM users u LEFT JOIN tester_profiles tp ON tp.user_id = u.id \
                 WHERE u.id = $1 AND u.role = $2",
            )
            .bind(tester_id)
            .bind(crate::domain::Role::Tester)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((current,)) = current else { return Ok(Guarded::NotFound) };
            let before = current.unwrap_or(crate::domain::UserStatus::Pending);
            sqlx::query(
                "INSERT INTO tester_profiles (user_id, profile, status, updated_at) VALUES ($1, '{}', $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET status = $2, updated_at = $3",
            )
            .bind(tester_id)
            .bind(status)
            .bind(audit.created_at)
            .execute(&mut *tx)
            .await?;
            if drop_open_offers {
                sqlx::query(
                    "DELETE FROM study_testers WHERE tester_id = $1 AND status = $2 \
                     AND NOT EXISTS (SELECT 1 FROM sessions x WHERE x.study_id = study_testers.study_id AND x.tester_id = $1 \
                     AND x.status <> $3)",
                )
                .bind(tester_id)
                .bind(crate::domain::SeatStatus::Accepted)
                .bind(crate::domain::SessionStatus::Abandoned)
                .execute(&mut *tx)
                .await?;
            }
            let audit = with_before(&audit, before.as_str());
            insert_audit!(tx, audit);
            tx.commit().await?;
            Ok::<_, StoreError>(before)
        })?;
        // A suspended tester's cached user and principals go on every node at once.
        self.cache.invalidate(Invalidation::User(tester_id.to_string()));
        Ok(Guarded::Done(before))
    }

    async fn lock_user(&self, user_id: &UserId, now: i64) -> StoreResult<()> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("UPDATE users SET status = $3, updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(user_id)
                .bind(crate::domain::UserStatus::Suspended)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE auth_sessions SET revoked_at = $1, revoked_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(crate::domain::Revocation::Erasure)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE user_id = $2")
                .bind(now)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE sessions SET test_token_expires_at = $1 WHERE tester_id = $2 AND test_token_expires_at > $1")
                .bind(now)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.cache.invalidate(Invalidation::User(user_id.to_string()));
        Ok(())
    }

    async fn tester_words(&self, tester_id: &UserId) -> StoreResult<TesterWords> {
        read!(self, p => {
            let sessions: Vec<(String, String, crate::domain::SessionStatus)> =
                sqlx::query_as("SELECT id, study_id, status FROM sessions WHERE tester_id = $1 ORDER BY id")
                    .bind(tester_id)
                    .fetch_all(p)
                    .await?;
            let mut texts = Vec::new();
            for sql in [
                "SELECT v.transcript FROM voice v JOIN sessions s ON s.id = v.session_id WHERE s.tester_id = $1",
                "SELECT n.text FROM session_notes n JOIN sessions s ON s.id = n.session_id WHERE s.tester_id = $1",
                "SELECT added_notes FROM sessions WHERE tester_id = $1 AND added_notes IS NOT NULL",
                "SELECT f.comment FROM findings f JOIN sessions s ON s.id = f.session_id \
                 WHERE s.tester_id = $1 AND f.comment IS NOT NULL",
            ] {
                let rows: Vec<(String,)> = sqlx::query_as(sql).bind(tester_id).fetch_all(p).await?;
                texts.extend(rows.into_iter().map(|(t,)| t));
            }
            Ok(TesterWords { sessions, texts })
        })
    }

    async fn texts_quoting(&self, sessions: &[(String, String)]) -> StoreResult<Vec<QuotedText>> {
        let mut out = Vec::new();
        let mut studies: Vec<&str> = sessions.iter().map(|(_, st)| st.as_str()).collect();
        studies.sort_unstable();
        studies.dedup();
        // Bounded IN lists: a tester has few sessions, but never one statement per thousand.
        for chunk in sessions.chunks(200) {
            let ids: Vec<&str> = chunk.iter().map(|(id, _)| id.as_str()).collect();
            let list = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
            let queries: [(&str, QuotePlace, QuotePlace); 3] = [
                (
                    "SELECT id, data, comment FROM findings WHERE session_id IN (LIST)",
                    QuotePlace::FindingData,
                    QuotePlace::FindingComment,
                ),
                (
                    "SELECT id, analysis, realtime FROM sessions WHERE id IN (LIST)",
                    QuotePlace::SessionAnalysis,
                    QuotePlace::SessionRealtime,
                ),
                (
                    "SELECT id, result, payload FROM analysis_jobs WHERE subject_id IN (LIST)",
                    QuotePlace::QueueResult,
                    QuotePlace::QueuePayload,
                ),
            ];
            for (sql, first, second) in queries {
                let sql = sql.replace("LIST", &list);
                let rows: Vec<(String, Option<String>, Option<String>)> = read!(self, p => {
                    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                    for id in &ids {
                        q = q.bind(*id);
                    }
                    q.fetch_all(p).await?
                });
                for (id, a, b) in rows {
                    for (place, text) in [(first, a), (second, b)] {
                        if let Some(text) = text {
                            out.push(QuotedText { place, id: id.clone(), own: true, text });
                        }
                    }
                }
            }
            let sql = format!(
                "SELECT id, data FROM reports WHERE subject_id IN ({list}) AND kind = ${}",
                ids.len() + 1
            );
            let rows: Vec<(String, String)> = read!(self, p => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for id in &ids {
                    q = q.bind(*id);
                }
                q.bind(crate::domain::ReportKind::Session).fetch_all(p).await?
            });
            out.extend(rows.into_iter().map(|(id, text)| QuotedText {
                place: QuotePlace::ReportData,
                id,
                own: true,
                text,
            }));
        }
        for chunk in studies.chunks(200) {
            let list = (1..=chunk.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
            let reports = format!(
                "SELECT id, data FROM reports WHERE study_id IN ({list}) AND kind = ${}",
                chunk.len() + 1
            );
            let rows: Vec<(String, String)> = read!(self, p => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(reports.clone()));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.bind(crate::domain::ReportKind::Study).fetch_all(p).await?
            });
            out.extend(rows.into_iter().map(|(id, text)| QuotedText {
                place: QuotePlace::ReportData,
                id,
                own: false,
                text,
            }));
            let jobs = format!("SELECT id, result, payload FROM analysis_jobs WHERE subject_id IN ({list})");
            let rows: Vec<(String, Option<String>, Option<String>)> = read!(self, p => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(jobs.clone()));
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(p).await?
            });
            for (id, a, b) in rows {
                for (place, text) in [(QuotePlace::QueueResult, a), (QuotePlace::QueuePayload, b)] {
                    if let Some(text) = text {
                        out.push(QuotedText { place, id: id.clone(), own: false, text });
                    }
                }
            }
        }
        Ok(out)
    }

    async fn rewrite_texts(&self, texts: &[(QuotePlace, String, Option<String>)]) -> StoreResult<()> {
        if texts.is_empty() {
            return Ok(());
        }
        write!(self, p => {
            let mut tx = p.begin().await?;
            for (place, id, text) in texts {
                let sql = match place {
                    QuotePlace::FindingData => "UPDATE findings SET data = $1 WHERE id = $2",
                    QuotePlace::FindingComment => "UPDATE findings SET comment = $1 WHERE id = $2",
                    QuotePlace::SessionAnalysis => "UPDATE sessions SET analysis = $1 WHERE id = $2",
                    QuotePlace::SessionRealtime => "UPDATE sessions SET realtime = $1 WHERE id = $2",
                    QuotePlace::ReportData => "UPDATE reports SET data = $1 WHERE id = $2",
                    QuotePlace::QueueResult => "UPDATE analysis_jobs SET result = $1 WHERE id = $2",
                    QuotePlace::QueuePayload => "UPDATE analysis_jobs SET payload = $1 WHERE id = $2",
                };
                sqlx::query(sql).bind(text.as_deref()).bind(id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    async fn erase_user(&self, user_id: &UserId, tomb: NewUser, now: i64) -> StoreResult<Guarded<()>> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            let exists: Option<(String,)> =
                sqlx::query_as("SELECT id FROM users WHERE id = $1").bind(user_id).fetch_optional(&mut *tx).await?;
            if exists.is_none() {
                return Ok(Guarded::NotFound);
            }
            sqlx::query(
                "INSERT INTO users (id, email, full_name, role, organization_id, password_hash, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, NULL, $5, $7, $6, $6)",
            )
            .bind(&tomb.id)
            .bind(&tomb.email)
            .bind(&tomb.full_name)
            .bind(tomb.role.as_str())
            .bind(&tomb.password_hash)
            .bind(now)
            .bind(crate::domain::UserStatus::Suspended)
            .execute(&mut *tx)
            .await?;
            // What belongs to the person alone goes.
            let deletes = [
                "DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM auth_sessions WHERE user_id = $1)",
                "DELETE FROM auth_sessions WHERE user_id = $1",
                "DELETE FROM api_tokens WHERE user_id = $1",
                "DELETE FROM account_tokens WHERE user_id = $1",
                "DELETE FROM notification_reads WHERE user_id = $1",
                "DELETE FROM invitations WHERE accepted_by IS NULL AND email = (SELECT email FROM users WHERE id = $1)",
                "DELETE FROM quiz_attempts WHERE tester_id = $1",
                "DELETE FROM tester_consents WHERE tester_id = $1",
                "DELETE FROM tester_profiles WHERE user_id = $1",
                "DELETE FROM stripe_connect_accounts WHERE user_id = $1",
                "UPDATE bank_payouts SET tester_id = NULL, account_id = NULL WHERE tester_id = $1",
                "DELETE FROM telegram_link_codes WHERE user_id = $1",
                "DELETE FROM telegram_messages WHERE user_id = $1 \
                 OR chat_id IN (SELECT chat_id FROM telegram_links WHERE user_id = $1)",
                "DELETE FROM telegram_links WHERE user_id = $1",
                "DELETE FROM telegram_offers WHERE tester_id = $1",
                "DELETE FROM notifications WHERE user_id = $1 OR dedup_key LIKE '%' || $1 || '%' OR data LIKE '%' || $1 || '%'",
                "DELETE FROM events WHERE session_id IN (SELECT id FROM sessions WHERE tester_id = $1)",
                "DELETE FROM recording_chunks WHERE session_id IN (SELECT id FROM sessions WHERE tester_id = $1)",
                "DELETE FROM recordings WHERE session_id IN (SELECT id FROM sessions WHERE tester_id = $1)",
                "DELETE FROM facial WHERE session_id IN (SELECT id FROM sessions WHERE tester_id = $1)",
                "DELETE FROM voice WHERE session_id IN (SELECT id FROM sessions WHERE tester_id = $1)",
                "DELETE FROM session_notes WHERE session_id IN (SELECT id FROM sessions WHERE tester_id = $1)",
                "DELETE FROM task_attempts WHERE session_id IN (SELECT id FROM sessions WHERE tester_id = $1)",
            ];
            for sql in deletes {
                sqlx::query(sql).bind(user_id).execute(&mut *tx).await?;
            }
            // What must outlive them (sessions under confirmed findings and reports, seats and
            // their labels, studies a business member created, audit entries) points at the
            // anonymous tombstone instead; the session keeps no consent, survey or notes.
            sqlx::query(
                "UPDATE sessions SET tester_id = $2, consent = NULL, consent_events = FALSE, consent_facial = FALSE, \
                 consent_voice = FALSE, sus = NULL, nps = NULL, added_notes = NULL, test_token_hash = 'erased:' || id, \
                 test_token_expires_at = $3, updated_at = $3 WHERE tester_id = $1",
            )
            .bind(user_id)
            .bind(&tomb.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let repoint = [
                "UPDATE study_testers SET tester_id = $2 WHERE tester_id = $1",
                // The ledger is kept (financial records), anonymised.
                "UPDATE payout_line_items SET tester_id = $2, destination = NULL WHERE tester_id = $1",
                "UPDATE studies SET created_by = $2 WHERE created_by = $1",
                "UPDATE analysis_jobs SET tester_id = $2 WHERE tester_id = $1",
                "UPDATE analysis_jobs SET subject_id = $2 WHERE subject_id = $1",
                "UPDATE analysis_jobs SET result_ref = $2 WHERE result_ref = $1",
                "UPDATE audit_log SET actor_id = $2 WHERE actor_id = $1",
                "UPDATE invitations SET invited_by = $2 WHERE invited_by = $1",
                "UPDATE invitations SET accepted_by = $2, email = '' WHERE accepted_by = $1",
                "UPDATE audit_log SET target_id = $2 WHERE target_id = $1",
                "UPDATE audit_log SET details = REPLACE(details, $1, $2)",
            ];
            for sql in repoint {
                sqlx::query(sql).bind(user_id).bind(&tomb.id).execute(&mut *tx).await?;
            }
            sqlx::query("DELETE FROM users WHERE id = $1").bind(user_id).execute(&mut *tx).await?;
            tx.commit().await?;
            self.cache.invalidate(Invalidation::User(user_id.to_string()));
            // Notifications naming them went too (other readers' counts change).
            self.cache.invalidate(Invalidation::Notifications);
            Ok(Guarded::Done(()))
        })
    }
}
