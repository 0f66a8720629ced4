//! From a mail's text to weighted, normalised tokens.
//!
//! The steps, in order: cap the length, tell apart the citizen's own lines from quoted earlier
//! mail and signatures, split into words, fold case and accents, drop stop words, stem.
//! Every token remembers where it came from (its byte span in the text it was cut from), so an
//! explanation can show the citizen's own word rather than a stem.

use std::sync::LazyLock;

use regex::Regex;
use rust_stemmers::{Algorithm, Stemmer};

/// Only the start of a long body is read: a complaint says what it is about early, and a pasted
/// 2 MB log must cost neither time nor memory. Same cap as the routing rules' body match.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// Tokens kept per message (subject and body together), for the same reason.
pub const MAX_TOKENS: usize = 2_000;

/// A word longer than this is not a word (a URL, base64, a run of underscores).
const MAX_WORD_CHARS: usize = 30;

/// How much a line counts, by where it comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Origin {
    /// The subject: short and written to say what the mail is about.
    Subject,
    /// The citizen's own lines.
    Body,
    /// Quoted earlier mail (`> ` lines, below "ha scritto:"/"Messaggio originale"). Kept, at a
    /// lower weight: a citizen forwarding their unanswered complaint puts the substance there,
    /// but a quoted answer from the hospital is mostly the hospital's words.
    Quoted,
}

/// One word of the message, normalised.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    /// Lower case, accents folded (`perché`, `perche'` and `perche` are all `perche`).
    pub norm: String,
    /// Snowball stem of `norm`.
    pub stem: String,
    /// A stop word: no unigram, no bigram, no character n-grams.
    pub stop: bool,
    pub origin: Origin,
    /// Index of the text this token was cut from (0 subject, 1 body) and its byte span there,
    /// for explanations.
    pub source: u8,
    pub span: (usize, usize),
    /// Tokens of different sentences/lines are not joined into bigrams.
    pub sentence: u32,
}

/// Cuts `text` to at most `max` bytes, on a character boundary.
pub(crate) fn cap(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

static SIGNATURE_START: LazyLock<Regex> = LazyLock::new(|| {
    // "-- " is the standard signature delimiter; the others are mobile clients' footers.
    Regex::new(r"(?i)^(--\s*|_{5,}\s*|(inviato|sent) (da|dal|from) (il )?(mio )?\S+.*)$").unwrap()
});

static QUOTE_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)^\s*(-{2,}\s*(messaggio originale|original message|forwarded message|messaggio inoltrato)",
        r"|(il|on)\s.{0,200}(ha scritto|wrote)\s*:\s*$",
        r"|(da|from)\s*:\s.*@.*$)"
    ))
    .unwrap()
});

/// The body's lines, each with its origin; signatures after a delimiter are dropped, and so are
/// header lines of quoted mail (they hold names and addresses, not the complaint).
pub(crate) fn split_body(body: &str) -> Vec<(Origin, &str)> {
    let mut lines = Vec::new();
    let mut quoting = false;
    for line in body.lines() {
        let trimmed = line.trim_start();
        if SIGNATURE_START.is_match(line.trim_end()) {
            if trimmed.starts_with('-') || trimmed.starts_with('_') {
                // Everything after a signature delimiter is the signature (or a legal footer).
                break;
            }
            continue;
        }
        if QUOTE_HEADER.is_match(line) {
            quoting = true;
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('>') {
            lines.push((Origin::Quoted, rest.trim_start_matches(['>', ' '])));
        } else if quoting {
            lines.push((Origin::Quoted, line));
        } else {
            lines.push((Origin::Body, line));
        }
    }
    lines
}

/// Lower case and accents folded, one character at a time; `None` for what is not part of a word.
fn fold(c: char) -> Option<char> {
    let c = match c {
        'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' | 'À' | 'Á' | 'Â' | 'Ä' | 'Ã' | 'Å' => 'a',
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'i',
        'ò' | 'ó' | 'ô' | 'ö' | 'õ' | 'Ò' | 'Ó' | 'Ô' | 'Ö' | 'Õ' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'u',
        'ç' | 'Ç' => 'c',
        'ñ' | 'Ñ' => 'n',
        c if c.is_alphanumeric() => return c.to_lowercase().next(),
        _ => return None,
    };
    Some(c)
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | '`' | '´')
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u')
}

