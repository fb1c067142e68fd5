//! The client's IP: the peer, unless the peer is a trusted proxy; then the right-most
//! `X-Forwarded-For` entry that is not itself a trusted proxy.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;

fn trusted(ip: &IpAddr, proxies: &[IpNet]) -> bool {
    proxies.iter().any(|net| net.contains(ip))
}

/// Resolves the client IP of a request (`None` when the peer is unknown).
pub fn client_ip(headers: &HeaderMap, extensions: &Extensions, proxies: &[IpNet]) -> Option<IpAddr> {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())?;
    if !trusted(&peer, proxies) {
        return Some(peer);
    }
    let mut hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    // Walk from the right: each trusted proxy vouches for the hop before it.
    while let Some(ip) = hops.pop() {
        if !trusted(&ip, proxies) {
            return Some(ip);
        }
    }
    Some(peer)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::request::Parts;

    fn parts(peer: &str, xff: Option<&str>) -> Parts {
        let mut b = axum::http::Request::builder();
        if let Some(x) = xff {
            b = b.header("x-forwarded-for", x);
        }
        let (mut parts, _) = b.body(()).unwrap().into_parts();
        parts.extensions.insert(ConnectInfo::<SocketAddr>(format!("{peer}:1234").parse().unwrap()));
        parts
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_the_header_says() {
        let p = parts("203.0.113.9", Some("1.2.3.4"));
        assert_eq!(client_ip(&p.headers, &p.extensions, &[]), Some("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn right_most_untrusted_hop_behind_trusted_proxies() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // A client spoofing "1.1.1.1" in front: the proxy appended the real address.
        let p = parts("10.0.0.2", Some("1.1.1.1, 198.51.100.7, 10.0.0.5"));
        assert_eq!(client_ip(&p.headers, &p.extensions, &proxies), Some("198.51.100.7".parse().unwrap()));
        let p = parts("10.0.0.2", None);
        assert_eq!(client_ip(&p.headers, &p.extensions, &proxies), Some("10.0.0.2".parse().unwrap()));
    }
}
