//! The operating system's CSPRNG: the one source of randomness for ids and secrets.

/// Fills `buf` from the operating system's CSPRNG.
///
/// The OS generator failing is unrecoverable for a server that issues credentials, so
/// this is one of the few places allowed to panic.
#[allow(clippy::expect_used)]
pub fn fill_random(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random generator failed");
}
