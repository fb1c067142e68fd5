//! Billing (issue #11): a business pays for a study through Stripe Checkout before it launches,
//! testers onboard to Stripe Connect, signed Stripe webhooks are stored and handled through the
//! queue, and the payout ledger pays each confirmed session once.
//!
//! Money: the study's `compensation.amount` becomes integer minor units once (`Terms::of`);
//! the business pays `testerCount × (compensation + fee)`, each tester receives
//! `compensation − fee` (the fee is `OPENSCOUTER_PLATFORM_FEE_PERCENT` of the compensation).
//!
//! Paying a session exactly once: the ledger line is reserved first (unique per session), a
//! worker claims it with a lease, calls Stripe with the session's idempotency key, then records
//! the transfer. A crash between the call and the record leaves the line claimed; once the
//! lease runs out a retry looks the transfer up at Stripe and, failing that, repeats the call
//! with the same key, which Stripe answers with the first transfer.

use std::net::IpAddr;
use std::sync::Arc;

use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::auth::principal::Principal;
use crate::config::StripeConfig;
use crate::domain::ids::{OrgId, QueueItemId, StudyId, new_id, new_ids, prefix};
use crate::domain::money::{FeeRate, Money, to_minor};
use crate::domain::study::{CompensationType, StudyDefinition};
use crate::domain::{PaymentStatus, PayoutLineStatus, QueueKind, Role, SessionStatus, StudyStatus, Tenant};
use crate::error::{AppError, AppResult};
use crate::integrations::stripe::{
    self, Billing, CheckoutRequest, PayoutRequest, SIGNATURE_TOLERANCE_SECS, StripeError, TransferRequest,
};
use crate::origin::OriginPattern;
use crate::ratelimit::Decision;
use crate::services::inbound;
use crate::services::queue::{self, Work};
use crate::store::{
    AccountFlags, BankPayout, ConnectAccountRow, EnqueueGuard, Guarded, LineOutcome, NewPayoutLine,
    NewQueueItem, Page, PayoutLine, PayoutRow, QueueItem, StripeEventRow, Study, StudyPayment, StudyScope,
};

/// Studies whose confirmed sessions may be paid: completed, or closed early (the sessions
/// confirmed before the close were still done).
const PAYABLE: [StudyStatus; 2] = [StudyStatus::Completed, StudyStatus::Closed];
/// Lines a payout run may take: never attempted, waiting for an account, or failed before.
const CLAIMABLE: [PayoutLineStatus; 3] =
    [PayoutLineStatus::Reserved, PayoutLineStatus::Skipped, PayoutLineStatus::Failed];
/// Lines that are settled for the sweeper: paid.
const SETTLED: [PayoutLineStatus; 1] = [PayoutLineStatus::Paid];
/// Lines to retry when a tester's account starts taking payouts.
const WAITING: [PayoutLineStatus; 2] = [PayoutLineStatus::Skipped, PayoutLineStatus::Failed];

const NOT_CONFIRMED: &str = "Study payment is not confirmed";

fn not_configured() -> AppError {
    AppError::Unavailable("Billing is not configured".into())
}

/// True when Stripe billing is configured.
pub fn configured(state: &App) -> bool {
    state.billing.is_some() && state.config.stripe.is_some()
}

/// The client and its configuration, or 503.
fn stripe_of(state: &App) -> AppResult<(&Arc<dyn Billing>, &StripeConfig)> {
    match (&state.billing, &state.config.stripe) {
        (Some(b), Some(c)) => Ok((b, c)),
        _ => Err(not_configured()),
    }
}

/// A failed Stripe call as the caller sees it: 503 when worth retrying, else an internal error
/// (logged with Stripe's text, never sent).
fn stripe_failed(e: StripeError) -> AppError {
    if e.retryable() {
        tracing::warn!(error = %e, "Stripe unavailable");
        AppError::Unavailable("The payment provider is unavailable; try again".into())
    } else {
        AppError::Internal(e.to_string())
    }
}

// --- money

/// What a study costs and pays, in minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    /// ISO 4217, upper case.
    pub currency: String,
    /// Compensation per session.
    pub unit_amount: i64,
    /// Platform fee per session.
    pub fee_per_session: i64,
    /// Seats (`testerCount`).
    pub quantity: i64,
    /// `quantity × (unit_amount + fee_per_session)`.
    pub amount_total: i64,
}

