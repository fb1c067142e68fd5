//! The OAuth 2.1 authorization server of spec §9: metadata (RFC 8414, RFC 9728), dynamic
//! registration of public clients (RFC 7591), the authorization-code flow with PKCE S256 behind
//! a sign-in and consent page, the token endpoint (code and refresh grants, rotation with reuse
//! detection) and revocation (RFC 7009). Tokens are bound to the user's organization.
//!
//! Errors are the protocol's own (`OAuthError`, RFC 6749 §5.2 codes), not the API envelope's.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::auth::secrets::{ct_eq, new_opaque_token, sha256_hex};
use crate::domain::ids::{new_id, prefix};
use crate::domain::{OAuthScope, Revocation, Role};
use crate::error::AppError;
use crate::services::accounts;
use crate::store::{
    NewConsent, NewGrant, NewOAuthToken, OAuthClient, OAuthCode, RotateOutcome, StoreError, TokenPair,
};

/// Prefix of access tokens (`Authorization: Bearer osat_…`, spec §1.4).
pub const ACCESS_PREFIX: &str = "osat_";
/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "osrt_";
/// Prefix of authorization codes.
const CODE_PREFIX: &str = "osac_";
/// Authorization codes live a minute and work once.
pub const CODE_TTL_MS: i64 = 60_000;
/// Access tokens live an hour.
pub const ACCESS_TTL_MS: i64 = 60 * 60 * 1000;
/// Refresh tokens live 30 days, as sign-in refresh tokens do.
pub const REFRESH_TTL_MS: i64 = 30 * 24 * 60 * 60 * 1000;
/// A sign-in on the authorization page must be decided within ten minutes.
pub const CONSENT_TTL_MS: i64 = 10 * 60 * 1000;
/// The protected resource: the MCP endpoint.
pub const MCP_PATH: &str = "/api/mcp";
/// Name of the cookie that binds the consent form to the sign-in that produced it.
pub const CONSENT_COOKIE: &str = "osc_oauth";

/// An error in the protocol's terms (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 8707 §2).
#[derive(Debug)]
pub enum OAuthError {
    InvalidRequest(String),
    InvalidClient(String),
    InvalidGrant(String),
    UnsupportedGrantType(String),
    InvalidScope(String),
    InvalidTarget(String),
    InvalidRedirectUri(String),
    InvalidClientMetadata(String),
    /// Too many registrations: try again after this many seconds (429, `Retry-After`).
    SlowDown(u64),
    /// The store or something unexpected failed (500/503).
    Server(AppError),
}

impl OAuthError {
    /// The `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient(_) => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidTarget(_) => "invalid_target",
            Self::InvalidRedirectUri(_) => "invalid_redirect_uri",
            Self::InvalidClientMetadata(_) => "invalid_client_metadata",
            Self::SlowDown(_) | Self::Server(AppError::Unavailable(_) | AppError::StoreOutage { .. }) => {
                "temporarily_unavailable"
            }
            Self::Server(_) => "server_error",
        }
    }

    /// The `error_description` (never an internal cause).
    pub fn description(&self) -> String {
        match self {
            Self::InvalidRequest(m)
            | Self::InvalidClient(m)
            | Self::InvalidGrant(m)
            | Self::UnsupportedGrantType(m)
            | Self::InvalidScope(m)
            | Self::InvalidTarget(m)
            | Self::InvalidRedirectUri(m)
            | Self::InvalidClientMetadata(m) => m.clone(),
            Self::SlowDown(_) => "Too many registrations; try again later".into(),
            Self::Server(AppError::Unavailable(_) | AppError::StoreOutage { .. }) => {
                "Service temporarily unavailable".into()
            }
            Self::Server(_) => "Internal server error".into(),
        }
    }
}

impl From<AppError> for OAuthError {
    fn from(e: AppError) -> Self {
        Self::Server(e)
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        Self::Server(e.into())
    }
}

type OAuthResult<T> = Result<T, OAuthError>;

// --- metadata

/// The MCP endpoint as an RFC 8707 resource indicator.
pub fn resource_url(base: &str) -> String {
    format!("{base}{MCP_PATH}")
}

/// Where the protected-resource metadata of the MCP endpoint is (RFC 9728 §3.1, path-aware).
pub fn resource_metadata_url(base: &str) -> String {
    format!("{base}/.well-known/oauth-protected-resource{MCP_PATH}")
}

