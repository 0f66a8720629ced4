//! The tables of a report, as the page shows them and the CSV and `ascolto export stats` write
//! them: the same rows, so every view of the statistics says the same figures.

use chrono::Datelike;

use super::{Count, Report, Times};
use crate::domain::time::stored_rome_datetime as stored_datetime;
use crate::domain::Kind;
use crate::texts;

/// One table of the report: the same rows on the page and in the CSV.
pub struct Table {
    pub name: &'static str,
    pub title: &'static str,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Every table of a report, in page order (and the month by month one for a whole year).
pub fn tables(r: &Report) -> Vec<Table> {
    let mut out = vec![
        counts("tipologie", "Per tipologia", "Tipologia", &r.by_kind),
        categories(r),
        counts("servizi", "Per servizio", "Servizio", &r.by_service),
        counts("stati", "Per stato (oggi)", "Stato", &r.by_state),
        counts(
            "esiti",
            "Per esito (reclami chiusi)",
            "Esito",
            &r.by_outcome,
        ),
        counts("canali", "Per canale", "Canale", &r.by_channel),
        times(r),
        deadlines(r),
        late(r),
        requests(r),
        reviews(r),
    ];
    out.extend(months(r));
    out
}

/// The table called `name`, if a report of this scope has one.
pub fn table(r: &Report, name: &str) -> Option<Table> {
    tables(r).into_iter().find(|t| t.name == name)
}

/// 12.5 → "12,5".
fn decimal(v: f64) -> String {
    format!("{v:.1}").replace('.', ",")
}

fn days(v: Option<f64>) -> String {
    v.map(decimal).unwrap_or_else(|| "—".into())
}

fn counts(name: &'static str, title: &'static str, first: &str, items: &[Count]) -> Table {
    Table {
        name,
        title,
        header: vec![first.into(), "Numero".into(), "%".into()],
        rows: items
            .iter()
            .map(|c| vec![c.label.clone(), c.n.to_string(), decimal(c.share)])
            .collect(),
    }
}

fn categories(r: &Report) -> Table {
    Table {
        name: "categorie",
        title: "Per classificazione",
        header: vec![
            "Codice".into(),
            "Classificazione".into(),
            "Livello".into(),
            "Numero".into(),
            "%".into(),
        ],
        rows: r
            .by_category
            .iter()
            .map(|c| {
                vec![
                    c.code.clone(),
                    c.label.clone(),
                    match c.level {
                        1 => "macrocategoria",
                        2 => "sottocategoria",
                        _ => "",
                    }
                    .into(),
                    c.n.to_string(),
                    decimal(c.share),
                ]
            })
            .collect(),
    }
}

fn times(r: &Report) -> Table {
    let row = |step: &str, t: &Times| {
        vec![
            step.to_string(),
            t.n.to_string(),
            days(t.median_days),
            days(t.p90_days),
        ]
    };
    Table {
        name: "tempi",
        title: "Tempi dal ricevimento (giorni)",
        header: vec![
            "Fase".into(),
            "Reclami".into(),
            "Mediana".into(),
            "90° percentile".into(),
        ],
        rows: vec![
            row("Presa in carico", &r.to_charge),
            row("Prima risposta", &r.to_first_answer),
            row("Chiusura", &r.to_close),
        ],
    }
}

fn deadlines(r: &Report) -> Table {
    Table {
        name: "scadenze",
        title: "Risposta entro il termine di legge",
        header: vec!["Voce".into(), "Valore".into()],
        rows: vec![
            vec![
                "Reclami con risposta dovuta o data".into(),
                r.deadline_base.to_string(),
            ],
            vec![
                "Risposti entro il termine".into(),
                r.answered_on_time.to_string(),
            ],
            vec!["% entro il termine".into(), days(r.on_time_share)],
            vec!["Riaperti".into(), r.reopened.to_string()],
            vec!["% riaperti".into(), decimal(r.reopened_share)],
            vec![
                "Ancora aperti alla fine del periodo".into(),
                r.open_at_end.to_string(),
            ],
            vec![
                "Reclami con termine sospeso".into(),
                r.deadline_changes.suspended_tickets.to_string(),
            ],
            vec![
                "Sospensioni".into(),
                r.deadline_changes.suspensions.to_string(),
            ],
            vec![
                "Reclami con termine prorogato".into(),
                r.deadline_changes.extended_tickets.to_string(),
            ],
            vec!["Proroghe".into(), r.deadline_changes.extensions.to_string()],
        ],
    }
}

fn late(r: &Report) -> Table {
    Table {
        name: "ritardi",
        title: "Risposti in ritardo o ancora scaduti (in ordine di ricevimento)",
        header: vec![
            "Reclamo".into(),
            "Ricevuto".into(),
            "Scadenza".into(),
            "Risposta".into(),
        ],
        rows: r
            .late
            .iter()
            .map(|l| {
                vec![
                    l.number.clone(),
                    stored_datetime(&l.received_at),
                    stored_datetime(&l.due_at),
                    l.answered_at
                        .as_deref()
                        .map(stored_datetime)
                        .unwrap_or_else(|| "non ancora".into()),
                ]
            })
            .collect(),
    }
}

/// For a whole year: a row per month with its kinds, and the year's total against the last.
fn months(r: &Report) -> Option<Table> {
    let months = r.months.as_ref()?;
    let mut header = vec!["Mese".to_string(), "Totale".into()];
    header.extend(Kind::ALL.iter().map(|&k| texts::kind(k).to_string()));
    header.push("Risposti entro il termine".into());
    header.push(format!("Totale {}", r.from.year() - 1));
    let previous = r.previous_year_months.clone().unwrap_or_default();
    let mut rows: Vec<Vec<String>> = months
        .iter()
        .map(|m| {
            let mut row = vec![
                texts::MONTHS[m.month as usize - 1].to_string(),
                m.total.to_string(),
            ];
            row.extend(m.by_kind.iter().map(usize::to_string));
            row.push(m.answered_on_time.to_string());
            row.push(
                previous
                    .get(m.month as usize - 1)
                    .map(usize::to_string)
                    .unwrap_or_default(),
            );
            row
        })
        .collect();
    let mut total = vec!["Totale anno".to_string(), r.total.to_string()];
    total.extend((0..Kind::ALL.len()).map(|i| {
        months
            .iter()
            .map(|m| m.by_kind[i])
            .sum::<usize>()
            .to_string()
    }));
    total.push(
        months
            .iter()
            .map(|m| m.answered_on_time)
            .sum::<usize>()
            .to_string(),
    );
    total.push(
        r.previous_year_total
            .map(|n| n.to_string())
            .unwrap_or_default(),
    );
    rows.push(total);
    Some(Table {
        name: "mesi",
        title: "Mese per mese",
        header,
        rows,
    })
}

/// The istruttoria: requests for reports per service asked.
fn requests(r: &Report) -> Table {
    Table {
        name: "relazioni",
        title: "Istruttoria: richieste di relazione per servizio",
        header: vec![
            "Servizio".into(),
            "Richieste".into(),
            "Con relazione".into(),
            "Giorni alla relazione (mediana)".into(),
            "Giorni alla relazione (90° percentile)".into(),
            "Scadute senza relazione".into(),
        ],
        rows: r
            .requests
            .iter()
            .map(|s| {
                vec![
                    s.service.clone(),
                    s.sent.to_string(),
                    s.answered.to_string(),
                    days(s.median_days),
                    days(s.p90_days),
                    s.overdue.to_string(),
                ]
            })
            .collect(),
    }
}

/// Second-level reviews (riesame) opened in the period, by body and outcome.
fn reviews(r: &Report) -> Table {
    Table {
        name: "riesami",
        title: "Richieste di riesame (secondo livello) per organismo ed esito",
        header: vec!["Organismo".into(), "Esito".into(), "Numero".into()],
        rows: r
            .reviews
            .iter()
            .map(|c| {
                vec![
                    c.body.clone(),
                    c.outcome
                        .map_or(crate::texts::REVIEW_OPEN, crate::texts::outcome)
                        .to_string(),
                    c.n.to_string(),
                ]
            })
            .collect(),
    }
}