impl Terms {
    /// The terms of a study definition. An hourly rate pays the study's `maxDurationMinutes`,
    /// the most a session may take (rounded half up to a whole minor unit).
    pub fn of(def: &StudyDefinition, fee: FeeRate) -> AppResult<Self> {
        let currency = def.compensation.currency.clone();
        if !stripe::supports_currency(&currency) {
            return Err(AppError::invalid(format!(
                "compensation.currency: {currency} cannot be paid through Stripe billing"
            )));
        }
        let rate = to_minor(def.compensation.amount, &currency).ok_or_else(|| {
            AppError::invalid("compensation.amount: not a whole number of the currency's minor unit")
        })?;
        let unit_amount = match def.compensation.kind {
            CompensationType::Flat => rate,
            CompensationType::Hourly => {
                let minutes = def.settings.max_duration_minutes.max(1);
                i64::try_from((i128::from(rate) * i128::from(minutes) + 30) / 60).unwrap_or(i64::MAX)
            }
        };
        let fee_per_session = fee.fee_of(unit_amount);
        if unit_amount - fee_per_session <= 0 {
            return Err(AppError::invalid(
                "compensation.amount: too small to leave the tester anything after the platform fee",
            ));
        }
        let quantity = def.targeting.tester_count;
        let amount_total = unit_amount
            .checked_add(fee_per_session)
            .and_then(|per| per.checked_mul(quantity))
            .ok_or_else(|| AppError::invalid("compensation.amount: too large"))?;
        Ok(Self { currency, unit_amount, fee_per_session, quantity, amount_total })
    }

    fn matches(&self, p: &StudyPayment) -> bool {
        self.currency == p.currency
            && self.unit_amount == p.unit_amount
            && self.fee_per_session == p.fee_per_session
            && self.quantity == p.quantity
    }
}

// --- redirect URLs

/// A URL Stripe sends the browser back to: on a configured CORS origin (or, in development,
/// localhost), so a checkout or onboarding link cannot bounce a user to a foreign site.
/// Absent: the first configured exact origin with `default_path`.
fn redirect_url(state: &App, given: Option<&str>, default_path: &str, field: &str) -> AppResult<String> {
    let origins = &state.config.cors_origins;
    let Some(url) = given else {
        let base = origins
            .iter()
            .find(|o| matches!(OriginPattern::parse(o), Ok(OriginPattern::Exact(_))))
            .map_or("https://openscouter.com", String::as_str);
        return Ok(format!("{}{default_path}", base.trim_end_matches('/')));
    };
    let bad = || AppError::invalid(format!("{field}: must be an http(s) URL on an allowed origin"));
    crate::domain::address::validate_http_url(url).map_err(|_| bad())?;
    let origin = reqwest::Url::parse(url).map_err(|_| bad())?.origin().ascii_serialization();
    let allowed = origins.iter().filter_map(|o| OriginPattern::parse(o).ok()).any(|p| p.matches(&origin))
        || (state.config.env == crate::config::Environment::Development
            && crate::origin::split_origin(&origin)
                .is_some_and(|(s, h, _)| s == "http" && (h == "localhost" || h == "127.0.0.1")));
    if allowed { Ok(url.to_owned()) } else { Err(bad()) }
}

fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..6])
}

// --- checkout and the launch gate