/// RFC 8414 authorization-server metadata; the issuer is the public origin.
pub fn authorization_server_metadata(base: &str) -> Value {
    json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/api/oauth/authorize"),
        "token_endpoint": format!("{base}/api/oauth/token"),
        "registration_endpoint": format!("{base}/api/oauth/register"),
        "revocation_endpoint": format!("{base}/api/oauth/revoke"),
        "scopes_supported": scope_names(OAuthScope::ALL),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": format!("{base}/api/docs"),
    })
}

/// RFC 9728 protected-resource metadata of the MCP endpoint.
pub fn protected_resource_metadata(base: &str) -> Value {
    json!({
        "resource": resource_url(base),
        "authorization_servers": [base],
        "scopes_supported": scope_names(OAuthScope::ALL),
        "bearer_methods_supported": ["header"],
        "resource_name": "OpenScouter",
        "resource_documentation": format!("{base}/api/docs"),
    })
}

fn scope_names(scopes: &[OAuthScope]) -> Vec<&'static str> {
    scopes.iter().map(|s| s.as_str()).collect()
}

/// What a scope lets a client do, in the words the consent page uses.
pub fn scope_description(scope: OAuthScope) -> &'static str {
    match scope {
        OAuthScope::Read => "See your workspace's studies, tests, analytics and findings.",
        OAuthScope::Draft => {
            "Create draft studies. It can never launch a study, pay, spend money or recruit testers."
        }
    }
}

// --- registration (RFC 7591)

/// A registration request. Unknown metadata is ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RegistrationIn {
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub token_endpoint_auth_method: Option<String>,
    pub scope: Option<String>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
}

/// A registered client, as RFC 7591 §3.2.1 answers it.
#[derive(Debug, Clone, Serialize)]
pub struct RegisteredClient {
    pub client_id: String,
    pub client_id_issued_at: i64,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
}

/// Where a redirect URI points, for matching.
fn parse_redirect(uri: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(uri).map_err(|_| format!("{uri:?} is not an absolute URI"))?;
    if u.fragment().is_some() || !u.username().is_empty() || u.password().is_some() {
        return Err(format!("{uri:?} must have no fragment and no credentials"));
    }
    match u.scheme() {
        "https" if u.host().is_some() => Ok(u),
        "http" if is_loopback(&u) => Ok(u),
        _ => Err(format!("{uri:?} must be https, or http on a loopback address")),
    }
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The registered URI `presented` matches: the same string, or (RFC 8252 §7.3) the same
/// loopback redirect on another port, which native clients pick at run time.
fn matching_redirect<'a>(registered: &'a [String], presented: &str) -> Option<&'a String> {
    if let Some(exact) = registered.iter().find(|r| r.as_str() == presented) {
        return Some(exact);
    }
    let p = url::Url::parse(presented).ok().filter(|u| u.scheme() == "http" && is_loopback(u))?;
    registered.iter().find(|r| {
        url::Url::parse(r).is_ok_and(|mut r| {
            r.scheme() == "http"
                && is_loopback(&r)
                && r.set_port(p.port()).is_ok()
                && r.as_str() == p.as_str()
        })
    })
}

/// Registrations one client IP may make a minute (registration's own tier, below the
/// edge's unauthenticated one).
pub const REGISTRATIONS_PER_IP_PER_MINUTE: u32 = 10;
/// Registrations all IPs together may make a minute.
pub const REGISTRATIONS_PER_MINUTE: u32 = 120;
/// Clients registered but never authorised that may wait at once; beyond it registration
/// answers 429 until some expire.
pub const MAX_UNUSED_CLIENTS: u64 = 5_000;
/// A client that never completed an authorisation expires a day after registering.
pub const UNUSED_CLIENT_TTL_MS: i64 = 24 * 3_600_000;

/// Registration's own rate limits: per client IP and for all of them together.
async fn admit_registration(state: &App, ip: Option<std::net::IpAddr>) -> OAuthResult<()> {
    let ip = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    for (key, per_minute) in [
        (format!("oauth-register:{ip}"), REGISTRATIONS_PER_IP_PER_MINUTE),
        ("oauth-register:all".to_owned(), REGISTRATIONS_PER_MINUTE),
    ] {
        let d = state.limiter.check(&key, crate::ratelimit::Quota { per_minute }, 1).await;
        if !d.allowed {
            return Err(OAuthError::SlowDown(d.retry_after_secs));
        }
    }
    Ok(())
}

