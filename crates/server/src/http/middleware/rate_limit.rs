//! Resolves credentials once per request, then applies the caller's rate-limit tier and adds
//! the `X-RateLimit-*` headers (and `Retry-After` on 429).

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::principal::AuthOutcome;
use crate::domain::{Plan, Role};
use crate::error::AppError;
use crate::http::middleware::client_ip::client_ip;
use crate::http::state::AppState;
use crate::ratelimit::{Decision, Quota};
use crate::services::credentials;

/// The key and quota of a request (`None`: exempt).
fn bucket(state: &AppState, outcome: &AuthOutcome, ip: Option<std::net::IpAddr>) -> Option<(String, Quota)> {
    let limits = state.config.rate_limits;
    match outcome {
        AuthOutcome::Authenticated(p) if p.role == Role::Admin => None,
        AuthOutcome::Authenticated(p) => {
            let per_minute = match p.plan {
                Plan::Free => limits.free,
                Plan::Pro => limits.pro,
            };
            Some((p.rate_limit_key(), Quota { per_minute }))
        }
        // Bad credentials count against the IP, which also slows credential stuffing.
        AuthOutcome::Anonymous | AuthOutcome::Rejected(_) => {
            let ip = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
            Some((format!("ip:{ip}"), Quota { per_minute: limits.unauthenticated }))
        }
    }
}

fn set_headers(res: &mut Response, d: &Decision) {
    let h = res.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(d.limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(d.remaining));
    h.insert("x-ratelimit-reset", HeaderValue::from(d.reset_secs));
}

/// The middleware for `/api/*`.
pub async fn auth_and_rate_limit(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let outcome =
        match credentials::resolve(&state, req.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes()))
            .await
        {
            Ok(o) => o,
            Err(e) => return e.into_response(),
        };
    let ip = client_ip(req.headers(), req.extensions(), &state.config.trusted_proxies);
    let decision = match bucket(&state, &outcome, ip) {
        Some((key, quota)) => Some(state.limiter.check(&key, quota, 1).await),
        None => None,
    };
    req.extensions_mut().insert(outcome);
    let mut res = match decision {
        Some(d) if !d.allowed => AppError::RateLimited(d.retry_after_secs).into_response(),
        _ => next.run(req).await,
    };
    if let Some(d) = &decision {
        set_headers(&mut res, d);
    }
    res
}