/// Opens (or, for the same terms, finds again) the Stripe Checkout Session that pays for a
/// draft study. The idempotency key is the study's, with its terms and return URLs: repeating
/// the request returns the same session; changing the study's price opens a new one.
pub async fn checkout(
    state: &App,
    caller: &Principal,
    study_id: &StudyId,
    success_url: Option<&str>,
    cancel_url: Option<&str>,
    launch_on_payment: bool,
) -> AppResult<StudyPayment> {
    let (billing, cfg) = stripe_of(state)?;
    crate::services::recovery::require_verified(state, caller, "pay for a study").await?;
    let org = match (caller.role, caller.tenant()?) {
        (Role::Business, Tenant::Organization(org)) => org,
        _ => return Err(AppError::Forbidden("Only business accounts pay for studies".into())),
    };
    let study = state
        .store
        .get_study(&StudyScope::Organization(org.clone()), study_id)
        .await?
        .ok_or_else(|| AppError::not_found("Study"))?;
    if study.status != StudyStatus::Draft {
        return Err(AppError::invalid(format!(
            "Only a draft study is paid for at checkout; this study is {}",
            study.status
        )));
    }
    let terms = Terms::of(&study.definition, cfg.platform_fee)?;
    let tenant = Tenant::Organization(org.clone());
    if let Some(existing) = state.store.get_payment(&tenant, study_id).await?
        && existing.status == PaymentStatus::Paid
    {
        return Err(AppError::invalid(if terms.matches(&existing) {
            "Study payment is already confirmed"
        } else {
            "This study was paid for with another compensation or tester count; restore them to launch it"
        }));
    }
    let success = redirect_url(
        state,
        success_url,
        &format!("/dashboard/jobs/{study_id}?checkout=success"),
        "successUrl",
    )?;
    let cancel = redirect_url(
        state,
        cancel_url,
        &format!("/dashboard/jobs/{study_id}?checkout=cancelled"),
        "cancelUrl",
    )?;
    let key = format!(
        "checkout-{study_id}-{}x{}+{}{}-{}",
        terms.quantity,
        terms.unit_amount,
        terms.fee_per_session,
        terms.currency,
        short_hash(&[&success, &cancel])
    );
    let request = CheckoutRequest {
        study_id,
        title: &study.definition.title,
        currency: &terms.currency,
        unit_amount: terms.unit_amount,
        fee_per_session: terms.fee_per_session,
        quantity: terms.quantity,
        success_url: &success,
        cancel_url: &cancel,
    };
    let session = billing.create_checkout_session(&request, &key).await.map_err(stripe_failed)?;
    let now = state.now();
    let payment = StudyPayment {
        study_id: study_id.to_owned(),
        organization_id: org,
        status: PaymentStatus::Pending,
        currency: terms.currency,
        unit_amount: terms.unit_amount,
        fee_per_session: terms.fee_per_session,
        quantity: terms.quantity,
        amount_total: terms.amount_total,
        checkout_session_id: Some(session.id),
        checkout_url: session.url,
        idempotency_key: key,
        created_at: now,
        updated_at: now,
        paid_at: None,
        launch_on_payment,
    };
    match state.store.put_payment(&payment, &[PaymentStatus::Pending]).await? {
        Guarded::Done(p) => Ok(p),
        Guarded::NotFound => Err(AppError::not_found("Study")),
        // Confirmed between our read and write: the business already paid.
        Guarded::WrongState(_) => Err(AppError::invalid("Study payment is already confirmed")),
    }
}

/// The launch rule once billing is configured: a draft launches only with a confirmed payment
/// for its current compensation and tester count (spec §3). `study` is the caller's (already
/// tenant-checked). The fee is not compared: a fee change after payment does not block launch.
pub async fn launch_gate(state: &App, study: &Study) -> AppResult<()> {
    if !configured(state) || study.status != StudyStatus::Draft {
        // Billing off, or not a launch (the status guard answers).
        return Ok(());
    }
    let tenant = Tenant::Organization(study.organization_id.clone());
    match state.store.get_payment(&tenant, &study.id).await? {
        Some(p) if p.status == PaymentStatus::Paid => {
            let covered = Terms::of(&study.definition, FeeRate(0)).is_ok_and(|t| {
                t.currency == p.currency && t.unit_amount == p.unit_amount && t.quantity == p.quantity
            });
            if covered {
                Ok(())
            } else {
                Err(AppError::invalid(
                    "Study payment does not cover its current compensation or tester count; check out again",
                ))
            }
        }
        _ => Err(AppError::invalid(NOT_CONFIRMED)),
    }
}

// --- Connect onboarding

/// Starts (or resumes) the tester's Stripe Connect Express onboarding: creates their account
/// once (idempotency key per tester), then a fresh one-time onboarding link.
pub async fn connect(
    state: &App,
    caller: &Principal,
    return_url: Option<&str>,
    refresh_url: Option<&str>,
) -> AppResult<(ConnectAccountRow, String)> {
    let (billing, _) = stripe_of(state)?;
    if caller.role != Role::Tester {
        return Err(AppError::Forbidden("Only testers onboard to Stripe Connect".into()));
    }
    let ret = redirect_url(state, return_url, "/tester/payouts?stripe=return", "returnUrl")?;
    let refresh = redirect_url(state, refresh_url, "/tester/payouts?stripe=refresh", "refreshUrl")?;
    let account = match state.store.get_connect_account(&caller.user_id).await? {
        Some(a) => a,
        None => {
            let key = format!("connect-account-{}", caller.user_id);
            let created =
                billing.create_express_account(&caller.user_id, &key).await.map_err(stripe_failed)?;
            let now = state.now();
            state
                .store
                .insert_connect_account(&ConnectAccountRow {
                    user_id: caller.user_id.clone(),
                    account_id: created.id,
                    payouts_enabled: created.payouts_enabled,
                    charges_enabled: created.charges_enabled,
                    details_submitted: created.details_submitted,
                    created_at: now,
                    updated_at: now,
                })
                .await?
        }
    };
    let url =
        billing.create_account_link(&account.account_id, &refresh, &ret).await.map_err(stripe_failed)?;
    Ok((account, url))
}

