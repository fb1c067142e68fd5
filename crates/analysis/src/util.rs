//! Small helpers shared by the modules: rounding, clamping, hashing, URL paths, text excerpts,
//! string interning.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt::Write;

/// `x` clamped to 0..1; non-finite values count as 0.
pub(crate) fn unit(x: f64) -> f64 {
    if x.is_finite() { x.clamp(0.0, 1.0) } else { 0.0 }
}

/// Rounds to `digits` decimals (half away from zero); non-finite values become 0.
pub(crate) fn round_to(x: f64, digits: i32) -> f64 {
    if !x.is_finite() {
        return 0.0;
    }
    let p = 10f64.powi(digits);
    let r = (x * p).round() / p;
    if r == 0.0 { 0.0 } else { r }
}

/// Total order on optional floats: `None` first, then IEEE total order.
pub(crate) fn cmp_opt_f64(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.total_cmp(&y),
    }
}

/// FNV-1a, 64 bit (Fowler, Noll, Vo; <http://www.isthe.com/chongo/tech/comp/fnv/>),
/// with a caller-chosen offset basis so that two runs give a 128-bit id.
fn fnv1a(parts: &[&str], basis: u64) -> u64 {
    let mut h = basis;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0x1f;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        for b in p.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The two 64-bit hashes behind a stable id ([`id_of`]). Ids of one prefix are fixed-width lower-case
/// hex of these, so they compare as these pairs do: sorting by the pair is sorting by id
/// without reading the strings.
pub(crate) fn stable_hash(parts: &[&str]) -> (u64, u64) {
    (fnv1a(parts, 0xcbf2_9ce4_8422_2325), fnv1a(parts, 0x6c62_272e_07bb_0142))
}

/// A stable id: `prefix` + the pair of [`stable_hash`] as 32 lower-case hex digits (the same
/// as `{:016x}{:016x}`), never random, never a clock.
pub(crate) fn id_of(prefix: &str, (a, b): (u64, u64)) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(prefix.len() + 32);
    s.push_str(prefix);
    for v in [a, b] {
        for shift in (0..16).rev() {
            s.push(char::from(HEX[((v >> (4 * shift)) & 0xf) as usize]));
        }
    }
    s
}

/// The path of a URL: scheme, host, query and fragment removed (`https://x/a?b` → `/a`).
///
/// Byte scans rather than `str::find`: every delimiter is ASCII, so a byte match is a char
/// boundary, and a substring search set up per event cost more than the scan itself.
pub(crate) fn url_path(url: &str) -> &str {
    let b = url.as_bytes();
    let rest = match b.windows(3).position(|w| w[0] == b':' && w[1] == b'/' && w[2] == b'/') {
        Some(i) => match b[i + 3..].iter().position(|&c| c == b'/') {
            Some(j) => &url[i + 3 + j..],
            None => "/",
        },
        None => url,
    };
    let end = rest.bytes().position(|c| c == b'?' || c == b'#').unwrap_or(rest.len());
    let p = &rest[..end];
    if p.is_empty() { "/" } else { p }
}

/// At most `max` characters of `text`, with an ellipsis when cut; borrowed when not cut, so
/// a caller that copies it into a longer text makes no copy of its own.
pub(crate) fn excerpt(text: &str, max: usize) -> Cow<'_, str> {
    let t = text.trim();
    // A text of at most `max` bytes has at most `max` characters: no need to count them.
    if t.len() <= max {
        return Cow::Borrowed(t);
    }
    match t.char_indices().nth(max) {
        Some((i, _)) => Cow::Owned(format!("{}…", &t[..i])),
        None => Cow::Borrowed(t),
    }
}

/// Appends the decimal digits of `n` (as `{n}` would, without the formatter).
pub(crate) fn push_uint(s: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    s.extend(digits[i..].iter().map(|&d| char::from(d)));
}