/// Snowball Italian stop words (folded), without the negations and quantities that change a
/// complaint's meaning ("non", "mai", "niente", "nessuno", "senza", "troppo", "poco"), plus the
/// commonest English function words (a tourist writes in English; they carry no topic).
#[rustfmt::skip]
const STOP_WORDS: &[&str] = &[
    // Italian
    "a", "ad", "agl", "agli", "ai", "al", "all", "alla", "alle", "allo", "anche", "avemmo",
    "avendo", "avere", "avesse", "avessi", "avete", "aveva", "avevamo", "avevano", "avevate",
    "avevi", "avevo", "avra", "avrai", "avranno", "avrebbe", "avrei", "avremo", "avro", "avuta",
    "avute", "avuti", "avuto", "c", "che", "chi", "ci", "coi", "col", "come", "con", "contro",
    "cui", "da", "dagl", "dagli", "dai", "dal", "dall", "dalla", "dalle", "dallo", "degl", "degli",
    "dei", "del", "dell", "della", "delle", "dello", "di", "dov", "dove", "e", "ebbe", "ebbero",
    "ebbi", "ed", "era", "erano", "eravamo", "eri", "ero", "essendo", "faccio", "facevo", "fece",
    "fosse", "fossi", "fu", "fui", "fummo", "furono", "gli", "ha", "hai", "hanno", "ho", "i", "il",
    "in", "io", "l", "la", "le", "lei", "li", "lo", "loro", "lui", "ma", "me", "mi", "mia", "mie",
    "miei", "mio", "ne", "negl", "negli", "nei", "nel", "nell", "nella", "nelle", "nello", "noi",
    "nostra", "nostre", "nostri", "nostro", "o", "per", "perche", "piu", "quale", "quanta",
    "quante", "quanti", "quanto", "quella", "quelle", "quelli", "quello", "questa", "queste",
    "questi", "questo", "sara", "sarei", "se", "sei", "si", "sia", "siamo", "siete", "sono", "sta",
    "stata", "state", "stati", "stato", "su", "sua", "sue", "sugl", "sugli", "sui", "sul", "sull",
    "sulla", "sulle", "sullo", "suo", "suoi", "ti", "tra", "tu", "tua", "tue", "tuo", "tuoi",
    "tutti", "tutto", "un", "una", "uno", "vi", "voi", "vostra", "vostro", "gia", "cosi", "poi",
    "pero", "quindi", "dopo", "essere", "fare", "fatto", "detto",
    // elided forms ("d'attesa", "quest'anno", "m'ha"): the apostrophe splits them off
    "d", "quest", "quell", "m", "t", "s", "v", "n",
    // English
    "the", "and", "to", "of", "an", "is", "was", "my", "for", "it", "that", "with", "on", "at",
    "this", "be", "have", "had", "were", "we", "you", "your", "are", "from", "by", "as", "or",
    "but", "they", "he", "she", "there", "been", "has", "our", "so", "would", "could", "me", "his",
    "her", "their", "them", "which", "who", "what", "when", "did", "do", "does", "am", "will",
];

/// English words that a tourist's mail is full of and an Italian one never has: they decide
/// which stemmer to use.
const ENGLISH_MARKERS: &[&str] = &[
    "the", "and", "was", "my", "for", "with", "this", "have", "had", "were", "you", "your", "are",
    "from", "they", "been", "would", "could", "which", "did", "what", "when", "there",
];

