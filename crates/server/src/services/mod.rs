//! Services: the rules of the product, between the HTTP edge and the store.

pub mod accounts;
pub mod analysis_input;
pub mod backup;
pub mod billing;
pub mod credentials;
pub mod cron;
pub mod export;
pub mod flow;
pub mod governance;
pub mod inbound;
pub mod ingest;
pub mod mcp;
pub mod notifications;
pub mod oauth;
pub mod ops;
pub mod pipeline;
pub mod queue;
pub mod recording;
pub mod reports;
pub mod rrweb;
pub mod scheduler;
pub mod sessions;
pub mod studies;
pub mod telegram;
pub mod tokens;
pub mod webhooks;
