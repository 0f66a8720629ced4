//! The statistics against a hand-counted fixture: every expected figure below was counted from
//! the table of tickets in `fixture()`, not computed.

use std::collections::HashMap;
use std::sync::Arc;

use super::*;

/// (seq, received UTC, kind, category, service, state, outcome, channel,
///  days to charge, days to first answer, days to closing, reopened, merged into seq)
type T = (
    i64,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
    &'static str,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    bool,
    Option<i64>,
);

const TICKETS: &[T] = &[
    // March 2026 in Rome time: 1, 2, 3, 5, 6, 7, 10 (8 is merged into 1).
    (
        1,
        "2026-03-01T00:30:00Z",
        Some("reclamo"),
        Some("TEM.02"),
        Some("PS"),
        "closed",
        Some("accolto"),
        "email",
        Some(1.0),
        Some(10.0),
        Some(12.0),
        false,
        None,
    ),
    // 23:30 UTC on 28 February is 00:30 on 1 March in Rome (winter time).
    (
        2,
        "2026-02-28T23:30:00Z",
        Some("segnalazione"),
        Some("ALB.01"),
        None,
        "closed",
        Some("non_accolto"),
        "email",
        Some(2.0),
        Some(40.0),
        Some(41.0),
        false,
        None,
    ),
    // 21:30 UTC on 31 March is 23:30 in Rome (summer time): still March.
    (
        3,
        "2026-03-31T21:30:00Z",
        Some("elogio"),
        Some("REL.01"),
        Some("PS"),
        "answered",
        None,
        "email",
        Some(0.5),
        Some(5.0),
        None,
        false,
        None,
    ),
    // 22:30 UTC on 31 March is 00:30 on 1 April in Rome: April. PEC.
    (
        4,
        "2026-03-31T22:30:00Z",
        Some("reclamo"),
        Some("TEM.02"),
        Some("PS"),
        "pending",
        None,
        "pec",
        None,
        None,
        None,
        false,
        None,
    ),
    // Either side of the change to summer time (01:00 UTC on 29 March).
    (
        5,
        "2026-03-29T00:30:00Z",
        Some("reclamo"),
        None,
        None,
        "in_charge",
        None,
        "email",
        Some(3.0),
        None,
        None,
        false,
        None,
    ),
    (
        6,
        "2026-03-29T01:30:00Z",
        Some("suggerimento"),
        Some("INF.02"),
        Some("CUP"),
        "closed",
        Some("altro"),
        "email",
        Some(1.0),
        Some(2.0),
        Some(20.0),
        true,
        None,
    ),
    // PEC, answered a little before the 30th day.
    (
        7,
        "2026-03-15T10:00:00Z",
        Some("reclamo"),
        Some("TEM.01"),
        Some("CUP"),
        "closed",
        Some("parzialmente_accolto"),
        "pec",
        Some(1.0),
        Some(29.9),
        Some(30.0),
        false,
        None,
    ),
    (
        8,
        "2026-03-10T10:00:00Z",
        Some("reclamo"),
        Some("TEM.02"),
        Some("PS"),
        "closed",
        None,
        "email",
        Some(1.0),
        None,
        Some(1.0),
        false,
        Some(1),
    ),
    (
        9,
        "2026-04-01T00:00:00Z",
        Some("reclamo"),
        Some("TEM.02"),
        Some("PS"),
        "closed",
        Some("accolto"),
        "email",
        Some(1.0),
        Some(3.0),
        Some(4.0),
        false,
        None,
    ),
    (
        10,
        "2026-03-20T09:00:00Z",
        None,
        Some("ALB.01"),
        None,
        "pending",
        None,
        "email",
        None,
        None,
        None,
        false,
        None,
    ),
    // Year edges: 23:30 UTC on 31 December 2025 is already 2026 in Rome; the same in 2026 is 2027.
    (
        11,
        "2025-12-31T23:30:00Z",
        Some("reclamo"),
        None,
        None,
        "pending",
        None,
        "email",
        None,
        None,
        None,
        false,
        None,
    ),
    (
        12,
        "2026-12-31T23:30:00Z",
        Some("reclamo"),
        None,
        None,
        "pending",
        None,
        "email",
        None,
        None,
        None,
        false,
        None,
    ),
    (
        13,
        "2025-06-01T10:00:00Z",
        Some("elogio"),
        None,
        None,
        "closed",
        Some("accolto"),
        "email",
        Some(1.0),
        Some(1.0),
        Some(1.0),
        false,
        None,
    ),
    (
        14,
        "2025-12-31T22:30:00Z",
        Some("reclamo"),
        None,
        None,
        "closed",
        Some("accolto"),
        "email",
        Some(1.0),
        Some(1.0),
        Some(1.0),
        false,
        None,
    ),
];

