//! Classification by the hospital's routing rules: regular expressions (case-insensitive,
//! Unicode) over subject, body and sender, in priority order. Each matching rule fills whichever
//! of category, service and kind are still unset, so a "praise" rule can set the kind while a
//! later rule sets the category.

use std::borrow::Cow;

use regex::{RegexSet, RegexSetBuilder};

use crate::domain::{ClassField, Kind, RuleField};
use crate::store::rules::RuleRow;

/// Only the start of a long body is matched: complaints say what they are about early, and a
/// pasted 5 MB log must not slow ingest down.
pub const MAX_MATCHED_BODY: usize = 64 * 1024;

#[derive(Debug)]
struct Rule {
    id: i64,
    name: String,
    category_id: Option<i64>,
    service_id: Option<i64>,
    kind: Option<Kind>,
}

/// The outcome for one message: what was set, and by which rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Classification {
    pub category_id: Option<i64>,
    pub service_id: Option<i64>,
    pub kind: Option<Kind>,
    pub rule_ids: Vec<i64>,
    /// Which rule filled each field it filled.
    pub field_rules: Vec<(ClassField, i64)>,
}

/// One field's patterns, searched in a single pass; `rules[i]` is the rule of pattern `i`.
#[derive(Debug)]
struct FieldSet {
    set: RegexSet,
    rules: Vec<usize>,
}

impl FieldSet {
    fn build(patterns: Vec<(usize, String)>) -> FieldSet {
        let (rules, patterns): (Vec<usize>, Vec<String>) = patterns.into_iter().unzip();
        let set = RegexSetBuilder::new(&patterns)
            .case_insensitive(true)
            .unicode(true)
            .size_limit(16 << 20)
            .build()
            .expect("each pattern was compiled alone first");
        FieldSet { set, rules }
    }

    fn matches(&self, haystack: &str, hit: &mut [bool]) {
        for i in self.set.matches(haystack).iter() {
            hit[self.rules[i]] = true;
        }
    }
}

/// The compiled rules, tagged with the database's rules generation they were built from.
///
/// Matching is insensitive to case and to accents: patterns and text are both folded (`à` is
/// `a`, `’` is `'`), so `qualita` finds "qualità" and `d'attesa` finds "d’attesa" typed on a
/// phone. `\b` then only needs ASCII word boundaries, which keeps the regex engine on its fast
/// path for Italian text (a Unicode `\b` makes it fall back to a much slower one).
#[derive(Debug)]
pub struct Classifier {
    pub generation: i64,
    rules: Vec<Rule>,
    subject: FieldSet,
    body: FieldSet,
    sender: FieldSet,
}

