//! Reference code lists used by validation: ISO 3166-1 alpha-2, ISO 639-1, ISO 4217, ND categories.

/// ISO 3166-1 alpha-2 country codes (officially assigned).
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE \
GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP \
KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF \
NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN \
SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// ISO 639-1 two-letter language codes.
const LANGUAGES: &str = "aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el \
en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl \
km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa \
pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur \
uz ve vi vo wa wo xh yi yo za zh zu";

/// ISO 4217 active currency codes.
const CURRENCIES: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF \
CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR \
IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN \
MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN \
SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG";

/// ISO 4217 currencies of `CURRENCIES` whose minor unit is not 1/100: exponent 0 (no minor
/// unit) and exponent 3 (1/1000). Every other listed currency has exponent 2.
const EXPONENT_0: &str = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF";
const EXPONENT_3: &str = "BHD IQD JOD KWD LYD OMR TND";

/// The number of decimal places of the currency's minor unit (ISO 4217), `None` for a code
/// that is not a listed currency. `JPY` → 0, `GBP` → 2, `KWD` → 3.
pub fn currency_exponent(code: &str) -> Option<u32> {
    if !is_currency(code) {
        return None;
    }
    if EXPONENT_0.split(' ').any(|c| c == code) {
        Some(0)
    } else if EXPONENT_3.split(' ').any(|c| c == code) {
        Some(3)
    } else {
        Some(2)
    }
}

/// The 13 neurodivergent categories of the product.
pub const ND_CATEGORIES: [&str; 13] = [
    "adhd",
    "autism",
    "dyslexia",
    "dyscalculia",
    "dyspraxia",
    "auditory_processing",
    "tourette",
    "anxiety",
    "low_vision",
    "motor",
    "ocd",
    "dysgraphia",
    "acquired_brain_injury",
];

/// Devices a study may target.
pub const DEVICES: [&str; 3] = ["desktop", "mobile", "tablet"];

pub fn is_country(s: &str) -> bool {
    s.len() == 2 && COUNTRIES.split(' ').any(|c| c == s)
}

pub fn is_language(s: &str) -> bool {
    s.len() == 2 && LANGUAGES.split_whitespace().any(|c| c == s)
}

pub fn is_currency(s: &str) -> bool {
    s.len() == 3 && CURRENCIES.split_whitespace().any(|c| c == s)
}

pub fn is_nd_category(s: &str) -> bool {
    ND_CATEGORIES.contains(&s)
}

pub fn is_device(s: &str) -> bool {
    DEVICES.contains(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert!(
            is_country("GB")
                && is_country("US")
                && !is_country("gb")
                && !is_country("XX")
                && !is_country("UK")
        );
        assert!(is_language("en") && is_language("zu") && !is_language("EN") && !is_language("xx"));
        assert!(is_currency("EUR") && is_currency("USD") && !is_currency("eur") && !is_currency("XYZ"));
        assert!(is_nd_category("adhd") && !is_nd_category("ADHD"));
        assert_eq!(
            (currency_exponent("GBP"), currency_exponent("JPY"), currency_exponent("KWD")),
            (Some(2), Some(0), Some(3))
        );
        assert!(EXPONENT_0.split(' ').chain(EXPONENT_3.split(' ')).all(is_currency));
        assert_eq!(currency_exponent("XYZ"), None);
    }
}