/// True when a client's self-chosen name claims to be us (it is shown on the consent page).
fn impersonates_us(name: &str) -> bool {
    let folded: String =
        name.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase();
    folded.contains("openscouter")
}

/// Registers a public client: redirect URIs https or loopback, code + refresh grants, no
/// client secret (`token_endpoint_auth_method` is always `none`). Registration is anonymous
/// (RFC 7591, as MCP clients expect), so it is bounded: its own per-IP and global rate, at most
/// [`MAX_UNUSED_CLIENTS`] never-authorised clients at once, each expiring after a day, and no
/// name that claims to be OpenScouter.
pub async fn register(
    state: &App,
    r: RegistrationIn,
    ip: Option<std::net::IpAddr>,
) -> OAuthResult<RegisteredClient> {
    if r.redirect_uris.is_empty() || r.redirect_uris.len() > 10 {
        return Err(OAuthError::InvalidRedirectUri("redirect_uris: give 1 to 10 URIs".into()));
    }
    for uri in &r.redirect_uris {
        if uri.len() > 2000 {
            return Err(OAuthError::InvalidRedirectUri(
                "redirect_uris: at most 2,000 characters each".into(),
            ));
        }
        parse_redirect(uri).map_err(|m| OAuthError::InvalidRedirectUri(format!("redirect_uris: {m}")))?;
    }
    let grant_types =
        r.grant_types.unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]);
    if let Some(g) =
        grant_types.iter().find(|g| !["authorization_code", "refresh_token"].contains(&g.as_str()))
    {
        return Err(OAuthError::InvalidClientMetadata(format!("grant_types: {g:?} is not supported")));
    }
    if !grant_types.iter().any(|g| g == "authorization_code") {
        return Err(OAuthError::InvalidClientMetadata("grant_types: authorization_code is required".into()));
    }
    let response_types = r.response_types.unwrap_or_else(|| vec!["code".into()]);
    if response_types.iter().any(|t| t != "code") {
        return Err(OAuthError::InvalidClientMetadata("response_types: only code is supported".into()));
    }
    let scopes = match r.scope.as_deref() {
        None => OAuthScope::ALL.to_vec(),
        Some(s) => OAuthScope::parse_list(s).map_err(|w| {
            OAuthError::InvalidClientMetadata(format!("scope: {w:?} is not a scope (read, draft)"))
        })?,
    };
    if scopes.is_empty() {
        return Err(OAuthError::InvalidClientMetadata("scope: give at least one of read, draft".into()));
    }
    let name = r.client_name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > 100) {
        return Err(OAuthError::InvalidClientMetadata("client_name: at most 100 characters".into()));
    }
    if name.as_deref().is_some_and(|n| impersonates_us(n) || n.chars().any(char::is_control)) {
        return Err(OAuthError::InvalidClientMetadata(
            "client_name: name the application itself; names that claim to be OpenScouter are refused".into(),
        ));
    }
    admit_registration(state, ip).await?;
    let client_uri = r.client_uri.filter(|u| url::Url::parse(u).is_ok_and(|u| u.scheme() == "https"));
    let now = state.now();
    let metadata = json!({
        "client_uri": client_uri,
        "software_id": r.software_id,
        "software_version": r.software_version,
        "requested_token_endpoint_auth_method": r.token_endpoint_auth_method,
    });
    let client = OAuthClient {
        id: new_id(prefix::OAUTH_CLIENT, now),
        name: name.unwrap_or_else(|| "An unnamed application".into()),
        redirect_uris: r.redirect_uris,
        scopes,
        metadata: metadata.to_string(),
        created_at: now,
    };
    if !state
        .store
        .register_oauth_client(client.clone(), now - UNUSED_CLIENT_TTL_MS, MAX_UNUSED_CLIENTS)
        .await?
    {
        tracing::warn!("OAuth registration refused: too many clients that never completed an authorisation");
        return Err(OAuthError::SlowDown(60));
    }
    Ok(RegisteredClient {
        client_id: client.id,
        client_id_issued_at: now / 1000,
        client_name: client.name,
        redirect_uris: client.redirect_uris,
        grant_types,
        response_types,
        token_endpoint_auth_method: "none".into(),
        scope: OAuthScope::join(&client.scopes),
        client_uri,
    })
}

