//! The ingest contract, held against two IMAP servers: Dovecot (which announces new mail to an
//! idling client at once) and Cyrus IMAP (which, with its default settings, announces it only at
//! its own 60-second poll). Each test below runs once per server; mail is added by IMAP APPEND.
//!
//! What must hold on both: every message becomes exactly one ticket (through restarts, SIGKILL
//! and server outages), replies thread, automatic mail opens nothing, the mailbox is left as it
//! was (nothing flagged, nothing moved), and a new message becomes a ticket within the mailbox's
//! `poll_interval_secs` whatever the server's IDLE does.

mod common;

use std::time::{Duration, Instant};

use common::cyrus::{Cyrus, ImapServer};
use common::imap::ImapConn;
use common::{complaint, fixture, Daemon, MailServers, PATIENCE};

const URP: &str = "urp@hospital.test";

/// Runs each contract test against Dovecot and against Cyrus.
macro_rules! on_both_servers {
    ($($test:ident),* $(,)?) => {
        mod dovecot {
            $(#[test] fn $test() { super::$test(&super::MailServers::start()) })*
        }
        mod cyrus {
            $(#[test] fn $test() { super::$test(&super::Cyrus::start()) })*
        }
    };
}

on_both_servers!(
    every_message_once_and_the_mailbox_left_as_it_was,
    sigkill_during_a_backlog_loses_and_doubles_nothing,
    replies_thread_and_automatic_mail_opens_nothing,
    a_server_restart_is_survived,
    new_mail_becomes_a_ticket_within_the_poll_interval,
);

fn running(server: &impl ImapServer) -> Daemon {
    let mut d = Daemon::new(|db| server.config(db, ""));
    d.start();
    d
}

fn numbered(i: usize) -> Vec<u8> {
    complaint(
        &format!("cittadino{i}@example.test"),
        &format!("Reclamo numero {i}"),
        "Ho atteso tre ore in sala d'attesa senza alcuna informazione dal personale.",
    )
}

/// Appends `range`'s messages over one connection (a backlog arrives faster than one login each).
fn append_range(server: &impl ImapServer, range: std::ops::Range<usize>) {
    let mut conn = ImapConn::login(server.imap_port(), URP, "secret");
    for i in range {
        conn.append(&numbered(i));
    }
}

/// Every message exactly once: as many tickets, inbound messages, raw originals and distinct
/// subjects as appended, numbers gap-free, nothing quarantined.
fn assert_each_exactly_once(server: &impl ImapServer, d: &Daemon, n: usize) {
    let n = n as i64;
    let name = server.name();
    assert_eq!(d.count("SELECT count(*) FROM tickets"), n, "{name}");
    assert_eq!(
        d.count("SELECT count(*) FROM messages WHERE direction = 'in'"),
        n,
        "{name}"
    );
    assert_eq!(d.count("SELECT count(*) FROM raw_mail"), n, "{name}");
    assert_eq!(
        d.count("SELECT count(DISTINCT subject) FROM tickets"),
        n,
        "{name}"
    );
    assert_eq!(d.count("SELECT max(seq) FROM tickets"), n, "{name}");
    assert_eq!(d.count("SELECT count(*) FROM quarantine"), 0, "{name}");
    assert_eq!(
        d.count("SELECT count(*) FROM audit_log WHERE action = 'ticket.created'"),
        n,
        "{name}: one audit entry per ticket"
    );
}

fn every_message_once_and_the_mailbox_left_as_it_was(server: &impl ImapServer) {
    // A backlog before the daemon starts, mail while it runs, and mail after a restart.
    append_range(server, 0..40);
    let mut d = running(server);
    d.wait_for_count("SELECT count(*) FROM tickets", 40);
    append_range(server, 40..50);
    d.wait_for_count("SELECT count(*) FROM tickets", 50);
    d.terminate();
    d.start();
    append_range(server, 50..51);
    d.wait_for_count("SELECT count(*) FROM tickets", 51);
    // Time for a doubled message to show up, if there were one.
    std::thread::sleep(Duration::from_millis(1_500));
    assert_each_exactly_once(server, &d, 51);
    assert_eq!(
        server.inbox_state(URP),
        (51, 0),
        "{}: every message still in INBOX, none flagged",
        server.name()
    );
}

fn sigkill_during_a_backlog_loses_and_doubles_nothing(server: &impl ImapServer) {
    const N: usize = 600;
    append_range(server, 0..N);
    let mut d = Daemon::new(|db| server.config(db, ""));
    for _ in 0..2 {
        d.start();
        let before = d.count("SELECT count(*) FROM tickets");
        let start = Instant::now();
        while d.count("SELECT count(*) FROM tickets") <= before {
            assert!(start.elapsed() < PATIENCE, "{}: no progress", server.name());
            std::thread::sleep(Duration::from_millis(5));
        }
        d.kill();
    }
    d.start();
    d.wait_for_count("SELECT count(*) FROM tickets", N as i64);
    std::thread::sleep(Duration::from_millis(1_000));
    assert_each_exactly_once(server, &d, N);
}

fn replies_thread_and_automatic_mail_opens_nothing(server: &impl ImapServer) {
    let d = running(server);
    server.append(
        URP,
        &complaint("Anna <anna@example.test>", "Parcheggio", "Non c'è posto."),
    );
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    let number = d.export_tickets()[0]["number"]
        .as_str()
        .unwrap()
        .to_string();

    // The citizen's reply, quoting the number: the same ticket.
    server.append(
        URP,
        &complaint(
            "Anna <ANNA@example.test>",
            &format!("R: [{number}] Conferma di ricezione"),
            "Aggiungo che…",
        ),
    );
    // An out-of-office reply and a bounce about our mail: kept on the ticket, no new one.
    let ours = d.our_message_id(&number);
    for name in ["out-of-office.eml", "bounce.eml"] {
        // As a mail program stores it: CRLF line ends (Cyrus refuses bare newlines).
        let raw = String::from_utf8(fixture(name))
            .unwrap()
            .replace("{{REF}}", &ours)
            .replace("\r\n", "\n")
            .replace('\n', "\r\n");
        server.append(URP, raw.as_bytes());
    }
    // A stranger quoting the number: a new ticket, linked, not Anna's.
    server.append(
        URP,
        &complaint(
            "intruso@example.test",
            &format!("Re: {number}"),
            "Chiudete la pratica.",
        ),
    );
    d.wait_for_count("SELECT count(*) FROM tickets", 2);
    d.wait_for_count("SELECT count(*) FROM messages", 5);
    let name = server.name();
    let tickets = d.export_tickets();
    assert_eq!(tickets.len(), 2, "{name}");
    let anna = d.ticket(&number);
    assert_eq!(anna["inbound_messages"], 2, "{name}: the reply threaded");
    assert_eq!(anna["messages"], 4, "{name}: with the two automatic mails");
    let stranger = tickets
        .iter()
        .find(|t| t["number"] != number.as_str())
        .unwrap();
    assert_eq!(stranger["linked_to"], number.as_str(), "{name}");
    assert_eq!(stranger["citizen_email"], "intruso@example.test", "{name}");
}

fn a_server_restart_is_survived(server: &impl ImapServer) {
    let d = running(server);
    append_range(server, 0..3);
    d.wait_for_count("SELECT count(*) FROM tickets", 3);
    server.stop_imap();
    // Long enough for the daemon to notice the connection is gone and to retry at least once.
    std::thread::sleep(Duration::from_secs(3));
    server.start_imap();
    append_range(server, 3..6);
    d.wait_for_count("SELECT count(*) FROM tickets", 6);
    std::thread::sleep(Duration::from_millis(1_000));
    assert_each_exactly_once(server, &d, 6);
    assert_eq!(server.inbox_state(URP), (6, 0), "{}", server.name());
    // Whatever the outage logged, each cause once (a warning used to read "io: Broken pipe
    // (os error 32): Broken pipe (os error 32)").
    for line in d
        .log()
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
    {
        let parts: Vec<&str> = line.split(": ").collect();
        assert!(
            parts.windows(2).all(|w| w[0].trim() != w[1].trim()),
            "an error's text written twice: {line}"
        );
    }
}

/// Cyrus announces new mail to an idling client only at its own 60-second poll: before issue 16,
/// each message waited 57–59 s there. The daemon's own check every `poll_interval_secs` (1 s in
/// these configs) bounds the wait whatever the server does. The bound asserted is loose (the
/// machine may be busy); the figures are printed, and `cargo bench --bench ingest` measures them.
fn new_mail_becomes_a_ticket_within_the_poll_interval(server: &impl ImapServer) {
    let d = running(server);
    // The watcher is idling once the first message has become a ticket.
    append_range(server, 0..1);
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    std::thread::sleep(Duration::from_secs(2));
    let mut waits = Vec::new();
    for i in 1..6 {
        let appended = Instant::now();
        append_range(server, i..i + 1);
        while d.count("SELECT count(*) FROM tickets") <= i as i64 {
            assert!(
                appended.elapsed() < Duration::from_secs(30),
                "{}: a message waited over 30 s for its ticket; log:\n{}",
                server.name(),
                common::tail(&d.log())
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        waits.push(appended.elapsed());
        std::thread::sleep(Duration::from_millis(1_300));
    }
    waits.sort();
    eprintln!(
        "{}: APPEND → ticket, 5 messages: {:?}",
        server.name(),
        waits
    );
    assert_each_exactly_once(server, &d, 6);
    if server.lazy_idle() {
        assert!(
            d.log()
                .contains("the periodic check found mail that IDLE had not announced"),
            "{}: the mail was found by the daemon's own check, and it said so",
            server.name()
        );
    }
}
