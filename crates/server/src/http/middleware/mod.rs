//! Request middleware: connection guards, auth + rate limits, body limits, CORS, security
//! headers, envelope for framework errors, panics, request ids and metrics.

pub mod body_limit;
pub mod client_ip;
pub mod connection;
pub mod cors;
pub mod envelope;
pub mod headers;
pub mod metrics;
pub mod rate_limit;
