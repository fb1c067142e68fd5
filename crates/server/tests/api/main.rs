//! Integration tests: the real router over SQLite and PostgreSQL (one binary, many modules).

mod helpers;

mod accounts;
mod binary;
mod connections;
mod envelope;
mod hardening;
mod ingest;
mod limits;
mod narrative;
mod pipeline;
mod reports;
mod sessions;
mod store_conformance;
mod studies;
mod tokens;
mod web;
mod webhooks;
