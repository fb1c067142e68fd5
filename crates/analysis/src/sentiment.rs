//! Speech sentiment from a small word lexicon, and the frustration phrases of analysis.md §1.

use std::collections::BTreeMap;
use std::sync::OnceLock;

const LEXICON: &str = include_str!("lexicon.tsv");

struct Lexicon {
    exact: BTreeMap<&'static str, f64>,
    prefixes: Vec<(&'static str, f64)>,
}

fn lexicon() -> &'static Lexicon {
    static CELL: OnceLock<Lexicon> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut exact = BTreeMap::new();
        let mut prefixes = Vec::new();
        for line in LEXICON.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let mut parts = line.split('\t');
            let (Some(word), Some(score)) = (parts.next(), parts.next()) else {
                continue;
            };
            let Ok(score) = score.trim().parse::<f64>() else {
                continue;
            };
            match word.strip_suffix('*') {
                Some(prefix) => prefixes.push((prefix, score)),
                None => {
                    exact.insert(word, score);
                }
            }
        }
        Lexicon { exact, prefixes }
    })
}

const NEGATORS: [&str; 12] = [
    "not", "no", "never", "don't", "doesn't", "isn't", "wasn't", "can't", "cannot", "won't", "didn't",
    "aren't",
];

/// Frustration phrases of analysis.md §1 (and their spelled-out forms); a leading space
/// anchors them at a word start, a trailing space at a word end.
const PHRASES: [&str; 17] = [
    " can't find ",
    " cannot find ",
    " can not find ",
    " where is ",
    " confus",
    " stuck ",
    " doesn't work ",
    " does not work ",
    " don't understand ",
    " do not understand ",
    " too much text ",
    " give up ",
    " frustrat",
    " annoying ",
    " not sure ",
    " where's ",
    " doesnt work ",
];

const READING_WORDS: [&str; 10] = [
    " read",
    " text ",
    " texts ",
    " words ",
    " wording ",
    " font",
    " paragraph",
    " letters ",
    " small print ",
    " too much text ",
];

/// Lower-cases, unifies apostrophes and turns every other non-alphanumeric into a space;
/// the result starts and ends with a space so that phrases can be matched at word bounds.
pub(crate) fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    let mut last_space = true;
    for c in text.chars() {
        let c = match c {
            '\u{2019}' | '\u{2018}' | '`' => '\'',
            c => c,
        };
        if c.is_alphanumeric() || c == '\'' {
            out.extend(c.to_lowercase());
            last_space = false;
        } else if !last_space {
            out.push(' ');
            last_space = true;
        }
    }
    if !last_space {
        out.push(' ');
    }
    out
}

/// Sentiment of a transcript in −1..1.
///
/// Each word found in the lexicon adds its score (−5..5), flipped when one of the two
/// preceding words is a negator; the sum `x` is normalised as `x / √(x² + α)` with
/// α = 15, the normalisation of VADER (Hutto & Gilbert 2014, "VADER: A Parsimonious
/// Rule-based Model for Sentiment Analysis of Social Media Text", ICWSM).
pub fn sentiment(text: &str) -> f64 {
    sentiment_of_normalized(&normalize(text))
}

pub(crate) fn sentiment_of_normalized(norm: &str) -> f64 {
    let lex = lexicon();
    let mut sum = 0.0;
    let mut prev: [&str; 2] = ["", ""];
    for word in norm.split_whitespace() {
        let score = lex
            .exact
            .get(word)
            .copied()
            .or_else(|| lex.prefixes.iter().find(|(p, _)| word.starts_with(p)).map(|&(_, s)| s));
        if let Some(s) = score {
            let negated = prev.iter().any(|p| NEGATORS.contains(p));
            sum += if negated { -s } else { s };
        }
        prev = [prev[1], word];
    }
    if sum == 0.0 { 0.0 } else { (sum / (sum * sum + 15.0).sqrt()).clamp(-1.0, 1.0) }
}

/// The first frustration phrase found, without its padding.
pub(crate) fn frustration_phrase(norm: &str) -> Option<&'static str> {
    PHRASES.iter().find(|p| norm.contains(*p)).map(|p| p.trim())
}

/// Whether the speech is about reading or text (title "Text is hard to read").
pub(crate) fn mentions_reading(norm: &str) -> bool {
    READING_WORDS.iter().any(|w| norm.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_and_negation() {
        assert!(sentiment("This is terrible, it is broken") < -0.5);
        assert!(sentiment("Great, that was easy") > 0.5);
        assert!(sentiment("that is not good") < 0.0);
        assert_eq!(sentiment("the blue button"), 0.0);
        assert!(sentiment("frustrating!") < -0.3);
    }

    #[test]
    fn phrases_and_reading() {
        let n = normalize("I can\u{2019}t find the PRICING page");
        assert_eq!(frustration_phrase(&n), Some("can't find"));
        assert_eq!(frustration_phrase(&normalize("I'm so confused")), Some("confus"));
        assert_eq!(frustration_phrase(&normalize("unstuck now, surely")), None);
        assert!(mentions_reading(&normalize("there is too much text here")));
        assert!(!mentions_reading(&normalize("the button is grey")));
    }
}
