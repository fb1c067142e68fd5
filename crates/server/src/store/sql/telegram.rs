//! `TelegramStore` over SQLite and PostgreSQL, and the transaction-level helpers that the
//! notification and scheduler stores share (pacing slots, queued sends, notification rows).

use async_trait::async_trait;
use sqlx::QueryBuilder;

use super::*;
use crate::domain::TelegramStatus;

text_enum_sql!(
    crate::domain::TelegramStatus,
    crate::domain::NotificationKind,
    crate::domain::CronJob,
    crate::domain::SeatStatus
);

/// Takes `$n` consecutive slots of pacer `$name` inside the transaction; evaluates to the first
/// slot (`max(next_at, paused_until, now)`); the pacer's next slot moves `$n · $interval` on.
/// PostgreSQL serialises concurrent callers on the pacer row until commit.
macro_rules! take_slots {
    ($tx:ident, $name:expr, $now:expr, $interval:expr, $n:expr) => {{
        sqlx::query("INSERT INTO send_pacers (name, next_at, paused_until) VALUES ($1, 0, 0) ON CONFLICT (name) DO NOTHING")
            .bind($name)
            .execute(&mut *$tx)
            .await?;
        let span: i64 = $interval * $n;
        let (next,): (i64,) = sqlx::query_as(
            "UPDATE send_pacers SET next_at = (CASE WHEN next_at >= paused_until AND next_at >= $2 THEN next_at \
             WHEN paused_until >= $2 THEN paused_until ELSE $2 END) + $3 WHERE name = $1 RETURNING next_at",
        )
        .bind($name)
        .bind($now)
        .bind(span)
        .fetch_one(&mut *$tx)
        .await?;
        next - span
    }};
}

/// Inserts the queue row that sends `$subject` as `$plan` says, due at `$run_at`.
macro_rules! queue_send {
    ($tx:ident, $subject:expr, $org:expr, $tester:expr, $plan:expr, $run_at:expr, $now:expr) => {{
        let plan: &SendPlan = $plan;
        sqlx::query(
            "INSERT INTO analysis_jobs (id, kind, subject_id, organization_id, tester_id, status, attempts, max_attempts, \
             run_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $9)",
        )
        .bind(crate::domain::ids::new_id(plan.queue_prefix, $now))
        .bind(plan.kind)
        .bind($subject)
        .bind($org)
        .bind($tester)
        .bind(QueueStatus::Queued)
        .bind(plan.max_attempts)
        .bind($run_at)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
    }};
}