// --- the Stripe webhook

/// The envelope fields of an event that receipt needs.
#[derive(Debug, Deserialize)]
struct EventHead {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    created: i64,
}

/// Receives one `POST /api/webhooks/stripe`: checks the signature (401 on a bad or stale one),
/// applies the inbound rate tier, stores the event once by its id and queues its handling.
/// A redelivered event that was handled changes nothing. Returns the rate-limit decision for
/// the response headers.
pub async fn receive_stripe_event(
    state: &App,
    signature: Option<&str>,
    payload: &[u8],
    client_ip: Option<IpAddr>,
) -> AppResult<Decision> {
    let (_, cfg) = stripe_of(state)?;
    let now = state.now();
    let secret = cfg.webhook_secret.expose_secret().as_bytes();
    if let Err(why) =
        stripe::verify_signature(secret, signature, payload, now.div_euclid(1000), SIGNATURE_TOLERANCE_SECS)
    {
        inbound::refused(state, client_ip).await?;
        tracing::warn!(reason = ?why, "Stripe webhook refused");
        return Err(AppError::Unauthorized(why.message().into()));
    }
    let decision = inbound::admit(state, "stripe").await?;
    let text =
        std::str::from_utf8(payload).map_err(|_| AppError::BadRequest("Malformed Stripe event".into()))?;
    let head: EventHead =
        serde_json::from_str(text).map_err(|_| AppError::BadRequest("Malformed Stripe event".into()))?;
    let plain = |s: &str| !s.is_empty() && s.len() <= 255 && !s.chars().any(char::is_control);
    if !(plain(&head.id) && plain(&head.kind)) {
        return Err(AppError::BadRequest("Malformed Stripe event".into()));
    }
    let row = StripeEventRow {
        id: head.id.clone(),
        kind: head.kind.clone(),
        payload: text.to_owned(),
        created: head.created,
        received_at: now,
        processed_at: None,
    };
    let handling = NewQueueItem {
        id: QueueItemId::new(now),
        kind: QueueKind::StripeEvent,
        subject_id: head.id.clone(),
        organization_id: OrgId::default(),
        tester_id: None,
        payload: None,
        max_attempts: queue::MAX_ATTEMPTS,
        now,
    };
    let new = state.store.insert_stripe_event(&row, &handling).await?;
    if new {
        state.queue_ready.notify_one();
    } else if state.store.get_stripe_event(&head.id).await?.is_some_and(|e| e.processed_at.is_none()) {
        // Seen before but never handled (its item ran out of attempts): queue it again; the
        // queue returns the item still pending, if any.
        let work = Work {
            kind: QueueKind::StripeEvent,
            subject_id: &head.id,
            organization_id: None,
            tester_id: None,
            payload: None,
        };
        queue::enqueue(state, work, EnqueueGuard::Unconditional).await?;
    }
    tracing::info!(event = %head.id, kind = %head.kind, new, "Stripe event received");
    Ok(decision)
}

/// Worker side: handles one stored event, then marks it processed. Idempotent: every effect is
/// a guarded write, and a processed event is skipped.
pub async fn run_stripe_event(state: &App, authority: &Tenant, item: &QueueItem) -> AppResult<String> {
    let Some(event) = state.store.get_stripe_event(&item.subject_id).await? else {
        return Ok(item.subject_id.clone());
    };
    if event.processed_at.is_some() {
        return Ok(event.id);
    }
    let body: Value = serde_json::from_str(&event.payload).map_err(AppError::internal)?;
    let object = &body["data"]["object"];
    match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            checkout_completed(state, authority, &event, object).await?;
        }
        "account.updated" => account_updated(state, authority, &event, object).await?,
        "payout.paid" | "payout.failed" => bank_payout(state, &event, &body, object).await?,
        other => tracing::debug!(event = %event.id, kind = other, "Stripe event not handled"),
    }
    state.store.mark_stripe_event_processed(&event.id, state.now()).await?;
    Ok(event.id)
}

