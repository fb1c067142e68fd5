//! Reading one cookie from a request's headers (the dashboard's sign-in, OAuth's consent).

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
