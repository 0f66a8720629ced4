//! Why the model says what it says about a ticket: its prediction and the citizen's words that
//! weighed most (`ascolto classify explain URP-…`, and the "perché" line of the ticket page).

use std::fmt::Write as _;

use anyhow::Result;
use rusqlite::Connection;

use super::slot::Loaded;
use crate::domain::ClassField;
use crate::learn::{Field, Message, Prediction};
use crate::store::classifier as sql;

/// How many words an explanation names.
pub const WORDS: usize = 6;

/// The model's view of one ticket.
pub struct Explanation {
    pub model_version: i64,
    pub prediction: Prediction,
    /// Per field: the label explained (the decision or the best suggestion) and its words.
    pub reasons: Vec<(Field, String, Vec<String>)>,
}

/// Explains ticket `ticket_id` with `loaded`; `None` when the ticket does not exist.
pub fn explain(conn: &Connection, loaded: &Loaded, ticket_id: i64) -> Result<Option<Explanation>> {
    let Some((subject, body, name)) = sql::ticket_text(conn, ticket_id)? else {
        return Ok(None);
    };
    let msg = Message {
        subject: &subject,
        body: &body,
        sender_name: name.as_deref(),
    };
    Ok(Some(explain_message(loaded, &msg)))
}

pub fn explain_message(loaded: &Loaded, msg: &Message) -> Explanation {
    let prediction = loaded.model.predict(msg);
    let mut reasons = Vec::new();
    for field in [
        Field::Kind,
        Field::Category,
        Field::MacroCategory,
        Field::Service,
    ] {
        let fp = prediction.field(field);
        let Some(best) = fp.decision.as_ref().or(fp.suggestions.first()) else {
            continue;
        };
        let words = loaded
            .model
            .explain(msg, field, Some(&best.label), WORDS)
            .into_iter()
            .map(|r| r.word)
            .collect();
        reasons.push((field, best.label.clone(), words));
    }
    Explanation {
        model_version: loaded.version,
        prediction,
        reasons,
    }
}

impl Explanation {
    /// The words that weighed for `field`'s best label.
    pub fn words(&self, field: ClassField) -> Option<(&str, &[String])> {
        let f = field.learnt();
        self.reasons
            .iter()
            .find(|(g, _, _)| *g == f)
            .map(|(_, label, words)| (label.as_str(), words.as_slice()))
    }

    /// As the command line prints it.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "model version {} ({} known words)\n",
            self.model_version, self.prediction.content_words
        );
        for (field, label, words) in &self.reasons {
            let fp = self.prediction.field(*field);
            let decided = match &fp.decision {
                Some(d) => format!("decided {} ({:.0} %)", d.label, d.confidence * 100.0),
                None => "not decided (below the threshold)".to_string(),
            };
            let suggestions: Vec<String> = fp
                .suggestions
                .iter()
                .map(|x| format!("{} {:.0} %", x.label, x.confidence * 100.0))
                .collect();
            let _ = writeln!(
                s,
                "{:<15} {decided}; suggestions: {}\n{:<15} why {label}: {}",
                field.as_str(),
                suggestions.join(", "),
                "",
                words.join(", ")
            );
        }
        s
    }
}