// --- the authorization request

/// A validated authorization request (what the consent remembers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: String,
    pub code_challenge: String,
    pub scopes: Vec<OAuthScope>,
    pub resource: Option<String>,
}

/// Why an authorization request cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The client or its redirect URI cannot be trusted: show the message, never redirect.
    Page(String),
    /// Our side failed (the cause is logged, never shown).
    Server(Trouble),
}

/// A failure of ours on the authorization page: the store is unavailable (503) or something
/// unexpected happened (500).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    Unavailable,
    Internal,
}

fn trouble(e: impl Into<AppError>) -> Refusal {
    match e.into() {
        AppError::Unavailable(_) | AppError::StoreOutage { .. } => Refusal::Server(Trouble::Unavailable),
        other => {
            tracing::error!(error = %other, "OAuth authorization page failed");
            Refusal::Server(Trouble::Internal)
        }
    }
}

/// `redirect_uri` with the response parameters and `iss` (RFC 9207) added.
fn redirect_with(base: &str, redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
                q.append_pair("iss", base);
            }
            u.to_string()
        }
        Err(_) => redirect_uri.to_owned(),
    }
}

/// A PKCE S256 challenge: 43 base64url characters (the encoding of 32 bytes).
fn is_s256_challenge(s: &str) -> bool {
    s.len() == 43 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `BASE64URL(SHA256(verifier)) == challenge` (RFC 7636 §4.6), in constant time; the verifier
/// must be 43–128 unreserved characters.
pub fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    use base64::Engine;
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    well_formed && ct_eq(computed.as_bytes(), challenge.as_bytes())
}

/// Validates an authorization request (RFC 6749 §4.1.1 with OAuth 2.1's rules: code only,
/// PKCE S256 required, `state` required, registered redirect URI). Client and redirect URI are
/// checked first: until both are known good, nothing is sent to the redirect URI.
pub async fn authorization_request(
    state: &App,
    base: &str,
    params: &[(String, String)],
) -> Result<(OAuthClient, AuthRequest), Refusal> {
    let get = |k: &str| -> Result<Option<&str>, String> {
        let mut it = params.iter().filter(|(n, _)| n == k);
        let first = it.next().map(|(_, v)| v.as_str());
        if it.next().is_some() { Err(format!("{k} is given more than once")) } else { Ok(first) }
    };
    let client_id = match get("client_id") {
        Ok(Some(c)) => c,
        Ok(None) => return Err(Refusal::Page("The request names no client (client_id is missing).".into())),
        Err(m) => return Err(Refusal::Page(m)),
    };
    let client = match state.store.get_oauth_client(client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(Refusal::Page("This application is not registered with OpenScouter.".into())),
        Err(e) => return Err(trouble(e)),
    };
    // A client that never completed an authorisation within a day of registering has expired.
    if client.created_at < state.now() - UNUSED_CLIENT_TTL_MS {
        match state.store.oauth_client_used(&client.id).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(Refusal::Page(
                    "This application's registration has expired. Start again from your application.".into(),
                ));
            }
            Err(e) => return Err(trouble(e)),
        }
    }
    let redirect_uri = match get("redirect_uri") {
        Ok(Some(r)) => r,
        Ok(None) => return Err(Refusal::Page("The request has no redirect_uri.".into())),
        Err(m) => return Err(Refusal::Page(m)),
    };
    if matching_redirect(&client.redirect_uris, redirect_uri).is_none() {
        return Err(Refusal::Page(
            "The redirect_uri is not one this application registered, so OpenScouter will not send you there."
                .into(),
        ));
    }
    // The redirect URI is registered, but anyone may register any https URI, so it is not
    // trusted until a person has signed in and decided (RFC 9700 §4.11.2): an invalid request
    // gets an error page here, never a redirect (decision 122).
    let st = get("state").ok().flatten();
    let fail = |error: &str, why: &str| {
        Refusal::Page(format!(
            "The application's request cannot be accepted ({error}: {why}). Nothing was sent back to it."
        ))
    };
    for k in ["response_type", "state", "code_challenge", "code_challenge_method", "scope", "resource"] {
        if let Err(m) = get(k) {
            return Err(fail("invalid_request", &m));
        }
    }
    let Some(st) = st.filter(|s| !s.is_empty()) else {
        return Err(fail("invalid_request", "state is required"));
    };
    match get("response_type").ok().flatten() {
        Some("code") => {}
        None => return Err(fail("invalid_request", "response_type is required")),
        Some(_) => return Err(fail("unsupported_response_type", "only response_type=code is supported")),
    }
    let challenge = get("code_challenge").ok().flatten().unwrap_or("");
    if challenge.is_empty() {
        return Err(fail("invalid_request", "code_challenge is required (PKCE)"));
    }
    if get("code_challenge_method").ok().flatten() != Some("S256") {
        return Err(fail("invalid_request", "code_challenge_method must be S256"));
    }
    if !is_s256_challenge(challenge) {
        return Err(fail("invalid_request", "code_challenge must be a base64url SHA-256 (43 characters)"));
    }
    let scopes = match get("scope").ok().flatten() {
        None => vec![OAuthScope::Read],
        Some(s) => OAuthScope::parse_list(s)
            .map_err(|w| fail("invalid_scope", &format!("{w:?} is not a scope (read, draft)")))?,
    };
    if scopes.is_empty() || scopes.iter().any(|s| !client.scopes.contains(s)) {
        return Err(fail("invalid_scope", "the scopes asked for are not registered for this client"));
    }
    let resource = get("resource").ok().flatten().map(str::to_owned);
    if let Some(r) = &resource
        && !valid_resource(base, r)
    {
        return Err(fail("invalid_target", "resource must be this server's MCP endpoint"));
    }
    let request = AuthRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        state: st.to_owned(),
        code_challenge: challenge.to_owned(),
        scopes,
        resource,
    };
    Ok((client, request))
}

