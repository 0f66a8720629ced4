//! Personal data out of the text before anything is learnt from it.
//!
//! A model trained on complaints must not become a store of who complained: its vocabulary is
//! made of the training text's words. [`scrub_personal_data`] removes e-mail addresses, phone
//! numbers, codici fiscali, dates, the sender's own name wherever it appears, and capitalised
//! name-like words in the places names are written (after a title or a relative, "mi chiamo",
//! a greeting, and in the signature block after the closing formula). It is applied to every
//! training example and, for the same features, to every message classified.
//!
//! What it cannot see — a first name in the middle of a sentence ("in particolare Sara e
//! Michela") — is held back by the vocabulary's minimum document frequency (a word must appear
//! in several messages to be learnt), not removed here.

use std::sync::LazyLock;

use regex::{Captures, Regex};

/// What replaces a removed piece: a space, so neighbouring words do not merge and no marker
/// becomes a feature of its own.
const GAP: &str = " ";

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\w.+-]+@[\w-]+(\.[\w-]+)+").unwrap());

static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(?-u:\b)(https?://|www\.)\S+").unwrap());

static CODICE_FISCALE: LazyLock<Regex> = LazyLock::new(|| {
    // Omocodia replaces digits with the letters LMNPQRSTUV, hence the classes.
    Regex::new(r"(?i)(?-u:\b)[a-z]{6}[0-9lmnpqrstuv]{2}[a-z][0-9lmnpqrstuv]{2}[a-z][0-9lmnpqrstuv]{3}[a-z](?-u:\b)")
        .unwrap()
});

const MONTHS: &str = "gennaio|febbraio|marzo|aprile|maggio|giugno|luglio|agosto|settembre|ottobre|novembre|dicembre|gen|feb|mar|apr|mag|giu|lug|ago|sett?|ott|nov|dic|january|february|march|april|may|june|july|august|september|october|november|december|jan|jun|jul|aug|sept|oct|dec";

static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        concat!(
            r"(?i)(?-u:\b)\d{{1,2}}[/.-]\d{{1,2}}[/.-](\d{{4}}|\d{{2}})(?-u:\b)",
            r"|(?-u:\b)\d{{4}}-\d{{2}}-\d{{2}}(?-u:\b)",
            r"|(?-u:\b)\d{{1,2}}(°|º|st|nd|rd|th)?\s+({m})(?-u:\b)\.?(\s+\d{{4}})?",
            r"|(?-u:\b)({m})\s+\d{{1,2}}(st|nd|rd|th)?(?-u:\b)(,?\s+\d{{4}})?",
            r"|(?-u:\b)({m})\s+\d{{4}}(?-u:\b)",
            r"|(?-u:\b)\d{{1,2}}/\d{{1,2}}(?-u:\b)",
            r"|(?-u:\b)(19|20)\d{{2}}(?-u:\b)"
        ),
        m = MONTHS
    ))
    .unwrap()
});

static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    // Eight or more digits with single separators: mobile and landline numbers in any of the
    // ways people write them (+39 347 555 0192, 06-1234567, 0039.333.1234567). Dates go first.
    Regex::new(r"(\+|(?-u:\b)00)?\d([\s./-]?\d){7,}").unwrap()
});

/// A name: one to three capitalised words ("Rosa", "De Luca", "Maria Grazia Esposito"), or an
/// initial ("Marco D.").
const NAME: &str = r"(\p{Lu}[\p{Ll}'’]+|\p{Lu}\.)(\s+(de|di|da|del|della|van|von|\p{Lu}[\p{Ll}'’]+|\p{Lu}\.)){0,3}";

