//! Random secrets, their at-rest hashes and constant-time comparison.

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use crate::random::fill_random;

/// `prefix` + 32 random bytes in URL-safe base64 (no padding): e.g. `ost_…`, `osr_…`.
pub fn new_opaque_token(prefix: &str) -> String {
    let mut b = [0u8; 32];
    fill_random(&mut b);
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// `n` random bytes as lowercase hex (`n = 24` gives the 48-hex session test token).
pub fn new_hex_token(n: usize) -> String {
    let mut b = vec![0u8; n];
    fill_random(&mut b);
    hex::encode(b)
}

/// SHA-256 of a high-entropy secret, hex-encoded; what the store keeps instead of the secret.
///
/// A fast hash is right here (unlike passwords): the secrets are 256-bit random values,
/// so there is nothing to brute-force, and lookups by hash stay O(1).
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time equality of two byte strings (length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_shape_and_differ() {
        let a = new_opaque_token("ost_");
        assert!(a.starts_with("ost_") && a.len() == 4 + 43);
        assert_ne!(a, new_opaque_token("ost_"));
        let h = new_hex_token(24);
        assert_eq!(h.len(), 48);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn ct_eq_works() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
