//! Authentication primitives: passwords, JWTs, opaque tokens and the resolved principal.

pub mod jwt;
pub mod password;
pub mod principal;
pub mod rotations;
pub mod scheme;
pub mod secrets;
