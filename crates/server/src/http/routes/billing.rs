//! `/api/billing/*` (Stripe Checkout for studies, Connect onboarding, payouts and their ledger)
//! and the signed Stripe webhook `POST /api/webhooks/stripe`. Every amount is an integer in
//! the currency's minor unit (pence, cents; yen have none).

use axum::Json;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::ids::StudyId;
use crate::domain::{PaymentStatus, PayoutLineStatus, PayoutProgress, format_ms};
use crate::error::{AppError, AppResult};
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::pagination::PageQuery;
use crate::http::extract::query::ApiQuery;
use crate::http::extract::{Admin, ApiJson, Authed, OptionalJson, Pagination, UserJwt};
use crate::http::middleware::client_ip::client_ip;
use crate::http::state::AppState;
use crate::services::billing::{self, PayoutSummary};
use crate::store::{PayoutLine, StudyPayment};

/// Routes under the edge's authentication and rate limits.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(checkout))
        .routes(routes!(connect))
        .routes(routes!(payout))
        .routes(routes!(list_payouts))
}

/// The inbound webhook: no caller credentials (the signature is the credential) and its own
/// rate tier, so it is mounted beside the operations routes, outside the per-caller limiter.
pub fn inbound_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stripe_webhook))
}

/// Pay for a draft study.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutIn {
    /// The study (`job_…`).
    pub job_id: String,
    /// Where Stripe sends the browser after paying; must be on an allowed origin
    /// (`OPENSCOUTER_CORS_ORIGINS`). Default: the dashboard's study page.
    pub success_url: Option<String>,
    /// Where Stripe sends the browser when the payer gives up; same rule.
    pub cancel_url: Option<String>,
    /// Launch the study as soon as Stripe confirms the payment (`checkout.session.completed`),
    /// as `POST /api/jobs/:id/launch` would, and tell the business; default `true`. With
    /// `false`, the business launches it once paid.
    pub launch_on_payment: Option<bool>,
}

/// A study's Checkout Session and payment.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutOut {
    pub job_id: String,
    /// `cs_…`.
    pub checkout_session_id: Option<String>,
    /// Stripe's hosted payment page; send the payer there.
    pub url: Option<String>,
    /// `pending` until Stripe confirms (`checkout.session.completed`), then `paid`.
    pub status: PaymentStatus,
    /// ISO 4217.
    pub currency: String,
    /// Seats paid for (`targeting.testerCount`).
    pub tester_count: i64,
    /// Compensation per session, minor units.
    pub unit_amount: i64,
    /// Platform fee per session, minor units, charged on top.
    pub fee_per_session: i64,
    /// `testerCount × (unitAmount + feePerSession)`, minor units.
    pub amount_total: i64,
    pub paid_at: Option<String>,
}

fn checkout_out(p: StudyPayment) -> CheckoutOut {
    CheckoutOut {
        job_id: p.study_id.into(),
        checkout_session_id: p.checkout_session_id,
        url: p.checkout_url,
        status: p.status,
        currency: p.currency,
        tester_count: p.quantity,
        unit_amount: p.unit_amount,
        fee_per_session: p.fee_per_session,
        amount_total: p.amount_total,
        paid_at: p.paid_at.map(format_ms),
    }
}

/// Open a Stripe Checkout Session for a draft study: `testerCount × (compensation + platform
/// fee)`. Repeating the request returns the same session (idempotency key per study and
/// price). Once Stripe reports `checkout.session.completed`, the study may launch.
#[utoipa::path(post, path = "/api/billing/checkout", tag = "billing", security(("jwt" = []), ("token" = ["write"])), request_body = CheckoutIn,
    responses((status = 200, body = Envelope<CheckoutOut>), (status = 403, description = "Not a business account"),
        (status = 404, description = "No such study of yours"), (status = 422, description = "Not a draft, already paid, unsupported currency or a redirect URL on a foreign origin"),
        (status = 503, description = "Billing is not configured, or Stripe is unavailable")))]
async fn checkout(
    State(state): State<AppState>,
    caller: Authed,
    ApiJson(b): ApiJson<CheckoutIn>,
) -> AppResult<Envelope<CheckoutOut>> {
    let launch = b.launch_on_payment.unwrap_or(true);
    let p = billing::checkout(
        &state,
        &caller,
        &StudyId::from(b.job_id.as_str()),
        b.success_url.as_deref(),
        b.cancel_url.as_deref(),
        launch,
    )
    .await?;
    Ok(ok(checkout_out(p)))
}