/// `checkout.session.completed`: the study named by `metadata.jobId` (or
/// `client_reference_id`) is paid, if Stripe says so and the amount is the one asked for.
async fn checkout_completed(
    state: &App,
    authority: &Tenant,
    event: &StripeEventRow,
    object: &Value,
) -> AppResult<()> {
    let study_id = object
        .pointer("/metadata/jobId")
        .and_then(Value::as_str)
        .or_else(|| object["client_reference_id"].as_str());
    let Some(study_id) = study_id else {
        tracing::warn!(event = %event.id, "checkout session names no study");
        return Ok(());
    };
    let study = StudyId::from(study_id);
    // `unpaid`: a delayed method; `checkout.session.async_payment_succeeded` follows.
    if !matches!(object["payment_status"].as_str(), Some("paid" | "no_payment_required")) {
        tracing::info!(event = %event.id, study = study_id, "checkout completed, payment still pending");
        return Ok(());
    }
    let Some(payment) = state.store.get_payment(authority, &study).await? else {
        if state.store.get_study(&authority.into(), &study).await?.is_some() {
            // Our record of the checkout is not there (yet): let the queue retry.
            return Err(AppError::Internal(format!("no checkout recorded for {study_id}")));
        }
        tracing::warn!(event = %event.id, study = study_id, "checkout for a study we do not know");
        return Ok(());
    };
    let currency = object["currency"].as_str().unwrap_or("");
    if !object["amount_total"].as_i64().is_some_and(|paid| payment.total().is(paid, currency)) {
        // Money arrived that does not match the study's terms: never launch on it silently.
        tracing::error!(event = %event.id, study = study_id, amount = ?object["amount_total"].as_i64(), currency,
            expected = payment.amount_total, "checkout amount differs from the study's payment; not confirmed");
        return Ok(());
    }
    let now = state.now();
    match state
        .store
        .set_payment_status(authority, &study, &[PaymentStatus::Pending], PaymentStatus::Paid, Some(now), now)
        .await?
    {
        Guarded::Done(_) => tracing::info!(study = study_id, "study payment confirmed"),
        Guarded::WrongState(_) | Guarded::NotFound => {}
    }
    if payment.launch_on_payment {
        // Payment starts the study (api.md §11): queued, so a repeat of this event (or a
        // crash before it is marked handled) finds the launch pending or the study launched.
        let work = Work {
            kind: QueueKind::LaunchStudy,
            subject_id: study_id,
            organization_id: Some(&payment.organization_id),
            tester_id: None,
            payload: None,
        };
        queue::enqueue(state, work, EnqueueGuard::StudyIn { within: &[StudyStatus::Draft] }).await?;
    }
    Ok(())
}

/// `account.updated`: records the account's flags (an older event never overwrites a newer
/// one); when payouts become enabled, the tester's waiting lines are paid.
async fn account_updated(
    state: &App,
    authority: &Tenant,
    event: &StripeEventRow,
    object: &Value,
) -> AppResult<()> {
    let Some(account_id) = object["id"].as_str() else {
        return Ok(());
    };
    let flags = AccountFlags {
        payouts_enabled: object["payouts_enabled"].as_bool().unwrap_or(false),
        charges_enabled: object["charges_enabled"].as_bool().unwrap_or(false),
        details_submitted: object["details_submitted"].as_bool().unwrap_or(false),
        stripe_created: event.created,
    };
    let Some((before, after)) = state.store.update_connect_account(account_id, flags, state.now()).await?
    else {
        tracing::info!(event = %event.id, account = account_id, "account.updated for an account we do not know");
        return Ok(());
    };
    if !before.payouts_enabled && after.payouts_enabled {
        for study_id in state.store.studies_with_tester_lines(&after.user_id, &WAITING).await? {
            enqueue_payout(state, authority, &study_id).await?;
        }
    }
    Ok(())
}

