//! Billing in the store: study payments, testers' Connect accounts, received Stripe events,
//! the payout ledger and bank payouts. Amounts are integer minor units. Which statuses a
//! change may start from is the services' decision; the store applies it atomically.

use async_trait::async_trait;

use crate::domain::ids::{OrgId, SessionId, StudyId, UserId};

use super::{Guarded, Page, StoreResult};
use crate::domain::money::Money;
use crate::domain::{PaymentStatus, PayoutLineStatus, Tenant};

/// A study's payment: the Checkout Session opened for it and whether Stripe confirmed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudyPayment {
    pub study_id: StudyId,
    pub organization_id: OrgId,
    pub status: PaymentStatus,
    /// ISO 4217, upper case.
    pub currency: String,
    /// Compensation per session.
    pub unit_amount: i64,
    /// Platform fee per session, charged on top.
    pub fee_per_session: i64,
    /// Seats paid for (`testerCount`).
    pub quantity: i64,
    /// `quantity × (unit_amount + fee_per_session)`.
    pub amount_total: i64,
    pub checkout_session_id: Option<String>,
    pub checkout_url: Option<String>,
    pub idempotency_key: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub paid_at: Option<i64>,
    /// Launch the study when Stripe confirms the payment (api.md §11).
    pub launch_on_payment: bool,
}

impl StudyPayment {
    /// What the Checkout Session charges: `amount_total` of `currency`.
    pub fn total(&self) -> Money {
        Money::new(self.amount_total, self.currency.as_str())
    }
}

/// A tester's Connect account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectAccountRow {
    pub user_id: UserId,
    pub account_id: String,
    pub payouts_enabled: bool,
    pub charges_enabled: bool,
    pub details_submitted: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What `account.updated` says of an account, and when Stripe said it (`created`, seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountFlags {
    pub payouts_enabled: bool,
    pub charges_enabled: bool,
    pub details_submitted: bool,
    pub stripe_created: i64,
}

/// A received Stripe event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEventRow {
    pub id: String,
    pub kind: String,
    /// The raw JSON body Stripe signed.
    pub payload: String,
    pub created: i64,
    pub received_at: i64,
    pub processed_at: Option<i64>,
}

/// A study's payout (the ledger's head).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutRow {
    pub id: String,
    pub study_id: StudyId,
    pub organization_id: OrgId,
    pub currency: String,
    pub created_at: i64,
}

/// A line to reserve: one confirmed session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayoutLine {
    pub id: String,
    pub session_id: SessionId,
    pub tester_id: UserId,
    pub gross_amount: i64,
    pub fee_amount: i64,
    pub amount: i64,
    pub idempotency_key: String,
}

/// A ledger line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutLine {
    pub id: String,
    pub payout_id: String,
    pub study_id: StudyId,
    pub organization_id: OrgId,
    pub session_id: SessionId,
    pub tester_id: UserId,
    pub currency: String,
    pub gross_amount: i64,
    pub fee_amount: i64,
    pub amount: i64,
    pub status: PayoutLineStatus,
    pub idempotency_key: String,
    pub lease_until: Option<i64>,
    pub attempts: i64,
    pub transfer_id: Option<String>,
    pub destination: Option<String>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub paid_at: Option<i64>,
    /// The tester's label number in the study ("Tester N"), for business readers.
    pub label_no: Option<i64>,
}

impl PayoutLine {
    /// What the tester receives: the line's net `amount` of the payout's `currency`.
    pub fn net(&self) -> Money {
        Money::new(self.amount, self.currency.as_str())
    }
}

/// How a claimed line ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineOutcome<'a> {
    pub status: PayoutLineStatus,
    pub transfer_id: Option<&'a str>,
    pub destination: Option<&'a str>,
    pub error: Option<&'a str>,
    /// Set `paid_at` (the line is paid).
    pub paid: bool,
}

/// A bank payout as a `payout.*` event reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankPayout {
    pub id: String,
    pub account_id: Option<String>,
    pub tester_id: Option<UserId>,
    pub amount: Money,
    pub stripe_status: String,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    /// `created` (seconds) of the event; an older event never overwrites a newer one.
    pub event_created: i64,
    pub retried_by: Option<String>,
    pub updated_at: i64,
}