/// Appends `x` with `decimals` (at most 3) digits after the point, as `{:.N}` writes it: the
/// exact binary value rounded half to even. Numbers in the details and descriptions of every
/// signal and finding are written this way; the formatter's exact mode often falls back to
/// big-number arithmetic for them. Outside `0 ≤ x < 2^53` the formatter writes it.
pub(crate) fn push_fixed(s: &mut String, x: f64, decimals: u32) {
    let scale = 10u128.pow(decimals.min(3));
    match scaled_round(x, scale) {
        Some(n) if decimals <= 3 => {
            push_uint(s, (n / scale) as u64);
            if decimals > 0 {
                s.push('.');
                let frac = (n % scale) as u64;
                let mut pad = scale / 10;
                while pad > 1 && u128::from(frac) < pad {
                    s.push('0');
                    pad /= 10;
                }
                push_uint(s, frac);
            }
        }
        _ => {
            // Writing to a `String` cannot fail.
            let _ = write!(s, "{:.*}", decimals as usize, x);
        }
    }
}

/// `x × scale` rounded half to even, from the exact value of `x` (`m × 2^e`), for
/// `0 ≤ x < 2^53` (`None` otherwise, and for −0, which is written with its sign).
fn scaled_round(x: f64, scale: u128) -> Option<u128> {
    if !x.is_finite() || x.is_sign_negative() || x >= 9_007_199_254_740_992.0 {
        return None;
    }
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (m, e) = if biased == 0 { (frac, -1074) } else { (frac | (1u64 << 52), biased - 1075) };
    // m < 2^53 and scale ≤ 1000: the product is below 2^63.
    let num = u128::from(m) * scale;
    if e >= 0 {
        return Some(num << e);
    }
    let shift = e.unsigned_abs();
    if shift > 64 {
        // Below half a unit of the last digit.
        return Some(0);
    }
    let q = num >> shift;
    let r = num & ((1u128 << shift) - 1);
    let half = 1u128 << (shift - 1);
    Some(if r > half || (r == half && q % 2 == 1) { q + 1 } else { q })
}

/// `m:ss` of a duration in milliseconds from the session start.
pub(crate) fn clock(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

/// Sorts `v` by `cmp`, keeping equal items in their order (as `sort_by` does), by sorting
/// indices and then moving each item once along the permutation's cycles: a stable sort of
/// the items themselves moves large ones through a scratch copy as long as the list.
pub(crate) fn sort_large_by<T>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    let Ok(n) = u32::try_from(v.len()) else {
        v.sort_by(cmp);
        return;
    };
    let mut order: Vec<u32> = (0..n).collect();
    order.sort_by(|&a, &b| cmp(&v[a as usize], &v[b as usize]));
    // `v[i]` becomes the old `v[order[i]]`; a slot whose order points at itself is done.
    for start in 0..v.len() {
        let mut cur = start;
        loop {
            let next = order[cur] as usize;
            order[cur] = cur as u32;
            if next == start {
                break;
            }
            v.swap(cur, next);
            cur = next;
        }
    }
}

/// No selector (an empty `targetSelector`).
pub(crate) const NO_SEL: u32 = u32::MAX;

