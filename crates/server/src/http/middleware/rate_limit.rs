//! Resolves credentials once per request, then applies the caller's rate-limit tier and adds
//! the `X-RateLimit-*` headers (and `Retry-After` on 429).

use std::convert::Infallible;
use std::sync::LazyLock;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;

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

const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Header values of the numbers most answers carry (a reset in seconds, a small quota and what
/// is left of it), made once: cloning one is a reference count, not an allocation.
static SMALL: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| (0..=1024u32).map(HeaderValue::from).collect());

fn number(n: u64) -> HeaderValue {
    usize::try_from(n).ok().and_then(|i| SMALL.get(i)).cloned().unwrap_or_else(|| HeaderValue::from(n))
}

fn set_headers(res: &mut Response, d: &Decision) {
    let h = res.headers_mut();
    h.insert(LIMIT, number(d.limit.into()));
    h.insert(REMAINING, number(d.remaining.into()));
    h.insert(RESET, number(d.reset_secs));
}

/// Resolves the credential and applies the limit, then calls `inner` (or answers 401/429/503).
async fn authenticate<S>(state: AppState, mut inner: S, mut req: Request) -> Response
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
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
        _ => match inner.call(req).await {
            Ok(res) => res,
            Err(never) => match never {},
        },
    };
    if let Some(d) = &decision {
        set_headers(&mut res, d);
    }
    res
}

/// The middleware for `/api/*` and the dashboard. A layer rather than `from_fn`: `from_fn`
/// boxes the inner service again on every request and runs it through a `Next`; this clones
/// it once (the ready one goes into the future, as tower's readiness contract asks).
#[derive(Clone)]
pub struct AuthLayer(pub AppState);

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Authenticate<S>;
    fn layer(&self, inner: S) -> Authenticate<S> {
        Authenticate { state: self.0.clone(), inner }
    }
}

/// The service of [`AuthLayer`].
#[derive(Clone)]
pub struct Authenticate<S> {
    state: AppState,
    inner: S,
}

impl<S> tower::Service<Request> for Authenticate<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        Box::pin(async move { Ok(authenticate(state, ready, req).await) })
    }
}
