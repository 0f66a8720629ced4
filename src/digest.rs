//! The morning digest (issue 19): once a Rome day, from `[workflow] digest_hour`, each operator
//! who asked for it (a flag on the account) gets one mail listing their tickets not yet
//! answered that are overdue or due within `[workflow] remind_days`; `[workflow] digest_head`
//! (the URP's head) gets the same for the whole office. The daemon runs [`due_round`] with the
//! clock's time beside the istruttoria's reminders; `ascolto digest --now T` runs it at any time.

use anyhow::Result;
use chrono::{DateTime, Timelike, Utc};
use rusqlite::Connection;

use crate::config::WorkflowConfig;
use crate::domain::time;
use crate::notify::templates::MailVars;
use crate::notify::Notifier;
use crate::store::{self, digest as sql};

/// What a round sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DigestRound {
    pub operators: usize,
    pub head: bool,
}

fn lines(tickets: &[sql::DueTicket]) -> Option<String> {
    (!tickets.is_empty()).then(|| {
        tickets
            .iter()
            .map(|t| {
                format!(
                    "  {}  scadenza {}  {}",
                    t.number,
                    time::stored_rome_datetime(&t.due_at),
                    crate::mail::one_line(&t.subject, 120)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// Sends the day's digests if it is time (`now` at or after `digest_hour` in Rome) and they
/// were not sent yet today; `force` sends them whatever the hour and the day (the command).
pub fn due_round(
    conn: &Connection,
    notifier: &Notifier,
    settings: &WorkflowConfig,
    now: DateTime<Utc>,
    force: bool,
) -> Result<DigestRound> {
    let rome = time::to_rome(now);
    let today = rome.format("%Y-%m-%d").to_string();
    if !force
        && (rome.hour() < settings.digest_hour
            || sql::last_day(conn)?.as_deref() == Some(today.as_str()))
    {
        return Ok(DigestRound::default());
    }
    sql::set_last_day(conn, &today)?;
    let now_text = store::time_text(now);
    let soon = store::time_text(time::add_rome_days(now, i64::from(settings.remind_days)));
    let vars = |name: Option<&str>, due: &[sql::DueTicket], scope: &str| {
        let (overdue, soon): (Vec<_>, Vec<_>) =
            due.iter().cloned().partition(|t| t.due_at < now_text);
        MailVars {
            operator_name: name.map(str::to_string),
            digest_scope: Some(scope.to_string()),
            digest_overdue: lines(&overdue),
            digest_due: lines(&soon),
            digest_overdue_count: overdue.len(),
            digest_due_count: soon.len(),
            remind_days: settings.remind_days,
            ..Default::default()
        }
    };
    let mut done = DigestRound::default();
    for reader in sql::readers(conn)? {
        let due = sql::due_before(conn, &soon, Some(reader.id))?;
        if due.is_empty() {
            continue;
        }
        notifier.queue_digest(conn, &reader.email, &vars(Some(&reader.name), &due, "own"))?;
        done.operators += 1;
    }
    if let Some(head) = &settings.digest_head {
        let due = sql::due_before(conn, &soon, None)?;
        if !due.is_empty() {
            notifier.queue_digest(conn, head, &vars(None, &due, "all"))?;
            done.head = true;
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AuditActor, Role};

    #[test]
    fn each_reader_gets_their_due_and_overdue_tickets_once_a_morning() {
        let conn = store::open_in_memory().unwrap();
        let config = crate::config::Config::from_sources(
            "[[mailbox]]\nname = \"urp\"\nhost = \"h\"\nport = 143\nsecurity = \"none\"\n\
             username = \"urp@hospital.test\"\npassword = \"x\"\n\
             [workflow]\nremind_days = 3\ndigest_head = \"capo@hospital.test\"\n",
            &Default::default(),
            None,
        )
        .unwrap();
        let notifier = Notifier::from_config(&config).unwrap();
        let add = |email: &str| {
            crate::users::add(
                &conn,
                AuditActor::Cli,
                email,
                "Anna",
                Role::Operator,
                false,
                "password-lunga",
            )
            .unwrap()
        };
        let (anna, bruno) = (add("anna@hospital.test"), add("bruno@hospital.test"));
        sql::set_flag(&conn, anna, true).unwrap();
        conn.execute("INSERT INTO contacts (id, email, created_at) VALUES (1, 'c@example.test', '2026-01-01T00:00:00Z')", []).unwrap();
        // Anna's: overdue (1), due in 2 days (2), due in 10 days (3), answered and overdue (4);
        // Bruno's: overdue (5).
        for (id, due, who, answered) in [
            (1, "2026-03-09T09:00:00Z", anna, false),
            (2, "2026-03-12T09:00:00Z", anna, false),
            (3, "2026-03-20T09:00:00Z", anna, false),
            (4, "2026-03-08T09:00:00Z", anna, true),
            (5, "2026-03-01T09:00:00Z", bruno, false),
        ] {
            conn.execute(
                "INSERT INTO tickets (id, number, year, seq, thread_token, state, contact_id, subject,
                   received_at, due_at, channel, created_at, updated_at, assigned_to, first_answered_at)
                 VALUES (?1, 'URP-2026-00000' || ?1, 2026, ?1, 't', 'in_charge', 1, 'Attesa ' || ?1,
                   '2026-02-01T09:00:00Z', ?2, 'email', '2026-02-01T09:00:00Z', '2026-02-01T09:00:00Z', ?3,
                   CASE WHEN ?4 THEN '2026-02-02T09:00:00Z' END)",
                rusqlite::params![id, due, who, answered],
            )
            .unwrap();
        }
        let wf = &config.workflow;
        let at = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
        // 06:30 in Rome: not yet.
        assert_eq!(
            due_round(&conn, &notifier, wf, at("2026-03-10T05:30:00Z"), false).unwrap(),
            DigestRound::default()
        );
        let done = due_round(&conn, &notifier, wf, at("2026-03-10T07:30:00Z"), false).unwrap();
        assert_eq!(
            done,
            DigestRound {
                operators: 1,
                head: true
            }
        );
        assert_eq!(
            due_round(&conn, &notifier, wf, at("2026-03-10T15:00:00Z"), false).unwrap(),
            DigestRound::default(),
            "once a day"
        );
        let mails: Vec<(String, String, String)> = conn
            .prepare("SELECT to_address, subject, body_text FROM outbox WHERE kind = 'digest' ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(mails.len(), 2);
        let (to, subject, body) = &mails[0];
        assert_eq!(to, "anna@hospital.test");
        assert_eq!(subject, "Riepilogo del mattino: 1 scaduti, 1 in scadenza");
        assert!(
            body.contains("URP-2026-000001") && body.contains("URP-2026-000002"),
            "{body}"
        );
        assert!(
            !body.contains("URP-2026-000003") && !body.contains("URP-2026-000004"),
            "{body}"
        );
        assert!(!body.contains("URP-2026-000005"), "not Bruno's");
        assert_eq!(mails[1].0, "capo@hospital.test");
        assert!(
            mails[1]
                .1
                .starts_with("Riepilogo del mattino: 2 scaduti, 1 in scadenza"),
            "{}",
            mails[1].1
        );
        // The command sends again whatever the day.
        assert_eq!(
            due_round(&conn, &notifier, wf, at("2026-03-10T15:00:00Z"), true)
                .unwrap()
                .operators,
            1
        );
    }
}
