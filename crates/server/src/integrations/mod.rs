//! Clients of services on the internet. Each talks to a configurable base URL or target, so
//! tests point them at a local server.

pub mod llm;
pub mod mail;
pub mod stripe;
pub mod telegram;
pub mod webhooks;

/// Installs the process-wide TLS crypto provider (ring) once; later calls are no-ops.
pub fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