/// `payout.paid` / `payout.failed`: a connected account's bank payout. A failure is recorded,
/// the tester told, and a new payout queued (retried with backoff) for the same amount.
async fn bank_payout(state: &App, event: &StripeEventRow, body: &Value, object: &Value) -> AppResult<()> {
    let Some(payout_id) = object["id"].as_str() else {
        return Ok(());
    };
    // Connect events name the connected account at the top level; the platform's own don't.
    let account_id = body["account"].as_str().map(str::to_owned);
    let tester_id = match &account_id {
        Some(a) => state.store.connect_account_by_stripe_id(a).await?.map(|r| r.user_id),
        None => None,
    };
    let failed = event.kind == "payout.failed";
    let record = BankPayout {
        id: payout_id.to_owned(),
        account_id: account_id.clone(),
        tester_id: tester_id.clone(),
        amount: Money::new(object["amount"].as_i64().unwrap_or(0), object["currency"].as_str().unwrap_or("")),
        stripe_status: object["status"].as_str().unwrap_or(if failed { "failed" } else { "paid" }).to_owned(),
        failure_code: object["failure_code"].as_str().map(str::to_owned),
        failure_message: object["failure_message"].as_str().map(str::to_owned),
        event_created: event.created,
        retried_by: None,
        updated_at: state.now(),
    };
    state.store.record_bank_payout(&record).await?;
    if !failed {
        tracing::info!(payout = payout_id, tester = ?tester_id, amount = record.amount.minor, "bank payout paid");
        return Ok(());
    }
    let Some(tester) = tester_id else {
        tracing::warn!(payout = payout_id, account = ?account_id, code = ?record.failure_code,
            "bank payout failed for an account that is not a tester's; nothing to retry");
        return Ok(());
    };
    tracing::warn!(tester = %tester, payout = payout_id, code = ?record.failure_code,
        "bank payout failed; notifying the tester and retrying");
    let notice = crate::services::notifications::Notice {
        kind: crate::domain::NotificationKind::PayoutFailed,
        title: "Your payout did not arrive".into(),
        body: "Your bank did not accept a payout from OpenScouter. We will try again; please check \
               your payout details in Stripe."
            .into(),
        data: serde_json::json!({"payoutId": payout_id}),
        once: Some(format!("payout.failed:{payout_id}")),
    };
    let to = crate::store::Recipient::User(tester.clone());
    crate::services::notifications::notify(state, to, notice, None, None).await?;
    let work = Work {
        kind: QueueKind::PayoutRetry,
        subject_id: payout_id,
        organization_id: None,
        tester_id: Some(&tester),
        payload: None,
    };
    queue::enqueue(state, work, EnqueueGuard::Unconditional).await?;
    Ok(())
}

/// Worker side of a failed bank payout: a new payout of the same amount from the tester's
/// connected account (idempotency key per failed payout). An error makes the queue retry with
/// backoff; a later `payout.paid` for the original, or a retry already made, ends it.
pub async fn run_payout_retry(state: &App, item: &QueueItem) -> AppResult<String> {
    let (billing, _) = stripe_of(state)?;
    let Some(failed) = state.store.get_bank_payout(&item.subject_id).await? else {
        return Ok(item.subject_id.clone());
    };
    if let Some(retry) = failed.retried_by {
        return Ok(retry);
    }
    let (Some(account), "failed") = (failed.account_id.as_deref(), failed.stripe_status.as_str()) else {
        return Ok(failed.id);
    };
    let request = PayoutRequest { account, amount: failed.amount.clone(), retry_of: &failed.id };
    let payout = billing
        .create_payout(&request, &format!("payout-retry-{}", failed.id))
        .await
        .map_err(|e| AppError::Internal(format!("payout retry failed: {e}")))?;
    state.store.set_bank_payout_retry(&failed.id, &payout.id, state.now()).await?;
    tracing::info!(failed = %failed.id, retry = %payout.id, "bank payout retried");
    Ok(payout.id)
}

// --- payouts

/// A study's payout with its lines.
#[derive(Debug, Clone)]
pub struct PayoutSummary {
    pub payout: PayoutRow,
    pub lines: Vec<PayoutLine>,
}

/// Queues the study's payout (or finds the one queued).
async fn enqueue_payout(state: &App, authority: &Tenant, study_id: &StudyId) -> AppResult<()> {
    let Some(study) = state.store.get_study(&authority.into(), study_id).await? else {
        return Ok(());
    };
    let work = Work {
        kind: QueueKind::StudyPayout,
        subject_id: &study.id,
        organization_id: Some(&study.organization_id),
        tester_id: None,
        payload: None,
    };
    queue::enqueue(state, work, EnqueueGuard::StudyHasSession { with: SessionStatus::Confirmed }).await?;
    Ok(())
}

/// Queues the payout of every completed, paid study that still owes a confirmed session its
/// transfer. The scheduler of issue #12 (`/api/cron/payout-retry`) calls this. Returns how many.
pub async fn sweep_payouts(state: &App, authority: &Tenant) -> AppResult<usize> {
    if !configured(state) {
        return Ok(0);
    }
    let owing = state
        .store
        .studies_owing_payouts(
            StudyStatus::Completed,
            PaymentStatus::Paid,
            SessionStatus::Confirmed,
            &SETTLED,
        )
        .await?;
    for study_id in &owing {
        enqueue_payout(state, authority, study_id).await?;
    }
    Ok(owing.len())
}

