//! The transparency report (relazione per la trasparenza, issue 20): the year's figures by
//! kind, category, service and channel, timeliness, and the improvement actions with their
//! state. One model, rendered as a printable HTML page (the public `/trasparenza/<anno>` and
//! `ascolto export transparency --format html`) and as CSV.
//!
//! What it never holds: a citizen's name, address or words (it reads counts, the hospital's own
//! labels and the actions the staff wrote; see `store::transparency`), and a count small enough
//! to point at a person: a count from 1 to `min_count - 1` is shown as "< min_count". When a
//! table would have exactly one such cell, its total and the other cells would give it away, so
//! the next smallest cell is hidden too.

use anyhow::Result;
use maud::{html, Markup, DOCTYPE};
use rusqlite::Connection;

use crate::domain::{Channel, Founded, Kind};
use crate::store::improvement::{self, Action, ActionFilter};
use crate::store::transparency::{self as sql, YearFigures};
use crate::texts;

/// A published count: its figure, or hidden because it is too small.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    Shown(i64),
    Hidden,
}

/// One table of the report: its title and (label, cell) rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub title: &'static str,
    pub rows: Vec<(String, Cell)>,
}

/// The report of one year.
#[derive(Clone, Debug)]
pub struct Report {
    pub year: i32,
    pub office: String,
    pub min_count: i64,
    pub total: Cell,
    pub tables: Vec<Table>,
    pub actions: Vec<Action>,
}

/// Hides the counts below `min` (zero stays: it names nobody), and a second one where a
/// single hidden cell could be worked out from the others.
fn suppress(counts: &[i64], min: i64) -> Vec<Cell> {
    let small = |n: i64| n > 0 && n < min;
    let mut cells: Vec<Cell> = counts
        .iter()
        .map(|&n| {
            if small(n) {
                Cell::Hidden
            } else {
                Cell::Shown(n)
            }
        })
        .collect();
    if cells.iter().filter(|c| **c == Cell::Hidden).count() == 1 {
        let next = counts
            .iter()
            .enumerate()
            .filter(|(i, &n)| n > 0 && cells[*i] != Cell::Hidden)
            .min_by_key(|(_, &n)| n)
            .map(|(i, _)| i);
        if let Some(i) = next {
            cells[i] = Cell::Hidden;
        }
    }
    cells
}

fn table(title: &'static str, rows: Vec<(String, i64)>, min: i64) -> Table {
    let counts: Vec<i64> = rows.iter().map(|r| r.1).collect();
    let cells = suppress(&counts, min);
    Table {
        title,
        rows: rows.into_iter().map(|r| r.0).zip(cells).collect(),
    }
}

fn kind_label(k: Option<Kind>) -> String {
    k.map(texts::kind).unwrap_or(texts::STATS_UNSET).to_string()
}

fn channel_label(c: Channel) -> String {
    texts::channel(c).to_string()
}

fn founded_label(f: Option<Founded>) -> String {
    match f {
        Some(f) => texts::founded(f).to_string(),
        None => "Non valutato".to_string(),
    }
}

fn pair_label(p: Option<(String, String)>, none: &str) -> String {
    match p {
        Some((_, label)) => label,
        None => none.to_string(),
    }
}

impl Report {
    pub fn from_figures(f: YearFigures, actions: Vec<Action>, office: &str, min: i64) -> Report {
        let total = suppress(&[f.total], min)[0];
        let mut tables = vec![
            table(
                "Per tipologia",
                f.by_kind
                    .into_iter()
                    .map(|c| (kind_label(c.key), c.count))
                    .collect(),
                min,
            ),
            table(
                "Per classificazione",
                f.by_category
                    .into_iter()
                    .map(|c| (pair_label(c.key, texts::STATS_UNCLASSIFIED), c.count))
                    .collect(),
                min,
            ),
            table(
                "Per servizio",
                f.by_service
                    .into_iter()
                    .map(|c| (pair_label(c.key, "Nessun servizio indicato"), c.count))
                    .collect(),
                min,
            ),
            table(
                "Per canale",
                f.by_channel
                    .into_iter()
                    .map(|c| (channel_label(c.key), c.count))
                    .collect(),
                min,
            ),
            table(
                "Tempestività della risposta",
                vec![
                    ("Risposta nei termini".into(), f.timeliness.on_time),
                    ("Risposta oltre i termini".into(), f.timeliness.late),
                    ("Senza risposta scritta".into(), f.timeliness.unanswered),
                ],
                min,
            ),
            table(
                "Esito dell'analisi",
                f.by_founded
                    .into_iter()
                    .map(|c| (founded_label(c.key), c.count))
                    .collect(),
                min,
            ),
            table(
                "Attenzioni particolari",
                vec![
                    ("Persone fragili".into(), f.fragile),
                    ("Possibili eventi avversi".into(), f.risk),
                ],
                min,
            ),
        ];
        // Second-level reviews (riesame, issue 19).
        if let Some(reviews) = f.reviews {
            tables.push(table(
                "Riesami",
                vec![("Richieste di riesame".into(), reviews)],
                min,
            ));
        }
        Report {
            year: f.year,
            office: office.to_string(),
            min_count: min,
            total,
            tables,
            actions,
        }
    }