/// Payments, Connect accounts, events and the ledger.
#[async_trait]
pub trait BillingStore: Send + Sync + 'static {
    /// The study's payment (tenant-scoped; a tester sees none).
    async fn get_payment(&self, tenant: &Tenant, study_id: &StudyId) -> StoreResult<Option<StudyPayment>>;
    /// Writes the payment row of a new Checkout Session: inserts it, or replaces the existing
    /// row if its status is in `replace_in`; `WrongState` otherwise.
    async fn put_payment(
        &self,
        payment: &StudyPayment,
        replace_in: &[PaymentStatus],
    ) -> StoreResult<Guarded<StudyPayment>>;
    /// Moves the payment from one of `from` to `to`, stamping `paid_at` when given.
    async fn set_payment_status(
        &self,
        tenant: &Tenant,
        study_id: &StudyId,
        from: &[PaymentStatus],
        to: PaymentStatus,
        paid_at: Option<i64>,
        now: i64,
    ) -> StoreResult<Guarded<StudyPayment>>;

    async fn get_connect_account(&self, user_id: &UserId) -> StoreResult<Option<ConnectAccountRow>>;
    /// Records the tester's account unless one exists; returns the stored one (first wins).
    async fn insert_connect_account(&self, account: &ConnectAccountRow) -> StoreResult<ConnectAccountRow>;
    /// Applies `flags` to the account `account_id` unless a newer event was applied already.
    /// Returns the account before and after, `None` when the account is unknown.
    async fn update_connect_account(
        &self,
        account_id: &str,
        flags: AccountFlags,
        now: i64,
    ) -> StoreResult<Option<(ConnectAccountRow, ConnectAccountRow)>>;
    async fn connect_account_by_stripe_id(&self, account_id: &str) -> StoreResult<Option<ConnectAccountRow>>;

    /// Stores a verified event and queues `handling` in the same transaction; `false` (and
    /// nothing queued) when its id was stored before.
    async fn insert_stripe_event(
        &self,
        event: &StripeEventRow,
        handling: &super::NewQueueItem,
    ) -> StoreResult<bool>;
    async fn get_stripe_event(&self, id: &str) -> StoreResult<Option<StripeEventRow>>;
    async fn mark_stripe_event_processed(&self, id: &str, now: i64) -> StoreResult<()>;

    /// The study's payout, created if absent (one per study, whoever comes first).
    async fn ensure_payout(&self, payout: &PayoutRow) -> StoreResult<PayoutRow>;
    /// Reserves ledger lines in `status`; a session already in the ledger keeps its line.
    /// Returns how many were new.
    async fn reserve_payout_lines(
        &self,
        payout: &PayoutRow,
        lines: &[NewPayoutLine],
        status: PayoutLineStatus,
        now: i64,
    ) -> StoreResult<usize>;
    /// Takes a line for one transfer attempt: it must be in `claimable`, or in `holding` with
    /// its lease run out. It moves to `holding` until `lease_until`, attempts + 1. `None`
    /// when another worker holds it or it is done.
    async fn claim_payout_line(
        &self,
        line_id: &str,
        claimable: &[PayoutLineStatus],
        holding: PayoutLineStatus,
        lease_until: i64,
        now: i64,
    ) -> StoreResult<Option<PayoutLine>>;
    /// Ends an attempt: the line must still be in `from` (else `false`, nothing written).
    async fn finish_payout_line(
        &self,
        line_id: &str,
        from: PayoutLineStatus,
        outcome: LineOutcome<'_>,
        now: i64,
    ) -> StoreResult<bool>;
    /// Every line of the study, oldest first.
    async fn payout_lines(&self, tenant: &Tenant, study_id: &StudyId) -> StoreResult<Vec<PayoutLine>>;
    /// Lines the tenant may see (tester: their own; organization: its studies'), newest first,
    /// optionally of one study.
    async fn list_payout_lines(
        &self,
        tenant: &Tenant,
        study_id: Option<&StudyId>,
        page: Page,
    ) -> StoreResult<(Vec<PayoutLine>, u64)>;
    /// Studies with a line of `tester_id` in one of `statuses`.
    async fn studies_with_tester_lines(
        &self,
        tester_id: &UserId,
        statuses: &[PayoutLineStatus],
    ) -> StoreResult<Vec<StudyId>>;
    /// `(session id, tester id)` of the study's sessions in `status`, oldest first.
    async fn payable_sessions(
        &self,
        tenant: &Tenant,
        study_id: &StudyId,
        status: crate::domain::SessionStatus,
    ) -> StoreResult<Vec<(SessionId, UserId)>>;
    /// Studies in `study_status` whose payment is `payment_status` and that have a session in
    /// `session_status` without a line in `settled` (work a lost trigger left undone).
    async fn studies_owing_payouts(
        &self,
        study_status: crate::domain::StudyStatus,
        payment_status: PaymentStatus,
        session_status: crate::domain::SessionStatus,
        settled: &[PayoutLineStatus],
    ) -> StoreResult<Vec<StudyId>>;

    /// Records a bank payout unless a newer event about it was recorded.
    async fn record_bank_payout(&self, payout: &BankPayout) -> StoreResult<()>;
    async fn get_bank_payout(&self, id: &str) -> StoreResult<Option<BankPayout>>;
    async fn set_bank_payout_retry(&self, id: &str, retried_by: &str, now: i64) -> StoreResult<()>;
}
