//! Services: the rules of the product, between the HTTP edge and the store.

pub mod accounts;
pub mod credentials;
pub mod tokens;
