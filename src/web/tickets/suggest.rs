//! The ticket page's "Classificazione automatica": where each field came from, the model's
//! suggestions with their confidence and a one-click confirmation, and "perché" (the citizen's
//! words that weighed most).

use maud::{html, Markup};

use crate::domain::ClassField;
use crate::learn::NO_SERVICE;
use crate::learned::explain::Explanation;
use crate::store::classifier::{FieldSource, Suggestion};
use crate::store::tickets::Ticket;
use crate::texts;
use crate::web::auth::Session;
use crate::web::ui::csrf;

/// What the section shows, read with the ticket.
pub struct Learned {
    pub sources: Vec<FieldSource>,
    pub suggestions: Vec<Suggestion>,
    pub explanation: Option<Explanation>,
}

fn is_set(t: &Ticket, field: ClassField) -> bool {
    match field {
        ClassField::Kind => t.kind.is_some(),
        ClassField::Category => t.category.is_some(),
        ClassField::Service => t.service.is_some(),
    }
}

/// A suggestion as the operator reads it: the kind's word, the category's code and label, the
/// service's name.
fn suggestion_label(s: &Suggestion) -> String {
    match (s.field, &s.target) {
        (ClassField::Kind, _) => s
            .kind()
            .map_or_else(|| s.value.clone(), |k| texts::kind(k).to_string()),
        (ClassField::Service, _) if s.value == NO_SERVICE => texts::SUGGESTED_NO_SERVICE.into(),
        (_, Some((_, label))) => label.clone(),
        (_, None) => format!("{} ({})", s.value, texts::SUGGESTION_UNKNOWN),
    }
}

/// Whether a suggestion can be confirmed: a kind, an active sub-category or service, or "no unit".
fn confirmable(s: &Suggestion) -> bool {
    match s.field {
        ClassField::Kind => s.kind().is_some(),
        ClassField::Category => s.target.is_some(),
        ClassField::Service => s.value == NO_SERVICE || s.target.is_some(),
    }
}

pub fn section(s: &Session, t: &Ticket, l: &Learned, may_act: bool) -> Markup {
    let base = format!("/reclami/{}", t.number);
    let by_operator = |field: ClassField| {
        l.sources
            .iter()
            .any(|x| x.field == field && x.source == crate::domain::ClassSource::Operator)
    };
    let unconfirmed = ClassField::ALL
        .iter()
        .any(|&f| is_set(t, f) && !by_operator(f));
    html! {
        section.learned aria-labelledby="classificazione-automatica" {
            h2 #classificazione-automatica { "Classificazione automatica" }
            dl.summary {
                @for &field in ClassField::ALL {
                    dt { (texts::class_field(field)) }
                    dd {
                        @match l.sources.iter().find(|x| x.field == field) {
                            Some(src) => { "impostata da " (texts::class_source(src)) }
                            None => { span.muted { "non impostata" } }
                        }
                        @let suggested: Vec<&Suggestion> = l.suggestions.iter().filter(|x| x.field == field).collect();
                        @if !by_operator(field) && !suggested.is_empty() {
                            ul.suggestions aria-label={"Suggerimenti: " (texts::class_field(field))} {
                                @for g in &suggested {
                                    li {
                                        (suggestion_label(g)) " · " (texts::percent(g.confidence)) " %"
                                        @if may_act && confirmable(g) {
                                            " "
                                            form.inline method="post" action={(base) "/conferma"} {
                                                (csrf(s))
                                                input type="hidden" name="campo" value=(field);
                                                input type="hidden" name="valore" value=(g.value);
                                                button type="submit" { "Conferma" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        @if let Some((label, words)) = l.explanation.as_ref().and_then(|e| e.words(field)) {
                            @if !words.is_empty() && !by_operator(field) {
                                p.small.why {
                                    "perché (" (label) "): " (words.join(", "))
                                }
                            }
                        }
                    }
                }
            }
            @if may_act && unconfirmed {
                form.inline method="post" action={(base) "/conferma"} {
                    (csrf(s))
                    input type="hidden" name="campo" value="tutto";
                    button type="submit" { "Conferma la classificazione attuale" }
                }
            }
            @if let Some(e) = &l.explanation {
                p.small.muted { "Modello di classificazione versione " (e.model_version) "." }
            }
        }
    }
}
