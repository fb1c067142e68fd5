//! Allowed browser origins: the patterns configuration parses (exact, or `https://*.domain`)
//! and the CORS layer matches against. Lives outside `http` so configuration need not import it.

/// One configured origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPattern {
    /// `scheme://host[:port]`, compared exactly.
    Exact(String),
    /// `scheme://*.domain[:port]`: any subdomain (one or more labels) of `domain`, not the apex.
    Wildcard { scheme: String, suffix: String, port: Option<u16> },
}

/// `(scheme, host, port)` of an origin, or `None` if it is not `http(s)://host[:port]`.
pub fn split_origin(origin: &str) -> Option<(&str, &str, Option<u16>)> {
    let (scheme, rest) = origin.split_once("://")?;
    if !(scheme == "http" || scheme == "https") || rest.is_empty() || rest.contains('/') {
        return None;
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse().ok()?)),
        None => (rest, None),
    };
    let host_ok = !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '*');
    host_ok.then_some((scheme, host, port))
}

impl OriginPattern {
    /// Parses a configured origin.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (scheme, host, port) =
            split_origin(s).ok_or_else(|| format!("{s:?} is not an origin like https://example.com"))?;
        match host.strip_prefix("*.") {
            Some(domain) if !domain.is_empty() && !domain.contains('*') => Ok(Self::Wildcard {
                scheme: scheme.to_owned(),
                suffix: format!(".{}", domain.to_ascii_lowercase()),
                port,
            }),
            _ if host.contains('*') => {
                Err(format!("{s:?}: a wildcard must be the first label (https://*.example.com)"))
            }
            _ => Ok(Self::Exact(s.to_ascii_lowercase())),
        }
    }

    /// True when `origin` matches this pattern.
    pub fn matches(&self, origin: &str) -> bool {
        match self {
            Self::Exact(o) => o.eq_ignore_ascii_case(origin),
            Self::Wildcard { scheme, suffix, port } => split_origin(origin).is_some_and(|(s, host, p)| {
                let host = host.to_ascii_lowercase();
                s == scheme
                    && p == *port
                    && host.ends_with(suffix.as_str())
                    && host.len() > suffix.len()
                    && !host.contains('*')
            }),
        }
    }
}
