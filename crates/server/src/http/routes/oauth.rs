//! `/api/oauth/*`: the OAuth 2.1 authorization server over HTTP — client registration, the
//! sign-in and consent page (server-rendered, no script, strict CSP, CSRF token bound to the
//! sign-in by an HttpOnly cookie), the token and revocation endpoints. Bodies follow RFC 6749
//! (`{error, error_description}`), not the API envelope.

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::well_known::public_base;
use crate::domain::OAuthScope;
use crate::http::extract::cookie::{cookie, strict_cookie};
use crate::http::state::AppState;
use crate::services::oauth::{
    self, CONSENT_COOKIE, CONSENT_TTL_MS, ConsentDecision, ConsentForm, OAuthError, Refusal, SigninRefusal,
    Trouble,
};
use crate::store::OAuthClient;

/// The consent cookie's path: only the authorization page reads it.
const CONSENT_PATH: &str = "/api/oauth/authorize";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(authorize_page, authorize_submit))
        .routes(routes!(token))
        .routes(routes!(revoke))
}

/// An RFC 6749 §5.2 error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthErrorOut {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unsupported_grant_type`,
    /// `invalid_scope`, `invalid_target`, `invalid_redirect_uri`, `invalid_client_metadata`,
    /// `server_error`, `temporarily_unavailable`.
    pub error: String,
    pub error_description: String,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    /// `osat_…`, for `Authorization: Bearer`; one hour.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    pub expires_in: i64,
    /// `osrt_…`; rotated on every use, 30 days.
    pub refresh_token: String,
    /// Granted scopes, space-separated (`read`, `draft`).
    pub scope: String,
}

/// A registered client (RFC 7591 §3.2.1).
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredClientOut {
    pub client_id: String,
    pub client_id_issued_at: i64,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    /// Always `none`: clients are public and prove possession with PKCE.
    pub token_endpoint_auth_method: String,
    pub scope: String,
}

/// A registration request (RFC 7591 §2); other metadata is ignored.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationDoc {
    /// https URIs, or http on a loopback address (127.0.0.1, [::1], localhost).
    pub redirect_uris: Vec<String>,
    pub client_name: Option<String>,
    /// `authorization_code` and optionally `refresh_token`.
    pub grant_types: Option<Vec<String>>,
    /// `code`.
    pub response_types: Option<Vec<String>>,
    /// Ignored: every client is registered with `none`.
    pub token_endpoint_auth_method: Option<String>,
    /// `read`, `draft` or both (the default).
    pub scope: Option<String>,
}

/// The revocation form (RFC 7009).
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokeFormDoc {
    pub token: Option<String>,
    pub client_id: Option<String>,
    /// Ignored: either token of a grant ends the whole grant.
    pub token_type_hint: Option<String>,
}

/// The authorization page's two forms: `step=signin` (the request's parameters, `email`,
/// `password`) and `step=consent` (`csrf`, `decision`, the ticked `scope` boxes).
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizeFormDoc {
    /// `signin` or `consent`.
    pub step: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub csrf: Option<String>,
    /// `allow` or `deny`.
    pub decision: Option<String>,
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    /// `read`, `draft`; on the consent form, one field per ticked box.
    pub scope: Option<String>,
    pub resource: Option<String>,
}

fn no_store(res: &mut Response) {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn json_no_store(status: StatusCode, body: impl Serialize) -> Response {
    let mut res = (status, axum::Json(body)).into_response();
    no_store(&mut res);
    res
}

fn oauth_error(e: OAuthError) -> Response {
    let status = match &e {
        OAuthError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
        OAuthError::SlowDown(_) => StatusCode::TOO_MANY_REQUESTS,
        OAuthError::Server(err) => crate::http::error::status_of(err),
        _ => StatusCode::BAD_REQUEST,
    };
    if let OAuthError::Server(err) = &e {
        tracing::error!(error = %err, "OAuth endpoint failed");
    }
    let mut res =
        json_no_store(status, OAuthErrorOut { error: e.code().into(), error_description: e.description() });
    if let OAuthError::SlowDown(secs) = &e
        && let Ok(v) = HeaderValue::from_str(&secs.max(&1).to_string())
    {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// Form fields (`application/x-www-form-urlencoded`); repeated names are kept.
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Register a public client (RFC 7591). Redirect URIs must be https or loopback http.
#[utoipa::path(post, path = "/api/oauth/register", tag = "oauth", request_body = RegistrationDoc,
    responses((status = 201, body = RegisteredClientOut), (status = 400, description = "invalid_redirect_uri or invalid_client_metadata", body = OAuthErrorOut),
        (status = 429, description = "Registration's own rate limit (per IP and overall) or too many clients that never completed an authorisation; `Retry-After`", body = OAuthErrorOut)))]
async fn register(State(state): State<AppState>, parts: axum::http::request::Parts, body: Bytes) -> Response {
    let r: oauth::RegistrationIn = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return oauth_error(OAuthError::InvalidClientMetadata(format!(
                "The body must be JSON metadata: {e}"
            )));
        }
    };
    let ip = crate::http::middleware::client_ip::client_ip(
        &parts.headers,
        &parts.extensions,
        &state.config.trusted_proxies,
    );
    match oauth::register(&state, r, ip).await {
        Ok(c) => json_no_store(StatusCode::CREATED, c),
        Err(e) => oauth_error(e),
    }
}