/// Interns strings in one pass: each item's index into the sorted distinct non-empty values
/// ([`NO_SEL`] for an empty one).
pub(crate) fn intern<'a>(items: impl ExactSizeIterator<Item = &'a str>) -> (Vec<u32>, Vec<&'a str>) {
    let mut ids: HashMap<&str, u32, foldhash::fast::RandomState> = HashMap::default();
    let mut distinct: Vec<&str> = Vec::new();
    let mut raw = Vec::with_capacity(items.len());
    let mut prev: Option<(&str, u32)> = None;
    for s in items {
        let id = match prev {
            _ if s.is_empty() => NO_SEL,
            // Consecutive events on one control are common: skip the hash.
            Some((ps, pid)) if ps.len() == s.len() && ps == s => pid,
            _ => {
                let next = u32::try_from(distinct.len()).unwrap_or(NO_SEL - 1);
                let id = *ids.entry(s).or_insert_with(|| {
                    distinct.push(s);
                    next
                });
                prev = Some((s, id));
                id
            }
        };
        raw.push(id);
    }
    let mut order: Vec<u32> = (0..u32::try_from(distinct.len()).unwrap_or(0)).collect();
    order.sort_unstable_by_key(|&i| distinct[i as usize]);
    let mut rank = vec![0u32; distinct.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i as usize] = u32::try_from(r).unwrap_or(0);
    }
    for id in &mut raw {
        if *id != NO_SEL {
            *id = rank[*id as usize];
        }
    }
    (raw, order.iter().map(|&i| distinct[i as usize]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(url_path("https://shop.test/checkout?step=2#x"), "/checkout");
        assert_eq!(url_path("https://shop.test"), "/");
        assert_eq!(url_path("/pricing?a"), "/pricing");
        assert_eq!(url_path(""), "/");
        assert_eq!(url_path("https://x.test/é/ü?q=ä#f"), "/é/ü");
        assert_eq!(url_path("/a#b?c"), "/a");
        assert_eq!(url_path("?a://b/c"), "/c");
        assert_eq!(url_path("https:/x"), "https:/x");
        assert_eq!(url_path("ab://"), "/");
    }

    #[test]
    fn ids_are_stable() {
        let id = |parts: &[&str]| id_of("fnd_", stable_hash(parts));
        assert_eq!(id(&["a", "b"]), id(&["a", "b"]));
        assert_ne!(id(&["a", "b"]), id(&["ab", ""]));
        assert_eq!(id(&["x"]).len(), 36);
        let (a, b) = stable_hash(&["x", "y"]);
        assert_eq!(id(&["x", "y"]), format!("fnd_{a:016x}{b:016x}"));
        assert_eq!(id_of("p", (0xab, u64::MAX)), format!("p{:016x}{:016x}", 0xab, u64::MAX));
    }

    #[test]
    fn large_sorts_are_stable_sorts() {
        let mut seed = 7u64;
        for len in [0usize, 1, 2, 3, 10, 100, 1000] {
            let v: Vec<(u8, usize)> = (0..len)
                .map(|i| {
                    seed =
                        seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    ((seed >> 60) as u8, i)
                })
                .collect();
            let mut expected = v.clone();
            expected.sort_by_key(|a| a.0);
            let mut got = v;
            sort_large_by(&mut got, |a, b| a.0.cmp(&b.0));
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn fixed_point_reads_as_the_formatter_would() {
        let mut seed = 11u64;
        let mut values = vec![
            0.0,
            -0.0,
            0.125,
            0.375,
            0.625,
            0.875,
            0.25,
            0.75,
            2.5,
            0.005,
            0.015,
            0.045,
            1.0,
            0.999,
            0.9999,
            0.99999,
            5e-324,
            1e-300,
            4503599627370495.5,
            9007199254740991.0,
            9007199254740992.0,
            1e300,
            f64::NAN,
            f64::INFINITY,
            -1.25,
            99.5,
            12.5,
        ];
        for j in 0..4000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            values.push((seed >> 11) as f64 / (1u64 << 53) as f64);
            values.push(f64::from(j) / 8.0);
            values.push(f64::from(j) / 1000.0);
            values.push((seed >> 40) as f64 / 1000.0);
            values.push(f64::from_bits(seed >> 2));
        }
        for x in values {
            for d in 0..=3u32 {
                let mut s = String::new();
                push_fixed(&mut s, x, d);
                assert_eq!(s, format!("{:.*}", d as usize, x), "{x:e} {d}");
            }
        }
    }

    #[test]
    fn rounding_and_excerpts() {
        assert_eq!(round_to(0.125, 2), 0.13);
        assert_eq!(round_to(f64::NAN, 2), 0.0);
        for n in [0u64, 7, 10, 99, 1234, u64::MAX] {
            let mut s = String::from("x");
            push_uint(&mut s, n);
            assert_eq!(s, format!("x{n}"));
        }
        assert_eq!(excerpt("abcdef", 3), "abc…");
        assert_eq!(excerpt(" abc ", 3), "abc");
        assert_eq!(excerpt("ééé", 3), "ééé");
        assert_eq!(excerpt("éééé", 3), "ééé…");
        assert_eq!(clock(75_000), "1:15");
    }
}