fn valid_resource(base: &str, r: &str) -> bool {
    r == resource_url(base) || r == base || r.strip_suffix('/') == Some(base)
}

// --- sign-in and consent

/// A sign-in that produced a consent form.
#[derive(Debug, Clone)]
pub struct ConsentForm {
    pub client: OAuthClient,
    pub request: AuthRequest,
    pub organization_name: String,
    pub user_name: String,
    /// The cookie value binding the form to this sign-in (shown once, stored hashed).
    pub cookie: String,
    /// The form's CSRF token (stored hashed).
    pub csrf: String,
}

/// Why a sign-in on the authorization page did not produce a consent form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigninRefusal {
    /// The request itself is bad.
    Request(Refusal),
    /// Wrong email or password: show the sign-in form again with this message.
    Credentials(String),
    /// Signed in, but this account cannot connect clients (testers, admins, suspended).
    NotAllowed(String),
}

/// Signs the user in on the authorization page and opens a consent for the request: the
/// cookie and CSRF token returned are what the decision must bring back.
pub async fn sign_in_for_consent(
    state: &App,
    base: &str,
    params: &[(String, String)],
    email: &str,
    password: String,
) -> Result<ConsentForm, SigninRefusal> {
    let (client, request) =
        authorization_request(state, base, params).await.map_err(SigninRefusal::Request)?;
    let user = match accounts::authenticate(state, email, password).await {
        Ok(u) => u,
        Err(AppError::Unauthorized(m)) => return Err(SigninRefusal::Credentials(m)),
        Err(AppError::Forbidden(m)) => return Err(SigninRefusal::NotAllowed(m)),
        Err(e) => return Err(SigninRefusal::Request(trouble(e))),
    };
    let org_id = match (user.role, &user.organization_id) {
        (Role::Business, Some(org)) => org.clone(),
        _ => {
            return Err(SigninRefusal::NotAllowed(
                "Only business accounts can connect an application to a workspace.".into(),
            ));
        }
    };
    let page_error = |e: AppError| SigninRefusal::Request(trouble(e));
    let organization_name = match state.store.get_organization(&org_id).await {
        Ok(o) => o.map_or_else(|| "your workspace".to_owned(), |o| o.name),
        Err(e) => return Err(page_error(e.into())),
    };
    let now = state.now();
    let cookie = new_opaque_token("");
    let csrf = new_opaque_token("");
    let consent = NewConsent {
        id: new_id(prefix::OAUTH_CONSENT, now),
        secret_hash: sha256_hex(&cookie),
        csrf_hash: sha256_hex(&csrf),
        user_id: user.id.clone(),
        organization_id: org_id,
        client_id: client.id.clone(),
        request: serde_json::to_string(&request).map_err(|e| page_error(AppError::internal(e)))?,
        created_at: now,
        expires_at: now + CONSENT_TTL_MS,
    };
    state.store.create_oauth_consent(consent).await.map_err(|e| page_error(e.into()))?;
    Ok(ConsentForm { client, request, organization_name, user_name: user.full_name, cookie, csrf })
}