    pub fn cell_text(&self, c: Cell) -> String {
        match c {
            Cell::Shown(n) => texts::number(n),
            Cell::Hidden => texts::suppressed_count(self.min_count),
        }
    }
}

/// Reads year `year`'s report.
pub fn build(conn: &Connection, year: i32, office: &str, min_count: u32) -> Result<Report> {
    let figures = sql::year_figures(conn, year)?;
    let actions = improvement::actions(
        conn,
        &ActionFilter {
            year: Some(year),
            ..ActionFilter::default()
        },
    )?;
    Ok(Report::from_figures(
        figures,
        actions,
        office,
        i64::from(min_count),
    ))
}

/// How the HTML page gets its style: the backoffice's stylesheet (served pages), or built in
/// (a file written by the command line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Styling {
    Linked,
    Embedded,
}

/// The printable page.
pub fn html(r: &Report, styling: Styling) -> Markup {
    let title = format!("Relazione per la trasparenza {}", r.year);
    html! {
        (DOCTYPE)
        html lang="it" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (r.office) }
                @match styling {
                    Styling::Linked => link rel="stylesheet" href="/static/ascolto.css";,
                    Styling::Embedded => style { (EMBEDDED_STYLE) },
                }
            }
            body.report {
                main #contenuto {
                    h1 { (title) }
                    p { (r.office) }
                    p {
                        "Segnalazioni ricevute nell'anno: " strong { (r.cell_text(r.total)) } ". "
                        "Per riservatezza, i numeri inferiori a " (r.min_count)
                        " sono indicati come «" (texts::suppressed_count(r.min_count)) "»."
                    }
                    @for t in &r.tables {
                        section {
                            h2 { (t.title) }
                            table {
                                thead { tr { th scope="col" { "Voce" } th scope="col" { "Numero" } } }
                                tbody {
                                    @for (label, cell) in &t.rows {
                                        tr { td { (label) } td.num { (r.cell_text(*cell)) } }
                                    }
                                }
                            }
                        }
                    }
                    section {
                        h2 { "Azioni di miglioramento" }
                        p { "Ciò che l'Azienda ha fatto e si è impegnata a fare a partire dalle segnalazioni." }
                        @if r.actions.is_empty() {
                            p { "Nessuna azione registrata per l'anno." }
                        } @else {
                            table {
                                thead { tr {
                                    th scope="col" { "Azione" } th scope="col" { "Servizio" }
                                    th scope="col" { "Ambito" } th scope="col" { "Stato" } th scope="col" { "Scadenza" }
                                } }
                                tbody {
                                    @for a in &r.actions {
                                        tr {
                                            td { strong { (a.title) } @if !a.description.is_empty() { br; (a.description) } }
                                            td { (a.service_name.as_deref().unwrap_or("—")) }
                                            td { (categories_text(a)) }
                                            td { (texts::action_state(a.state)) }
                                            td { (a.due_date.as_deref().unwrap_or("—")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn categories_text(a: &Action) -> String {
    if a.categories.is_empty() {
        return "—".into();
    }
    a.categories
        .iter()
        .map(|c| c.2.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

const EMBEDDED_STYLE: &str = "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;}\
    table{border-collapse:collapse;margin-bottom:1.5rem;width:100%}\
    th,td{border:1px solid #999;padding:.3rem .5rem;text-align:left}td.num{text-align:right}";

/// The CSV: one row per published figure (`section,item,count`), then one per action
/// (`azione,title,state`).
pub fn csv(r: &Report) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let cell = crate::export::csv_cell;
    w.write_record(["sezione", "voce", "valore"])?;
    let value = |c: Cell| match c {
        Cell::Shown(n) => n.to_string(),
        Cell::Hidden => texts::suppressed_count(r.min_count),
    };
    w.write_record(["Totale", "Segnalazioni ricevute", &value(r.total)])?;
    for t in &r.tables {
        for (label, c) in &t.rows {
            w.write_record([t.title, &cell(label), &cell(&value(*c))])?;
        }
    }
    for a in &r.actions {
        let state = texts::action_state(a.state);
        let title = match &a.service_name {
            Some(service) => format!("{} ({service})", a.title),
            None => a.title.clone(),
        };
        w.write_record(["Azione di miglioramento", &cell(&title), state])?;
    }
    w.flush()?;
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_counts_are_hidden_and_a_lone_one_takes_another_with_it() {
        assert_eq!(
            suppress(&[10, 0, 5], 3),
            vec![Cell::Shown(10), Cell::Shown(0), Cell::Shown(5)]
        );
        assert_eq!(
            suppress(&[10, 2, 5], 3),
            vec![Cell::Shown(10), Cell::Hidden, Cell::Hidden]
        );
        assert_eq!(
            suppress(&[10, 2, 1, 5], 3),
            vec![Cell::Shown(10), Cell::Hidden, Cell::Hidden, Cell::Shown(5)]
        );
        assert_eq!(suppress(&[2], 3), vec![Cell::Hidden]);
    }
}