/// Stores a `TelegramCopy` and queues its send (paced when its plan says so).
macro_rules! insert_message {
    ($tx:ident, $copy:expr, $now:expr) => {{
        let copy: &TelegramCopy = $copy;
        let m = &copy.message;
        sqlx::query(
            "INSERT INTO telegram_messages (id, user_id, chat_id, text, sensitive, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&m.id)
        .bind(&m.user_id)
        .bind(m.chat_id)
        .bind(&m.text)
        .bind(m.sensitive)
        .bind(m.status)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
        let run_at = match copy.plan.pacing {
            Some((name, interval)) => take_slots!($tx, name, $now, interval, 1i64),
            None => $now,
        };
        queue_send!($tx, &m.id, &copy.organization_id, &m.user_id, &copy.plan, run_at, $now);
    }};
}

/// Inserts a notification unless its id or deduplication key exists; evaluates to whether it did.
macro_rules! insert_notification {
    ($tx:ident, $n:expr) => {{
        let n: &NewNotification = $n;
        let (user, org, staff) = match &n.recipient {
            Recipient::User(u) => (Some(u.as_str()), None, false),
            Recipient::Organization(o) => (None, Some(o.as_str()), false),
            Recipient::Staff => (None, None, true),
        };
        sqlx::query(
            "INSERT INTO notifications (id, user_id, organization_id, staff, kind, title, body, data, dedup_key, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        )
        .bind(&n.id)
        .bind(user)
        .bind(org)
        .bind(staff)
        .bind(n.kind)
        .bind(&n.title)
        .bind(&n.body)
        .bind(n.data.to_string())
        .bind(&n.dedup_key)
        .bind(n.created_at)
        .execute(&mut *$tx)
        .await?
        .rows_affected()
            == 1
    }};
}

type OfferRow = (String, String, String, TelegramStatus, Option<i64>, Option<i64>, i64, Option<i64>);

fn offer_from(r: OfferRow) -> Offer {
    Offer {
        id: r.0,
        study_id: r.1.into(),
        tester_id: r.2.into(),
        status: r.3,
        chat_id: r.4,
        message_id: r.5,
        created_at: r.6,
        sent_at: r.7,
    }
}

#[async_trait]
impl TelegramStore for SqlStore {
    async fn create_link_code(
        &self,
        user_id: &UserId,
        code_hash: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<()> {
        write!(self, p => {
            sqlx::query("INSERT INTO telegram_link_codes (code_hash, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4)")
                .bind(code_hash)
                .bind(user_id)
                .bind(expires_at)
                .bind(now)
                .execute(p)
                .await?;
            Ok(())
        })
    }

    async fn redeem_link_code(&self, code_hash: &str, chat_id: i64, now: i64) -> StoreResult<Option<String>> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            let used: Option<(String,)> = sqlx::query_as(
                "UPDATE telegram_link_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                 RETURNING user_id",
            )
            .bind(code_hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((user_id,)) = used else { return Ok(None) };
            sqlx::query("DELETE FROM telegram_links WHERE chat_id = $1 OR user_id = $2")
                .bind(chat_id)
                .bind(&user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO telegram_links (user_id, chat_id, linked_at) VALUES ($1, $2, $3)")
                .bind(&user_id)
                .bind(chat_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Some(user_id))
        })
    }

    async fn unlink_chat(&self, chat_id: i64) -> StoreResult<Option<String>> {
        write!(self, p => {
            let row: Option<(String,)> = sqlx::query_as("DELETE FROM telegram_links WHERE chat_id = $1 RETURNING user_id")
                .bind(chat_id)
                .fetch_optional(p)
                .await?;
            Ok(row.map(|(u,)| u))
        })
    }

    async fn chat_of(&self, user_id: &UserId) -> StoreResult<Option<i64>> {
        read!(self, p => {
            let row: Option<(i64,)> = sqlx::query_as("SELECT chat_id FROM telegram_links WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(p)
                .await?;
            Ok(row.map(|(c,)| c))
        })
    }

    async fn user_of_chat(&self, chat_id: i64) -> StoreResult<Option<UserId>> {
        read!(self, p => {
            let row: Option<(UserId,)> = sqlx::query_as("SELECT user_id FROM telegram_links WHERE chat_id = $1")
                .bind(chat_id)
                .fetch_optional(p)
                .await?;
            Ok(row.map(|(u,)| u))
        })
    }

    async fn record_update(&self, update_id: i64, now: i64) -> StoreResult<bool> {
        write!(self, p => {
            let done = sqlx::query(
                "INSERT INTO telegram_updates (update_id, received_at) VALUES ($1, $2) ON CONFLICT (update_id) DO NOTHING",
            )
            .bind(update_id)
            .bind(now)
            .execute(p)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    async fn forget_update(&self, update_id: i64) -> StoreResult<()> {
        write!(self, p => {
            sqlx::query("DELETE FROM telegram_updates WHERE update_id = $1").bind(update_id).execute(p).await?;
            Ok(())
        })
    }

    async fn prune_updates(&self, before: i64) -> StoreResult<u64> {
        write!(self, p => {
            Ok(sqlx::query("DELETE FROM telegram_updates WHERE received_at < $1").bind(before).execute(p).await?.rows_affected())
        })
    }

    async fn offer_candidates(
        &self,
        study_id: &StudyId,
        role: crate::domain::Role,
        user_status: crate::domain::UserStatus,
    ) -> StoreResult<Vec<OfferCandidate>> {
        type Row = (String, i64, String, bool, i64, Option<String>, crate::domain::UserStatus);
        let rows: Vec<Row> = read!(self, p => {
            sqlx::query_as(
                "SELECT l.user_id, l.chat_id, tp.profile, tp.capacity_verified, tp.updated_at, tp.consent_version, \
                 tp.status FROM telegram_links l \
                 JOIN users u ON u.id = l.user_id JOIN tester_profiles tp ON tp.user_id = l.user_id \
                 WHERE u.role = $2 AND u.status = $3 \
                 AND NOT EXISTS (SELECT 1 FROM study_testers st WHERE st.study_id = $1 AND st.tester_id = l.user_id) \
                 AND NOT EXISTS (SELECT 1 FROM telegram_offers o WHERE o.study_id = $1 AND o.tester_id = l.user_id) \
                 ORDER BY l.user_id",
            )
            .bind(study_id)
            .bind(role)
            .bind(user_status)
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|(user_id, chat_id, profile, capacity_verified, updated_at, consent_version, status)| {
                let profile = serde_json::from_str(&profile)
                    .map_err(|e| StoreError::Other(format!("profile of {user_id} is unreadable: {e}")))?;
                let tester = TesterProfile {
                    user_id: user_id.into(),
                    profile,
                    capacity_verified,
                    consent_version,
                    status,
                    updated_at,
                };
                Ok(OfferCandidate { chat_id, tester })
            })
            .collect()
    }

    async fn study_visible(&self, scope: &StudyScope, study_id: &StudyId) -> StoreResult<bool> {
        read!(self, p => {
            let mut qb = QueryBuilder::new("SELECT COUNT(*) FROM studies s WHERE 1 = 1 AND s.id = ");
            qb.push_bind(study_id.to_owned());
            super::studies::push_study_scope(&mut qb, scope);
            let (n,): (i64,) = qb.build_query_as().fetch_one(p).await?;
            Ok(n > 0)
        })
    }

    async fn create_offers(
        &self,
        study_id: &StudyId,
        organization_id: &OrgId,
        offers: &[NewOffer],
        plan: &SendPlan,
        now: i64,
    ) -> StoreResult<u64> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            let mut fresh: Vec<&NewOffer> = Vec::with_capacity(offers.len());
            for o in offers {
                let done = sqlx::query(
                    "INSERT INTO telegram_offers (id, study_id, tester_id, status, chat_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (study_id, tester_id) DO NOTHING",
                )
                .bind(&o.id)
                .bind(study_id)
                .bind(&o.tester_id)
                .bind(o.status)
                .bind(o.chat_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 1 {
                    fresh.push(o);
                }
            }
            if fresh.is_empty() {
                return Ok(0);
            }
            let n = i64::try_from(fresh.len()).unwrap_or(i64::MAX);
            let (first, interval) = match plan.pacing {
                Some((name, interval)) => (take_slots!(tx, name, now, interval, n), interval),
                None => (now, 0),
            };
            for (i, o) in fresh.iter().enumerate() {
                let run_at = first + interval * i64::try_from(i).unwrap_or(0);
                queue_send!(tx, &o.id, organization_id, Some(o.tester_id.as_str()), plan, run_at, now);
            }
            tx.commit().await?;
            Ok(to_u64(n))
        })
    }

    async fn record_sent_offer(
        &self,
        study_id: &StudyId,
        o: &NewOffer,
        message_id: i64,
        now: i64,
    ) -> StoreResult<()> {
        write!(self, p => {
            sqlx::query(
                "INSERT INTO telegram_offers (id, study_id, tester_id, status, chat_id, message_id, created_at, sent_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (study_id, tester_id) DO UPDATE SET \
                 status = excluded.status, chat_id = excluded.chat_id, message_id = excluded.message_id, \
                 sent_at = excluded.sent_at, error = NULL",
            )
            .bind(&o.id)
            .bind(study_id)
            .bind(&o.tester_id)
            .bind(o.status)
            .bind(o.chat_id)
            .bind(message_id)
            .bind(now)
            .execute(p)
            .await?;
            Ok(())
        })
    }

    async fn get_offer(&self, id: &str) -> StoreResult<Option<Offer>> {
        read!(self, p => {
            let row: Option<OfferRow> = sqlx::query_as(
                "SELECT id, study_id, tester_id, status, chat_id, message_id, created_at, sent_at FROM telegram_offers WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(p)
            .await?;
            Ok(row.map(offer_from))
        })
    }

    async fn finish_offer(
        &self,
        id: &str,
        status: TelegramStatus,
        message_id: Option<i64>,
        error: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        let sql = "UPDATE telegram_offers SET status = $1, message_id = COALESCE($2, message_id), error = $3, \
                   sent_at = COALESCE($4, sent_at) WHERE id = $5";
        self.finish_send(sql, id, status, message_id, error, now).await
    }

    async fn offer_counts(
        &self,
        tenant: &Tenant,
        study_id: &StudyId,
    ) -> StoreResult<Vec<(TelegramStatus, u64)>> {
        let (cond, who) = study_tenant_clause("o.study_id", 2, tenant);
        let sql = format!(
            "SELECT o.status, COUNT(*) FROM telegram_offers o WHERE o.study_id = $1{cond} GROUP BY o.status"
        );
        read!(self, p => {
            let mut q = sqlx::query_as::<_, (TelegramStatus, i64)>(sqlx::AssertSqlSafe(sql)).bind(study_id);
            if let Some(w) = who {
                q = q.bind(w);
            }
            let rows = q.fetch_all(p).await?;
            Ok(rows.into_iter().map(|(s, n)| (s, to_u64(n))).collect())
        })
    }

    async fn queue_message(&self, copy: TelegramCopy, now: i64) -> StoreResult<()> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            insert_message!(tx, &copy, now);
            tx.commit().await?;
            Ok(())
        })
    }

    async fn get_message(&self, id: &str) -> StoreResult<Option<TelegramMessageRow>> {
        read!(self, p => {
            let row: Option<(String, Option<String>, i64, String, bool, TelegramStatus)> = sqlx::query_as(
                "SELECT id, user_id, chat_id, text, sensitive, status FROM telegram_messages WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(p)
            .await?;
            Ok(row.map(|r| TelegramMessageRow { id: r.0, user_id: r.1.map(UserId::from), chat_id: r.2, text: r.3, sensitive: r.4, status: r.5 }))
        })
    }

    async fn finish_message(
        &self,
        id: &str,
        status: TelegramStatus,
        message_id: Option<i64>,
        error: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        let sql = "UPDATE telegram_messages SET status = $1, message_id = $2, error = $3, sent_at = $4, \
                   text = CASE WHEN sensitive THEN '' ELSE text END WHERE id = $5";
        self.finish_send(sql, id, status, message_id, error, now).await
    }

    async fn pacer(&self, name: &str) -> StoreResult<Pacer> {
        read!(self, p => {
            let row: Option<(i64, i64)> = sqlx::query_as("SELECT next_at, paused_until FROM send_pacers WHERE name = $1")
                .bind(name)
                .fetch_optional(p)
                .await?;
            Ok(row.map(|(next_at, paused_until)| Pacer { next_at, paused_until }).unwrap_or_default())
        })
    }

    async fn take_slot(&self, name: &str, now: i64, interval_ms: i64) -> StoreResult<i64> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            let slot = take_slots!(tx, name, now, interval_ms, 1i64);
            tx.commit().await?;
            Ok(slot)
        })
    }

    async fn pause_pacer(&self, name: &str, until: i64) -> StoreResult<()> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("INSERT INTO send_pacers (name, next_at, paused_until) VALUES ($1, 0, 0) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE send_pacers SET paused_until = CASE WHEN paused_until > $2 THEN paused_until ELSE $2 END, \
                 next_at = CASE WHEN next_at > $2 THEN next_at ELSE $2 END WHERE name = $1",
            )
            .bind(name)
            .bind(until)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }
}

impl SqlStore {
    /// Records how sending a Telegram offer or message ended: `sql` is the table's `UPDATE`
    /// binding status, message id, error, sent time (when a message id came back) and id.
    async fn finish_send(
        &self,
        sql: &'static str,
        id: &str,
        status: TelegramStatus,
        message_id: Option<i64>,
        error: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        write!(self, p => {
            sqlx::query(sql)
                .bind(status)
                .bind(message_id)
                .bind(error)
                .bind(message_id.map(|_| now))
                .bind(id)
                .execute(p)
                .await?;
            Ok(())
        })
    }
}
