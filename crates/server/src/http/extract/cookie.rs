//! Cookies: reading one from a request, and the one shape of a credential cookie we set (the
//! dashboard's sign-in, OAuth's consent).

use axum::http::{HeaderMap, header};

/// The value of cookie `name`, if the request carries it (every `Cookie` header is searched).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value for a credential: `HttpOnly; SameSite=Strict`, scoped to `path`, living
/// `max_age_secs` (0 removes it), and `Secure` when the site is served over TLS.
pub fn strict_cookie(name: &str, value: &str, path: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={}; HttpOnly; SameSite=Strict{}",
        max_age_secs.max(0),
        if secure { "; Secure" } else { "" }
    )
}
