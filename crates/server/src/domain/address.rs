//! The one check of where a server-side request may go: an address in any block of the IANA
//! IPv4 and IPv6 Special-Purpose Address Registries (and multicast) is refused, and so is an
//! IPv4 address embedded in an IPv6 form (mapped, compatible, NAT64, 6to4) whose IPv4 part is.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 blocks that a request built from user input must never reach: every entry of the
/// IANA IPv4 Special-Purpose Address Registry, multicast and the limited broadcast address.
/// The name says why, for the refusal and the table test.
const V4: &[(u32, u8, &str)] = &[
    (0x0000_0000, 8, "\"this network\" (0.0.0.0/8)"),
    (0x0a00_0000, 8, "private-use (10.0.0.0/8)"),
    (0x6440_0000, 10, "shared address space (100.64.0.0/10)"),
    (0x7f00_0000, 8, "loopback (127.0.0.0/8)"),
    (0xa9fe_0000, 16, "link-local (169.254.0.0/16)"),
    (0xac10_0000, 12, "private-use (172.16.0.0/12)"),
    (0xc000_0000, 24, "IETF protocol assignments (192.0.0.0/24)"),
    (0xc000_0200, 24, "documentation (192.0.2.0/24)"),
    (0xc01f_c400, 24, "AS112-v4 (192.31.196.0/24)"),
    (0xc034_c100, 24, "AMT (192.52.193.0/24)"),
    (0xc058_6300, 24, "deprecated 6to4 relay anycast (192.88.99.0/24)"),
    (0xc0a8_0000, 16, "private-use (192.168.0.0/16)"),
    (0xc0af_3000, 24, "direct delegation AS112 (192.175.48.0/24)"),
    (0xc612_0000, 15, "benchmarking (198.18.0.0/15)"),
    (0xc633_6400, 24, "documentation (198.51.100.0/24)"),
    (0xcb00_7100, 24, "documentation (203.0.113.0/24)"),
    (0xe000_0000, 4, "multicast (224.0.0.0/4)"),
    (0xf000_0000, 4, "reserved (240.0.0.0/4)"),
    (0xffff_ffff, 32, "limited broadcast (255.255.255.255/32)"),
];

/// IPv6 blocks of the IANA IPv6 Special-Purpose Address Registry (and multicast) that are
/// refused outright. The forms that embed an IPv4 address are handled before this table.
const V6: &[(u128, u8, &str)] = &[
    (0, 128, "unspecified (::/128)"),
    (1, 128, "loopback (::1/128)"),
    (0x0000_0000_0000_0000_0000_0000_0000_0000, 96, "IPv4-compatible (::/96, deprecated)"),
    (0x0064_ff9b_0001_0000_0000_0000_0000_0000, 48, "local-use IPv4/IPv6 translation (64:ff9b:1::/48)"),
    (0x0100_0000_0000_0000_0000_0000_0000_0000, 64, "discard-only (100::/64)"),
    (0x0100_0000_0000_0001_0000_0000_0000_0000, 64, "dummy IPv6 prefix (100:0:0:1::/64)"),
    (0x2001_0000_0000_0000_0000_0000_0000_0000, 23, "IETF protocol assignments incl. Teredo (2001::/23)"),
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32, "documentation (2001:db8::/32)"),
    (0x2620_004f_8000_0000_0000_0000_0000_0000, 48, "direct delegation AS112 (2620:4f:8000::/48)"),
    (0x3fff_0000_0000_0000_0000_0000_0000_0000, 20, "documentation (3fff::/20)"),
    (0x5f00_0000_0000_0000_0000_0000_0000_0000, 16, "segment routing SIDs (5f00::/16)"),
    (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7, "unique-local (fc00::/7)"),
    (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10, "link-local (fe80::/10)"),
    (0xfec0_0000_0000_0000_0000_0000_0000_0000, 10, "site-local (fec0::/10, deprecated)"),
    (0xff00_0000_0000_0000_0000_0000_0000_0000, 8, "multicast (ff00::/8)"),
];