/// Where Stripe sends the tester back (both optional; on an allowed origin).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectIn {
    /// After onboarding. Default: the tester dashboard's payouts page.
    pub return_url: Option<String>,
    /// When the link expired or was used; the page should call this endpoint again.
    pub refresh_url: Option<String>,
}

/// The tester's Connect account and a fresh onboarding link.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectOut {
    /// `acct_…`.
    pub stripe_account_id: String,
    /// One-time Stripe onboarding link; expires after a few minutes.
    pub url: String,
    /// From the latest `account.updated`: payouts reach this tester once true.
    pub payouts_enabled: bool,
    pub details_submitted: bool,
}

/// Start or resume Stripe Connect (Express) onboarding for the calling tester. The account is
/// created once; each call returns a new onboarding link. `account.updated` records
/// `payoutsEnabled`.
#[utoipa::path(post, path = "/api/billing/connect", tag = "billing", security(("jwt" = [])), request_body(content = Option<ConnectIn>),
    responses((status = 200, body = Envelope<ConnectOut>), (status = 403, description = "Not a tester"),
        (status = 422, description = "A redirect URL on a foreign origin"), (status = 503, description = "Billing is not configured, or Stripe is unavailable")))]
async fn connect(
    State(state): State<AppState>,
    caller: UserJwt,
    OptionalJson(b): OptionalJson<ConnectIn>,
) -> AppResult<Envelope<ConnectOut>> {
    let (account, url) =
        billing::connect(&state, &caller, b.return_url.as_deref(), b.refresh_url.as_deref()).await?;
    Ok(ok(ConnectOut {
        stripe_account_id: account.account_id,
        url,
        payouts_enabled: account.payouts_enabled,
        details_submitted: account.details_submitted,
    }))
}

/// Pay a study's testers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayoutIn {
    pub job_id: String,
}

/// One confirmed session's line in the payout ledger.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayoutLineOut {
    /// `pli_…`.
    pub line_item_id: String,
    /// The study's payout (`pay_…`).
    pub payout_id: String,
    pub job_id: String,
    pub session_id: String,
    /// The tester (testers and admins only; a business sees `testerLabel`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tester_id: Option<String>,
    /// `Tester N`, stable within the study.
    pub tester_label: Option<String>,
    pub currency: String,
    /// The session's compensation, minor units.
    pub gross_amount: i64,
    /// Platform fee kept, minor units.
    pub fee_amount: i64,
    /// Transferred to the tester: `grossAmount − feeAmount`, minor units.
    pub amount: i64,
    /// `reserved`, `transferring`, `paid` (final), `skipped` (no payout-enabled Stripe account
    /// yet; paid once there is one) or `failed` (retried with backoff).
    pub status: PayoutLineStatus,
    /// `tr_…` once paid.
    pub transfer_id: Option<String>,
    pub attempts: i64,
    pub created_at: String,
    pub paid_at: Option<String>,
}

fn line_out(l: PayoutLine, reveal_tester: bool) -> PayoutLineOut {
    PayoutLineOut {
        line_item_id: l.id,
        payout_id: l.payout_id,
        job_id: l.study_id.into(),
        session_id: l.session_id.into(),
        tester_id: reveal_tester.then_some(l.tester_id.into()),
        tester_label: l.label_no.map(|n| format!("Tester {n}")),
        currency: l.currency,
        gross_amount: l.gross_amount,
        fee_amount: l.fee_amount,
        amount: l.amount,
        status: l.status,
        transfer_id: l.transfer_id,
        attempts: l.attempts,
        created_at: format_ms(l.created_at),
        paid_at: l.paid_at.map(format_ms),
    }
}

/// A study's payout.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayoutOut {
    /// `pay_…`.
    pub payout_id: String,
    pub job_id: String,
    pub currency: String,
    /// `paid` (every line), `partial` (some) or `pending` (none yet).
    pub status: PayoutProgress,
    /// Transferred so far, minor units.
    pub amount_paid: i64,
    /// Platform fees kept on the paid lines, minor units.
    pub fees_retained: i64,
    pub line_items: Vec<PayoutLineOut>,
}

fn payout_out(s: PayoutSummary) -> PayoutOut {
    let paid: Vec<&PayoutLine> = s.lines.iter().filter(|l| l.status == PayoutLineStatus::Paid).collect();
    let status = match paid.len() {
        n if n == s.lines.len() && n > 0 => PayoutProgress::Paid,
        0 => PayoutProgress::Pending,
        _ => PayoutProgress::Partial,
    };
    PayoutOut {
        payout_id: s.payout.id,
        job_id: s.payout.study_id.into(),
        currency: s.payout.currency,
        status,
        amount_paid: paid.iter().map(|l| l.amount).sum(),
        fees_retained: paid.iter().map(|l| l.fee_amount).sum(),
        line_items: s.lines.into_iter().map(|l| line_out(l, true)).collect(),
    }
}

