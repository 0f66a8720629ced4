//! Statistiche: the month, the year or any range, optionally for one service or category, as
//! tables with charts beside them, each table downloadable as CSV, and the printable annual
//! report. This module only renders: the figures, their tables and their CSV come from
//! [`crate::stats`], so the page, the CSV and `ascolto export stats` show the same figures.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate, Utc};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use super::auth::AnyUser;
use super::charts;
use super::feedback::{self, FormErrors};
use super::ui::{self, Section};
use super::{App, WebError, WebResult};
use crate::domain::time::to_rome;
use crate::stats::csv::Dialect;
use crate::stats::{self, Asked, Choices, Period, Report, Scope, ScopeError, Table};
use crate::texts;

/// The application state keeps the statistics' cache under this name.
pub use crate::stats::Cache;
use crate::store::classifier as class_sql;

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
    /// "1": also count only the classifications an operator set or confirmed.
    #[serde(default)]
    confermate: String,
    /// For the CSV: which table, and "rfc4180" for commas without BOM.
    #[serde(default)]
    tabella: String,
    #[serde(default)]
    formato: String,
}

impl StatsQuery {
    /// The period asked for, refused (422, in Italian) unless the statistics can count it
    /// ([`Scope::asked`]).
    fn scope(&self) -> WebResult<Scope> {
        let today = to_rome(Utc::now()).date_naive();
        let period = match self.periodo.as_str() {
            "anno" => Period::Year,
            "intervallo" => Period::Days,
            _ => Period::Month,
        };
        let asked = Asked {
            period,
            year: &self.anno,
            month: &self.mese,
            from: &self.dal,
            to: &self.al,
        };
        Ok(Scope::asked(&asked, today)
            .map_err(refused)?
            .narrowed(&self.servizio, &self.categoria))
    }

    /// The form field a refused period is about.
    fn field_at_fault(&self) -> &'static str {
        let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
        match self.periodo.as_str() {
            "intervallo" if date(&self.dal).is_none() => "s-dal",
            "intervallo" => "s-al",
            "anno" => "s-anno",
            _ if !(1..=12).contains(&self.mese.trim().parse::<u32>().unwrap_or(1)) => "s-mese",
            _ => "s-anno",
        }
    }

    /// The refusal as the form says it: an end before the start, said plainly.
    fn fault_message(&self, refusal: String) -> String {
        let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
        match (date(&self.dal), date(&self.al)) {
            (Some(from), Some(to)) if self.periodo == "intervallo" && to < from => {
                texts::END_BEFORE_START.into()
            }
            _ => refusal,
        }
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

/// A period the statistics cannot count, as the person who asked reads it.
fn refused(e: ScopeError) -> WebError {
    WebError::Refused(match e {
        ScopeError::Year { first, last } => texts::stats_bad_year(first, last),
        ScopeError::Month => texts::STATS_BAD_MONTH.into(),
        ScopeError::Date => texts::STATS_BAD_DATE.into(),
        ScopeError::Range => texts::STATS_BAD_RANGE.into(),
    })
}

/// The `anno` of a query string: empty is this year; anything but a year the statistics can
/// count is refused here, before any date arithmetic.
fn year_of(text: &str, today: NaiveDate) -> WebResult<i32> {
    stats::year_asked(text, today).map_err(refused)
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
            texts::MONTHS[scope.from.month0() as usize],
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
                            @if i == 0 && cell.is_empty() {
                                // A row without a code (the unclassified): its header still names it.
                                th scope="row" { span aria-hidden="true" { "—" } span.visually-hidden { "senza codice" } }
                            } @else if i == 0 { th scope="row" { (cell) } } @else { td { (cell) } }
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
            "tabella-mesi",
            &series,
        )
    });
    (
        charts::bars(
            "grafico-categorie",
            "Reclami per macrocategoria",
            "tabella-categorie",
            &cats,
        ),
        charts::bars(
            "grafico-servizi",
            "Reclami per servizio (i primi 15)",
            "tabella-servizi",
            &services,
        ),
        charts::stacked(
            "grafico-esiti",
            "Esiti dei reclami chiusi",
            "tabella-esiti",
            &outcomes,
        ),
        trend,
    )
}

/// Counts this year (and so the last one, which it is compared with) ahead of the first view:
/// the daemon calls it once at start.
pub async fn prepare(app: &App) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let year = crate::domain::time::rome_year(Utc::now());
    let scope = Scope::year(year).ok_or_else(|| anyhow::anyhow!("year {year} out of range"))?;
    report(app, scope)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let (months, tickets) = app.stats_cache.months_kept();
    tracing::info!(
        months,
        tickets,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "statistics: {year} and {} counted ahead of the first view",
        year - 1
    );
    Ok(())
}

/// The scope's report, from the cache, on a reader.
async fn report(app: &App, scope: Scope) -> WebResult<Arc<Report>> {
    let cache = app.stats_cache.clone();
    Ok(app
        .readers
        .read(move |conn| cache.report_of(conn, &scope, Utc::now()))
        .await?)
}