impl Classifier {
    /// Compiles the rows; a rule whose pattern does not compile is skipped with an error in the
    /// log (ingest must go on), and reported back to the caller.
    pub fn compile(generation: i64, rows: Vec<RuleRow>) -> (Classifier, Vec<String>) {
        let mut rules = Vec::with_capacity(rows.len());
        let mut errors = Vec::new();
        let (mut subject, mut body, mut sender) = (Vec::new(), Vec::new(), Vec::new());
        for row in rows {
            let field = row.field;
            let pattern = prepare_pattern(&row.pattern);
            if let Err(e) = regex::RegexBuilder::new(&pattern)
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
            {
                errors.push(format!(
                    "rule {} ({}): invalid pattern: {e}",
                    row.id, row.name
                ));
                continue;
            }
            let index = rules.len();
            match field {
                RuleField::Subject => subject.push((index, pattern)),
                RuleField::Body => body.push((index, pattern)),
                RuleField::Sender => sender.push((index, pattern)),
                RuleField::Text => {
                    subject.push((index, pattern.clone()));
                    body.push((index, pattern));
                }
            }
            rules.push(Rule {
                id: row.id,
                name: row.name,
                category_id: row.category_id,
                service_id: row.service_id,
                kind: row.kind,
            });
        }
        for e in &errors {
            tracing::error!("routing rule skipped: {e}");
        }
        let classifier = Classifier {
            generation,
            rules,
            subject: FieldSet::build(subject),
            body: FieldSet::build(body),
            sender: FieldSet::build(sender),
        };
        (classifier, errors)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// The name of rule `id`, as it was when compiled.
    pub fn rule_name(&self, id: i64) -> Option<&str> {
        self.rules
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.name.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn classify(&self, subject: &str, body: &str, sender: &str) -> Classification {
        let mut hit = vec![false; self.rules.len()];
        self.subject.matches(&fold(subject), &mut hit);
        self.body
            .matches(&fold(truncate(body, MAX_MATCHED_BODY)), &mut hit);
        self.sender.matches(sender, &mut hit);
        let mut out = Classification::default();
        for (rule, _) in self.rules.iter().zip(&hit).filter(|(_, &h)| h) {
            let useful = (rule.category_id.is_some() && out.category_id.is_none())
                || (rule.service_id.is_some() && out.service_id.is_none())
                || (rule.kind.is_some() && out.kind.is_none());
            if useful {
                for (field, fills) in [
                    (ClassField::Kind, rule.kind.is_some() && out.kind.is_none()),
                    (
                        ClassField::Category,
                        rule.category_id.is_some() && out.category_id.is_none(),
                    ),
                    (
                        ClassField::Service,
                        rule.service_id.is_some() && out.service_id.is_none(),
                    ),
                ] {
                    if fills {
                        out.field_rules.push((field, rule.id));
                    }
                }
                out.category_id = out.category_id.or(rule.category_id);
                out.service_id = out.service_id.or(rule.service_id);
                out.kind = out.kind.or(rule.kind);
                out.rule_ids.push(rule.id);
            }
        }
        out
    }
}

/// Whether a pattern compiles as the classifier would compile it; the error says why not.
pub fn check_pattern(pattern: &str) -> Result<(), PatternError> {
    if pattern.trim().is_empty() {
        return Err(PatternError::Empty);
    }
    regex::RegexBuilder::new(&prepare_pattern(pattern))
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
        .map(|_| ())
        .map_err(|e| PatternError::Invalid(e.to_string()))
}

/// Why a rule's pattern cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("the pattern is empty")]
    Empty,
    #[error("invalid pattern: {0}")]
    Invalid(String),
}

/// A rule's pattern as matched: folded like the text, with ASCII word boundaries.
fn prepare_pattern(pattern: &str) -> String {
    fold(pattern)
        .replace(r"\b", r"(?-u:\b)")
        .replace(r"\B", r"(?-u:\B)")
}

/// Folds accents and typographic quotes to their plain forms; text without them is borrowed.
pub fn fold(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match c {
                'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
                'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'A',
                'è' | 'é' | 'ê' | 'ë' => 'e',
                'È' | 'É' | 'Ê' | 'Ë' => 'E',
                'ì' | 'í' | 'î' | 'ï' => 'i',
                'Ì' | 'Í' | 'Î' | 'Ï' => 'I',
                'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
                'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'O',
                'ù' | 'ú' | 'û' | 'ü' => 'u',
                'Ù' | 'Ú' | 'Û' | 'Ü' => 'U',
                'ç' => 'c',
                'Ç' => 'C',
                'ñ' => 'n',
                'Ñ' => 'N',
                '’' | '‘' | '`' | '´' => '\'',
                '“' | '”' | '«' | '»' => '"',
                other => other,
            })
            .collect(),
    )
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store;

    fn default_classifier() -> (rusqlite::Connection, Classifier) {
        let conn = store::open_in_memory().unwrap();
        let (c, errors) = Classifier::compile(0, store::rules::load(&conn).unwrap());
        assert!(errors.is_empty(), "{errors:?}");
        (conn, c)
    }

    fn codes(
        conn: &rusqlite::Connection,
        c: &Classification,
    ) -> (Option<String>, Option<String>, Option<&'static str>) {
        let cat = c.category_id.map(|id| {
            conn.query_row("SELECT code FROM categories WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap()
        });
        let svc = c.service_id.map(|id| {
            conn.query_row("SELECT code FROM services WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap()
        });
        (cat, svc, c.kind.map(Kind::as_str))
    }

    /// Common complaints are classified out of the box by the default rules.
    #[test]
    fn default_rules_classify_common_complaints() {
        let (conn, c) = default_classifier();
        // (subject, body, category, service, kind)
        type Case<'a> = (
            &'a str,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
        );
        let cases: &[Case] = &[
            (
                "Attesa infinita",
                "Sono rimasto in pronto soccorso 9 ore di attesa con mia madre.",
                Some("TEM.02"),
                Some("PS"),
                Some("reclamo"),
            ),
            (
                "Personale",
                "L'infermiera è stata scortese e maleducata con mio padre.",
                Some("REL.01"),
                None,
                Some("reclamo"),
            ),
            (
                "Stanza",
                "Il bagno della stanza era sporco, mai pulito in tre giorni.",
                Some("ALB.01"),
                None,
                Some("reclamo"),
            ),
            (
                "Pagamento",
                "Mi è arrivata una richiesta di pagamento per un ticket che avevo già pagato.",
                Some("BUR.01"),
                None,
                Some("reclamo"),
            ),
            (
                "Nessuno spiega",
                "Nessuno ci ha spiegato nulla sull'intervento, nessuna informazione ai familiari.",
                Some("INF.01"),
                None,
                Some("reclamo"),
            ),
            (
                "Errore",
                "Dopo la diagnosi sbagliata mio figlio è stato operato due volte.",
                Some("TEC.01"),
                None,
                Some("reclamo"),
            ),
            (
                "Grazie",
                "Voglio ringraziare tutto il reparto di cardiologia per la professionalità.",
                None,
                Some("CARD"),
                Some("elogio"),
            ),
            (
                "Idea",
                "Sarebbe utile avere più sedie nella sala d'aspetto.",
                None,
                None,
                Some("suggerimento"),
            ),
            (
                "Lista",
                "Per la risonanza la prima data disponibile è fra 8 mesi.",
                Some("TEM.01"),
                Some("RAD"),
                Some("reclamo"),
            ),
        ];
        for (subject, body, cat, svc, kind) in cases {
            let got = codes(&conn, &c.classify(subject, body, "x@example.test"));
            assert_eq!(
                got,
                (cat.map(String::from), svc.map(String::from), *kind),
                "{subject}: {body}"
            );
        }
    }

    #[test]
    fn matching_ignores_accents_and_typographic_apostrophes() {
        let (conn, c) = default_classifier();
        // Typed on a phone: curly apostrophe, accents dropped or added.
        let got = codes(
            &conn,
            &c.classify(
                "Attesa",
                "La prima data disponibile in lista d’attesa per la tac.",
                "x@e.test",
            ),
        );
        assert_eq!(got.0.as_deref(), Some("TEM.01"));
        let got = codes(
            &conn,
            &c.classify(
                "Malasanita",
                "Un caso di malasanita in reparto.",
                "x@e.test",
            ),
        );
        assert_eq!(
            got.0.as_deref(),
            Some("TEC.01"),
            "malasanità in the rule matches malasanita"
        );
        let got = codes(
            &conn,
            &c.classify("x", "È stata un’esperienza di MALASANITÀ.", "x@e.test"),
        );
        assert_eq!(got.0.as_deref(), Some("TEC.01"));
        // Word boundaries still hold next to accented letters.
        assert_eq!(
            c.classify("x", "perchéattesa", "x@e.test").category_id,
            None
        );
    }

    #[test]
    fn nothing_matches_leaves_everything_unset() {
        let (_conn, c) = default_classifier();
        let got = c.classify(
            "Domanda",
            "Vorrei sapere a che ora apre l'ufficio.",
            "x@example.test",
        );
        assert_eq!(got, Classification::default());
    }

    #[test]
    fn a_broken_rule_is_skipped_and_reported() {
        let rows = vec![
            RuleRow {
                id: 1,
                name: "bad".into(),
                field: RuleField::Text,
                pattern: "(".into(),
                category_id: Some(1),
                service_id: None,
                kind: None,
                active: true,
            },
            RuleRow {
                id: 2,
                name: "ok".into(),
                field: RuleField::Sender,
                pattern: r"@asl\.example$".into(),
                category_id: None,
                service_id: None,
                kind: Some(Kind::Segnalazione),
                active: true,
            },
        ];
        let (c, errors) = Classifier::compile(1, rows);
        assert_eq!(c.len(), 1);
        assert!(errors[0].contains("rule 1"));
        assert_eq!(
            c.classify("", "", "Medico@ASL.example").kind,
            Some(Kind::Segnalazione)
        );
    }
}
