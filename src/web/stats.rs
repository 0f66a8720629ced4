//! Statistiche: the month, the year or any range, optionally for one service or category, as
//! tables with charts beside them, each table downloadable as CSV, and the printable annual
//! report. The tables come from [`tables`], so the page, the CSV and `ascolto export stats` show
//! the same figures.

use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate, Utc};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use super::auth::AnyUser;
use super::charts;
use super::ui::{self, Section};
use super::{App, WebError, WebResult};
use crate::stats::{self, Report, Scope, KINDS};
use crate::texts;

const MONTHS: [&str; 12] = [
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
];

/// One table of the report: the same rows on the page and in the CSV.
pub struct Table {
    pub name: &'static str,
    pub title: &'static str,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

fn decimal(v: f64) -> String {
    format!("{v:.1}").replace('.', ",")
}

fn days(v: Option<f64>) -> String {
    v.map(decimal).unwrap_or_else(|| "—".into())
}

fn counts(name: &'static str, title: &'static str, first: &str, items: &[stats::Count]) -> Table {
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

/// Every table of a report, in page order.
pub fn tables(r: &Report) -> Vec<Table> {
    let mut out = vec![
        counts("tipologie", "Per tipologia", "Tipologia", &r.by_kind),
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
        },
        counts("servizi", "Per servizio", "Servizio", &r.by_service),
        counts("stati", "Per stato (oggi)", "Stato", &r.by_state),
        counts(
            "esiti",
            "Per esito (reclami chiusi)",
            "Esito",
            &r.by_outcome,
        ),
        counts("canali", "Per canale", "Canale", &r.by_channel),
        Table {
            name: "tempi",
            title: "Tempi dal ricevimento (giorni)",
            header: vec![
                "Fase".into(),
                "Reclami".into(),
                "Mediana".into(),
                "90° percentile".into(),
            ],
            rows: [
                ("Presa in carico", &r.to_charge),
                ("Prima risposta", &r.to_first_answer),
                ("Chiusura", &r.to_close),
            ]
            .iter()
            .map(|(l, t)| {
                vec![
                    l.to_string(),
                    t.n.to_string(),
                    days(t.median_days),
                    days(t.p90_days),
                ]
            })
            .collect(),
        },
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
                vec![
                    "% entro il termine".into(),
                    r.on_time_share.map(decimal).unwrap_or_else(|| "—".into()),
                ],
                vec!["Riaperti".into(), r.reopened.to_string()],
                vec!["% riaperti".into(), decimal(r.reopened_share)],
                vec![
                    "Ancora aperti alla fine del periodo".into(),
                    r.open_at_end.to_string(),
                ],
            ],
        },
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
                        ui::stored_datetime(&l.received_at),
                        ui::stored_datetime(&l.due_at),
                        l.answered_at
                            .as_deref()
                            .map(ui::stored_datetime)
                            .unwrap_or_else(|| "non ancora".into()),
                    ]
                })
                .collect(),
        },
    ];
    if let Some(months) = &r.months {
        let mut header = vec!["Mese".to_string(), "Totale".into()];
        header.extend(
            crate::domain::Kind::ALL
                .iter()
                .map(|&k| texts::kind(k).to_string()),
        );
        header.push("Risposti entro il termine".into());
        header.push(format!("Totale {}", r.from.year() - 1));
        let previous = r.previous_year_months.clone().unwrap_or_default();
        let mut rows: Vec<Vec<String>> = months
            .iter()
            .map(|m| {
                let mut row = vec![
                    MONTHS[m.month as usize - 1].to_string(),
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
        total.extend((0..KINDS.len()).map(|i| {
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
        out.push(Table {
            name: "mesi",
            title: "Mese per mese",
            header,
            rows,
        });
    }
    out
}

/// The query string of the page, the CSV and the report.
#[derive(Debug, Default, Deserialize, Clone)]
pub struct StatsQuery {
    /// "mese", "anno" or "intervallo".
    #[serde(default)]
    periodo: String,
    #[serde(default)]
    anno: String,
    #[serde(default)]
    mese: String,
    #[serde(default)]
    dal: String,
    #[serde(default)]
    al: String,
    #[serde(default)]
    servizio: String,
    #[serde(default)]
    categoria: String,
    /// For the CSV: which table, and "rfc4180" for commas without BOM.
    #[serde(default)]
    tabella: String,
    #[serde(default)]
    formato: String,
}

impl StatsQuery {
    /// The period asked for, refused (422, in Italian) unless every part of it is a date the
    /// statistics can count: years from [`stats::YEARS`]' first to next year, real months,
    /// ranges in order and at most [`stats::MAX_DAYS`] long.
    fn scope(&self) -> WebResult<Scope> {
        let today = crate::domain::time::to_rome(Utc::now()).date_naive();
        let year = year_of(&self.anno, today)?;
        let mut scope = match self.periodo.as_str() {
            "anno" => Scope::year(year).ok_or_else(|| bad_year(today))?,
            "intervallo" => {
                let d = |s: &str| {
                    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                        .ok()
                        .filter(|d| year_allowed(d.year(), today))
                        .ok_or_else(|| WebError::Refused(texts::STATS_BAD_DATE.into()))
                };
                let (from, to) = (d(&self.dal)?, d(&self.al)?);
                Scope::days(from, to)
                    .ok_or_else(|| WebError::Refused(texts::STATS_BAD_RANGE.into()))?
            }
            _ => {
                let month = match self.mese.trim() {
                    "" => today.month(),
                    m => m
                        .parse()
                        .ok()
                        .filter(|m| (1..=12).contains(m))
                        .ok_or_else(|| WebError::Refused(texts::STATS_BAD_MONTH.into()))?,
                };
                Scope::month(year, month).ok_or_else(|| bad_year(today))?
            }
        };
        scope.service = self.servizio.trim().parse().ok();
        scope.category =
            (!self.categoria.trim().is_empty()).then(|| self.categoria.trim().to_string());
        Ok(scope)
    }

    fn link(&self, path: &str, extra: &[(&str, &str)]) -> String {
        let mut pairs: Vec<(&str, &str)> = vec![
            ("periodo", &self.periodo),
            ("anno", &self.anno),
            ("mese", &self.mese),
            ("dal", &self.dal),
            ("al", &self.al),
            ("servizio", &self.servizio),
            ("categoria", &self.categoria),
        ];
        pairs.extend_from_slice(extra);
        let q: Vec<String> = pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", ui::url_encode(v)))
            .collect();
        format!("{path}?{}", q.join("&"))
    }
}

/// The last year a person may ask for: next year (a report prepared ahead), within what the
/// statistics can count.
fn last_year(today: NaiveDate) -> i32 {
    (today.year() + 1).min(*stats::YEARS.end())
}

fn year_allowed(year: i32, today: NaiveDate) -> bool {
    (*stats::YEARS.start()..=last_year(today)).contains(&year)
}

fn bad_year(today: NaiveDate) -> WebError {
    WebError::Refused(texts::stats_bad_year(
        *stats::YEARS.start(),
        last_year(today),
    ))
}

/// The `anno` of a query string: empty is this year; anything but a year the statistics can
/// count is refused here, before any date arithmetic.
fn year_of(text: &str, today: NaiveDate) -> WebResult<i32> {
    match text.trim() {
        "" => Ok(today.year()),
        y => y
            .parse()
            .ok()
            .filter(|y| year_allowed(*y, today))
            .ok_or_else(|| bad_year(today)),
    }
}

fn period_title(scope: &Scope) -> String {
    if let Some(y) = scope.whole_year() {
        return format!("Anno {y}");
    }
    if scope.from.day() == 1
        && scope.to.succ_opt().is_some_and(|d| d.day() == 1)
        && scope.from.month() == scope.to.month()
    {
        return format!(
            "{} {}",
            MONTHS[scope.from.month0() as usize],
            scope.from.year()
        );
    }
    format!(
        "Dal {} al {}",
        scope.from.format("%d/%m/%Y"),
        scope.to.format("%d/%m/%Y")
    )
}

fn html_table(t: &Table, csv_link: Option<&str>) -> Markup {
    html! {
        div.tablewrap {
            table.stats id={"tabella-" (t.name)} {
                caption { (t.title) @if let Some(l) = csv_link { " " a.small href=(l) { "CSV" } } }
                thead { tr { @for h in &t.header { th scope="col" { (h) } } } }
                tbody {
                    @for row in &t.rows {
                        tr { @for (i, cell) in row.iter().enumerate() {
                            @if i == 0 { th scope="row" { (cell) } } @else { td { (cell) } }
                        } }
                    }
                }
            }
        }
    }
}

fn charts_of(r: &Report) -> (Markup, Markup, Markup, Option<Markup>) {
    let cats: Vec<(String, usize)> = r
        .by_category
        .iter()
        .filter(|c| c.level == 1 || c.level == 0)
        .map(|c| {
            (
                if c.code.is_empty() {
                    c.label.clone()
                } else {
                    format!("{} {}", c.code, c.label)
                },
                c.n,
            )
        })
        .collect();
    let services: Vec<(String, usize)> = r
        .by_service
        .iter()
        .filter(|c| c.n > 0)
        .take(15)
        .map(|c| (c.label.clone(), c.n))
        .collect();
    let outcomes: Vec<(String, usize)> = r
        .by_outcome
        .iter()
        .map(|c| (c.label.clone(), c.n))
        .collect();
    let trend = r.months.as_ref().map(|months| {
        let mut this = [0usize; 12];
        for m in months {
            this[m.month as usize - 1] = m.total;
        }
        let mut series = vec![(format!("{}", r.from.year()), this)];
        if let Some(prev) = &r.previous_year_months {
            let mut last = [0usize; 12];
            last.iter_mut().zip(prev).for_each(|(a, b)| *a = *b);
            series.push((format!("{}", r.from.year() - 1), last));
        }
        charts::months(
            "grafico-mesi",
            "Reclami ricevuti mese per mese, confronto con l'anno precedente",
            &series,
        )
    });
    (
        charts::bars("grafico-categorie", "Reclami per macrocategoria", &cats),
        charts::bars(
            "grafico-servizi",
            "Reclami per servizio (i primi 15)",
            &services,
        ),
        charts::stacked("grafico-esiti", "Esiti dei reclami chiusi", &outcomes),
        trend,
    )
}

/// Computed reports, kept while nothing they count has changed (the generations the triggers
/// move: of every month's tickets, and `stats_generation` for categories and services) and for
/// at most [`CACHE_SECONDS`] (deadlines pass without any write). Beneath them the tickets of
/// each month read are kept ([`stats::Months`]): after a change, a year is counted again from
/// memory with only the changed month read again.
///
/// Every lock here is taken even when poisoned: a request that panics while holding one leaves
/// nothing half-done (the list is changed by single calls; `computing` guards no data), and
/// one bad request must not turn every statistics page into an error until a restart.
#[derive(Default)]
pub struct Cache {
    entries: Mutex<Vec<CacheEntry>>,
    months: stats::Months,
    /// Held while a report is computed: views arriving meanwhile wait for it instead of
    /// counting the same year again side by side (and holding its rows in memory each).
    computing: Mutex<()>,
}

type CacheEntry = (String, i64, std::time::Instant, Arc<Report>);

const CACHE_SECONDS: u64 = 60;
const CACHE_ENTRIES: usize = 32;

impl Cache {
    fn get(&self, key: &str, generation: i64) -> Option<Arc<Report>> {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(k, g, at, _)| {
                k == key && *g == generation && at.elapsed().as_secs() < CACHE_SECONDS
            })
            .map(|(_, _, _, r)| r.clone())
    }

    fn put(&self, key: String, generation: i64, report: Arc<Report>) {
        let mut e = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        e.retain(|(k, _, at, _)| *k != key && at.elapsed().as_secs() < CACHE_SECONDS);
        if e.len() >= CACHE_ENTRIES {
            e.remove(0);
        }
        e.push((key, generation, std::time::Instant::now(), report));
    }

    /// The report kept under `key` at `generation`, or the one `compute` makes (one at a time).
    fn report(
        &self,
        key: String,
        generation: i64,
        compute: impl FnOnce() -> anyhow::Result<Report>,
    ) -> anyhow::Result<Arc<Report>> {
        if let Some(r) = self.get(&key, generation) {
            return Ok(r);
        }
        let _one_at_a_time = self
            .computing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = self.get(&key, generation) {
            return Ok(r);
        }
        let r = Arc::new(compute()?);
        self.put(key, generation, r.clone());
        Ok(r)
    }
}

type Loaded = (
    Arc<Report>,
    Vec<crate::store::backoffice::Category>,
    Vec<crate::store::backoffice::Service>,
);

/// Moves whenever anything a report counts changes (generations only grow, so their sum does
/// too).
fn generation(conn: &rusqlite::Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'stats_generation')
              + (SELECT coalesce(sum(generation), 0) FROM stats_months)",
        [],
        |r| r.get(0),
    )
}

/// Counts this year (and so the last one, which it is compared with) ahead of the first view:
/// the daemon calls it once at start.
pub async fn prepare(app: &App) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let year = crate::domain::time::rome_year(Utc::now());
    let scope = Scope::year(year).ok_or_else(|| anyhow::anyhow!("year {year} out of range"))?;
    load(app, scope)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let (months, tickets) = app.stats_cache.months.kept();
    tracing::info!(
        months,
        tickets,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "statistics: {year} and {} counted ahead of the first view",
        year - 1
    );
    Ok(())
}

async fn load(app: &App, scope: Scope) -> WebResult<Loaded> {
    let cache = app.stats_cache.clone();
    Ok(app
        .readers
        .read(move |conn| {
            let generation = generation(conn)?;
            let report = cache.report(format!("{scope:?}"), generation, || {
                stats::report_kept(conn, &scope, Utc::now(), &cache.months)
            })?;
            Ok((
                report,
                crate::store::backoffice::categories(conn)?,
                crate::store::backoffice::services(conn)?,
            ))
        })
        .await?)
}

fn body(q: &StatsQuery, scope: &Scope, r: &Report, tables: &[Table], with_links: bool) -> Markup {
    let (cat_chart, svc_chart, outcome_chart, trend) = charts_of(r);
    let find = |name: &str| tables.iter().find(|t| t.name == name);
    let table = |name: &str| -> Markup {
        match find(name) {
            Some(t) => {
                let link = with_links.then(|| q.link("/statistiche.csv", &[("tabella", t.name)]));
                html_table(t, link.as_deref())
            }
            None => html! {},
        }
    };
    html! {
        p.lead {
            strong { (ui::number(r.total as i64)) } " reclami ricevuti "
            (period_title(scope).to_lowercase())
            @if let Some(prev) = r.previous_year_total { " (anno precedente: " (ui::number(prev as i64)) ")" }
            "."
        }
        p.small.muted { "Classificazione, servizio, tipologia, stato ed esito sono quelli attuali di ciascun reclamo: un reclamo riclassificato dopo il periodo è contato con la classificazione di oggi. I reclami uniti a un altro sono contati una volta sola. Mesi e anni sono contati nell'ora italiana; per la PEC vale l'ora certificata." }
        @if let Some(trend) = &trend {
            section.pair { (trend) (table("mesi")) }
        }
        section.pair { (cat_chart) (table("categorie")) }
        section.pair { (table("tipologie")) (table("canali")) }
        section.pair { (svc_chart) (table("servizi")) }
        section.pair { (outcome_chart) (table("esiti")) }
        section.pair { (table("stati")) (table("tempi")) (table("scadenze")) }
        section {
            (table("ritardi"))
            @if r.late_total > r.late.len() {
                p.small { "Sono elencati i primi " (r.late.len()) " di " (ui::number(r.late_total as i64)) "; il CSV li contiene tutti." }
            }
        }
    }
}

pub async fn page(
    State(app): State<App>,
    AnyUser(s): AnyUser,
    Query(q): Query<StatsQuery>,
) -> WebResult<Markup> {
    let scope = q.scope()?;
    let (r, categories, services) = load(&app, scope.clone()).await?;
    let tables = tables(&r);
    let today = crate::domain::time::to_rome(Utc::now()).date_naive();
    let periodo = if q.periodo.is_empty() {
        "mese"
    } else {
        q.periodo.as_str()
    };
    let year_value = if q.anno.is_empty() {
        scope.from.year().to_string()
    } else {
        q.anno.clone()
    };
    let month_value = scope.from.month();
    let form = html! {
        form.filters method="get" action="/statistiche" {
            fieldset {
                legend { "Periodo" }
                label { input type="radio" name="periodo" value="mese" checked[periodo == "mese"]; " mese" }
                label { input type="radio" name="periodo" value="anno" checked[periodo == "anno"]; " anno" }
                label { input type="radio" name="periodo" value="intervallo" checked[periodo == "intervallo"]; " intervallo di date" }
            }
            p {
                label for="s-mese" { "Mese" }
                select #s-mese name="mese" {
                    @for (i, m) in MONTHS.iter().enumerate() { option value=(i + 1) selected[month_value as usize == i + 1] { (m) } }
                }
            }
            p { label for="s-anno" { "Anno" } input #s-anno type="number" name="anno" min="2000" max=(today.year() + 1) value=(year_value); }
            p { label for="s-dal" { "Dal" } input #s-dal type="date" name="dal" value=(q.dal); }
            p { label for="s-al" { "Al" } input #s-al type="date" name="al" value=(q.al); }
            p {
                label for="s-servizio" { "Servizio" }
                select #s-servizio name="servizio" {
                    option value="" { "Tutti" }
                    @for sv in &services { option value=(sv.id) selected[q.servizio == sv.id.to_string()] { (sv.name) } }
                }
            }
            p {
                label for="s-categoria" { "Classificazione" }
                select #s-categoria name="categoria" {
                    option value="" { "Tutte" }
                    @for c in &categories {
                        option value=(c.code) selected[q.categoria == c.code] { @if c.parent_id.is_some() { "\u{2003}" } (c.code) " – " (c.label) }
                    }
                }
            }
            p.buttons { button type="submit" { "Mostra" } }
        }
        p {
            "Esporta: "
            @for t in &tables { a href=(q.link("/statistiche.csv", &[("tabella", t.name)])) { (t.title) } " · " }
            a href=(q.link("/statistiche.csv", &[("tabella", "categorie"), ("formato", "rfc4180")])) { "(CSV standard, con virgole)" }
            @if let Some(y) = scope.whole_year() {
                " · " a href={"/statistiche/relazione?anno=" (y)} { "Relazione annuale stampabile" }
            }
        }
    };
    let title = format!("Statistiche – {}", period_title(&scope));
    Ok(ui::page(
        &s,
        Section::Stats,
        &title,
        html! { (form) (body(&q, &scope, &r, &tables, true)) },
    ))
}

/// One table as CSV: for Italian Excel by default (UTF-8 with BOM, `;`, decimal comma), or
/// RFC 4180 (`,`, no BOM) with `formato=rfc4180`.
pub async fn csv(
    State(app): State<App>,
    AnyUser(_s): AnyUser,
    Query(q): Query<StatsQuery>,
) -> WebResult<Response> {
    let scope = q.scope()?;
    let (r, _, _) = load(&app, scope.clone()).await?;
    let wanted = if q.tabella.is_empty() {
        "categorie"
    } else {
        q.tabella.as_str()
    };
    let excel = q.formato != "rfc4180";
    let mut r = (*r).clone();
    if wanted == "ritardi" {
        // The page lists the first ones; the CSV has them all.
        let scope = scope.clone();
        let cache = app.stats_cache.clone();
        r.late = app
            .readers
            .read(move |conn| stats::late(conn, &scope, Utc::now(), usize::MAX, &cache.months))
            .await?;
    }
    let table = tables(&r)
        .into_iter()
        .find(|t| t.name == wanted)
        .ok_or(WebError::NotFound)?;
    let bytes = write_csv(&table, excel).map_err(anyhow::Error::from)?;
    let filename = format!(
        "statistiche-{}-{}-{}.csv",
        table.name,
        scope.from.format("%Y%m%d"),
        scope.to.format("%Y%m%d")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

pub fn write_csv(t: &Table, excel: bool) -> Result<Vec<u8>, csv::Error> {
    use crate::export::csv_cell;
    let mut out = Vec::new();
    if excel {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    {
        let mut w = csv::WriterBuilder::new()
            .delimiter(if excel { b';' } else { b',' })
            .from_writer(&mut out);
        // Labels are an administrator's words (a service's name): never a formula.
        w.write_record(t.header.iter().map(|c| csv_cell(c).into_owned()))?;
        for row in &t.rows {
            // RFC 4180 readers expect a decimal point.
            if excel {
                w.write_record(row.iter().map(|c| csv_cell(c).into_owned()))?;
            } else {
                w.write_record(row.iter().map(|c| {
                    if c.parse::<f64>().is_err() && c.replace(',', ".").parse::<f64>().is_ok() {
                        csv_cell(&c.replace(',', ".")).into_owned()
                    } else {
                        csv_cell(c).into_owned()
                    }
                }))?;
            }
        }
        w.flush()?;
    }
    Ok(out)
}

#[derive(Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    anno: String,
}

/// The annual report: every table and chart of the year on pages a director can print or save
/// as PDF from the browser.
pub async fn annual(
    State(app): State<App>,
    AnyUser(_s): AnyUser,
    Query(rq): Query<ReportQuery>,
) -> WebResult<Markup> {
    let today = crate::domain::time::to_rome(Utc::now()).date_naive();
    let year = year_of(&rq.anno, today)?;
    let scope = Scope::year(year).ok_or_else(|| bad_year(today))?;
    let (r, _, _) = load(&app, scope.clone()).await?;
    let tables = tables(&r);
    let q = StatsQuery {
        periodo: "anno".into(),
        anno: year.to_string(),
        ..Default::default()
    };
    Ok(html! {
        (DOCTYPE)
        html lang="it" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Relazione annuale " (year) " · " (app.settings.office_name) }
                link rel="stylesheet" href="/static/ascolto.css";
            }
            body.report {
                main #contenuto {
                    header.report-head {
                        p { (app.settings.office_name) }
                        h1 { "Relazione annuale sui reclami – " (year) }
                        p.small { "Elaborata il " (ui::datetime(Utc::now())) " da ascolto." }
                    }
                    (body(&q, &scope, &r, &tables, false))
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_computing_leaves_the_statistics_working() {
        // Issue 11, finding 3: a panic in date arithmetic poisoned `computing`, and every
        // statistics page answered 500 until a restart.
        let conn = crate::store::open_in_memory().unwrap();
        let cache = Cache::default();
        let scope = Scope::year(2026).unwrap();
        let key = format!("{scope:?}");
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = cache.report(key.clone(), 1, || panic!("date arithmetic overflowed"));
        }));
        assert!(panicked.is_err());
        assert!(cache.computing.is_poisoned());
        let r = cache
            .report(key.clone(), 1, || stats::report(&conn, &scope, Utc::now()))
            .unwrap();
        assert_eq!(r.total, 0);
        let kept = cache.report(key, 1, || unreachable!("kept, not computed again"));
        assert!(Arc::ptr_eq(&kept.unwrap(), &r));
    }

    #[test]
    fn years_are_checked_where_the_query_is_read() {
        let today = NaiveDate::from_ymd_opt(2026, 5, 10).unwrap();
        assert_eq!(year_of("", today).unwrap(), 2026);
        assert_eq!(year_of(" 2025 ", today).unwrap(), 2025);
        assert_eq!(year_of("2027", today).unwrap(), 2027);
        for bad in [
            "-262143",
            "262142",
            "1969",
            "2028",
            "0",
            "abc",
            "99999999999",
            "2026.5",
        ] {
            match year_of(bad, today) {
                Err(WebError::Refused(m)) => assert!(m.contains("dal 1970 al 2027"), "{m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        let q = |periodo: &str, anno: &str, mese: &str, dal: &str, al: &str| StatsQuery {
            periodo: periodo.into(),
            anno: anno.into(),
            mese: mese.into(),
            dal: dal.into(),
            al: al.into(),
            ..Default::default()
        };
        assert!(q("anno", "-262143", "", "", "").scope().is_err());
        assert!(q("mese", "2026", "13", "", "").scope().is_err());
        assert!(q("mese", "2026", "x", "", "").scope().is_err());
        assert!(q("mese", "2026", "3", "", "").scope().is_ok());
        for (dal, al) in [
            ("-262143-01-01", "2026-01-01"),
            ("2026-01-01", "+262142-12-31"),
            ("2026-05-01", "2026-04-01"),
            ("1990-01-01", "2026-01-01"),
        ] {
            assert!(
                q("intervallo", "", "", dal, al).scope().is_err(),
                "{dal} {al}"
            );
        }
        assert!(q("intervallo", "", "", "2026-01-01", "2026-03-31")
            .scope()
            .is_ok());
    }
}
