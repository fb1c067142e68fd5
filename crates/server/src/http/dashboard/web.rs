//! The dashboard's HTTP plumbing: the sign-in cookie, the CSRF token of its forms, a
//! URL-encoded form extractor, and the middleware that turns the API's JSON errors into pages.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{KeyInit, Mac};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;

use crate::auth::principal::{AuthMethod, Principal};
use crate::auth::secrets::ct_eq;
use crate::config::Environment;
use crate::error::AppError;
use crate::http::extract::cookie::{cookie, strict_cookie};
use crate::http::state::AppState;

/// The cookie holding the ordinary access token (24 h, spec §1.4) for the dashboard's pages.
pub const COOKIE: &str = "os_session";

/// The dashboard's CSP: nothing but this origin's stylesheet and images; no script. The two
/// pages with a first-party script set their own (`progress::CSP`, `replay::CSP`).
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `Set-Cookie` for a signed-in dashboard: HttpOnly, SameSite=Strict, scoped to `/app`, and
/// `Secure` whenever the deployment is served over TLS (production or HSTS configured).
pub fn session_cookie(state: &AppState, token: &str, max_age_secs: i64) -> String {
    let secure = state.config.hsts || state.config.env == Environment::Production;
    strict_cookie(COOKIE, token, "/app", max_age_secs, secure)
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(state: &AppState) -> String {
    session_cookie(state, "", 0)
}

/// A viewer is made here, where the CSRF key lives (the templates in `layout` only read it).
impl super::layout::Viewer {
    pub fn new(state: &AppState, p: &Principal) -> Self {
        Self { role: p.role, csrf: csrf_token(state, p), billing: state.billing.is_some() }
    }
}

/// The CSRF token of a sign-in: HMAC-SHA256 of its session id under the JWT secret. It is
/// stable for the sign-in (forms rendered earlier stay valid) and useless for any other.
pub fn csrf_token(state: &AppState, p: &Principal) -> String {
    let sid = match &p.method {
        AuthMethod::Jwt { session_id } => session_id.as_str(),
        _ => p.user_id.as_str(),
    };
    let Ok(mut mac) =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(state.config.jwt_secret.expose_secret().as_bytes())
    else {
        return String::new();
    };
    mac.update(b"openscouter-dashboard-csrf:");
    mac.update(sid.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// Refuses a form whose CSRF token is not this sign-in's (compared in constant time).
pub fn check_csrf(state: &AppState, p: &Principal, presented: &str) -> Result<(), AppError> {
    let expected = csrf_token(state, p);
    if !expected.is_empty() && ct_eq(expected.as_bytes(), presented.as_bytes()) {
        Ok(())
    } else {
        Err(AppError::Forbidden("This form has expired. Reload the page and try again.".into()))
    }
}

/// A form whose only field is the CSRF token (sign-out, one-button actions).
#[derive(Debug, serde::Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

/// A one-button form (its only field the CSRF token) from caller `C`, checked: the handler
/// gets the caller, and a missing or stale token is `check_csrf`'s 403. The caller is
/// extracted first, so an anonymous request is still a 401 before its body is read.
pub struct Pressed<C>(pub C);

impl<C> FromRequest<AppState> for Pressed<C>
where
    C: axum::extract::FromRequestParts<AppState, Rejection = AppError>
        + std::ops::Deref<Target = Principal>
        + Send,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        let (mut parts, body) = req.into_parts();
        let caller = C::from_request_parts(&mut parts, state).await?;
        let Form(f) = Form::<CsrfForm>::from_request(Request::from_parts(parts, body), state).await?;
        check_csrf(state, &caller, &f.csrf)?;
        Ok(Self(caller))
    }
}

/// An `application/x-www-form-urlencoded` body (the body limit already applies).
pub struct Form<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if !form {
            return Err(AppError::BadRequest("Send the form as application/x-www-form-urlencoded".into()));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::PayloadTooLarge(e.body_text())
            } else {
                AppError::BadRequest(e.body_text())
            }
        })?;
        if memchr::memchr(0, &bytes).is_some() {
            return Err(AppError::BadRequest("The form contains a NUL byte".into()));
        }
        serde_urlencoded::from_bytes(&bytes)
            .map(Form)
            .map_err(|e| AppError::Unprocessable(format!("The form is incomplete: {e}")))
    }
}

/// A refusal a form page shows beside the form (400, 403, 404, 422: something the person can
/// act on), with the status `http::error::status_of` gives it; any other error goes on to the
/// error page.
pub fn shown_refusal(e: AppError) -> Result<(StatusCode, String), AppError> {
    match e {
        AppError::BadRequest(_)
        | AppError::Forbidden(_)
        | AppError::NotFound(_)
        | AppError::Unprocessable(_) => Ok((crate::http::error::status_of(&e), e.to_string())),
        other => Err(other),
    }
}

/// A path inside the dashboard that is safe to redirect to after sign-in. It is resolved as a
/// browser would resolve it (WHATWG URL parsing: dot segments, `%2e%2e`, backslashes, `//host`)
/// against a placeholder origin, and kept only when the result is still on that origin and
/// under `/app`; the normalised path and query are returned, anything else gives `/app`.
pub fn safe_next(next: Option<&str>) -> String {
    let Ok(base) = url::Url::parse("http://dashboard.invalid/") else {
        return "/app".to_owned();
    };
    next.filter(|n| n.starts_with('/') && n.len() <= 2000 && !n.chars().any(char::is_control))
        .and_then(|n| base.join(n).ok())
        .filter(|u| u.origin() == base.origin() && u.username().is_empty() && u.password().is_none())
        .filter(|u| u.path() == "/app" || u.path().starts_with("/app/"))
        .map(|u| u[url::Position::BeforePath..url::Position::AfterQuery].to_owned())
        .unwrap_or_else(|| "/app".to_owned())
}