/// The token endpoint: `grant_type=authorization_code` (with `code`, `redirect_uri`,
/// `client_id`, `code_verifier`) or `grant_type=refresh_token` (with `refresh_token`,
/// `client_id`, optional narrower `scope`).
#[utoipa::path(post, path = "/api/oauth/token", tag = "oauth",
    request_body(content = oauth::TokenIn, content_type = "application/x-www-form-urlencoded", description = "RFC 6749 §4.1.3 / §6 form"),
    responses((status = 200, body = TokenOut), (status = 400, description = "RFC 6749 error (invalid_grant, invalid_request, …)", body = OAuthErrorOut),
        (status = 401, description = "invalid_client", body = OAuthErrorOut)))]
async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let t: oauth::TokenIn = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    match oauth::token(&state, &public_base(&state, &headers), t).await {
        Ok(t) => json_no_store(StatusCode::OK, t),
        Err(e) => oauth_error(e),
    }
}

/// Revoke a token (RFC 7009): `token`, `client_id`. Revoking either token of a grant ends the
/// whole grant; unknown tokens are answered 200 too.
#[utoipa::path(post, path = "/api/oauth/revoke", tag = "oauth",
    request_body(content = RevokeFormDoc, content_type = "application/x-www-form-urlencoded", description = "RFC 7009 form"),
    responses((status = 200, description = "Revoked (or nothing to revoke)"), (status = 400, description = "invalid_request", body = OAuthErrorOut),
        (status = 401, description = "invalid_client", body = OAuthErrorOut)))]
async fn revoke(State(state): State<AppState>, body: Bytes) -> Response {
    let form = form_pairs(&body);
    match oauth::revoke(&state, field(&form, "token"), field(&form, "client_id")).await {
        Ok(()) => {
            let mut res = StatusCode::OK.into_response();
            no_store(&mut res);
            res
        }
        Err(e) => oauth_error(e),
    }
}

// --- the authorization page

/// The authorization request's own parameters (what the sign-in form carries along).
const REQUEST_PARAMS: [&str; 8] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "scope",
    "resource",
];

/// The authorization page: who is asking, for which scopes, and a sign-in form. Every invalid
/// request gets an error page: nothing is sent to a redirect URI before a person has signed in
/// and decided (anyone can register one).
#[utoipa::path(get, path = "/api/oauth/authorize", tag = "oauth",
    params(
        ("response_type" = String, Query, description = "`code`"),
        ("client_id" = String, Query, description = "From registration"),
        ("redirect_uri" = String, Query, description = "A registered redirect URI, exactly (loopback: any port)"),
        ("state" = String, Query, description = "Required; returned unchanged"),
        ("code_challenge" = String, Query, description = "PKCE: BASE64URL(SHA256(code_verifier))"),
        ("code_challenge_method" = String, Query, description = "`S256`"),
        ("scope" = Option<String>, Query, description = "`read`, `draft` (default `read`)"),
        ("resource" = Option<String>, Query, description = "RFC 8707: this server's `/api/mcp`"),
    ),
    responses((status = 200, description = "Sign-in page", content_type = "text/html"),
        (status = 400, description = "Invalid request, unknown client or redirect URI (error page, never a redirect)", content_type = "text/html"),
        (status = 500, description = "Error page", content_type = "text/html"),
        (status = 503, description = "Error page", content_type = "text/html")))]
async fn authorize_page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let base = public_base(&state, &headers);
    let params = form_pairs(uri.query().unwrap_or("").as_bytes());
    match oauth::authorization_request(&state, &base, &params).await {
        Ok((client, request)) => signin_page(&client, &request, &params, None, StatusCode::OK),
        Err(r) => refusal(r),
    }
}

/// The page's two forms post here: `step=signin` (email, password and the request's
/// parameters) answers with the consent form; `step=consent` (`csrf`, `decision=allow|deny`,
/// the `scope` boxes left ticked) sends the browser back to the client with a code.
#[utoipa::path(post, path = "/api/oauth/authorize", tag = "oauth",
    request_body(content = AuthorizeFormDoc, content_type = "application/x-www-form-urlencoded", description = "The sign-in or consent form"),
    responses((status = 200, description = "Consent page, or the sign-in page again", content_type = "text/html"),
        (status = 303, description = "Back to the client's redirect URI (code or error)"),
        (status = 400, description = "Error page (expired sign-in, bad request)", content_type = "text/html"),
        (status = 403, description = "This account cannot connect applications", content_type = "text/html"),
        (status = 500, description = "Error page", content_type = "text/html"),
        (status = 503, description = "Error page", content_type = "text/html")))]