fn in_v4(ip: u32, net: u32, len: u8) -> bool {
    // `len` is at most 32 (the table's own constants); a /0 would match everything.
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    ip & mask == net & mask
}

fn in_v6(ip: u128, net: u128, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    ip & mask == net & mask
}

/// Why `ip` must not be reached (the special-purpose block it falls in), or `None` for an
/// ordinary global address. IPv6 forms that carry an IPv4 address are judged by it: mapped
/// (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:AABB:CCDD::/48`); the
/// deprecated IPv4-compatible form (`::a.b.c.d`) is refused whatever it holds.
pub fn special_purpose(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let n = u32::from(ip);
    V4.iter().find(|(net, len, _)| in_v4(n, *net, *len)).map(|(_, _, why)| *why)
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let n = u128::from(ip);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return special_v4(v4).map(|_| "an IPv4-mapped form of a special-purpose IPv4 address");
    }
    // NAT64 well-known prefix 64:ff9b::/96: the last 32 bits are the IPv4 destination.
    if in_v6(n, 0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96) {
        // Truncation is the point: the low 32 bits are the embedded address.
        return special_v4(Ipv4Addr::from((n & 0xffff_ffff) as u32))
            .map(|_| "a NAT64 form of a special-purpose IPv4 address");
    }
    // 6to4 2002::/16: bits 16..48 are the IPv4 address of the tunnel's end.
    if in_v6(n, 0x2002_0000_0000_0000_0000_0000_0000_0000, 16) {
        let v4 = ((n >> 80) & 0xffff_ffff) as u32;
        return special_v4(Ipv4Addr::from(v4)).map(|_| "a 6to4 form of a special-purpose IPv4 address");
    }
    V6.iter().find(|(net, len, _)| in_v6(n, *net, *len)).map(|(_, _, why)| *why)
}

/// `http(s)://host…`, at most 2,048 characters.
pub fn validate_http_url(s: &str) -> Result<(), &'static str> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or("must be an http or https URL")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || s.len() > 2048 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be an http or https URL");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn why(s: &str) -> Option<&'static str> {
        special_purpose(s.parse().unwrap())
    }

    #[test]
    fn every_special_purpose_block_is_refused_at_both_ends() {
        for (net, len, name) in V4 {
            let first = Ipv4Addr::from(*net);
            let last = Ipv4Addr::from(net | u32::MAX.checked_shr(u32::from(*len)).unwrap_or(0));
            for ip in [first, last] {
                assert!(special_v4(ip).is_some(), "{ip} in {name}");
                let mapped = IpAddr::V6(ip.to_ipv6_mapped());
                assert!(special_purpose(mapped).is_some(), "{mapped} ({name}, mapped)");
            }
        }
        for (net, len, name) in V6 {
            let last = net | u128::MAX.checked_shr(u32::from(*len)).unwrap_or(0);
            for ip in [*net, last] {
                let ip = Ipv6Addr::from(ip);
                assert!(special_v6(ip).is_some(), "{ip} in {name}");
            }
        }
    }

    #[test]
    fn the_forms_an_attack_pass_found_are_refused() {
        for s in [
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::1",
            "fec0::1",
            "198.18.0.1",
            "240.0.0.1",
            "192.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
            "127.1.2.3",
            "0.0.0.0",
            "::",
            "::1",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "100.64.0.1",
            "2001:db8::1",
            "2001::1",
            "255.255.255.255",
        ] {
            assert!(why(s).is_some(), "{s} must be refused");
        }
    }

    #[test]
    fn ordinary_global_addresses_pass() {
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:82a::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:0808:0808::1",
            "2001:200::1",
        ] {
            assert_eq!(why(s), None, "{s} is an ordinary address");
        }
    }
}