/// `POST /api/billing/payout` (admins): pays the study's confirmed sessions now.
pub async fn payout_now(state: &App, caller: &Principal, study_id: &StudyId) -> AppResult<PayoutSummary> {
    stripe_of(state)?;
    if caller.role != Role::Admin {
        return Err(AppError::Forbidden("Admin role required".into()));
    }
    pay_study(state, &caller.tenant()?, study_id).await.map(|(summary, _)| summary)
}

/// Worker side of a study's payout. Lines that failed in a way worth retrying make the item
/// fail, so the queue retries with backoff; waiting lines (no account yet) do not.
pub async fn run_study_payout(state: &App, authority: &Tenant, study_id: &StudyId) -> AppResult<String> {
    let (summary, retry) = pay_study(state, authority, study_id).await?;
    if retry > 0 {
        return Err(AppError::Internal(format!(
            "{retry} transfer(s) of {} failed; retrying",
            summary.payout.id
        )));
    }
    Ok(summary.payout.id)
}

/// What became of one line in this run.
enum LineRun {
    Done,
    RetryLater,
}

/// Reserves a line for every confirmed session (at most the seats paid for), then pays each
/// line this run can claim. Returns the payout and how many lines failed retryably.
async fn pay_study(state: &App, authority: &Tenant, study_id: &StudyId) -> AppResult<(PayoutSummary, usize)> {
    let (billing, _) = stripe_of(state)?;
    let study = state
        .store
        .get_study(&authority.into(), study_id)
        .await?
        .ok_or_else(|| AppError::not_found("Study"))?;
    if !PAYABLE.contains(&study.status) {
        return Err(AppError::invalid(format!(
            "Study is {}; testers are paid once it is completed",
            study.status
        )));
    }
    let payment = match state.store.get_payment(&study.owner(), study_id).await? {
        Some(p) if p.status == PaymentStatus::Paid => p,
        _ => return Err(AppError::invalid(NOT_CONFIRMED)),
    };
    let now = state.now();
    let payout = state
        .store
        .ensure_payout(&PayoutRow {
            id: new_id(prefix::PAYOUT, now),
            study_id: study.id.clone(),
            organization_id: study.organization_id.clone(),
            currency: payment.currency.clone(),
            created_at: now,
        })
        .await?;
    let seats = usize::try_from(payment.quantity).unwrap_or(0);
    let payable = state.store.payable_sessions(&study.owner(), study_id, SessionStatus::Confirmed).await?;
    // Consecutive ids, so the ledger lists lines in the sessions' order.
    let ids = new_ids(prefix::PAYOUT_LINE, now, payable.len().min(seats));
    let lines: Vec<NewPayoutLine> = payable
        .into_iter()
        .zip(ids)
        .map(|((session_id, tester_id), id)| NewPayoutLine {
            id,
            idempotency_key: format!("transfer-{session_id}"),
            session_id,
            tester_id,
            gross_amount: payment.unit_amount,
            fee_amount: payment.fee_per_session,
            amount: payment.unit_amount - payment.fee_per_session,
        })
        .collect();
    state.store.reserve_payout_lines(&payout, &lines, PayoutLineStatus::Reserved, now).await?;
    let mut retry = 0;
    for line in state.store.payout_lines(&study.owner(), study_id).await? {
        if line.status == PayoutLineStatus::Paid {
            continue;
        }
        if let LineRun::RetryLater = pay_line(state, billing.as_ref(), &line.id).await? {
            retry += 1;
        }
    }
    let lines = state.store.payout_lines(&study.owner(), study_id).await?;
    Ok((PayoutSummary { payout, lines }, retry))
}