static STOP_SET: LazyLock<std::collections::HashSet<&'static str>> =
    LazyLock::new(|| STOP_WORDS.iter().copied().collect());

thread_local! {
    // Stemmer holds only a function pointer; one per thread avoids any sharing question.
    static ITALIAN: Stemmer = Stemmer::create(Algorithm::Italian);
    static ENGLISH: Stemmer = Stemmer::create(Algorithm::English);
}

/// Appends the words of `text` to `out`, normalised but not yet stemmed.
fn words(
    text: &str,
    origin: Origin,
    source: u8,
    base: usize,
    sentence: &mut u32,
    out: &mut Vec<Token>,
) {
    let mut chars = text.char_indices().peekable();
    let mut current = String::new();
    let mut start = 0;
    let mut end = 0;
    let flush =
        |current: &mut String, start: usize, end: usize, out: &mut Vec<Token>, sentence: u32| {
            if !current.is_empty() {
                let n = current.chars().count();
                // Bare numbers (hours, amounts, room numbers) carry no topic and may identify.
                let numeric = current.chars().all(|c| c.is_ascii_digit());
                if n <= MAX_WORD_CHARS && !numeric {
                    out.push(Token {
                        stop: false,
                        norm: std::mem::take(current),
                        stem: String::new(),
                        origin,
                        source,
                        span: (base + start, base + end),
                        sentence,
                    });
                }
                current.clear();
            }
        };
    while let Some((i, c)) = chars.next() {
        if let Some(f) = fold(c) {
            if current.is_empty() {
                start = i;
            }
            current.push(f);
            end = i + c.len_utf8();
            continue;
        }
        if is_apostrophe(c) && !current.is_empty() {
            let next_is_letter = chars.peek().is_some_and(|(_, n)| n.is_alphabetic());
            if !next_is_letter && current.ends_with(is_vowel) {
                // "perche'" and "e'" are how an accent is typed without the key: same as "perché".
                end = i + c.len_utf8();
                flush(&mut current, start, end, out, *sentence);
                continue;
            }
        }
        flush(&mut current, start, end, out, *sentence);
        if matches!(c, '.' | '!' | '?' | ';' | ':' | '\n') {
            *sentence += 1;
        }
    }
    flush(&mut current, start, end, out, *sentence);
}

/// The tokens of a message: subject first, then the body's lines, capped.
pub(crate) fn tokenize(subject: &str, body: &str) -> Vec<Token> {
    let subject = cap(subject, 1024);
    let body = cap(body, MAX_TEXT_BYTES);
    let mut tokens = Vec::new();
    let mut sentence = 0;
    words(
        strip_reply_prefix(subject),
        Origin::Subject,
        0,
        subject.len() - strip_reply_prefix(subject).len(),
        &mut sentence,
        &mut tokens,
    );
    sentence += 1;
    for (origin, line) in split_body(body) {
        if tokens.len() >= MAX_TOKENS {
            break;
        }
        // Byte offset of the line inside `body`: lines are sub-slices of it.
        let base = line.as_ptr() as usize - body.as_ptr() as usize;
        words(line, origin, 1, base, &mut sentence, &mut tokens);
        sentence += 1;
    }
    tokens.truncate(MAX_TOKENS);

    let english = tokens
        .iter()
        .filter(|t| ENGLISH_MARKERS.contains(&t.norm.as_str()))
        .count();
    let use_english = english >= 3 && english * 8 >= tokens.len();
    for t in &mut tokens {
        t.stop = STOP_SET.contains(t.norm.as_str());
        if !t.stop {
            t.stem = if use_english {
                ENGLISH.with(|s| s.stem(&t.norm).into_owned())
            } else {
                ITALIAN.with(|s| s.stem(&t.norm).into_owned())
            };
        }
    }
    tokens
}