static NAME_AFTER_CUE: LazyLock<Regex> = LazyLock::new(|| {
    let cues = concat!(
        r"sig\.?|sig\.ra|sig\.na|signor|signora|signorina|dott\.?|dott\.ssa|dottor|dottoressa|",
        r"dr\.?|prof\.?|prof\.ssa|professor|professoressa|avv\.?|avvocato|ing\.|",
        r"infermier[ae]|ostetrica|mr\.?|mrs\.?|ms\.?|miss|nurse|doctor|",
        r"mi chiamo|my name is|i am|sono|il sottoscritto|la sottoscritta|sottoscritt[oa]|",
        r"mi[oa] (madre|padre|mamma|papà|papa|figli[oa]|marito|moglie|nonn[oa]|sorella|fratello|zi[oa]|suocer[oa]|cugin[oa]|nipote|compagn[oa])|",
        r"my (mother|father|son|daughter|husband|wife|wife's|friend)|",
        r"buongiorno|buonasera|gentile|gentilissim[oa]|egregi[oa]|car[oa]|salve|ciao|dear|hello|hi|",
        r"firmato|in fede|saluti|cordialmente|distinti saluti|cordiali saluti|un saluto|grazie|",
        r"best regards|regards|kind regards|sincerely|best wishes|thanks|thank you"
    );
    // The cue is case-insensitive, the name is not: capitals are what tell a name from a word.
    Regex::new(&format!(
        r"(?i:(?-u:\b)({cues}))(?P<sep>[\s,:]+)(?P<name>{NAME})"
    ))
    .unwrap()
});

static CLOSING: LazyLock<Regex> = LazyLock::new(|| {
    // A line that is only a closing formula, perhaps followed by a name on the same line
    // ("Saluti, Marco D."): a line that goes on ("Grazie per avermi ascoltato, ma…") is text.
    Regex::new(&format!(
        concat!(
            r"(?i)^\s*(?P<closing>(distinti saluti|cordiali saluti|saluti|cordialmente|in fede|un saluto|",
            r"grazie( mille| ancora)?|a presto|best regards|kind regards|regards|sincerely|",
            r"best wishes|thanks|thank you|firmato)(?-u:\b)[\s,.!]*)(?-i:{name})?\s*[.!]?\s*$"
        ),
        name = NAME
    ))
    .unwrap()
});

/// Removes personal data from `text`. `sender_name` is the display name of the From header (or
/// the name an operator typed for a phone complaint): each of its words is removed wherever it
/// stands, in any case.
pub fn scrub_personal_data(text: &str, sender_name: Option<&str>) -> String {
    let text = EMAIL.replace_all(text, GAP);
    let text = URL.replace_all(&text, GAP);
    let text = CODICE_FISCALE.replace_all(&text, |c: &Captures| {
        // A sixteen-letter word is not a codice fiscale: it needs digits.
        if c[0].chars().any(|ch| ch.is_ascii_digit()) {
            GAP.to_string()
        } else {
            c[0].to_string()
        }
    });
    let text = DATE.replace_all(&text, GAP);
    let text = PHONE.replace_all(&text, GAP);
    let text = NAME_AFTER_CUE.replace_all(&text, |c: &Captures| {
        let whole = &c[0];
        let name_start = c.name("name").unwrap().start() - c.get(0).unwrap().start();
        format!("{}{GAP}", &whole[..name_start])
    });
    let text = signature_block_out(&text);
    match sender_name {
        Some(name) => remove_words(&text, name),
        None => text,
    }
}

/// The lines after a closing formula near the end ("Distinti saluti / Giuseppe Ferrante /
/// via Roma 3") are a signature: name, address, phone. They go, when they are few and short.
fn signature_block_out(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(8);
    for i in from..lines.len() {
        if let Some(c) = CLOSING.captures(lines[i]) {
            let tail = &lines[i + 1..];
            let short = tail.len() <= 5 && tail.iter().all(|l| l.chars().count() <= 80);
            if !short {
                continue;
            }
            let mut out: Vec<&str> = lines[..i].to_vec();
            out.push(c.name("closing").map_or("", |m| m.as_str()));
            return out.join("\n");
        }
    }
    // No closing formula: a last line made only of a name ("Aurelio Manzi") or ending with one
    // after a comma ("Una mamma riconoscente, Chiara") is a signature too.
    static LAST_NAME_LINE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&format!(
            r"^(?P<keep>.*,\s*|\s*[-–—]?\s*)({NAME})\s*\.?\s*$"
        ))
        .unwrap()
    });
    if let Some(last) = lines.iter().rposition(|l| !l.trim().is_empty()) {
        // Only below some text: a one-line message is the message, not its signature.
        if lines[..last].iter().any(|l| !l.trim().is_empty()) {
            if let Some(c) = LAST_NAME_LINE.captures(lines[last]) {
                let mut out: Vec<&str> = lines[..last].to_vec();
                out.push(c.name("keep").map_or("", |m| m.as_str()));
                return out.join("\n");
            }
        }
    }
    text.to_string()
}

