//! Reading an `Authorization` value: the scheme is matched case-insensitively (RFC 9110 §11.1,
//! `bearer`, `TOKEN` and `Bearer` are one scheme), followed by one or more spaces and the
//! credentials. The one place every credential reader (API auth, cron secret) parses it.

/// The credentials after `scheme` (compared ignoring ASCII case), trimmed; `None` when the
/// value uses another scheme or has no space after it.
pub fn credentials<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

#[cfg(test)]
mod tests {
    use super::credentials;

    #[test]
    fn schemes_ignore_case_and_extra_spaces() {
        for v in ["Bearer abc", "bearer abc", "BEARER abc", "bEaReR   abc ", "Bearer\tabc"] {
            let got = credentials(v, "Bearer");
            if v.contains('\t') {
                assert_eq!(got, None, "{v:?}: a tab is not the separator");
            } else {
                assert_eq!(got, Some("abc"), "{v:?}");
            }
        }
        assert_eq!(credentials("token ost_1", "Token"), Some("ost_1"));
        assert_eq!(credentials("Bearerabc", "Bearer"), None);
        assert_eq!(credentials("Basic abc", "Bearer"), None);
        assert_eq!(credentials("Bearer", "Bearer"), None);
    }
}