async fn authorize_submit(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let base = public_base(&state, &headers);
    let form = form_pairs(&body);
    if field(&form, "step") == Some("consent") {
        let decision = match field(&form, "decision") {
            Some("allow") => ConsentDecision::Allow(
                form.iter().filter(|(k, _)| k == "scope").filter_map(|(_, v)| OAuthScope::parse(v)).collect(),
            ),
            _ => ConsentDecision::Deny,
        };
        let csrf = field(&form, "csrf").unwrap_or_default();
        let result = oauth::decide(&state, &base, consent_cookie(&headers).as_deref(), csrf, decision).await;
        let mut res = match result {
            Ok(location) => see_other(&location),
            Err(r) => refusal(r),
        };
        // The sign-in is spent either way.
        set_cookie(&mut res, &strict_cookie(CONSENT_COOKIE, "", CONSENT_PATH, 0, false));
        return res;
    }
    let params: Vec<(String, String)> =
        form.iter().filter(|(k, _)| REQUEST_PARAMS.contains(&k.as_str())).cloned().collect();
    let email = field(&form, "email").unwrap_or_default();
    let password = field(&form, "password").unwrap_or_default().to_owned();
    match oauth::sign_in_for_consent(&state, &base, &params, email, password).await {
        Ok(consent) => consent_page(&consent, &base),
        Err(SigninRefusal::Request(r)) => refusal(r),
        Err(SigninRefusal::Credentials(message)) => {
            match oauth::authorization_request(&state, &base, &params).await {
                Ok((client, request)) => {
                    signin_page(&client, &request, &params, Some(&message), StatusCode::OK)
                }
                Err(r) => refusal(r),
            }
        }
        Err(SigninRefusal::NotAllowed(message)) => error_page(StatusCode::FORBIDDEN, &message, None),
    }
}

fn consent_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, CONSENT_COOKIE).map(str::to_owned)
}

fn set_cookie(res: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn see_other(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    no_store(&mut res);
    res.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    res
}

fn refusal(r: Refusal) -> Response {
    match r {
        Refusal::Page(message) => error_page(StatusCode::BAD_REQUEST, &message, None),
        Refusal::Server(Trouble::Unavailable) => error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "OpenScouter is unavailable for a moment. Please try again.",
            None,
        ),
        Refusal::Server(Trouble::Internal) => error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side. Please try again.",
            None,
        ),
    }
}

// --- HTML

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `scheme://host[:port]` of a URI already validated as a redirect URI, for `form-action`
/// (browsers check a form's redirects against it).
fn origin_of(uri: &str) -> Option<String> {
    url::Url::parse(uri).ok().map(|u| u.origin().ascii_serialization()).filter(|o| o != "null")
}

/// A page: one nonce'd style block, no script, forms only to us (and the client's redirect
/// origin, where the consent form's answer is redirected).
fn page(status: StatusCode, title: &str, body: &str, redirect_origin: Option<&str>) -> Response {
    let nonce = crate::auth::secrets::new_hex_token(16);
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title} · OpenScouter</title>\
<style nonce=\"{nonce}\">\
body{{font:18px/1.6 system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b;background:#fff}}\
h1{{font-size:1.5rem;line-height:1.3}}label{{display:block;margin-top:1rem;font-weight:600}}\
input[type=email],input[type=password]{{display:block;width:100%;box-sizing:border-box;font:inherit;padding:.6rem;border:2px solid #555;border-radius:6px}}\
button{{font:inherit;padding:.7rem 1.4rem;margin:1.5rem .75rem 0 0;border-radius:6px;border:2px solid #1b1b1b;cursor:pointer}}\
button.primary{{background:#1b4dd6;color:#fff;border-color:#1b4dd6}}:focus-visible{{outline:3px solid #f5a300;outline-offset:2px}}\
.scope{{display:flex;gap:.75rem;align-items:flex-start;margin:.75rem 0}}.scope input{{width:1.4rem;height:1.4rem;margin-top:.2rem}}\
.scope label{{margin:0;font-weight:400}}.alert{{border-left:6px solid #c62828;background:#fdecea;padding:.75rem 1rem}}\
.note{{color:#444;font-size:.95rem}}fieldset{{border:0;padding:0;margin:1rem 0}}legend{{font-weight:600}}\
</style></head><body><main>{body}</main></body></html>",
        title = esc(title),
    );
    let form_action = match redirect_origin {
        Some(o) => format!("'self' {o}"),
        None => "'self'".to_owned(),
    };
    let csp = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    );
    let mut res = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    no_store(&mut res);
    res
}

