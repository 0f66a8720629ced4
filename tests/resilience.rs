//! Nothing lost, nothing doubled: killed processes, IMAP outages, renumbered folders.

mod common;

use std::time::{Duration, Instant};

use common::{complaint, Daemon, MailServers, PATIENCE};

const URP: &str = "urp@hospital.test";

/// A realistic complaint of about 3 KB with a unique subject.
fn backlog_message(i: usize) -> Vec<u8> {
    let body = "Buongiorno, scrivo per segnalare che il giorno della visita ho atteso in sala \
                d'attesa per oltre tre ore senza ricevere alcuna informazione dal personale. \
                Mia madre, anziana, non stava bene e nessuno ci ha spiegato il motivo del ritardo.\r\n"
        .repeat(10);
    complaint(
        &format!("cittadino{i}@example.test"),
        &format!("Reclamo numero {i}"),
        &body,
    )
}

fn fill_backlog(servers: &MailServers, n: usize) {
    for i in 0..n {
        servers.deliver_to_maildir(URP, &backlog_message(i));
    }
}

/// Every backlog message exactly once: as many tickets and inbound messages as delivered, and
/// every subject present once.
fn assert_each_exactly_once(d: &Daemon, n: usize) {
    let n = n as i64;
    assert_eq!(d.count("SELECT count(*) FROM tickets"), n);
    assert_eq!(
        d.count("SELECT count(*) FROM messages WHERE direction = 'in'"),
        n
    );
    assert_eq!(d.count("SELECT count(DISTINCT subject) FROM tickets"), n);
    assert_eq!(d.count("SELECT count(*) FROM raw_mail"), n);
    assert_eq!(d.count("SELECT count(*) FROM quarantine"), 0);
    // Numbers are gap-free: 1..=n.
    assert_eq!(d.count("SELECT max(seq) FROM tickets"), n);
}

/// Polls (fast) until `f` is true; the count when it was.
fn wait_fast(d: &Daemon, sql: &str, pred: impl Fn(i64) -> bool) -> i64 {
    let start = Instant::now();
    loop {
        let c = d.count(sql);
        if pred(c) {
            return c;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "timed out; log:\n{}",
            common::tail(&d.log())
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn sigkill_during_a_backlog_loses_and_doubles_nothing() {
    const N: usize = 2_500;
    let servers = MailServers::start();
    fill_backlog(&servers, N);
    let mut d = Daemon::new(|db| servers.config(db, ""));
    let mut kills = 0;
    // Kill it as soon as it has committed something, twice, then let it finish.
    while kills < 2 {
        d.start();
        let before = d.count("SELECT count(*) FROM tickets");
        let at_kill = wait_fast(&d, "SELECT count(*) FROM tickets", |c| c > before);
        d.kill();
        kills += 1;
        assert!(
            at_kill < N as i64,
            "the daemon was killed mid-backlog ({at_kill} of {N} stored)"
        );
    }
    d.start();
    d.wait_for_count("SELECT count(*) FROM tickets", N as i64);
    // Give a doubled message time to show up, if there were one.
    d.wait_for_count(
        "SELECT count(*) FROM audit_log WHERE action = 'ticket.created'",
        N as i64,
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_each_exactly_once(&d, N);
}

#[test]
fn sigterm_during_a_backlog_exits_promptly_and_loses_nothing() {
    const N: usize = 2_000;
    let servers = MailServers::start();
    fill_backlog(&servers, N);
    let mut d = Daemon::new(|db| servers.config(db, ""));
    d.start();
    wait_fast(&d, "SELECT count(*) FROM tickets", |c| c > 0);
    let took = d.terminate();
    assert!(took < Duration::from_secs(10), "SIGTERM took {took:?}");
    assert!(d.log().contains("shutting down"));
    d.start();
    d.wait_for_count("SELECT count(*) FROM tickets", N as i64);
    std::thread::sleep(Duration::from_millis(500));
    assert_each_exactly_once(&d, N);
}

#[test]
fn mail_delivered_during_an_imap_outage_is_ingested_when_it_returns() {
    let servers = MailServers::start();
    let mut d = Daemon::new(|db| servers.config(db, ""));
    d.start();
    servers.send_complaint("a@example.test", "Prima", "x");
    d.wait_for_count("SELECT count(*) FROM tickets", 1);

    servers.stop_imap();
    // Postfix accepts and queues: delivery into Dovecot waits for it to return.
    for i in 0..3 {
        servers.send_complaint("b@example.test", &format!("Durante {i}"), "x");
    }
    let start = Instant::now();
    while !d.log().contains("mailbox unavailable") && start.elapsed() < PATIENCE {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(d.log().contains("mailbox unavailable"), "{}", d.log());
    std::thread::sleep(Duration::from_secs(2));
    assert!(d.is_running(), "a dead mail server must not stop ascolto");

    servers.start_imap();
    d.wait_for_count("SELECT count(*) FROM tickets", 4);
    assert!(d.is_running());
    assert_eq!(d.count("SELECT count(*) FROM tickets"), 4);
}

#[test]
fn a_mail_server_that_is_down_at_start_is_waited_for() {
    let servers = MailServers::start();
    servers.stop_imap();
    let mut d = Daemon::new(|db| servers.config(db, ""));
    d.start();
    servers.send_complaint("c@example.test", "In coda", "x");
    std::thread::sleep(Duration::from_secs(2));
    assert!(d.is_running());
    assert!(d.log().contains("cannot connect"), "{}", d.log());
    servers.start_imap();
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
}

#[test]
fn a_uidvalidity_change_recreates_nothing() {
    let servers = MailServers::start();
    let mut d = Daemon::new(|db| servers.config(db, ""));
    d.start();
    for i in 0..3 {
        servers.send_complaint("d@example.test", &format!("Prima {i}"), "x");
    }
    d.wait_for_count("SELECT count(*) FROM tickets", 3);
    let old: i64 = d.count("SELECT uidvalidity FROM mailbox_progress");
    d.terminate();

    // Rebuild Dovecot's index: the folder gets a new UIDVALIDITY and new UIDs.
    servers.stop_imap();
    let maildir = servers.dir.path().join("mail/hospital.test/urp/Maildir");
    for entry in std::fs::read_dir(&maildir).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("dovecot")
        {
            if p.is_dir() {
                std::fs::remove_dir_all(&p).unwrap();
            } else {
                std::fs::remove_file(&p).unwrap();
            }
        }
    }
    std::thread::sleep(Duration::from_millis(1100)); // UIDVALIDITY is a timestamp
    servers.start_imap();

    d.start();
    servers.send_complaint("d@example.test", "Dopo", "x");
    d.wait_for_count("SELECT count(*) FROM tickets", 4);
    d.wait_for_count(
        "SELECT count(*) FROM mailbox_progress WHERE last_uid >= 4",
        1,
    );
    assert_ne!(d.count("SELECT uidvalidity FROM mailbox_progress"), old);
    assert_eq!(d.count("SELECT count(*) FROM tickets"), 4);
    assert_eq!(d.count("SELECT count(*) FROM messages"), 4);
    assert!(d.log().contains("renumbered"), "{}", d.log());
}