fn fixture() -> Connection {
    let conn = store::open_in_memory().unwrap();
    conn.execute(
        "INSERT INTO contacts (id, email, created_at) VALUES (1, 'c@example.test', '2025-01-01T00:00:00Z')",
        [],
    )
    .unwrap();
    let at = |received: &str, days: Option<f64>| -> Option<String> {
        let t: DateTime<Utc> = received.parse().unwrap();
        days.map(|d| store::time_text(t + chrono::Duration::seconds((d * 86400.0) as i64)))
    };
    for (
        seq,
        received,
        kind,
        cat,
        svc,
        state,
        outcome,
        channel,
        charge,
        answer,
        close,
        reopened,
        merged,
    ) in TICKETS
    {
        conn.execute(
            "INSERT INTO tickets (id, number, year, seq, thread_token, state, kind, category_id, service_id,
               contact_id, subject, received_at, due_at, channel, taken_in_charge_at, first_answered_at,
               closed_at, outcome, reopen_count, merged_into, created_at, updated_at)
             VALUES (?1, 'URP-X-' || printf('%06d', ?1), 2026, ?1, 't', ?2, ?3,
               (SELECT id FROM categories WHERE code = ?4), (SELECT id FROM services WHERE code = ?5),
               1, 's', ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?6, ?6)",
            rusqlite::params![
                seq,
                state,
                kind,
                cat,
                svc,
                received,
                at(received, Some(30.0)),
                channel,
                at(received, *charge),
                at(received, *answer),
                at(received, *close),
                outcome,
                *reopened as i64,
                merged,
            ],
        )
        .unwrap();
    }
    conn
}

fn now() -> DateTime<Utc> {
    "2026-11-22T12:00:00Z".parse().unwrap()
}

fn n_of(counts: &[Count]) -> Vec<(&str, usize)> {
    counts.iter().map(|c| (c.key.as_str(), c.n)).collect()
}

#[test]
fn a_month_counted_by_hand() {
    let conn = fixture();
    let r = report(&conn, &Scope::month(2026, 3).unwrap(), now()).unwrap();
    assert_eq!(
        r.total, 7,
        "1, 2, 3, 5, 6, 7, 10: not 4 (April in Rome), not 8 (merged)"
    );
    assert_eq!(
        n_of(&r.by_kind),
        [
            ("reclamo", 3),
            ("segnalazione", 1),
            ("elogio", 1),
            ("suggerimento", 1),
            ("", 1)
        ]
    );
    assert_eq!(r.by_kind[0].share, 42.9);
    let cats: Vec<(&str, u8, usize)> = r
        .by_category
        .iter()
        .filter(|c| c.n > 0)
        .map(|c| (c.code.as_str(), c.level, c.n))
        .collect();
    assert_eq!(
        cats,
        [
            ("REL", 1, 1),
            ("REL.01", 2, 1),
            ("INF", 1, 1),
            ("INF.02", 2, 1),
            ("TEM", 1, 2),
            ("TEM.01", 2, 1),
            ("TEM.02", 2, 1),
            ("ALB", 1, 2),
            ("ALB.01", 2, 2),
            ("", 0, 1),
        ]
    );
    let services: Vec<(&str, usize)> = n_of(&r.by_service)
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(services, [("CUP", 2), ("PS", 2), ("", 3)]);
    assert_eq!(
        n_of(&r.by_state),
        [
            ("pending", 1),
            ("in_charge", 1),
            ("answered", 1),
            ("closed", 4)
        ]
    );
    assert_eq!(
        n_of(&r.by_outcome),
        [
            ("accolto", 1),
            ("parzialmente_accolto", 1),
            ("non_accolto", 1),
            ("non_di_competenza", 0),
            ("altro", 1)
        ]
    );
    // Every channel is listed, those no complaint came by with 0 (issue 15).
    assert_eq!(
        n_of(&r.by_channel),
        [
            ("email", 6),
            ("pec", 1),
            ("web", 0),
            ("telefono", 0),
            ("sportello", 0),
            ("lettera", 0)
        ]
    );
    // Days to taking in charge: 0.5 1 1 1 2 3 → median (3rd of 6) 1, p90 (6th) 3.
    assert_eq!(
        r.to_charge,
        Times {
            n: 6,
            median_days: Some(1.0),
            p90_days: Some(3.0)
        }
    );
    // To the first answer: 2 5 10 29.9 40 → median 10, p90 (5th of 5) 40.
    assert_eq!(
        r.to_first_answer,
        Times {
            n: 5,
            median_days: Some(10.0),
            p90_days: Some(40.0)
        }
    );
    // To closing (closed tickets): 12 20 30 41 → median (2nd of 4) 20, p90 (4th) 41.
    assert_eq!(
        r.to_close,
        Times {
            n: 4,
            median_days: Some(20.0),
            p90_days: Some(41.0)
        }
    );
    // Answered (1, 2, 3, 6, 7) or past the deadline unanswered (5, 10); on time: 1, 3, 6, 7.
    assert_eq!(
        (r.deadline_base, r.answered_on_time, r.on_time_share),
        (7, 4, Some(57.1))
    );
    let late: Vec<(&str, bool)> = r
        .late
        .iter()
        .map(|l| (&l.number[6..], l.answered_at.is_some()))
        .collect();
    // In the order received: 2 (28 February UTC), 10 (20 March), 5 (29 March).
    assert_eq!(
        late,
        [("000002", true), ("000010", false), ("000005", false)]
    );
    assert_eq!(r.late_total, 3);
    assert_eq!((r.reopened, r.reopened_share), (1, 14.3));
    // Closed before 1 April in Rome: only 1 (on 13 March); 2, 6, 7 closed in April.
    assert_eq!(r.open_at_end, 6);
    assert_eq!(r.months, None);
}