fn error_page(status: StatusCode, message: &str, redirect_origin: Option<&str>) -> Response {
    let body = format!(
        "<h1>This connection cannot go ahead</h1><p class=\"alert\" role=\"alert\">{}</p>\
<p class=\"note\">You can close this page and try again from your application.</p>",
        esc(message)
    );
    page(status, "Cannot connect", &body, redirect_origin)
}

fn scope_list(scopes: &[OAuthScope]) -> String {
    let mut out = String::from("<ul>");
    for s in scopes {
        let _ = write!(
            out,
            "<li><strong>{}</strong>: {}</li>",
            esc(s.as_str()),
            esc(oauth::scope_description(*s))
        );
    }
    out.push_str("</ul>");
    out
}

/// Any application can register itself under any name: say so, and where it would send the
/// browser, before anyone signs in or allows anything.
fn unverified_note(redirect_uri: &str) -> String {
    format!(
        "<p class=\"alert\" id=\"unverified\">OpenScouter has not verified this application: its name is the one it \
gave itself. It will receive the answer at <strong>{}</strong>. Continue only if you started this from an \
application you trust.</p>",
        esc(&redirect_host(redirect_uri))
    )
}

fn redirect_host(uri: &str) -> String {
    url::Url::parse(uri).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default()
}

fn signin_page(
    client: &OAuthClient,
    request: &oauth::AuthRequest,
    params: &[(String, String)],
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let mut body = format!(
        "<h1>Connect {name} to OpenScouter</h1>\
<p><strong>{name}</strong> wants to use your OpenScouter workspace. Sign in to choose what it may do.</p>\
{unverified}<h2>It asks to</h2>{scopes}",
        name = esc(&client.name),
        unverified = unverified_note(&request.redirect_uri),
        scopes = scope_list(&request.scopes),
    );
    if let Some(e) = error {
        let _ = write!(body, "<p class=\"alert\" role=\"alert\" id=\"signin-error\">{}</p>", esc(e));
    }
    body.push_str("<form method=\"post\" action=\"/api/oauth/authorize\"><input type=\"hidden\" name=\"step\" value=\"signin\">");
    for (k, v) in params.iter().filter(|(k, _)| REQUEST_PARAMS.contains(&k.as_str())) {
        let _ = write!(body, "<input type=\"hidden\" name=\"{}\" value=\"{}\">", esc(k), esc(v));
    }
    let described = if error.is_some() { " aria-describedby=\"signin-error\"" } else { "" };
    let _ = write!(
        body,
        "<label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required{described}>\
<label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
<button class=\"primary\" type=\"submit\">Sign in</button></form>\
<p class=\"note\">Afterwards you will be sent back to <strong>{}</strong>.</p>",
        esc(&redirect_host(&request.redirect_uri))
    );
    page(status, "Sign in", &body, origin_of(&request.redirect_uri).as_deref())
}

fn consent_page(c: &ConsentForm, base: &str) -> Response {
    let mut body = format!(
        "<h1>Allow {name} to use {org}?</h1><p>You are signed in as <strong>{user}</strong>. Untick anything you do not want to allow.</p>{unverified}\
<form method=\"post\" action=\"/api/oauth/authorize\"><input type=\"hidden\" name=\"step\" value=\"consent\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><fieldset><legend>{name} may</legend>",
        name = esc(&c.client.name),
        org = esc(&c.organization_name),
        user = esc(&c.user_name),
        unverified = unverified_note(&c.request.redirect_uri),
        csrf = esc(&c.csrf),
    );
    for s in &c.request.scopes {
        let _ = write!(
            body,
            "<div class=\"scope\"><input type=\"checkbox\" id=\"scope-{v}\" name=\"scope\" value=\"{v}\" checked>\
<label for=\"scope-{v}\"><strong>{v}</strong>: {d}</label></div>",
            v = esc(s.as_str()),
            d = esc(oauth::scope_description(*s))
        );
    }
    let _ = write!(
        body,
        "</fieldset><p class=\"note\">It can never launch a study, pay, spend money or recruit testers. Access lasts until \
the application or you revoke it.</p>\
<button class=\"primary\" type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>\
<p class=\"note\">You will be sent back to <strong>{}</strong>.</p>",
        esc(&redirect_host(&c.request.redirect_uri))
    );
    let mut res = page(StatusCode::OK, "Allow access", &body, origin_of(&c.request.redirect_uri).as_deref());
    let secure = base.starts_with("https://");
    set_cookie(
        &mut res,
        &strict_cookie(CONSENT_COOKIE, &c.cookie, CONSENT_PATH, CONSENT_TTL_MS / 1000, secure),
    );
    res
}