/// The user's answer on the consent form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentDecision {
    /// Allow, with the scopes the user left ticked.
    Allow(Vec<OAuthScope>),
    Deny,
}

/// Applies the user's decision: the consent must come back with its sign-in's cookie and CSRF
/// token, once, within its lifetime. `Ok` is where to send the browser (the client's redirect
/// URI with a code, or with `access_denied`); `Err` is a page (never a redirect: without a
/// valid consent the redirect URI is not known to be the user's).
pub async fn decide(
    state: &App,
    base: &str,
    cookie: Option<&str>,
    csrf: &str,
    decision: ConsentDecision,
) -> Result<String, Refusal> {
    let expired = || {
        Refusal::Page(
            "This sign-in has expired or was already used. Start again from your application.".into(),
        )
    };
    let cookie = cookie.filter(|c| !c.is_empty()).ok_or_else(expired)?;
    let now = state.now();
    let consent = state
        .store
        .take_oauth_consent(&sha256_hex(cookie), now)
        .await
        .map_err(trouble)?
        .ok_or_else(expired)?;
    if !ct_eq(sha256_hex(csrf).as_bytes(), consent.csrf_hash.as_bytes()) {
        tracing::warn!(consent = %consent.id, "OAuth consent with a wrong CSRF token refused");
        return Err(Refusal::Page(
            "The form could not be verified. Start again from your application.".into(),
        ));
    }
    if now >= consent.expires_at {
        return Err(expired());
    }
    let request: AuthRequest = serde_json::from_str(&consent.request).map_err(|_| expired())?;
    let deny = |why: &str| {
        redirect_with(
            base,
            &request.redirect_uri,
            &[("error", "access_denied"), ("error_description", why), ("state", &request.state)],
        )
    };
    let granted: Vec<OAuthScope> = match decision {
        ConsentDecision::Deny => return Ok(deny("the user denied access")),
        ConsentDecision::Allow(chosen) => {
            request.scopes.iter().copied().filter(|s| chosen.contains(s)).collect()
        }
    };
    if granted.is_empty() {
        return Ok(deny("the user granted no scope"));
    }
    let code = new_opaque_token(CODE_PREFIX);
    let row = OAuthCode {
        code_hash: sha256_hex(&code),
        client_id: consent.client_id,
        user_id: consent.user_id,
        organization_id: consent.organization_id,
        redirect_uri: request.redirect_uri.clone(),
        scopes: granted,
        code_challenge: request.code_challenge.clone(),
        resource: request.resource.clone(),
        created_at: now,
        expires_at: now + CODE_TTL_MS,
        used_at: None,
    };
    state.store.create_oauth_code(row).await.map_err(trouble)?;
    Ok(redirect_with(base, &request.redirect_uri, &[("code", &code), ("state", &request.state)]))
}

// --- the token endpoint

/// The token endpoint's form (RFC 6749 §4.1.3 / §6); which fields matter depends on
/// `grant_type`. Documented field by field so clients and fuzzers can build it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = TokenFormDoc)]
pub struct TokenIn {
    /// `authorization_code` or `refresh_token`.
    #[schema(value_type = String, required = true)]
    pub grant_type: Option<String>,
    /// `authorization_code`: the code from the redirect.
    pub code: Option<String>,
    /// `authorization_code`: the redirect URI of the authorization request.
    pub redirect_uri: Option<String>,
    pub client_id: Option<String>,
    /// `authorization_code`: the PKCE verifier.
    pub code_verifier: Option<String>,
    /// `refresh_token`: the refresh token.
    pub refresh_token: Option<String>,
    /// `refresh_token`: an optional narrower scope.
    pub scope: Option<String>,
    /// The resource (RFC 8707) the token is for; optional.
    pub resource: Option<String>,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize)]
pub struct IssuedTokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub scope: String,
}

fn required<'a>(v: &'a Option<String>, name: &str) -> OAuthResult<&'a str> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest(format!("{name} is required")))
}