/// The pre-sign-in cookie: a random value the sign-in page sets, to which the sign-in form's
/// CSRF token is bound. `SameSite=Strict` keeps it off cross-site posts, so a forged sign-in
/// (login CSRF) is refused even from a browser that sends no `Sec-Fetch-Site`.
pub const SIGNIN_COOKIE: &str = "os_signin";

/// How long a sign-in form stays usable (seconds).
const SIGNIN_TTL_SECS: i64 = 3600;

/// This browser's pre-sign-in value: the cookie's, when it is one of ours, else a new one with
/// the `Set-Cookie` that stores it.
pub fn signin_presession(state: &AppState, headers: &axum::http::HeaderMap) -> (String, Option<String>) {
    if let Some(v) =
        cookie(headers, SIGNIN_COOKIE).filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return (v.to_owned(), None);
    }
    let v = crate::auth::secrets::new_hex_token(16);
    let secure = state.config.hsts || state.config.env == Environment::Production;
    let set = strict_cookie(SIGNIN_COOKIE, &v, "/app", SIGNIN_TTL_SECS, secure);
    (v, Some(set))
}

/// `Set-Cookie` that removes the pre-sign-in cookie (after a sign-in).
pub fn clear_signin_cookie(state: &AppState) -> String {
    let secure = state.config.hsts || state.config.env == Environment::Production;
    strict_cookie(SIGNIN_COOKIE, "", "/app", 0, secure)
}

/// The sign-in form's CSRF token: HMAC-SHA256 of the pre-sign-in value under the JWT secret.
pub fn signin_csrf(state: &AppState, presession: &str) -> String {
    let Ok(mut mac) =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(state.config.jwt_secret.expose_secret().as_bytes())
    else {
        return String::new();
    };
    mac.update(b"openscouter-signin-csrf:");
    mac.update(presession.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// Refuses a sign-in form that does not carry the token of this browser's pre-sign-in cookie.
pub fn check_signin_csrf(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    presented: &str,
) -> Result<(), AppError> {
    let expected = cookie(headers, SIGNIN_COOKIE).map(|v| signin_csrf(state, v)).unwrap_or_default();
    if !expected.is_empty() && ct_eq(expected.as_bytes(), presented.as_bytes()) {
        Ok(())
    } else {
        Err(AppError::Forbidden("This sign-in form has expired. Please sign in again.".into()))
    }
}

/// Around every `/app` request (a global layer, so the router's own 404/405 pass through it too): refuses cross-site form posts, turns the sign-in cookie into
/// the `Authorization` header the API's own auth reads (so the same credentials check, rate
/// limit and revocation apply), renders every other error (the API's JSON ones, the framework's bare ones) as a page (401 on a page →
/// the sign-in form), and adds the dashboard's CSP and a `Server-Timing` header.
pub async fn pages(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !(path == "/app" || path.starts_with("/app/")) {
        return next.run(req).await;
    }
    let started = Instant::now();
    let method = req.method().clone();
    let target = req.uri().path_and_query().map_or_else(|| "/app".to_owned(), |p| p.as_str().to_owned());
    let cross_site = req.headers().get("sec-fetch-site").is_some_and(|v| v.as_bytes() == b"cross-site");
    let had_cookie = cookie(req.headers(), COOKIE).is_some_and(|c| !c.is_empty());
    let mut res = if method != Method::GET && method != Method::HEAD && cross_site {
        AppError::Forbidden("Cross-site form posts are refused".into()).into_response()
    } else {
        if !req.headers().contains_key(header::AUTHORIZATION)
            && let Some(token) = cookie(req.headers(), COOKIE).filter(|c| !c.is_empty())
            && let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}"))
        {
            req.headers_mut().insert(header::AUTHORIZATION, v);
        }
        next.run(req).await
    };
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"));
    if (res.status().is_client_error() || res.status().is_server_error()) && !is_html {
        res = error_page(&state, res, &method, &target, had_cookie).await;
    }
    let h = res.headers_mut();
    // A page may bring its own (the replay page allows this origin's scripts); else this one.
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(CSP));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={:.1}", started.elapsed().as_secs_f64() * 1000.0))
    {
        h.insert("server-timing", v);
    }
    res
}

async fn error_page(
    state: &AppState,
    res: Response,
    method: &Method,
    target: &str,
    had_cookie: bool,
) -> Response {
    let status = res.status();
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let message = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("Error").to_owned());
    if status == StatusCode::UNAUTHORIZED && (*method == Method::GET || *method == Method::HEAD) {
        let to = format!("/app/signin?next={}", urlencode(&safe_next(Some(target))));
        let mut r = Redirect::to(&to).into_response();
        if had_cookie {
            // The cookie's token was revoked or expired: forget it.
            if let Ok(v) = HeaderValue::from_str(&clear_cookie(state)) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
        }
        return r;
    }
    let mut r = super::layout::error(status, &message).into_response();
    *r.status_mut() = status;
    for name in [header::RETRY_AFTER, header::HeaderName::from_static("x-request-id")] {
        if let Some(v) = parts.headers.get(&name) {
            r.headers_mut().insert(name, v.clone());
        }
    }
    for (k, v) in &parts.headers {
        if k.as_str().starts_with("x-ratelimit-") {
            r.headers_mut().insert(k.clone(), v.clone());
        }
    }
    r
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A `303 See Other` to `to` (after a form post), optionally setting a cookie.
pub fn see_other(to: &str, set_cookie: Option<String>) -> Response {
    let mut r = Redirect::to(to).into_response();
    if let Some(c) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r
}