/// "R: R: Fwd: I: Re:" say nothing about the complaint.
fn strip_reply_prefix(subject: &str) -> &str {
    let mut s = subject.trim_start();
    loop {
        let lower = s
            .get(..4)
            .map(|p| p.to_ascii_lowercase())
            .unwrap_or_default();
        let cut = ["re:", "r:", "i:", "fw:", "fwd:", "rif:", "aw:"]
            .iter()
            .find(|p| lower.starts_with(**p))
            .map(|p| p.len());
        match cut {
            Some(n) => s = s[n..].trim_start(),
            None => return s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norms(subject: &str, body: &str) -> Vec<String> {
        tokenize(subject, body)
            .into_iter()
            .filter(|t| !t.stop)
            .map(|t| t.norm)
            .collect()
    }

    #[test]
    fn accents_and_typed_accents_are_the_same_word() {
        let a = tokenize("", "perché è così? città");
        let b = tokenize("", "perche' e' cosi'? citta");
        let c = tokenize("", "PERCHE E COSI CITTA");
        let stems = |t: &[Token]| t.iter().map(|t| t.norm.clone()).collect::<Vec<_>>();
        assert_eq!(stems(&a), stems(&b));
        assert_eq!(stems(&a), stems(&c));
        assert_eq!(stems(&a), ["perche", "e", "cosi", "citta"]);
    }

    #[test]
    fn elision_splits_and_stems_agree() {
        let t = tokenize("", "dell'attesa, l'attesa ATTESE");
        let content: Vec<_> = t.iter().filter(|t| !t.stop).collect();
        assert_eq!(content.len(), 3);
        assert!(
            content.iter().all(|t| t.stem == content[0].stem),
            "{content:?}"
        );
    }

    #[test]
    fn negation_is_kept_and_numbers_dropped() {
        assert_eq!(norms("", "non mi ha risposto alle 14"), ["non", "risposto"]);
    }

    #[test]
    fn quoted_lines_are_marked_and_signature_dropped() {
        let body = "Scrivo di nuovo.\n> la vostra risposta\nIl giorno 3 marzo Mario ha scritto:\nvecchio testo\n-- \nMario Rossi\n333 1234567";
        let t = tokenize("", body);
        let by = |o: Origin| {
            t.iter()
                .filter(|t| t.origin == o && !t.stop)
                .map(|t| t.norm.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(by(Origin::Body), ["scrivo", "nuovo"]);
        assert_eq!(by(Origin::Quoted), ["risposta", "vecchio", "testo"]);
        assert!(!t.iter().any(|t| t.norm == "rossi" || t.norm == "mario"));
    }

    #[test]
    fn spans_point_at_the_original_words() {
        let body = "Buongiorno,\nl'ATTESA è stata lunga";
        let t = tokenize("R: Pronto Soccorso", body);
        let attesa = t.iter().find(|t| t.norm == "attesa").unwrap();
        assert_eq!(&body[attesa.span.0..attesa.span.1], "ATTESA");
        let pronto = t.iter().find(|t| t.norm == "pronto").unwrap();
        assert_eq!(pronto.source, 0);
        assert_eq!(
            &"R: Pronto Soccorso"[pronto.span.0..pronto.span.1],
            "Pronto"
        );
    }

    #[test]
    fn english_is_stemmed_as_english() {
        let t = tokenize(
            "",
            "I was waiting for hours and the nurses were very kind with my daughter",
        );
        let waiting = t.iter().find(|t| t.norm == "waiting").unwrap();
        assert_eq!(waiting.stem, "wait");
    }

    #[test]
    fn huge_and_empty_input_are_capped_not_fatal() {
        assert!(tokenize("", "").is_empty());
        assert!(tokenize("", "\n\n> \n-- \n").is_empty());
        let huge = "parola ".repeat(400_000);
        assert_eq!(tokenize("", &huge).len(), MAX_TOKENS);
        let odd = "è".repeat(MAX_TEXT_BYTES); // a cap inside a two-byte character
        assert!(tokenize("", &odd).len() <= 1);
    }
}
