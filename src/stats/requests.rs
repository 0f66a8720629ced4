//! The istruttoria's figures (issue 14): per service asked, the requests for reports sent in
//! the period, how many were answered, the days from request to report (median and 90th
//! percentile), and how many are past their due date without a report.

use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde::Serialize;

use super::Scope;
use crate::store;
use crate::store::requests::RequestFacts;

/// One service's requests (or, last, all of them: `service` "Totale").
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceRequests {
    pub service: String,
    pub sent: usize,
    pub answered: usize,
    pub median_days: Option<f64>,
    pub p90_days: Option<f64>,
    /// Still without a report past their due date (now).
    pub overdue: usize,
}

/// The requests sent on the scope's days (Rome), of its service if it names one, by service,
/// the most asked first, then the total. Empty when no request was sent.
pub fn per_service(
    conn: &Connection,
    scope: &Scope,
    now: DateTime<Utc>,
) -> Result<Vec<ServiceRequests>> {
    let (from, to) = scope.bounds();
    let facts = store::requests::sent_between(
        conn,
        &store::time_text(from),
        &store::time_text(to),
        scope.service,
    )?;
    Ok(tally(&facts, now))
}

/// The figures of `facts` at `now`.
pub fn tally(facts: &[RequestFacts], now: DateTime<Utc>) -> Vec<ServiceRequests> {
    if facts.is_empty() {
        return Vec::new();
    }
    let now = store::time_text(now);
    let mut services: Vec<(Option<i64>, String)> = Vec::new();
    for f in facts {
        let name = f
            .service_name
            .clone()
            .unwrap_or_else(|| crate::texts::STATS_NO_SERVICE.to_string());
        if !services.iter().any(|(id, _)| *id == f.service_id) {
            services.push((f.service_id, name));
        }
    }
    let one = |label: String, of: &mut dyn Iterator<Item = &RequestFacts>| {
        let mut row = ServiceRequests {
            service: label,
            sent: 0,
            answered: 0,
            median_days: None,
            p90_days: None,
            overdue: 0,
        };
        let mut durations: Vec<i32> = Vec::new();
        for f in of {
            row.sent += 1;
            match &f.answered_at {
                Some(at) => {
                    row.answered += 1;
                    if let (Ok(a), Ok(s)) = (
                        DateTime::parse_from_rfc3339(at),
                        DateTime::parse_from_rfc3339(&f.sent_at),
                    ) {
                        let secs = (a - s).num_seconds().clamp(0, i64::from(i32::MAX));
                        durations.push(secs as i32);
                    }
                }
                None if f.due_at < now => row.overdue += 1,
                None => {}
            }
        }
        row.median_days = super::tally::percentile(&mut durations, 50.0);
        row.p90_days = super::tally::percentile(&mut durations, 90.0);
        row
    };
    let mut rows: Vec<ServiceRequests> = services
        .iter()
        .map(|(id, name)| {
            one(
                name.clone(),
                &mut facts.iter().filter(|f| f.service_id == *id),
            )
        })
        .collect();
    rows.sort_by(|a, b| b.sent.cmp(&a.sent).then_with(|| a.service.cmp(&b.service)));
    rows.push(one("Totale".into(), &mut facts.iter()));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(
        service: Option<(i64, &str)>,
        sent: &str,
        due: &str,
        answered: Option<&str>,
    ) -> RequestFacts {
        RequestFacts {
            service_id: service.map(|s| s.0),
            service_name: service.map(|s| s.1.to_string()),
            sent_at: sent.into(),
            due_at: due.into(),
            answered_at: answered.map(Into::into),
        }
    }

    /// A hand-counted fixture: PS asked 4 times (answered after 1, 2 and 10 days; one still
    /// open past its due date), CUP once (open, not yet due), one request of no service.
    #[test]
    fn figures_per_service_against_a_hand_count() {
        let ps = Some((1, "Pronto Soccorso"));
        let cup = Some((2, "CUP"));
        let facts = [
            f(
                ps,
                "2026-03-01T09:00:00Z",
                "2026-03-08T22:59:59Z",
                Some("2026-03-02T09:00:00Z"),
            ),
            f(
                ps,
                "2026-03-01T09:00:00Z",
                "2026-03-08T22:59:59Z",
                Some("2026-03-03T09:00:00Z"),
            ),
            f(
                ps,
                "2026-03-05T09:00:00Z",
                "2026-03-12T22:59:59Z",
                Some("2026-03-15T09:00:00Z"),
            ),
            f(ps, "2026-03-10T09:00:00Z", "2026-03-17T22:59:59Z", None),
            f(cup, "2026-03-30T09:00:00Z", "2026-04-06T21:59:59Z", None),
            f(
                None,
                "2026-03-20T09:00:00Z",
                "2026-03-27T22:59:59Z",
                Some("2026-03-20T21:00:00Z"),
            ),
        ];
        let now: DateTime<Utc> = "2026-04-01T00:00:00Z".parse().unwrap();
        let rows = tally(&facts, now);
        let row = |name: &str| rows.iter().find(|r| r.service == name).unwrap().clone();
        assert_eq!(
            row("Pronto Soccorso"),
            ServiceRequests {
                service: "Pronto Soccorso".into(),
                sent: 4,
                answered: 3,
                median_days: Some(2.0),
                p90_days: Some(10.0),
                overdue: 1,
            }
        );
        assert_eq!(
            (row("CUP").sent, row("CUP").answered, row("CUP").overdue),
            (1, 0, 0)
        );
        assert_eq!(row("CUP").median_days, None);
        let none = row(crate::texts::STATS_NO_SERVICE);
        assert_eq!((none.sent, none.median_days), (1, Some(0.5)));
        let total = rows.last().unwrap();
        assert_eq!(total.service, "Totale");
        // Durations 1, 2, 10, 0.5 days: nearest rank, median the 2nd (1), p90 the 4th (10).
        assert_eq!(
            (
                total.sent,
                total.answered,
                total.median_days,
                total.p90_days,
                total.overdue
            ),
            (6, 4, Some(1.0), Some(10.0), 1)
        );
        assert_eq!(rows[0].service, "Pronto Soccorso", "the most asked first");
        assert!(tally(&[], now).is_empty());
    }
}
