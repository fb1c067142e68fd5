//! Money as integer minor units (pence, cents, yen) of an ISO 4217 currency, and the platform
//! fee in basis points. Floats appear once, where a study's `compensation.amount` (a decimal
//! on the wire) is converted; every sum, fee and transfer after that is integer arithmetic.

use crate::domain::codes::currency_exponent;

/// An amount in integer minor units together with its ISO 4217 currency: what a transfer, a
/// bank payout or a charge moves. The pair travels as one value so an amount is never read in
/// another currency's unit. The currency is kept as it was given (ours upper case, Stripe's
/// lower case) and compared without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    /// Minor units (pence, cents, yen).
    pub minor: i64,
    /// ISO 4217 code.
    pub currency: String,
}

impl Money {
    pub fn new(minor: i64, currency: impl Into<String>) -> Self {
        Self { minor, currency: currency.into() }
    }

    /// True when this is `minor` units of `currency` (any case).
    pub fn is(&self, minor: i64, currency: &str) -> bool {
        self.minor == minor && self.currency.eq_ignore_ascii_case(currency)
    }

    /// The currency as Stripe's API spells it (lower case).
    pub fn stripe_currency(&self) -> String {
        self.currency.to_ascii_lowercase()
    }
}

impl std::fmt::Display for Money {
    /// `2550 GBP`: minor units and the code, for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.minor, self.currency)
    }
}

/// A fee rate in basis points (1/100 of a percent): 20 % is `FeeRate(2000)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeRate(pub u32);

impl FeeRate {
    /// Parses a percentage with at most two decimals, from 0 up to (not including) 100:
    /// `"20"` → 2000 bp, `"12.5"` → 1250 bp. No float is involved.
    pub fn parse_percent(s: &str) -> Option<Self> {
        let s = s.trim();
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty()
            || int.len() > 2
            || frac.len() > 2
            || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let whole: u32 = int.parse().ok()?;
        let cents: u32 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().ok()? };
        let bp = whole * 100 + cents;
        (bp < 10_000).then_some(Self(bp))
    }

    /// The fee on `minor`, rounded half up to a whole minor unit.
    pub fn fee_of(self, minor: i64) -> i64 {
        let fee = (i128::from(minor) * i128::from(self.0) + 5_000) / 10_000;
        i64::try_from(fee).unwrap_or(i64::MAX)
    }
}

/// Converts a decimal amount of `currency` to its minor units: `25.5 GBP` → `2550`,
/// `1500 JPY` → `1500`, `1.234 KWD` → `1234`. `None` when the currency is unknown, the amount
/// is not positive and finite, or it has more decimals than the currency's minor unit.
pub fn to_minor(amount: f64, currency: &str) -> Option<i64> {
    let exponent = currency_exponent(currency)?;
    if !(amount.is_finite() && amount > 0.0) {
        return None;
    }
    let scaled = amount * f64::from(10u32.pow(exponent));
    let rounded = scaled.round();
    // Decimal amounts are not exact in binary (25.5 is, 0.1 is not): accept what is a whole
    // number of minor units up to representation error, relative to the magnitude.
    if (scaled - rounded).abs() > 1e-9 * rounded.abs().max(1.0) || rounded >= 9.0e15 {
        return None;
    }
    #[allow(clippy::cast_possible_truncation)]
    Some(rounded as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_follow_the_currency_exponent() {
        assert_eq!(to_minor(25.5, "GBP"), Some(2550));
        assert_eq!(to_minor(15.0, "USD"), Some(1500));
        assert_eq!(to_minor(0.1, "EUR"), Some(10));
        assert_eq!(to_minor(19.99, "EUR"), Some(1999));
        assert_eq!(to_minor(1500.0, "JPY"), Some(1500));
        assert_eq!(to_minor(15.5, "JPY"), None, "yen have no minor unit");
        assert_eq!(to_minor(1.234, "KWD"), Some(1234));
        assert_eq!(to_minor(10.001, "GBP"), None);
        assert_eq!(to_minor(999_999_999.99, "GBP"), Some(99_999_999_999));
        assert_eq!(to_minor(-1.0, "GBP"), None);
        assert_eq!(to_minor(1.0, "XYZ"), None);
    }

    #[test]
    fn money_compares_its_currency_without_case() {
        let m = Money::new(2550, "GBP");
        assert!(m.is(2550, "gbp") && m.is(2550, "GBP"));
        assert!(!m.is(2550, "EUR") && !m.is(2551, "GBP"));
        assert_eq!(m.stripe_currency(), "gbp");
        assert_eq!(m.to_string(), "2550 GBP");
    }

    #[test]
    fn fee_rates_parse_without_floats_and_round_half_up() {
        assert_eq!(FeeRate::parse_percent("20"), Some(FeeRate(2000)));
        assert_eq!(FeeRate::parse_percent("12.5"), Some(FeeRate(1250)));
        assert_eq!(FeeRate::parse_percent("0.25"), Some(FeeRate(25)));
        assert_eq!(FeeRate::parse_percent("0"), Some(FeeRate(0)));
        for bad in ["100", "-1", "1.234", "x", "", ".5", "20%"] {
            assert_eq!(FeeRate::parse_percent(bad), None, "{bad}");
        }
        assert_eq!(FeeRate(2000).fee_of(1500), 300);
        assert_eq!(FeeRate(2000).fee_of(2550), 510);
        assert_eq!(FeeRate(1250).fee_of(1), 0);
        assert_eq!(FeeRate(1250).fee_of(4), 1, "0.5 rounds up");
        assert_eq!(FeeRate(0).fee_of(999), 0);
    }
}