/// A fresh access and refresh token pair with their stored rows.
fn new_pair(
    now: i64,
    access_scopes: Vec<OAuthScope>,
    grant_scopes: Vec<OAuthScope>,
) -> (String, String, TokenPair) {
    let access = new_opaque_token(ACCESS_PREFIX);
    let refresh = new_opaque_token(REFRESH_PREFIX);
    let pair = TokenPair {
        access: NewOAuthToken {
            id: new_id(prefix::OAUTH_TOKEN, now),
            token_hash: sha256_hex(&access),
            scopes: access_scopes,
            created_at: now,
            expires_at: now + ACCESS_TTL_MS,
        },
        refresh: NewOAuthToken {
            id: new_id(prefix::OAUTH_TOKEN, now),
            token_hash: sha256_hex(&refresh),
            scopes: grant_scopes,
            created_at: now,
            expires_at: now + REFRESH_TTL_MS,
        },
    };
    (access, refresh, pair)
}

/// The token endpoint: `authorization_code` (single use, 60 s, PKCE, same client and redirect
/// URI) and `refresh_token` (rotated on every use; a spent one revokes its whole grant).
pub async fn token(state: &App, base: &str, t: TokenIn) -> OAuthResult<IssuedTokens> {
    let grant_type = required(&t.grant_type, "grant_type")?;
    let client_id = required(&t.client_id, "client_id")?;
    if !matches!(grant_type, "authorization_code" | "refresh_token") {
        return Err(OAuthError::UnsupportedGrantType(format!("{grant_type:?} is not supported")));
    }
    if state.store.get_oauth_client(client_id).await?.is_none() {
        return Err(OAuthError::InvalidClient("Unknown client".into()));
    }
    if grant_type == "authorization_code" {
        exchange_code(state, base, client_id, &t).await
    } else {
        refresh(state, client_id, &t).await
    }
}

async fn exchange_code(state: &App, base: &str, client_id: &str, t: &TokenIn) -> OAuthResult<IssuedTokens> {
    let code = required(&t.code, "code")?;
    let redirect_uri = required(&t.redirect_uri, "redirect_uri")?;
    let verifier = required(&t.code_verifier, "code_verifier")?;
    let hash = sha256_hex(code);
    let now = state.now();
    let Some(row) = state.store.get_oauth_code(&hash).await? else {
        return Err(OAuthError::InvalidGrant("Unknown authorization code".into()));
    };
    if row.used_at.is_some() {
        // RFC 6749 §4.1.2: a code used twice revokes what it issued.
        state.store.revoke_oauth_code_grant(&hash, Revocation::CodeReuse, now).await?;
        tracing::warn!(client = %client_id, "authorization code reuse; its grant is revoked");
        return Err(OAuthError::InvalidGrant("Authorization code already used".into()));
    }
    let refusal = if row.client_id != client_id {
        Some("The code was issued to another client")
    } else if now >= row.expires_at {
        Some("Authorization code expired")
    } else if row.redirect_uri != redirect_uri {
        Some("redirect_uri does not match the authorization request")
    } else if !pkce_s256_matches(verifier, &row.code_challenge) {
        Some("code_verifier does not match the code_challenge")
    } else {
        None
    };
    if let Some(why) = refusal {
        // A failed redemption spends the code: nobody gets a second guess.
        state.store.spend_oauth_code(&hash, now).await?;
        return Err(OAuthError::InvalidGrant(why.into()));
    }
    if let Some(r) = t.resource.as_deref().filter(|r| !r.is_empty())
        && (!valid_resource(base, r) || row.resource.as_deref().is_some_and(|bound| bound != r))
    {
        return Err(OAuthError::InvalidTarget("resource does not match the authorization request".into()));
    }
    let grant = NewGrant {
        id: new_id(prefix::OAUTH_GRANT, now),
        client_id: row.client_id.clone(),
        user_id: row.user_id.clone(),
        organization_id: row.organization_id.clone(),
        scopes: row.scopes.clone(),
        resource: row.resource.clone().or_else(|| t.resource.clone()),
        created_at: now,
    };
    let (access, refresh, pair) = new_pair(now, row.scopes.clone(), row.scopes.clone());
    if !state.store.redeem_oauth_code(&hash, grant, pair, now).await? {
        // Another redemption won the race: this is a reuse.
        state.store.revoke_oauth_code_grant(&hash, Revocation::CodeReuse, now).await?;
        return Err(OAuthError::InvalidGrant("Authorization code already used".into()));
    }
    Ok(IssuedTokens {
        access_token: access,
        token_type: "Bearer",
        expires_in: ACCESS_TTL_MS / 1000,
        refresh_token: refresh,
        scope: OAuthScope::join(&row.scopes),
    })
}