/// One attempt at one line: claim it, pick the tester's account, find or make the transfer,
/// record it. A line another worker holds is left alone.
async fn pay_line(state: &App, billing: &dyn Billing, line_id: &str) -> AppResult<LineRun> {
    use PayoutLineStatus::{Failed, Paid, Skipped, Transferring};
    let now = state.now();
    let lease_until = now + state.config.job_lease_ms;
    let Some(line) =
        state.store.claim_payout_line(line_id, &CLAIMABLE, Transferring, lease_until, now).await?
    else {
        return Ok(LineRun::Done);
    };
    let finish = |status, transfer: Option<&str>, destination: Option<&str>, error: Option<String>| {
        let line_id = line.id.clone();
        let transfer = transfer.map(str::to_owned);
        let destination = destination.map(str::to_owned);
        async move {
            let outcome = LineOutcome {
                status,
                transfer_id: transfer.as_deref(),
                destination: destination.as_deref(),
                error: error.as_deref(),
                paid: status == Paid,
            };
            state.store.finish_payout_line(&line_id, Transferring, outcome, state.now()).await
        }
    };
    let account = state.store.get_connect_account(&line.tester_id).await?.filter(|a| a.payouts_enabled);
    let Some(account) = account else {
        finish(Skipped, None, None, Some("no payout-enabled Stripe account yet".into())).await?;
        return Ok(LineRun::Done);
    };
    // A previous attempt may have reached Stripe and lost the answer (a crash, a timeout):
    // look for its transfer before making one, which also covers an expired idempotency key.
    if line.attempts > 1 {
        match billing.find_transfer(&line.study_id, &line.session_id).await {
            Ok(Some(t)) => {
                finish(Paid, Some(&t.id), t.destination.as_deref().or(Some(&account.account_id)), None)
                    .await?;
                tracing::info!(line = %line.id, transfer = %t.id, "transfer found at Stripe and recorded");
                return Ok(LineRun::Done);
            }
            Ok(None) => {}
            Err(e) => {
                finish(Failed, None, None, Some(e.to_string())).await?;
                return Ok(LineRun::RetryLater);
            }
        }
    }
    let request = TransferRequest {
        amount: line.net(),
        destination: &account.account_id,
        transfer_group: &line.study_id,
        session_id: &line.session_id,
        line_id: &line.id,
    };
    match billing.create_transfer(&request, &line.idempotency_key).await {
        Ok(t) => {
            finish(Paid, Some(&t.id), Some(&account.account_id), None).await?;
            Ok(LineRun::Done)
        }
        Err(e) => {
            tracing::warn!(line = %line.id, error = %e, "transfer failed");
            finish(Failed, None, None, Some(e.to_string())).await?;
            Ok(if e.retryable() { LineRun::RetryLater } else { LineRun::Done })
        }
    }
}

/// Payout lines the caller may see: testers their own, a business its studies' (as anonymous
/// labels), admins all; optionally one study's.
pub struct PayoutList {
    pub lines: Vec<PayoutLine>,
    pub total: u64,
    /// Whether the caller may see tester ids (not a business: spec §1.5).
    pub reveal_testers: bool,
}

pub async fn list_payouts(
    state: &App,
    caller: &Principal,
    study_id: Option<&StudyId>,
    page: Page,
) -> AppResult<PayoutList> {
    stripe_of(state)?;
    let tenant = caller.tenant()?;
    let reveal_testers = !matches!(tenant, Tenant::Organization(_));
    let (lines, total) = state.store.list_payout_lines(&tenant, study_id, page).await?;
    Ok(PayoutList { lines, total, reveal_testers })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(currency: &str, amount: f64, kind: CompensationType, testers: i64) -> StudyDefinition {
        serde_json::from_value(serde_json::json!({
            "title": "t", "description": "d", "prototypeUrl": "https://x.io", "prototypeType": "url",
            "targeting": {"countries": ["GB"], "testerCount": testers}, "ndCategories": ["adhd"],
            "compensation": {"currency": currency, "amount": amount, "type": kind},
            "settings": {"maxDurationMinutes": 45}
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn terms_are_integer_minor_units() {
        let t = Terms::of(&definition("USD", 15.0, CompensationType::Flat, 3), FeeRate(2000)).ok();
        let t = t.unwrap_or_else(|| panic!("terms"));
        assert_eq!((t.unit_amount, t.fee_per_session, t.quantity, t.amount_total), (1500, 300, 3, 5400));
        let yen = Terms::of(&definition("JPY", 1500.0, CompensationType::Flat, 5), FeeRate(2000)).ok();
        assert_eq!(yen.map(|t| (t.unit_amount, t.amount_total)), Some((1500, 9000)));
        // £24/hour for a 45-minute session: £18.00.
        let hourly = Terms::of(&definition("GBP", 24.0, CompensationType::Hourly, 3), FeeRate(2000)).ok();
        assert_eq!(hourly.map(|t| (t.unit_amount, t.fee_per_session)), Some((1800, 360)));
        assert!(Terms::of(&definition("ISK", 100.0, CompensationType::Flat, 3), FeeRate(2000)).is_err());
        assert!(Terms::of(&definition("GBP", 0.01, CompensationType::Flat, 3), FeeRate(9999)).is_err());
    }
}
