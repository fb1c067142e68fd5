//! Outbound webhooks: Standard Webhooks signatures, the SSRF guard (`domain::address`, the one
//! address check of every request built from user input), and one delivery attempt.

use std::net::{IpAddr, SocketAddr};

use crate::domain::address::special_purpose;
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// A new endpoint secret: `whsec_` + base64 of 24 random bytes.
pub fn new_secret() -> String {
    let mut b = [0u8; 24];
    crate::auth::secrets::fill_random(&mut b);
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(b))
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>` where the key is the base64
/// part of the secret (Standard Webhooks, <https://www.standardwebhooks.com/>).
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> Result<String, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(secret.strip_prefix("whsec_").unwrap_or(secret)).map_err(|e| e.to_string())?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(format!("{msg_id}.{timestamp}.{body}").as_bytes());
    Ok(format!("v1,{}", b64.encode(mac.finalize().into_bytes())))
}

/// Resolves the URL's host; refuses internal addresses unless `allow_private`. Returns the
/// addresses to connect to (the request is pinned to them, so DNS cannot change its answer
/// between the check and the connection).
pub async fn resolve_target(
    url: &reqwest::Url,
    allow_private: bool,
) -> Result<(String, Vec<SocketAddr>), String> {
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err("must be an http or https URL".into());
    }
    let host =
        url.host_str().ok_or("must have a host")?.trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = url.port_or_known_default().ok_or("must have a port")?;
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| format!("cannot resolve {host}"))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(format!("cannot resolve {host}"));
    }
    if !allow_private && let Some(why) = addrs.iter().find_map(|a| special_purpose(a.ip())) {
        return Err(format!("{host} resolves to a {why} address, which webhooks may not reach"));
    }
    Ok((host, addrs))
}

/// Outcome of one attempt.
#[derive(Debug)]
pub struct Attempt {
    pub status: Option<u16>,
    pub error: Option<String>,
}

impl Attempt {
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Sends one signed delivery (no redirects, 10 s timeout).
pub async fn send(
    url: &str,
    secret: &str,
    msg_id: &str,
    timestamp_s: i64,
    body: &str,
    allow_private: bool,
) -> Attempt {
    let fail = |e: String| Attempt { status: None, error: Some(e) };
    let parsed = match reqwest::Url::parse(url) {
        Ok(u) => u,
        Err(e) => return fail(e.to_string()),
    };
    let (host, addrs) = match resolve_target(&parsed, allow_private).await {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let signature = match sign(secret, msg_id, timestamp_s, body) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    crate::integrations::install_crypto();
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .resolve_to_addrs(&host, &addrs)
        .build()
    {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    let res = client
        .post(parsed)
        .header("content-type", "application/json")
        .header("user-agent", concat!("OpenScouter-Webhooks/", env!("CARGO_PKG_VERSION")))
        .header("webhook-id", msg_id)
        .header("webhook-timestamp", timestamp_s.to_string())
        .header("webhook-signature", signature)
        .body(body.to_owned())
        .send()
        .await;
    match res {
        Ok(r) if r.status().is_success() => Attempt { status: Some(r.status().as_u16()), error: None },
        Ok(r) => Attempt {
            status: Some(r.status().as_u16()),
            error: Some(format!("HTTP {}", r.status().as_u16())),
        },
        Err(e) => fail(if e.is_timeout() { "timed out".into() } else { "connection failed".into() }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The target check refuses the forms an attack pass reached the network with (the whole
    /// table is tested in `domain::address`), before any connection is made.
    #[tokio::test]
    async fn targets_in_special_purpose_blocks_are_refused() {
        for host in [
            "[::127.0.0.1]",
            "[64:ff9b::7f00:1]",
            "[2002:7f00:1::1]",
            "[fec0::1]",
            "198.18.0.1",
            "240.0.0.1",
            "192.0.0.1",
            "127.0.0.1",
            "[::ffff:10.0.0.1]",
        ] {
            let url = reqwest::Url::parse(&format!("https://{host}/hook")).unwrap();
            let err = resolve_target(&url, false).await.unwrap_err();
            assert!(err.contains("may not reach"), "{host}: {err}");
            assert!(resolve_target(&url, true).await.is_ok(), "{host} with private targets allowed");
        }
        let url = reqwest::Url::parse("https://1.1.1.1/hook").unwrap();
        assert!(resolve_target(&url, false).await.is_ok());
    }

    #[test]
    fn standard_webhooks_reference_signature() {
        // Test vector of the Standard Webhooks specification.
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