/// The scope's report and what the form offers to narrow it, from one snapshot.
async fn load(app: &App, scope: Scope) -> WebResult<(Arc<Report>, Choices)> {
    let cache = app.stats_cache.clone();
    Ok(app
        .readers
        .read(move |conn| {
            let report = cache.report_of(conn, &scope, Utc::now())?;
            Ok((report, stats::choices(conn)?))
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
        // Each chart and its table under their own heading (the report prints one per section).
        @if let Some(trend) = &trend {
            section.pair aria-labelledby="sez-mesi" { h2 #sez-mesi { "Andamento mese per mese" } (trend) (table("mesi")) }
        }
        section.pair aria-labelledby="sez-categorie" { h2 #sez-categorie { "Classificazione" } (cat_chart) (table("categorie")) }
        section.pair aria-labelledby="sez-tipologie" { h2 #sez-tipologie { "Tipologie e canali" } (table("tipologie")) (table("canali")) }
        section.pair aria-labelledby="sez-servizi" { h2 #sez-servizi { "Servizi" } (svc_chart) (table("servizi")) }
        section.pair aria-labelledby="sez-esiti" { h2 #sez-esiti { "Esiti" } (outcome_chart) (table("esiti")) }
        section.pair aria-labelledby="sez-tempi" { h2 #sez-tempi { "Stati, tempi e scadenze" } (table("stati")) (table("tempi")) (table("scadenze")) }
        section aria-labelledby="sez-relazioni" { h2 #sez-relazioni { "Istruttoria" } (table("relazioni")) }
        @if !r.reviews.is_empty() {
            section aria-labelledby="sez-riesami" { h2 #sez-riesami { "Riesami" } (table("riesami")) }
        }
        section aria-labelledby="sez-ritardi" {
            h2 #sez-ritardi { "Risposte in ritardo" }
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
) -> WebResult<(StatusCode, Markup)> {
    let scope = match q.scope() {
        Ok(scope) => scope,
        Err(WebError::Refused(why)) => {
            // The form again, with the field at fault marked and what was typed kept.
            let choices = app.readers.read(stats::choices).await?;
            let errors = FormErrors::with(q.field_at_fault(), q.fault_message(why));
            let month = q.mese.trim().parse().unwrap_or(1);
            let body = form(&q, &choices, &q.anno, month, &errors);
            let page = feedback::page_with_errors(&s, Section::Stats, "Statistiche", &errors, body);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page));
        }
        Err(e) => return Err(e),
    };
    let (r, choices) = load(&app, scope.clone()).await?;
    let tables = stats::tables::tables(&r);
    let year_value = if q.anno.is_empty() {
        scope.from.year().to_string()
    } else {
        q.anno.clone()
    };
    let form = html! {
        (form(&q, &choices, &year_value, scope.from.month(), &FormErrors::new()))
        p {
            "Esporta: "
            @for t in &tables { a href=(q.link("/statistiche.csv", &[("tabella", t.name)])) { (t.title) } " · " }
            a href=(q.link("/statistiche.csv", &[("tabella", "categorie"), ("formato", "rfc4180")])) { "(CSV standard, con virgole)" }
            @if let Some(y) = scope.whole_year() {
                " · " a href={"/statistiche/relazione?anno=" (y)} { "Relazione annuale stampabile" }
            }
        }
    };
    let confirmed = confirmed_section(&app, &q, &scope).await?;
    // Issue 20: frail citizens, possible adverse events, components.
    let quality = super::quality::stats_section(&app, &scope).await?;
    let title = format!("Statistiche – {}", period_title(&scope));
    Ok((
        StatusCode::OK,
        ui::page(
            &s,
            Section::Stats,
            &title,
            html! { (form) (confirmed) (body(&q, &scope, &r, &tables, true)) (quality) },
        ),
    ))
}

/// The period form, with what was typed and the `errors` of a period that cannot be counted.
fn form(q: &StatsQuery, choices: &Choices, year: &str, month: u32, e: &FormErrors) -> Markup {
    let today = to_rome(Utc::now()).date_naive();
    let periodo = if q.periodo.is_empty() {
        "mese"
    } else {
        q.periodo.as_str()
    };
    html! {
        form.filters method="get" action="/statistiche" {
            fieldset {
                legend { "Periodo" }
                label { input type="radio" name="periodo" value="mese" checked[periodo == "mese"]; " mese" }
                label { input type="radio" name="periodo" value="anno" checked[periodo == "anno"]; " anno" }
                label { input type="radio" name="periodo" value="intervallo" checked[periodo == "intervallo"]; " intervallo di date" }
            }
            p {
                label for="s-mese" { "Mese" }
                (e.message("s-mese"))
                select #s-mese name="mese" aria-invalid=[e.invalid("s-mese")] aria-describedby=[e.described_by("s-mese")] {
                    @for (i, m) in texts::MONTHS.iter().enumerate() { option value=(i + 1) selected[month as usize == i + 1] { (m) } }
                }
            }
            p {
                label for="s-anno" { "Anno" }
                (e.message("s-anno"))
                input #s-anno type="number" name="anno" min="2000" max=(today.year() + 1) value=(year) aria-invalid=[e.invalid("s-anno")] aria-describedby=[e.described_by("s-anno")];
            }
            p {
                label for="s-dal" { "Dal" }
                (e.message("s-dal"))
                input #s-dal type="date" name="dal" value=(q.dal) aria-invalid=[e.invalid("s-dal")] aria-describedby=[e.described_by("s-dal")];
            }
            p {
                label for="s-al" { "Al" }
                (e.message("s-al"))
                input #s-al type="date" name="al" value=(q.al) aria-invalid=[e.invalid("s-al")] aria-describedby=[e.described_by("s-al")];
            }
            p {
                label for="s-servizio" { "Servizio" }
                select #s-servizio name="servizio" {
                    option value="" { "Tutti" }
                    @for sv in &choices.services { option value=(sv.id) selected[q.servizio == sv.id.to_string()] { (sv.name) } }
                }
            }
            p {
                label for="s-categoria" { "Classificazione" }
                select #s-categoria name="categoria" {
                    option value="" { "Tutte" }
                    @for c in &choices.categories {
                        option value=(c.code) selected[q.categoria == c.code] { @if c.parent_id.is_some() { "\u{2003}" } (c.code) " – " (c.label) }
                    }
                }
            }
            p.buttons { button type="submit" { "Mostra" } }
        }
    }
}

/// The share of classifications an operator set or confirmed (the rest came from the rules or
/// the learned model), and on request the categories counted from those alone.
async fn confirmed_section(app: &App, q: &StatsQuery, scope: &Scope) -> WebResult<Markup> {
    let (from, to) = (
        crate::store::time_text(crate::domain::time::rome_midnight_utc(scope.from)),
        crate::store::time_text(crate::domain::time::rome_midnight_utc(
            scope.to.succ_opt().unwrap_or(scope.to),
        )),
    );
    let only = q.confermate == "1";
    let service = scope.service;
    let ((classified, confirmed), by_category) = app
        .readers
        .read(move |conn| {
            let share = class_sql::confirmed_share(conn, &from, &to)?;
            let rows = if only {
                class_sql::confirmed_by_category(conn, &from, &to, service)?
            } else {
                Vec::new()
            };
            Ok((share, rows))
        })
        .await?;
    let share = if classified > 0 {
        format!(" ({} %)", confirmed * 100 / classified)
    } else {
        String::new()
    };
    Ok(html! {
        p.small {
            "Classificazioni confermate da un operatore: " strong { (ui::number(confirmed)) } " di "
            (ui::number(classified)) " reclami classificati" (share)
            "; le altre vengono dalle regole o dal classificatore appreso. "
            @if only {
                a href=(q.link("/statistiche", &[])) { "Nascondi il conteggio delle sole confermate" }
            } @else {
                a href=(q.link("/statistiche", &[("confermate", "1")])) { "Conta solo le classificazioni confermate" }
            }
        }
        @if only {
            section {
                h2 { "Classificazione (solo confermate da un operatore)" }
                div.tablewrap {
                    table {
                        thead { tr { th scope="col" { "Codice" } th scope="col" { "Voce" } th scope="col" { "Reclami" } } }
                        tbody {
                            @for (code, label, n) in &by_category {
                                tr { td { (code) } td { (label) } td.num { (ui::number(*n)) } }
                            }
                        }
                    }
                }
                @if scope.category.is_some() {
                    p.small.muted { "Il filtro per classificazione non si applica a questo conteggio." }
                }
            }
        }
    })
}

/// One table as CSV: for Italian Excel by default (UTF-8 with BOM, `;`, decimal comma), or
/// RFC 4180 (`,`, no BOM) with `formato=rfc4180`.
pub async fn csv(
    State(app): State<App>,
    AnyUser(_s): AnyUser,
    Query(q): Query<StatsQuery>,
) -> WebResult<Response> {
    let scope = q.scope()?;
    let wanted = if q.tabella.is_empty() {
        "categorie".to_string()
    } else {
        q.tabella.clone()
    };
    let dialect = if q.formato == "rfc4180" {
        Dialect::Rfc4180
    } else {
        Dialect::Excel
    };
    let cache = app.stats_cache.clone();
    let of = scope.clone();
    let table = app
        .readers
        .read(move |conn| cache.table(conn, &of, &wanted, Utc::now()))
        .await?
        .ok_or(WebError::NotFound)?;
    let bytes = stats::csv::write(&table, dialect).map_err(anyhow::Error::from)?;
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
    let today = to_rome(Utc::now()).date_naive();
    let year = year_of(&rq.anno, today)?;
    let q = StatsQuery {
        periodo: "anno".into(),
        anno: year.to_string(),
        ..Default::default()
    };
    let scope = q.scope()?;
    let r = report(&app, scope.clone()).await?;
    let tables = stats::tables::tables(&r);
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