async fn refresh(state: &App, client_id: &str, t: &TokenIn) -> OAuthResult<IssuedTokens> {
    let presented = required(&t.refresh_token, "refresh_token")?;
    let hash = sha256_hex(presented);
    let invalid = || OAuthError::InvalidGrant("Invalid, expired or revoked refresh token".into());
    let row = state.store.get_oauth_refresh(&hash).await?.ok_or_else(invalid)?;
    if row.client_id != client_id {
        return Err(invalid());
    }
    // A refresh may narrow the access token's scopes, never widen the grant's (RFC 6749 §6).
    let access_scopes = match t.scope.as_deref().filter(|s| !s.is_empty()) {
        None => row.scopes.clone(),
        Some(s) => {
            let asked = OAuthScope::parse_list(s)
                .map_err(|w| OAuthError::InvalidScope(format!("{w:?} is not a scope (read, draft)")))?;
            if asked.is_empty() || asked.iter().any(|s| !row.scopes.contains(s)) {
                return Err(OAuthError::InvalidScope("scope exceeds what was granted".into()));
            }
            asked
        }
    };
    let now = state.now();
    let (access, refresh, pair) = new_pair(now, access_scopes.clone(), row.scopes.clone());
    match state.store.rotate_oauth_refresh(&hash, pair, now).await? {
        RotateOutcome::Rotated => Ok(IssuedTokens {
            access_token: access,
            token_type: "Bearer",
            expires_in: ACCESS_TTL_MS / 1000,
            refresh_token: refresh,
            scope: OAuthScope::join(&access_scopes),
        }),
        RotateOutcome::ReuseDetected => {
            tracing::warn!(grant = %row.grant_id, "OAuth refresh token reuse; the grant is revoked");
            Err(OAuthError::InvalidGrant("Refresh token reuse detected; the grant is revoked".into()))
        }
        RotateOutcome::Invalid => Err(invalid()),
    }
}

/// RFC 7009 revocation: revoking either token of a grant revokes the whole grant. Unknown
/// tokens and other clients' tokens are answered the same way, without effect.
pub async fn revoke(state: &App, token: Option<&str>, client_id: Option<&str>) -> OAuthResult<()> {
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))?;
    let client_id = client_id
        .filter(|c| !c.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest("client_id is required".into()))?;
    if state.store.get_oauth_client(client_id).await?.is_none() {
        return Err(OAuthError::InvalidClient("Unknown client".into()));
    }
    state
        .store
        .revoke_oauth_token(&sha256_hex(token), client_id, Revocation::RevokedByClient, state.now())
        .await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_rfc7636_example() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_s256_challenge(challenge));
        assert!(pkce_s256_matches(verifier, challenge));
        assert!(!pkce_s256_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX", challenge));
        assert!(!pkce_s256_matches("short", challenge));
    }

    #[test]
    fn redirect_uris_are_https_or_loopback() {
        for ok in [
            "https://app.example.com/cb",
            "http://127.0.0.1:3000/cb",
            "http://[::1]/cb",
            "http://localhost:9/x",
        ] {
            assert!(parse_redirect(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/cb",
            "https://app.example.com/cb#frag",
            "myapp:/cb",
            "https://u:p@x.io/",
            "/cb",
        ] {
            assert!(parse_redirect(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirect_matching_is_exact_except_loopback_ports() {
        let reg = vec!["https://app.example.com/cb".to_owned(), "http://127.0.0.1:3000/callback".to_owned()];
        assert!(matching_redirect(&reg, "https://app.example.com/cb").is_some());
        assert!(matching_redirect(&reg, "https://app.example.com/cb/").is_none());
        assert!(matching_redirect(&reg, "https://app.example.com:8443/cb").is_none());
        assert!(matching_redirect(&reg, "http://127.0.0.1:49152/callback").is_some());
        assert!(matching_redirect(&reg, "http://127.0.0.1:49152/other").is_none());
        assert!(matching_redirect(&reg, "http://localhost:3000/callback").is_none());
    }
}