#[test]
fn a_year_counted_by_hand_month_by_month_and_against_the_last() {
    let conn = fixture();
    let r = report(&conn, &Scope::year(2026).unwrap(), now()).unwrap();
    assert_eq!(
        r.total, 10,
        "11 (new year's eve in UTC), March's 7, April's 4 and 9; not 12"
    );
    let months = r.months.unwrap();
    let totals: Vec<usize> = months.iter().map(|m| m.total).collect();
    assert_eq!(totals, [1, 0, 7, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(months[2].by_kind, [3, 1, 1, 1]);
    assert_eq!(months[3].by_kind, [2, 0, 0, 0]);
    assert_eq!(months[2].answered_on_time, 4);
    assert_eq!(
        r.previous_year_total,
        Some(2),
        "13 and 14 (23:30 on 31 December in Rome)"
    );
}

#[test]
fn an_empty_period_and_narrower_scopes() {
    let conn = fixture();
    let r = report(&conn, &Scope::month(2026, 2).unwrap(), now()).unwrap();
    assert_eq!(r.total, 0);
    assert!(r.by_kind.iter().all(|c| c.n == 0 && c.share == 0.0));
    assert_eq!(
        r.to_first_answer,
        Times {
            n: 0,
            median_days: None,
            p90_days: None
        }
    );
    assert_eq!(r.on_time_share, None);
    assert!(r.late.is_empty());

    let conn_ps: i64 = conn
        .query_row("SELECT id FROM services WHERE code = 'PS'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let mut march = Scope::month(2026, 3).unwrap();
    march.service = Some(conn_ps);
    assert_eq!(report(&conn, &march, now()).unwrap().total, 2, "1 and 3");
    march.service = None;
    march.category = Some("TEM".into());
    assert_eq!(
        report(&conn, &march, now()).unwrap().total,
        2,
        "1 (TEM.02) and 7 (TEM.01)"
    );
    march.category = Some("TEM.01".into());
    assert_eq!(report(&conn, &march, now()).unwrap().total, 1);
}

/// The kept months' rows, by month, as pointers: the same pointer is the same read.
fn reads(months: &Months) -> HashMap<(i32, u32), usize> {
    months
        .kept
        .lock()
        .unwrap()
        .iter()
        .map(|(m, k)| (*m, Arc::as_ptr(&k.rows) as usize))
        .collect()
}

#[test]
fn kept_months_are_read_again_only_when_their_tickets_change() {
    let conn = fixture();
    let year = Scope::year(2026).unwrap();
    let months = Months::default();
    let first = report_kept(&conn, &year, now(), &months).unwrap();
    assert_eq!(first, report(&conn, &year, now()).unwrap());
    let before = reads(&months);
    assert_eq!(
        before.len(),
        25,
        "UTC months from December 2024 to December 2026"
    );

    // A change outside what the statistics read moves nothing.
    conn.execute("UPDATE tickets SET subject = 'altro' WHERE id = 1", [])
        .unwrap();
    report_kept(&conn, &year, now(), &months).unwrap();
    assert_eq!(reads(&months), before);

    // Ticket 1 (received on 1 March, UTC) moves to another category: March is read again,
    // nothing else, and the figures are those of a report counted from scratch.
    conn.execute(
        "UPDATE tickets SET category_id = (SELECT id FROM categories WHERE code = 'ALB.01')
         WHERE id = 1",
        [],
    )
    .unwrap();
    let second = report_kept(&conn, &year, now(), &months).unwrap();
    let after = reads(&months);
    for (month, read) in &before {
        assert_eq!(after[month] != *read, *month == (2026, 3), "{month:?}");
    }
    assert_eq!(second, report(&conn, &year, now()).unwrap());
    assert_ne!(second.by_category, first.by_category);
    assert_eq!(second.total, first.total);

    // A new ticket in April counts at once.
    conn.execute(
        "INSERT INTO tickets (number, year, seq, thread_token, state, kind, contact_id, subject,
           received_at, due_at, channel, created_at, updated_at)
         VALUES ('URP-X-000099', 2026, 99, 't', 'pending', 'reclamo', 1, 's',
           '2026-04-10T10:00:00Z', '2026-05-10T10:00:00Z', 'email', '2026-04-10T10:00:00Z',
           '2026-04-10T10:00:00Z')",
        [],
    )
    .unwrap();
    let third = report_kept(&conn, &year, now(), &months).unwrap();
    assert_eq!(third.total, first.total + 1);
    assert_eq!(third.months.as_ref().unwrap()[3].total, 3);
    assert_eq!(third, report(&conn, &year, now()).unwrap());
}

#[test]
fn scopes_refuse_years_the_figures_cannot_count() {
    // GET /statistiche?periodo=anno&anno=-262143 (issue 11, finding 3) panicked further down.
    for year in [-262143, -1, 0, 1969, 2106, 262142, i32::MIN, i32::MAX] {
        assert!(Scope::year(year).is_none(), "{year}");
        assert!(Scope::month(year, 1).is_none(), "{year}");
    }
    assert!(Scope::year(1970).is_some() && Scope::year(2105).is_some());
    let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
    assert!(Scope::days(d(2026, 1, 1), d(2026, 3, 31)).is_some());
    assert!(
        Scope::days(d(2026, 3, 31), d(2026, 1, 1)).is_none(),
        "backwards"
    );
    assert!(
        Scope::days(d(2000, 1, 1), d(2026, 1, 1)).is_none(),
        "too long"
    );
    assert!(Scope::days(NaiveDate::MIN, d(2026, 1, 1)).is_none());
    assert!(Scope::days(d(2026, 1, 1), NaiveDate::MAX).is_none());
    // The first year allowed is counted without panicking, its previous year included.
    let conn = fixture();
    report(&conn, &Scope::year(1970).unwrap(), now()).unwrap();
    report(&conn, &Scope::year(2105).unwrap(), now()).unwrap();
}

#[test]
fn a_poisoned_months_cache_still_answers() {
    let conn = fixture();
    let months = Months::default();
    std::thread::scope(|s| {
        let _ = s
            .spawn(|| {
                let _guard = months.kept.lock().unwrap();
                panic!("a request panics while holding the cache");
            })
            .join();
    });
    assert!(months.kept.is_poisoned());
    report_kept(&conn, &Scope::year(2026).unwrap(), now(), &months).unwrap();
    assert!(months.kept().0 > 0);
}

/// Issue 19: deadlines that moved. On top of the fixture: ticket 2 (answered on day 40) was
/// extended to 60 days; ticket 7 was suspended twice; ticket 10 (never answered) was extended to
/// 90 days and suspended once; ticket 4 (April in Rome) was suspended once.
#[test]
fn moved_deadlines_counted_by_hand() {
    use crate::domain::time::{effective_due_at, DeadlineEvent};
    use crate::domain::DeadlineChange::{self, *};
    let conn = fixture();
    let change = |seq: i64, kind: DeadlineChange, at: &str, to_days: Option<u32>| {
        let facts = store::deadlines::facts(&conn, seq).unwrap().unwrap();
        let mut events: Vec<DeadlineEvent> =
            facts.changes.iter().filter_map(|c| c.event()).collect();
        events.extend(kind.event(at.parse().unwrap(), to_days));
        let due = effective_due_at(facts.received_at, facts.original_due, &events).due_at;
        store::deadlines::record(
            &conn,
            &store::deadlines::NewChange {
                ticket_id: seq,
                kind,
                at,
                reason: "motivo",
                to_days,
                due_before: &facts.due_at,
                due_at: &store::time_text(due),
                user_id: 0,
            },
        )
        .unwrap();
    };
    conn.execute("INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES (0, 'o@h', 'O', 'operator', 'x', '2026-01-01T00:00:00Z')", []).unwrap();
    change(2, Extended, "2026-03-10T10:00:00Z", Some(60));
    change(7, Suspended, "2026-03-16T10:00:00Z", None);
    change(7, Resumed, "2026-03-18T10:00:00Z", None);
    change(7, Suspended, "2026-03-20T10:00:00Z", None);
    change(7, Resumed, "2026-03-21T10:00:00Z", None);
    change(10, Extended, "2026-03-25T10:00:00Z", Some(90));
    change(10, Suspended, "2026-03-26T10:00:00Z", None);
    change(4, Suspended, "2026-04-02T10:00:00Z", None);

    let r = report(&conn, &Scope::month(2026, 3).unwrap(), now()).unwrap();
    assert_eq!(
        r.deadline_changes,
        deadlines::DeadlineFigures {
            suspended_tickets: 2,
            suspensions: 3,
            extended_tickets: 2,
            extensions: 2,
        }
    );
    // Against the effective deadline: 2 (day 40 of 60) is now on time; 10 (90 days from 20
    // March, its suspension still open) is still overdue in November, like 5.
    assert_eq!(
        (r.deadline_base, r.answered_on_time, r.on_time_share),
        (7, 5, Some(71.4))
    );
    let late: Vec<&str> = r.late.iter().map(|l| &l.number[6..]).collect();
    assert_eq!(late, ["000010", "000005"]);
    // Ticket 7's suspensions: 2 + 1 Rome days on its 30.
    let seven: String = conn
        .query_row("SELECT due_at FROM tickets WHERE id = 7", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        seven, "2026-04-17T10:00:00Z",
        "its stored deadline, 14 April, + 3 Rome days"
    );

    let april = report(&conn, &Scope::month(2026, 4).unwrap(), now()).unwrap();
    assert_eq!(
        (
            april.deadline_changes.suspended_tickets,
            april.deadline_changes.extensions
        ),
        (1, 0)
    );
    let table = tables::table(&r, "scadenze").unwrap();
    assert!(table
        .rows
        .contains(&vec!["Proroghe".to_string(), "2".to_string()]));
}

/// Issue 19: second-level reviews, counted by the day they were opened (Rome), by body and
/// outcome. Tickets 1 and 7 went to the Commissione (accolto, non accolto), 2 and 3 to the
/// Difensore civico (accolto; 3 still open), 6 to the Commissione on 1 April in Rome.
#[test]
fn reviews_counted_by_hand() {
    use crate::domain::Outcome;
    let conn = fixture();
    for (ticket, body, opened, outcome) in [
        (
            1,
            "Commissione Mista Conciliativa",
            "2026-03-20T10:00:00Z",
            Some("accolto"),
        ),
        (
            2,
            "Difensore civico",
            "2026-03-21T10:00:00Z",
            Some("accolto"),
        ),
        (
            7,
            "Commissione Mista Conciliativa",
            "2026-03-22T10:00:00Z",
            Some("non_accolto"),
        ),
        (3, "Difensore civico", "2026-03-31T21:30:00Z", None),
        (
            6,
            "Commissione Mista Conciliativa",
            "2026-03-31T22:30:00Z",
            Some("accolto"),
        ),
    ] {
        conn.execute(
            "INSERT INTO reviews (ticket_id, body, opened_at, outcome, closed_at)
             VALUES (?1, ?2, ?3, ?4, CASE WHEN ?4 IS NULL THEN NULL ELSE ?3 END)",
            rusqlite::params![ticket, body, opened, outcome],
        )
        .unwrap();
    }
    let counts = |r: &Report| -> Vec<(String, Option<Outcome>, usize)> {
        r.reviews
            .iter()
            .map(|c| (c.body.clone(), c.outcome, c.n))
            .collect()
    };
    let march = report(&conn, &Scope::month(2026, 3).unwrap(), now()).unwrap();
    let cmc = "Commissione Mista Conciliativa".to_string();
    let dc = "Difensore civico".to_string();
    assert_eq!(
        counts(&march),
        [
            (cmc.clone(), Some(Outcome::Accolto), 1),
            (cmc.clone(), Some(Outcome::NonAccolto), 1),
            (dc.clone(), Some(Outcome::Accolto), 1),
            (dc.clone(), None, 1),
        ]
    );
    let year = report(&conn, &Scope::year(2026).unwrap(), now()).unwrap();
    assert_eq!(counts(&year)[0], (cmc, Some(Outcome::Accolto), 2));
    let table = tables::table(&march, "riesami").unwrap();
    assert_eq!(table.rows[3], ["Difensore civico", "in corso", "1"]);
}
