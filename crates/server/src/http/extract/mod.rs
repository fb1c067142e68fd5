//! Extractors: JSON bodies with validation, pagination, and authentication/authorisation.

pub mod auth;
pub mod cookie;
pub mod json;
pub mod pagination;
pub mod query;
pub mod request_id;
pub mod shared_secret;

pub use auth::{Admin, Authed, BusinessOrAdmin, ReaderOrTestToken, SessionActor, UserJwt};
pub use json::{ApiJson, OptionalJson, ValidatedJson};
pub use pagination::Pagination;
pub use query::ApiQuery;
pub use request_id::RequestId;
pub use shared_secret::{CronAuth, TelegramWebhookAuth};
