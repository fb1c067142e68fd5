//! Argon2id password hashing, always run off the async runtime.

use argon2::{Algorithm, Argon2, Params, Version};
use argon2::{PasswordHash, PasswordHasher, PasswordVerifier};

use crate::error::AppError;

/// Cost parameters (memory in KiB, iterations, lanes).
#[derive(Debug, Clone, Copy)]
pub struct PasswordCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub lanes: u32,
}

impl Default for PasswordCost {
    /// OWASP's Argon2id recommendation: m = 19 MiB, t = 2, p = 1.
    fn default() -> Self {
        Self { memory_kib: 19 * 1024, iterations: 2, lanes: 1 }
    }
}

impl PasswordCost {
    /// The cheapest parameters Argon2 accepts; for tests only.
    pub fn insecure_fast() -> Self {
        Self { memory_kib: 8, iterations: 1, lanes: 1 }
    }

    fn hasher(self) -> Result<Argon2<'static>, AppError> {
        let params =
            Params::new(self.memory_kib, self.iterations, self.lanes, None).map_err(AppError::internal)?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Hashes a password into a PHC string, on the blocking pool.
pub async fn hash(cost: PasswordCost, password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let hasher = cost.hasher()?;
        hasher.hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(AppError::internal)
    })
    .await
    .map_err(AppError::internal)?
}

/// Verifies a password against a stored PHC string, on the blocking pool.
///
/// The parameters come from the stored hash, so old hashes keep verifying after a cost change.
pub async fn verify(password: String, phc: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&phc).map_err(AppError::internal)?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(AppError::internal)?
}

/// A hash of a random password, verified against when the email is unknown so that
/// sign-in takes the same time whether or not the account exists.
pub async fn dummy_hash(cost: PasswordCost) -> Result<String, AppError> {
    hash(cost, crate::auth::secrets::new_hex_token(16)).await
}
