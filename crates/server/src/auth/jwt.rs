//! HS256 access tokens with a pinned algorithm; expiry checked against the injected clock.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use crate::domain::{Plan, Role};
use crate::error::AppError;

/// Access-token lifetime (spec §1.4: 24 h).
pub const ACCESS_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// Claims of an access token. `sid` names the sign-in session (refresh-token family), so
/// signing out or a detected refresh-token reuse also ends the access tokens it issued.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub org: Option<String>,
    pub tier: Plan,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub sid: String,
}

/// Signing and verification keys; the algorithm is fixed to HS256.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Tokens whose signature already verified, by their exact text (a forged or altered token
    /// never matches); expiry is still checked on every use. Saves the HMAC and JSON work on
    /// the hot path of every authenticated request. Shared (`Arc`), so a hit copies no claim.
    verified: std::sync::Arc<crate::cache::TtlCache<std::sync::Arc<Claims>>>,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(HS256, <redacted>)")
    }
}

impl JwtKeys {
    /// Keys from an HS256 secret (the configuration guarantees at least 32 bytes).
    pub fn new(secret: &[u8]) -> Result<Self, String> {
        // Only HS256 is accepted: a token naming `none`, RS256 (key confusion) or any other
        // algorithm fails before its signature is looked at.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        // Expiry is checked below against the injected clock, not the library's system clock.
        validation.validate_exp = false;
        validation.required_spec_claims = ["exp", "sub"].iter().map(|s| (*s).to_owned()).collect();
        Ok(Self {
            encoding: EncodingKey::from_secret(secret).map_err(|e| e.to_string())?,
            decoding: DecodingKey::from_secret(secret).map_err(|e| e.to_string())?,
            validation,
            verified: std::sync::Arc::new(crate::cache::TtlCache::new(std::time::Duration::from_secs(60))),
        })
    }

    /// Signs claims.
    pub fn sign(&self, claims: &Claims) -> Result<String, AppError> {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding).map_err(AppError::internal)
    }

    /// Verifies signature, algorithm and expiry (claims `exp`/`iat` are in seconds).
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<std::sync::Arc<Claims>, AppError> {
        let invalid = || AppError::Unauthorized("Invalid or expired access token".into());
        let claims = match self.verified.get(token) {
            Some(c) => c,
            None => {
                let c = std::sync::Arc::new(
                    decode::<Claims>(token, &self.decoding, &self.validation).map_err(|_| invalid())?.claims,
                );
                self.verified.put(token, std::sync::Arc::clone(&c));
                c
            }
        };
        if claims.exp * 1000 <= now_ms {
            return Err(invalid());
        }
        Ok(claims)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "user_1".into(),
            role: Role::Business,
            org: Some("org_1".into()),
            tier: Plan::Free,
            exp,
            iat: 0,
            jti: "j".into(),
            sid: "asn_1".into(),
        }
    }

    #[test]
    fn round_trip_and_expiry() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let t = keys.sign(&claims(100)).unwrap();
        assert_eq!(*keys.verify(&t, 99_000).unwrap(), claims(100));
        assert!(keys.verify(&t, 100_000).is_err());
    }

    #[test]
    fn wrong_key_and_alg_none_are_rejected() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let other = JwtKeys::new(b"another-secret-another-secret-xx").unwrap();
        let t = other.sign(&claims(100)).unwrap();
        assert!(keys.verify(&t, 0).is_err());
        // alg: none — header {"alg":"none","typ":"JWT"}, valid claims, empty signature.
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let none = format!(
            "{}.{}.",
            b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(serde_json::to_vec(&claims(100)).unwrap())
        );
        assert!(keys.verify(&none, 0).is_err());
    }
}
