//! Classificatore appreso: the model in use, the latest evaluation, and how often each routing
//! rule agreed with the operators' final classification.

use axum::extract::State;
use maud::{html, Markup};

use super::admin_page;
use crate::store::classifier::{self as sql, FieldSummary};
use crate::texts;
use crate::web::auth::AdminUser;
use crate::web::ui;
use crate::web::{App, WebResult};

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0).replace('.', ",")
}

fn threshold(t: Option<f32>) -> String {
    t.map_or("mai automatico".to_string(), |t| {
        format!("{} %", texts::percent(f64::from(t)))
    })
}

fn field_name(f: crate::learn::Field) -> &'static str {
    match f {
        crate::learn::Field::Kind => "Tipologia",
        crate::learn::Field::Category => "Classificazione",
        crate::learn::Field::MacroCategory => "Macrocategoria",
        crate::learn::Field::Service => "Servizio",
    }
}

pub async fn classifier(State(app): State<App>, AdminUser(s): AdminUser) -> WebResult<Markup> {
    let (model, evaluation, agreement) = app
        .readers
        .read(|conn| {
            Ok((
                sql::latest(conn)?,
                sql::latest_evaluation(conn)?,
                sql::rule_agreement(conn)?,
            ))
        })
        .await?;
    let body = html! {
        section aria-labelledby="modello" {
            h2 #modello { "Modello in uso" }
            @match &model {
                Some(m) => {
                    dl.summary {
                        dt { "Versione" } dd { (m.version) }
                        dt { "Addestrato" } dd { (ui::stored_datetime(&m.trained_at)) " · " (texts::train_reason(m.reason)) " · " (format!("{:.1}", m.seconds).replace('.', ",")) " s" }
                        dt { "Esempi" } dd { (ui::number(m.corpus_examples)) " del corpus distribuito, " (ui::number(m.ticket_examples)) " reclami confermati dagli operatori" }
                        dt { "Dimensione" } dd { (ui::size(m.size)) }
                        dt { "Soglie (precisione 95 %)" }
                        dd {
                            "tipologia " (threshold(m.thresholds.kind))
                            " · classificazione " (threshold(m.thresholds.category))
                            " · macrocategoria " (threshold(m.thresholds.macro_category))
                            " · servizio " (threshold(m.thresholds.service))
                        }
                    }
                }
                None => { p.muted { "Nessun modello: il servizio lo addestra al primo avvio, oppure con «ascolto classify train»." } }
            }
            p.small.muted { "Si riaddestra ogni notte dai reclami confermati dagli operatori, con il corpus distribuito come base; su richiesta: «ascolto classify train»." }
        }
        section aria-labelledby="valutazione" {
            h2 #valutazione { "Ultima valutazione" }
            @match &evaluation {
                Some(e) => {
                    p { (ui::stored_datetime(&e.at)) " · " (if e.source == "tickets" { "reclami confermati".to_string() } else { e.source.clone() }) " · " (e.examples) " messaggi, validazione incrociata a " (e.folds) " parti" }
                    div.tablewrap {
                        table {
                            thead { tr {
                                th scope="col" { "Campo" } th scope="col" { "Precisione (automatici)" } th scope="col" { "Copertura" }
                                th scope="col" { "Esatti al 1° suggerimento" } th scope="col" { "Tra i primi 3" }
                            } }
                            tbody {
                                @for f in &e.summary { (summary_row(f)) }
                            }
                        }
                    }
                    details { summary { "Rapporto completo (matrici di confusione)" } pre { (e.report) } }
                }
                None => { p.muted { "Nessuna valutazione: «ascolto classify evaluate» (sui reclami confermati) o «ascolto classify evaluate --corpus data/corpus»." } }
            }
        }
        section aria-labelledby="regole" {
            h2 #regole { "Regole di smistamento e operatori" }
            p.small.muted { "Per ogni regola: su quanti reclami ha impostato un campo, quanti di questi un operatore ha poi confermato o corretto, e in quanti ha lasciato il valore della regola." }
            div.tablewrap {
                table {
                    thead { tr {
                        th scope="col" { "Regola" } th scope="col" { "Applicata" } th scope="col" { "Giudicata da un operatore" }
                        th scope="col" { "Confermata" } th scope="col" { "Accordo" }
                    } }
                    tbody {
                        @for a in &agreement {
                            tr {
                                td { (a.name.as_deref().unwrap_or("(regola eliminata)")) }
                                td.num { (ui::number(a.applied)) }
                                td.num { (ui::number(a.judged)) }
                                td.num { (ui::number(a.agreed)) }
                                td.num { @if a.judged > 0 { (pct(a.agreed as f64 / a.judged as f64)) } @else { "—" } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(admin_page(&s, "Classificatore appreso", body))
}

fn summary_row(f: &FieldSummary) -> Markup {
    html! {
        tr {
            td { (field_name(f.field)) }
            td.num { (pct(f.precision)) " (" (f.decided) ")" }
            td.num { (pct(f.coverage)) }
            td.num { (pct(f.accuracy_top1)) }
            td.num { (pct(f.accuracy_top3)) }
        }
    }
}
