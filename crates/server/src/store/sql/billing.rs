//! `BillingStore` over SQLite and PostgreSQL. Every guarded change is one conditional
//! statement (`UPDATE … WHERE status IN (…)`, `INSERT … ON CONFLICT DO NOTHING`), so two
//! workers or nodes racing on the same row cannot both win.

use async_trait::async_trait;

use super::*;
use crate::domain::money::Money;
use crate::domain::{PaymentStatus, PayoutLineStatus};

text_enum_sql!(crate::domain::PaymentStatus, crate::domain::PayoutLineStatus);

/// `$start, $start+1, …` for `n` values.
fn placeholders(start: usize, n: usize) -> String {
    (start..start + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

const PAYMENT_COLS: &str = "study_id, organization_id, status, currency, unit_amount, fee_per_session, quantity, \
     amount_total, checkout_session_id, checkout_url, idempotency_key, created_at, updated_at, paid_at, launch_on_payment";

type PaymentRow = (
    String,
    String,
    PaymentStatus,
    String,
    i64,
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
    String,
    i64,
    i64,
    Option<i64>,
    bool,
);

fn payment_from(r: PaymentRow) -> StudyPayment {
    StudyPayment {
        study_id: r.0.into(),
        organization_id: r.1.into(),
        status: r.2,
        currency: r.3,
        unit_amount: r.4,
        fee_per_session: r.5,
        quantity: r.6,
        amount_total: r.7,
        checkout_session_id: r.8,
        checkout_url: r.9,
        idempotency_key: r.10,
        created_at: r.11,
        updated_at: r.12,
        paid_at: r.13,
        launch_on_payment: r.14,
    }
}

const ACCOUNT_COLS: &str =
    "user_id, account_id, payouts_enabled, charges_enabled, details_submitted, created_at, updated_at";

type AccountRow = (String, String, bool, bool, bool, i64, i64);

fn account_from(r: AccountRow) -> ConnectAccountRow {
    ConnectAccountRow {
        user_id: r.0.into(),
        account_id: r.1,
        payouts_enabled: r.2,
        charges_enabled: r.3,
        details_submitted: r.4,
        created_at: r.5,
        updated_at: r.6,
    }
}

/// Line columns, on the table aliased `l`; the label comes from a join (or NULL).
const LINE_COLS: &str = "l.id, l.payout_id, l.study_id, l.organization_id, l.session_id, l.tester_id, l.currency, \
     l.gross_amount, l.fee_amount, l.amount, l.status, l.idempotency_key, l.lease_until, l.attempts, l.transfer_id, \
     l.destination, l.last_error, l.created_at, l.updated_at, l.paid_at";

/// Decodes a line row (`LINE_COLS` then the label number) from either backend.
macro_rules! line_from_row {
    ($r:expr) => {{
        use sqlx::Row;
        let r = $r;
        PayoutLine {
            id: r.try_get(0)?,
            payout_id: r.try_get(1)?,
            study_id: r.try_get(2)?,
            organization_id: r.try_get(3)?,
            session_id: r.try_get(4)?,
            tester_id: r.try_get(5)?,
            currency: r.try_get(6)?,
            gross_amount: r.try_get(7)?,
            fee_amount: r.try_get(8)?,
            amount: r.try_get(9)?,
            status: r.try_get(10)?,
            idempotency_key: r.try_get(11)?,
            lease_until: r.try_get(12)?,
            attempts: r.try_get(13)?,
            transfer_id: r.try_get(14)?,
            destination: r.try_get(15)?,
            last_error: r.try_get(16)?,
            created_at: r.try_get(17)?,
            updated_at: r.try_get(18)?,
            paid_at: r.try_get(19)?,
            label_no: r.try_get(20)?,
        }
    }};
}

const BANK_COLS: &str = "id, account_id, tester_id, amount, currency, stripe_status, failure_code, failure_message, \
     event_created, retried_by, updated_at";

type BankRow = (
    String,
    Option<String>,
    Option<String>,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
    i64,
);

fn bank_from(r: BankRow) -> BankPayout {
    BankPayout {
        id: r.0,
        account_id: r.1,
        tester_id: r.2.map(UserId::from),
        amount: Money::new(r.3, r.4),
        stripe_status: r.5,
        failure_code: r.6,
        failure_message: r.7,
        event_created: r.8,
        retried_by: r.9,
        updated_at: r.10,
    }
}

impl SqlStore {
    /// The study's payout (one per study).
    async fn get_payout(&self, study_id: &StudyId) -> StoreResult<Option<PayoutRow>> {
        read!(self, p => {
            let row: Option<(String, String, String, String, i64)> = sqlx::query_as(
                "SELECT id, study_id, organization_id, currency, created_at FROM payouts WHERE study_id = $1",
            )
            .bind(study_id)
            .fetch_optional(p)
            .await?;
            Ok(row.map(|r| PayoutRow { id: r.0, study_id: r.1.into(), organization_id: r.2.into(), currency: r.3, created_at: r.4 }))
        })
    }

    async fn payment(&self, study_id: &StudyId) -> StoreResult<Option<StudyPayment>> {
        let sql = format!("SELECT {PAYMENT_COLS} FROM study_payments WHERE study_id = $1");
        read!(self, p => {
            let row: Option<PaymentRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(study_id).fetch_optional(p).await?;
            Ok(row.map(payment_from))
        })
    }

    async fn account_where(&self, column: &str, value: &str) -> StoreResult<Option<ConnectAccountRow>> {
        let sql = format!("SELECT {ACCOUNT_COLS} FROM stripe_connect_accounts WHERE {column} = $1");
        read!(self, p => {
            let row: Option<AccountRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(value).fetch_optional(p).await?;
            Ok(row.map(account_from))
        })
    }
}

#[async_trait]
impl BillingStore for SqlStore {
    async fn get_payment(&self, tenant: &Tenant, study_id: &StudyId) -> StoreResult<Option<StudyPayment>> {
        let Some((filter, org)) = org_clause("organization_id", 2, tenant) else { return Ok(None) };
        let sql = format!("SELECT {PAYMENT_COLS} FROM study_payments WHERE study_id = $1{filter}");
        read!(self, p => {
            let mut q = sqlx::query_as::<_, PaymentRow>(sqlx::AssertSqlSafe(sql)).bind(study_id);
            if let Some(o) = org {
                q = q.bind(o);
            }
            Ok(q.fetch_optional(p).await?.map(payment_from))
        })
    }

    async fn put_payment(
        &self,
        pay: &StudyPayment,
        replace_in: &[PaymentStatus],
    ) -> StoreResult<Guarded<StudyPayment>> {
        // One statement, one bind list: a new payment is inserted; an existing one is replaced
        // only while its status is one of `replace_in` (none: never).
        let on_conflict = if replace_in.is_empty() {
            "DO NOTHING".to_owned()
        } else {
            format!(
                "DO UPDATE SET status = excluded.status, currency = excluded.currency, \
                 unit_amount = excluded.unit_amount, fee_per_session = excluded.fee_per_session, \
                 quantity = excluded.quantity, amount_total = excluded.amount_total, \
                 checkout_session_id = excluded.checkout_session_id, checkout_url = excluded.checkout_url, \
                 idempotency_key = excluded.idempotency_key, updated_at = excluded.updated_at, paid_at = NULL, \
                 launch_on_payment = excluded.launch_on_payment WHERE study_payments.status IN ({})",
                placeholders(15, replace_in.len())
            )
        };
        let sql = format!(
            "INSERT INTO study_payments (study_id, organization_id, status, currency, unit_amount, fee_per_session, \
             quantity, amount_total, checkout_session_id, checkout_url, idempotency_key, created_at, updated_at, \
             launch_on_payment) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (study_id) {on_conflict}"
        );
        let changed = write!(self, p => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&pay.study_id)
                .bind(&pay.organization_id)
                .bind(pay.status)
                .bind(&pay.currency)
                .bind(pay.unit_amount)
                .bind(pay.fee_per_session)
                .bind(pay.quantity)
                .bind(pay.amount_total)
                .bind(&pay.checkout_session_id)
                .bind(&pay.checkout_url)
                .bind(&pay.idempotency_key)
                .bind(pay.created_at)
                .bind(pay.updated_at)
                .bind(pay.launch_on_payment);
            for st in replace_in {
                q = q.bind(*st);
            }
            q.execute(p).await?.rows_affected() == 1
        });
        let current = self.payment(&pay.study_id).await?.ok_or(StoreError::NotFound)?;
        Ok(if changed {
            Guarded::Done(current)
        } else {
            Guarded::WrongState(Refusal::Payment(current.status))
        })
    }

    async fn set_payment_status(
        &self,
        tenant: &Tenant,
        study_id: &StudyId,
        from: &[PaymentStatus],
        to: PaymentStatus,
        paid_at: Option<i64>,
        now: i64,
    ) -> StoreResult<Guarded<StudyPayment>> {
        let (cond, who) = study_tenant_clause("study_payments.study_id", 5 + from.len(), tenant);
        let sql = format!(
            "UPDATE study_payments SET status = $1, paid_at = COALESCE($2, paid_at), updated_at = $3 \
             WHERE study_id = $4 AND status IN ({}){cond}",
            placeholders(5, from.len())
        );
        let changed = write!(self, p => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to).bind(paid_at).bind(now).bind(study_id);
            for s in from {
                q = q.bind(*s);
            }
            if let Some(w) = &who {
                q = q.bind(w);
            }
            q.execute(p).await?.rows_affected() == 1
        });
        Ok(match self.get_payment(tenant, study_id).await? {
            None => Guarded::NotFound,
            Some(pay) if changed => Guarded::Done(pay),
            Some(pay) => Guarded::WrongState(Refusal::Payment(pay.status)),
        })
    }

    async fn get_connect_account(&self, user_id: &UserId) -> StoreResult<Option<ConnectAccountRow>> {
        self.account_where("user_id", user_id).await
    }

    async fn connect_account_by_stripe_id(&self, account_id: &str) -> StoreResult<Option<ConnectAccountRow>> {
        self.account_where("account_id", account_id).await
    }

    async fn insert_connect_account(&self, a: &ConnectAccountRow) -> StoreResult<ConnectAccountRow> {
        write!(self, p => {
            sqlx::query(
                "INSERT INTO stripe_connect_accounts (user_id, account_id, payouts_enabled, charges_enabled, details_submitted, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(&a.user_id)
            .bind(&a.account_id)
            .bind(a.payouts_enabled)
            .bind(a.charges_enabled)
            .bind(a.details_submitted)
            .bind(a.created_at)
            .bind(a.updated_at)
            .execute(p)
            .await?;
        });
        self.get_connect_account(&a.user_id).await?.ok_or(StoreError::NotFound)
    }

    async fn update_connect_account(
        &self,
        account_id: &str,
        f: AccountFlags,
        now: i64,
    ) -> StoreResult<Option<(ConnectAccountRow, ConnectAccountRow)>> {
        let Some(before) = self.connect_account_by_stripe_id(account_id).await? else {
            return Ok(None);
        };
        write!(self, p => {
            sqlx::query(
                "UPDATE stripe_connect_accounts SET payouts_enabled = $1, charges_enabled = $2, details_submitted = $3, \
                 stripe_updated_at = $4, updated_at = $5 WHERE account_id = $6 AND stripe_updated_at <= $4",
            )
            .bind(f.payouts_enabled)
            .bind(f.charges_enabled)
            .bind(f.details_submitted)
            .bind(f.stripe_created)
            .bind(now)
            .bind(account_id)
            .execute(p)
            .await?;
        });
        let after = self.connect_account_by_stripe_id(account_id).await?.ok_or(StoreError::NotFound)?;
        Ok(Some((before, after)))
    }

    async fn insert_stripe_event(&self, e: &StripeEventRow, q: &NewQueueItem) -> StoreResult<bool> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            let n = sqlx::query(
                "INSERT INTO stripe_events (id, type, payload, created, received_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&e.id)
            .bind(&e.kind)
            .bind(&e.payload)
            .bind(e.created)
            .bind(e.received_at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            // Stored if and only if queued: a crash cannot keep one without the other.
            sqlx::query(
                "INSERT INTO analysis_jobs (id, kind, subject_id, organization_id, tester_id, status, attempts, max_attempts, \
                 run_at, created_at, updated_at, payload) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $8, $8, $9)",
            )
            .bind(&q.id)
            .bind(q.kind)
            .bind(&q.subject_id)
            .bind(&q.organization_id)
            .bind(&q.tester_id)
            .bind(QueueStatus::Queued)
            .bind(q.max_attempts)
            .bind(q.now)
            .bind(&q.payload)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    async fn get_stripe_event(&self, id: &str) -> StoreResult<Option<StripeEventRow>> {
        read!(self, p => {
            let row: Option<(String, String, String, i64, i64, Option<i64>)> = sqlx::query_as(
                "SELECT id, type, payload, created, received_at, processed_at FROM stripe_events WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(p)
            .await?;
            Ok(row.map(|r| StripeEventRow { id: r.0, kind: r.1, payload: r.2, created: r.3, received_at: r.4, processed_at: r.5 }))
        })
    }

    async fn mark_stripe_event_processed(&self, id: &str, now: i64) -> StoreResult<()> {
        write!(self, p => {
            sqlx::query("UPDATE stripe_events SET processed_at = $1 WHERE id = $2 AND processed_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(p)
                .await?;
            Ok(())
        })
    }

    async fn ensure_payout(&self, pay: &PayoutRow) -> StoreResult<PayoutRow> {
        write!(self, p => {
            sqlx::query(
                "INSERT INTO payouts (id, study_id, organization_id, currency, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (study_id) DO NOTHING",
            )
            .bind(&pay.id)
            .bind(&pay.study_id)
            .bind(&pay.organization_id)
            .bind(&pay.currency)
            .bind(pay.created_at)
            .execute(p)
            .await?;
        });
        self.get_payout(&pay.study_id).await?.ok_or(StoreError::NotFound)
    }

    async fn reserve_payout_lines(
        &self,
        payout: &PayoutRow,
        lines: &[NewPayoutLine],
        status: PayoutLineStatus,
        now: i64,
    ) -> StoreResult<usize> {
        write!(self, p => {
            let mut tx = p.begin().await?;
            let mut new = 0;
            for l in lines {
                // The unique session id is the guard: a second trigger, node or retry reserving
                // the same session inserts nothing.
                new += sqlx::query(
                    "INSERT INTO payout_line_items (id, payout_id, study_id, organization_id, session_id, tester_id, currency, \
                     gross_amount, fee_amount, amount, status, idempotency_key, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) ON CONFLICT (session_id) DO NOTHING",
                )
                .bind(&l.id)
                .bind(&payout.id)
                .bind(&payout.study_id)
                .bind(&payout.organization_id)
                .bind(&l.session_id)
                .bind(&l.tester_id)
                .bind(&payout.currency)
                .bind(l.gross_amount)
                .bind(l.fee_amount)
                .bind(l.amount)
                .bind(status)
                .bind(&l.idempotency_key)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
            Ok(usize::try_from(new).unwrap_or(usize::MAX))
        })
    }

    async fn claim_payout_line(
        &self,
        line_id: &str,
        claimable: &[PayoutLineStatus],
        holding: PayoutLineStatus,
        lease_until: i64,
        now: i64,
    ) -> StoreResult<Option<PayoutLine>> {
        let cols = LINE_COLS.replace("l.", "");
        let sql = format!(
            "UPDATE payout_line_items SET status = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE id = $4 AND (status IN ({}) OR (status = $1 AND lease_until < $3)) \
             RETURNING {cols}, CAST(NULL AS BIGINT)",
            placeholders(5, claimable.len())
        );
        write!(self, p => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(holding).bind(lease_until).bind(now).bind(line_id);
            for s in claimable {
                q = q.bind(*s);
            }
            match q.fetch_optional(p).await? {
                Some(r) => Ok(Some(line_from_row!(&r))),
                None => Ok(None),
            }
        })
    }

    async fn finish_payout_line(
        &self,
        line_id: &str,
        from: PayoutLineStatus,
        o: LineOutcome<'_>,
        now: i64,
    ) -> StoreResult<bool> {
        write!(self, p => {
            let n = sqlx::query(
                "UPDATE payout_line_items SET status = $1, transfer_id = COALESCE($2, transfer_id), \
                 destination = COALESCE($3, destination), last_error = $4, lease_until = NULL, \
                 paid_at = COALESCE($5, paid_at), updated_at = $6 WHERE id = $7 AND status = $8",
            )
            .bind(o.status)
            .bind(o.transfer_id)
            .bind(o.destination)
            .bind(o.error)
            .bind(o.paid.then_some(now))
            .bind(now)
            .bind(line_id)
            .bind(from)
            .execute(p)
            .await?
            .rows_affected();
            Ok(n == 1)
        })
    }

    async fn payout_lines(&self, tenant: &Tenant, study_id: &StudyId) -> StoreResult<Vec<PayoutLine>> {
        let (cond, who) = study_tenant_clause("l.study_id", 2, tenant);
        let sql = format!(
            "SELECT {LINE_COLS}, st.label_no FROM payout_line_items l \
             LEFT JOIN study_testers st ON st.study_id = l.study_id AND st.tester_id = l.tester_id \
             WHERE l.study_id = $1{cond} ORDER BY l.created_at, l.id"
        );
        read!(self, p => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(study_id);
            if let Some(w) = who {
                q = q.bind(w);
            }
            let rows = q.fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(line_from_row!(r));
            }
            Ok(out)
        })
    }

    async fn list_payout_lines(
        &self,
        tenant: &Tenant,
        study_id: Option<&StudyId>,
        page: Page,
    ) -> StoreResult<(Vec<PayoutLine>, u64)> {
        let select = format!(
            "SELECT {LINE_COLS}, st.label_no FROM payout_line_items l \
             LEFT JOIN study_testers st ON st.study_id = l.study_id AND st.tester_id = l.tester_id WHERE 1 = 1"
        );
        let count = "SELECT COUNT(*) FROM payout_line_items l WHERE 1 = 1";
        let tenant = tenant.clone();
        let study = study_id.cloned();
        read!(self, p => {
            let filters = |qb: &mut QueryBuilder<_>| {
                match &tenant {
                    Tenant::All => {}
                    Tenant::Organization(o) => {
                        qb.push(" AND l.organization_id = ").push_bind(o.clone());
                    }
                    Tenant::Tester(t) => {
                        qb.push(" AND l.tester_id = ").push_bind(t.clone());
                    }
                }
                if let Some(s) = &study {
                    qb.push(" AND l.study_id = ").push_bind(s.clone());
                }
            };
            let page = fetch_page!(p, select.as_str(), count, filters, "l.created_at DESC, l.id DESC", page, |r| line_from_row!(r));
            Ok(page)
        })
    }

    async fn studies_with_tester_lines(
        &self,
        tester_id: &UserId,
        statuses: &[PayoutLineStatus],
    ) -> StoreResult<Vec<StudyId>> {
        let sql = format!(
            "SELECT DISTINCT study_id FROM payout_line_items WHERE tester_id = $1 AND status IN ({}) ORDER BY study_id",
            placeholders(2, statuses.len())
        );
        read!(self, p => {
            let mut q = sqlx::query_as::<_, (StudyId,)>(sqlx::AssertSqlSafe(sql)).bind(tester_id);
            for s in statuses {
                q = q.bind(*s);
            }
            Ok(q.fetch_all(p).await?.into_iter().map(|(s,)| s).collect())
        })
    }

    async fn payable_sessions(
        &self,
        tenant: &Tenant,
        study_id: &StudyId,
        status: SessionStatus,
    ) -> StoreResult<Vec<(SessionId, UserId)>> {
        let (cond, who) = session_tenant_clause("sessions.id", 3, tenant);
        let sql = format!(
            "SELECT id, tester_id FROM sessions WHERE study_id = $1 AND status = $2{cond} ORDER BY created_at, id"
        );
        read!(self, p => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(study_id).bind(status);
            if let Some(w) = who {
                q = q.bind(w);
            }
            Ok(q.fetch_all(p).await?)
        })
    }

    async fn studies_owing_payouts(
        &self,
        study_status: StudyStatus,
        payment_status: PaymentStatus,
        session_status: SessionStatus,
        settled: &[PayoutLineStatus],
    ) -> StoreResult<Vec<StudyId>> {
        let sql = format!(
            "SELECT s.id FROM studies s JOIN study_payments pay ON pay.study_id = s.id \
             WHERE s.status = $1 AND pay.status = $2 AND EXISTS (SELECT 1 FROM sessions x WHERE x.study_id = s.id \
             AND x.status = $3 AND NOT EXISTS (SELECT 1 FROM payout_line_items l WHERE l.session_id = x.id \
             AND l.status IN ({}))) ORDER BY s.id",
            placeholders(4, settled.len())
        );
        read!(self, p => {
            let mut q = sqlx::query_as::<_, (StudyId,)>(sqlx::AssertSqlSafe(sql))
                .bind(study_status)
                .bind(payment_status)
                .bind(session_status);
            for s in settled {
                q = q.bind(*s);
            }
            Ok(q.fetch_all(p).await?.into_iter().map(|(s,)| s).collect())
        })
    }

    async fn record_bank_payout(&self, b: &BankPayout) -> StoreResult<()> {
        write!(self, p => {
            sqlx::query(
                "INSERT INTO bank_payouts (id, account_id, tester_id, amount, currency, stripe_status, failure_code, \
                 failure_message, event_created, retried_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (id) DO UPDATE SET account_id = COALESCE(excluded.account_id, bank_payouts.account_id), \
                 tester_id = COALESCE(excluded.tester_id, bank_payouts.tester_id), amount = excluded.amount, \
                 currency = excluded.currency, stripe_status = excluded.stripe_status, failure_code = excluded.failure_code, \
                 failure_message = excluded.failure_message, event_created = excluded.event_created, \
                 retried_by = COALESCE(excluded.retried_by, bank_payouts.retried_by), updated_at = excluded.updated_at \
                 WHERE bank_payouts.event_created <= excluded.event_created",
            )
            .bind(&b.id)
            .bind(&b.account_id)
            .bind(&b.tester_id)
            .bind(b.amount.minor)
            .bind(&b.amount.currency)
            .bind(&b.stripe_status)
            .bind(&b.failure_code)
            .bind(&b.failure_message)
            .bind(b.event_created)
            .bind(&b.retried_by)
            .bind(b.updated_at)
            .execute(p)
            .await?;
            Ok(())
        })
    }

    async fn get_bank_payout(&self, id: &str) -> StoreResult<Option<BankPayout>> {
        let sql = format!("SELECT {BANK_COLS} FROM bank_payouts WHERE id = $1");
        read!(self, p => {
            let row: Option<BankRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(p).await?;
            Ok(row.map(bank_from))
        })
    }

    async fn set_bank_payout_retry(&self, id: &str, retried_by: &str, now: i64) -> StoreResult<()> {
        write!(self, p => {
            sqlx::query("UPDATE bank_payouts SET retried_by = $1, updated_at = $2 WHERE id = $3")
                .bind(retried_by)
                .bind(now)
                .bind(id)
                .execute(p)
                .await?;
            Ok(())
        })
    }
}