/// Removes every word of `name` (letters only, two or more) from `text`, whole words, any case.
fn remove_words(text: &str, name: &str) -> String {
    let names: Vec<String> = name
        .split(|c: char| !c.is_alphabetic() && c != '\'' && c != '’')
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
        .collect();
    if names.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if names.contains(&word.to_lowercase()) {
            out.push_str(GAP);
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphabetic() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_codes_and_dates_go() {
        let s = scrub_personal_data(
            "Scrivetemi a mario.rossi@example.it o al +39 347 555 0192, cf RSSMRA80A01H501U, \
             ricoverata il 14/03/2024 e dimessa il 3 aprile 2024, nata nel 1942. \
             Tel. 06-1234567. Vedi www.esempio.it/pagina",
            None,
        );
        for gone in [
            "mario", "@", "347", "0192", "RSSMRA", "14/03", "aprile", "1942", "1234567", "esempio",
        ] {
            assert!(!s.contains(gone), "{gone:?} still in {s:?}");
        }
        assert!(s.contains("ricoverata il"));
        assert!(s.contains("dimessa il"));
    }

    #[test]
    fn hours_and_ordinary_numbers_stay() {
        let s = scrub_personal_data("ho aspettato dalle 8 alle 14, stanza 12, 84 anni", None);
        assert_eq!(s, "ho aspettato dalle 8 alle 14, stanza 12, 84 anni");
    }

    #[test]
    fn names_after_cues_and_in_signatures_go() {
        let s = scrub_personal_data(
            "Gentile dott.ssa Bianchi,\nmia madre, Rosa Ferrante, 84 anni, è stata trattata male \
             dal dott. De Santis in Medicina.\nMi chiamo Giuseppe e chiedo una risposta.\n\
             Distinti saluti\nGiuseppe Ferrante\nvia Roma 3, Milano",
            None,
        );
        for gone in [
            "Bianchi", "Rosa", "Ferrante", "Santis", "Giuseppe", "Roma", "Milano",
        ] {
            assert!(!s.contains(gone), "{gone:?} still in {s:?}");
        }
        assert!(s.contains("trattata male"));
        assert!(s.contains("in Medicina"));
        assert!(s.contains("Distinti saluti"));
    }

    #[test]
    fn a_name_alone_on_the_last_line_goes() {
        let s = scrub_personal_data("Ottimo servizio.\nUna mamma riconoscente, Chiara", None);
        assert_eq!(s.trim_end(), "Ottimo servizio.\nUna mamma riconoscente,");
        let s = scrub_personal_data("Il bagno era sporco.\nAurelio Manzi", None);
        assert_eq!(s.trim_end(), "Il bagno era sporco.");
        // A one-line message that is not a signature stays.
        assert_eq!(
            scrub_personal_data("Pronto Soccorso", None),
            "Pronto Soccorso"
        );
    }

    #[test]
    fn the_senders_name_goes_everywhere_in_any_case() {
        let s = scrub_personal_data(
            "io, SCARAMUZZI, chiedo: scaramuzzi è il mio cognome, Ottavio Scaramuzzi",
            Some("\"Ottavio Scaramuzzi\""),
        );
        assert!(!s.to_lowercase().contains("scaramuzzi"), "{s:?}");
        assert!(!s.to_lowercase().contains("ottavio"), "{s:?}");
        assert!(s.contains("chiedo"));
    }

    #[test]
    fn lowercase_words_after_cues_stay() {
        let s = scrub_personal_data(
            "Buongiorno, scrivo perché sono stanco. Grazie per nulla",
            None,
        );
        assert_eq!(s, "Buongiorno, scrivo perché sono stanco. Grazie per nulla");
    }
}
