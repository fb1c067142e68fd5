//! Integration tests: the real router over SQLite and PostgreSQL (one binary, many modules).

mod helpers;

mod accounts;
mod billing;
mod binary;
mod browser;
mod connections;
mod dashboard;
mod dashboard_browser;
mod envelope;
mod event_fields;
mod governance;
mod hardening;
mod ingest;
mod limits;
mod mcp;
mod mcp_sdk;
mod multinode;
mod narrative;
mod oauth;
mod pipeline;
mod privacy;
mod published_docs;
mod queue;
mod recorded;
mod recorder_cases;
mod reports;
mod scheduler;
mod sessions;
mod store_conformance;
mod studies;
mod telegram;
mod tokens;
mod web;
mod webdriver;
mod webhooks;