/// Pay each confirmed session of a completed study now (admins; it also happens on its own when
/// a study completes): one transfer per session of the compensation minus the platform fee,
/// idempotency key per session. A session is never paid twice, whoever triggers the payout and
/// however often; testers without a payout-enabled Stripe account are skipped and paid later.
#[utoipa::path(post, path = "/api/billing/payout", tag = "billing", security(("jwt" = []), ("token" = ["admin"])), request_body = PayoutIn,
    responses((status = 200, body = Envelope<PayoutOut>), (status = 403, description = "Not an admin"), (status = 404, description = "No such study"),
        (status = 422, description = "Study not completed, or its payment not confirmed"), (status = 503, description = "Billing is not configured")))]
async fn payout(
    State(state): State<AppState>,
    caller: Admin,
    ApiJson(b): ApiJson<PayoutIn>,
) -> AppResult<Envelope<PayoutOut>> {
    Ok(ok(payout_out(billing::payout_now(&state, &caller, &StudyId::from(b.job_id.as_str())).await?)))
}

/// Filter of the payout list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PayoutsQuery {
    /// Only this study's lines.
    #[serde(rename = "jobId")]
    pub job_id: Option<String>,
}

/// Payout lines, newest first: a tester their own, a business its studies' (testers as
/// anonymous labels), an admin all.
#[utoipa::path(get, path = "/api/billing/payouts", tag = "billing", security(("jwt" = []), ("token" = ["read"])), params(PayoutsQuery, PageQuery),
    responses((status = 200, body = Envelope<Vec<PayoutLineOut>>), (status = 503, description = "Billing is not configured")))]
async fn list_payouts(
    State(state): State<AppState>,
    caller: Authed,
    page: Pagination,
    ApiQuery(q): ApiQuery<PayoutsQuery>,
) -> AppResult<Envelope<Vec<PayoutLineOut>>> {
    let list = billing::list_payouts(&state, &caller, q.job_id.map(StudyId::from).as_ref(), page.0).await?;
    let reveal = list.reveal_testers;
    Ok(Envelope::page(list.lines.into_iter().map(|l| line_out(l, reveal)).collect(), page.meta(list.total)))
}

/// The answer Stripe expects.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookReceived {
    pub received: bool,
}

/// Stripe's webhook (not called by clients). `Stripe-Signature` must carry a `v1` HMAC-SHA256
/// of `"{t}.{body}"` under `OPENSCOUTER_STRIPE_WEBHOOK_SECRET` with `t` within 5 minutes (401
/// otherwise; several `v1` values are accepted while a secret rolls). The event is stored once
/// by its id and handled by a worker: `checkout.session.completed` (study paid, launch
/// allowed), `account.updated` (`payoutsEnabled`), `payout.paid`, `payout.failed` (retried).
/// A redelivered event changes nothing. 1,000 events a minute (429 + `Retry-After` above).
/// Answers `{"received": true}`, not the envelope.
#[utoipa::path(post, path = "/api/webhooks/stripe", tag = "billing", request_body(content = Object, description = "A Stripe event"),
    params(("Stripe-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256>`")),
    responses((status = 200, body = WebhookReceived), (status = 400, description = "Not a Stripe event"),
        (status = 401, description = "Missing, invalid or stale signature"), (status = 429, description = "Over 1,000 events a minute"),
        (status = 503, description = "Billing is not configured")))]
async fn stripe_webhook(State(state): State<AppState>, req: Request) -> AppResult<Response> {
    let ip = client_ip(req.headers(), req.extensions(), &state.config.trusted_proxies);
    let signature = req.headers().get("stripe-signature").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let limit = state.config.max_body_bytes;
    let body =
        axum::body::to_bytes(req.into_body(), limit).await.map_err(|_| AppError::body_too_large(limit))?;
    let d = billing::receive_stripe_event(&state, signature.as_deref(), &body, ip).await?;
    let mut res = Json(WebhookReceived { received: true }).into_response();
    let h = res.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(d.limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(d.remaining));
    h.insert("x-ratelimit-reset", HeaderValue::from(d.reset_secs));
    Ok(res)
}
