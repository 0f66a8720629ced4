//! What the IT department watches and does: /healthz, /metrics, backups and restores.

mod common;

use std::time::{Duration, Instant};

use common::http::Client;
use common::{complaint, Daemon, MailServers, PATIENCE};

const URP: &str = "urp@hospital.test";

/// The value of a metric line (exact name with labels) in a Prometheus text page.
fn metric(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Polls `/healthz` until its status is `want`.
fn wait_health(web: &Client, want: u16) -> String {
    let start = Instant::now();
    loop {
        let r = web.get("/healthz");
        if r.status == want {
            return r.text();
        }
        assert!(
            start.elapsed() < PATIENCE,
            "/healthz stayed {} (wanted {want}): {}",
            r.status,
            r.text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn health_follows_the_mailbox_and_metrics_follow_the_mail() {
    let servers = MailServers::start();
    let mut daemon = Daemon::new(|db| {
        servers.config(db, "")
            + "\n[notify]\nauto_reply_limit = 10\n\n[web]\nhealth_mailbox_grace_secs = 2\n"
    });
    daemon.start();
    Client::wait_ready(&daemon.base_url());
    let web = Client::new(&daemon.base_url());

    // The backoffice answers from its first moment (its socket was bound before the start), when
    // the watcher may not have connected yet: "starting" is healthy too. Wait for the connection.
    let start = Instant::now();
    let healthy = loop {
        let healthy = wait_health(&web, 200);
        if !healthy.contains("\"starting\"") || start.elapsed() > PATIENCE {
            break healthy;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let health: serde_json::Value = serde_json::from_str(&healthy).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"], "ok");
    assert_eq!(health["mailboxes"][0]["name"], "urp");
    assert_eq!(health["mailboxes"][0]["state"], "ok");

    let before = web.get("/metrics");
    assert_eq!(before.status, 200);
    assert!(before
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let before = before.text();
    assert_eq!(metric(&before, "ascolto_tickets_created_total"), Some(0.0));
    assert_eq!(
        metric(&before, "ascolto_mailbox_up{mailbox=\"urp\"}"),
        Some(1.0)
    );

    // Two complaints: two tickets, two acknowledgements sent through Postfix.
    for i in 0..2 {
        servers.send(
            "cittadino@example.test",
            URP,
            &complaint(
                "cittadino@example.test",
                &format!("Metriche {i}"),
                "Attesa lunga.",
            ),
        );
    }
    daemon.wait_for_count("SELECT count(*) FROM tickets", 2);
    daemon.wait_for_count("SELECT count(*) FROM outbox WHERE state = 'sent'", 2);
    let start = Instant::now();
    let after = loop {
        let page = web.get("/metrics").text();
        if metric(&page, "ascolto_notifications_sent_total") == Some(2.0) {
            break page;
        }
        assert!(start.elapsed() < PATIENCE, "sent counter stuck:\n{page}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(metric(&after, "ascolto_tickets_created_total"), Some(2.0));
    assert_eq!(metric(&after, "ascolto_messages_ingested_total"), Some(2.0));
    assert_eq!(
        metric(&after, "ascolto_tickets{state=\"pending\"}"),
        Some(2.0)
    );
    assert_eq!(
        metric(&after, "ascolto_notifications{state=\"pending\"}"),
        Some(0.0)
    );
    assert!(
        metric(
            &after,
            "ascolto_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"}"
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        metric(
            &after,
            "ascolto_http_request_duration_seconds_count{route=\"/metrics\"}"
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        metric(
            &after,
            "ascolto_mailbox_last_success_timestamp_seconds{mailbox=\"urp\"}"
        )
        .unwrap()
            > 1.7e9
    );
    // Ticket numbers never become labels: routes are patterns.
    assert!(!after.contains("URP-"), "{after}");

    // The IMAP server goes away: unhealthy once the grace time has passed, and says which.
    servers.stop_imap();
    let unhealthy = wait_health(&web, 503);
    let health: serde_json::Value = serde_json::from_str(&unhealthy).unwrap();
    assert_eq!(health["status"], "unhealthy");
    assert_eq!(health["database"], "ok");
    assert_eq!(health["mailboxes"][0]["state"], "failing");
    assert!(health["mailboxes"][0]["failing_for_secs"].as_i64().unwrap() >= 2);
    let down = web.get("/metrics").text();
    assert_eq!(
        metric(&down, "ascolto_mailbox_up{mailbox=\"urp\"}"),
        Some(0.0)
    );
    assert!(
        metric(
            &down,
            "ascolto_mailbox_connection_errors_total{mailbox=\"urp\"}"
        )
        .unwrap()
            >= 1.0
    );

    // Back: healthy again without restarting ascolto, and mail sent meanwhile is ingested.
    servers.send(
        "cittadino@example.test",
        URP,
        &complaint("cittadino@example.test", "Metriche 3", "Ancora attesa."),
    );
    servers.start_imap();
    wait_health(&web, 200);
    daemon.wait_for_count("SELECT count(*) FROM tickets", 3);
    assert!(daemon.terminate() < Duration::from_secs(10));
}

/// The servers' configuration with notifications written as files beside the database
/// (nothing to wait for at Postfix).
fn file_mailer_config(servers: &MailServers, db: &std::path::Path) -> String {
    let sent = db.parent().unwrap().join("sent-mail");
    servers.config(db, "").replace(
        "backend = \"smtp\"",
        &format!("backend = \"file\"\nfile_dir = \"{}\"", sent.display()),
    )
}

/// Runs an `ascolto` command of the daemon's configuration; returns (success, stdout, stderr).
fn run(daemon: &Daemon, args: &[&str]) -> (bool, String, String) {
    let out = daemon.command().args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn a_backup_during_ingest_is_a_consistent_prefix_and_restore_waits_for_the_daemon() {
    const N: i64 = 1000;
    let servers = MailServers::start();
    for i in 0..N {
        let body = "Ho atteso tre ore in pronto soccorso senza alcuna informazione.\r\n".repeat(20);
        servers.deliver_to_maildir(
            URP,
            &complaint(
                &format!("cittadino{i}@example.test"),
                &format!("Backlog {i}"),
                &body,
            ),
        );
    }
    let mut daemon = Daemon::new(|db| file_mailer_config(&servers, db));
    daemon.start();
    // Part of the backlog is in: back up while the rest is being committed.
    daemon.wait_for_count("SELECT count(*) FROM tickets", 50);
    let backups = daemon.dir.path().join("copie");
    let (ok, said, err) = run(&daemon, &["backup", &format!("{}/", backups.display())]);
    assert!(ok, "backup failed: {err}");
    assert!(said.contains("PRAGMA integrity_check: ok"), "{said}");
    let copy = std::fs::read_dir(&backups)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(copy
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("ascolto-"));

    let conn = rusqlite::Connection::open(&copy).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let tickets = count(&conn, "SELECT count(*) FROM tickets");
    println!("the backup holds {tickets} of {N} tickets");
    assert!((50..=N).contains(&tickets));
    // A prefix: numbers 1..=n without a gap, each ticket with its one message, and the
    // mailbox's progress exactly where the tickets end (so a restored daemon goes on from
    // there, neither skipping nor repeating).
    assert_eq!(count(&conn, "SELECT min(seq) FROM tickets"), 1);
    assert_eq!(count(&conn, "SELECT max(seq) FROM tickets"), tickets);
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM messages WHERE direction = 'in'"
        ),
        tickets
    );
    assert_eq!(
        count(
            &conn,
            "SELECT last_uid FROM mailbox_progress WHERE mailbox = 'urp'"
        ),
        tickets
    );
    drop(conn);

    // Not while the daemon runs, and nothing is touched.
    let (ok, _, err) = run(&daemon, &["restore", copy.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("ascolto is running"), "{err}");
    assert!(err.contains(&daemon.pid().to_string()), "{err}");

    daemon.wait_for_count("SELECT count(*) FROM tickets", N);
    assert!(daemon.terminate() < Duration::from_secs(10));
    let (ok, said, err) = run(&daemon, &["restore", copy.to_str().unwrap()]);
    assert!(ok, "restore failed: {err}");
    assert!(said.contains(&format!("({tickets} tickets")), "{said}");
    assert!(
        said.contains("the database it replaced is kept as"),
        "{said}"
    );
    assert_eq!(daemon.count("SELECT count(*) FROM tickets"), tickets);

    // The restored daemon takes up where the copy ended: every message exactly once.
    daemon.start();
    daemon.wait_for_count("SELECT count(*) FROM tickets", N);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(daemon.count("SELECT count(*) FROM tickets"), N);
    assert_eq!(
        daemon.count("SELECT count(DISTINCT subject) FROM tickets"),
        N
    );
    assert_eq!(daemon.count("SELECT max(seq) FROM tickets"), N);
    assert!(daemon.terminate() < Duration::from_secs(10));
}

/// A complaint with a PDF attachment whose name and text carry `word`.
fn complaint_with_attachment(from: &str, subject: &str, word: &str) -> Vec<u8> {
    format!(
        "From: Mario {word} <{from}>\r\nTo: urp@hospital.test\r\nSubject: {subject}\r\n\
Date: Mon, 02 Mar 2026 10:00:00 +0100\r\nMessage-ID: <{word}.{}.{}@example.test>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n\
Mia madre {word} ha atteso sei ore al pronto soccorso.\r\n--b1\r\nContent-Type: application/pdf\r\n\
Content-Disposition: attachment; filename=\"referto-{word}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
JVBERi0xLjQKJcfsj6IK\r\n--b1--\r\n",
        subject.len(),
        std::process::id()
    )
    .into_bytes()
}

/// Whether the database's files hold `word` in any case, after the write-ahead log was
/// checkpointed into the main file.
fn file_holds(path: &std::path::Path, word: &str) -> bool {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    files_hold(path, word)
}

/// Whether the database's main file or its write-ahead log hold `word` in any case, as they
/// are on disk (nothing checkpointed first).
fn files_hold(path: &std::path::Path, word: &str) -> bool {
    let mut bytes = std::fs::read(path).unwrap();
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    bytes.extend(std::fs::read(std::path::PathBuf::from(wal)).unwrap_or_default());
    let bytes = bytes.to_ascii_lowercase();
    let word = word.to_ascii_lowercase().into_bytes();
    bytes.windows(word.len()).any(|w| w == word.as_slice())
}

#[test]
fn retention_removes_personal_data_and_keeps_the_statistics() {
    let servers = MailServers::start();
    let mut daemon = Daemon::new(|db| file_mailer_config(&servers, db));
    daemon.start();
    servers.send(
        "mario@example.test",
        URP,
        &complaint_with_attachment("mario@example.test", "Attesa Zafferano", "Zafferano"),
    );
    servers.send(
        "bianca@example.test",
        URP,
        &complaint_with_attachment("bianca@example.test", "Attesa Intatto", "Intatto"),
    );
    // A message without a sender, quarantined (issue 11, finding 8: its text and address
    // stayed after anonymisation).
    servers.send(
        "ginepro@example.test",
        URP,
        b"To: urp@hospital.test\r\nSubject: Attesa Ginepro\r\n\r\nSono Carla Ginepro, ginepro@example.test.\r\n",
    );
    daemon.wait_for_count("SELECT count(*) FROM tickets", 2);
    daemon.wait_for_count("SELECT count(*) FROM quarantine", 1);
    daemon.wait_for_count(
        "SELECT count(*) FROM outbox WHERE state = 'sent' AND kind = 'ack'",
        2,
    );
    assert!(daemon.terminate() < Duration::from_secs(10));

    // Mario's ticket was answered and closed three days ago; Bianca's is still open; the
    // quarantined message was discarded three days ago. (Written through a connection set up
    // as the daemon's are.)
    ascolto::store::open(&daemon.db_path())
        .unwrap()
        .execute_batch(
            "UPDATE tickets SET state = 'closed', outcome = 'accolto',
               taken_in_charge_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-4 days'),
               first_answered_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-3 days'),
               closed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-3 days')
             WHERE subject = 'Attesa Zafferano';
             UPDATE quarantine SET resolution = 'discarded',
               resolved_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-3 days');",
        )
        .unwrap();
    assert!(file_holds(&daemon.db_path(), "ginepro"));
    let year = chrono::Utc::now().format("%Y").to_string();
    let (ok, stats_before, err) = run(&daemon, &["export", "stats", "--year", &year]);
    assert!(ok, "{err}");
    let (ok, mario, _) = run(&daemon, &["export", "citizen", "MARIO@example.test"]);
    assert!(ok);
    let mario: serde_json::Value = serde_json::from_str(&mario).unwrap();
    assert_eq!(mario["tickets"][0]["subject"], "Attesa Zafferano");
    assert!(mario["tickets"][0]["messages"][0]["body"]
        .as_str()
        .unwrap()
        .contains("Zafferano ha atteso"));
    assert_eq!(
        mario["tickets"][0]["messages"][0]["attachments"][0]["filename"],
        "referto-Zafferano.pdf"
    );
    assert!(mario["tickets"][0]["notifications"][0]["body"]
        .as_str()
        .unwrap()
        .contains(mario["tickets"][0]["number"].as_str().unwrap()));
    assert!(file_holds(&daemon.db_path(), "zafferano"));

    // Off by default; a dry run says what it would do and does nothing.
    let (ok, _, err) = run(&daemon, &["anonymise"]);
    assert!(!ok && err.contains("anonymise_after_days"), "{err}");
    let (ok, said, err) = run(&daemon, &["anonymise", "--dry-run", "--after-days", "2"]);
    assert!(ok, "{err}");
    assert!(said.starts_with("would anonymise 1 tickets"), "{said}");
    assert_eq!(
        daemon.count("SELECT count(*) FROM tickets WHERE anonymised_at IS NOT NULL"),
        0
    );

    // The daemon's daily job, with a retention of two days.
    let mut config = std::fs::read_to_string(daemon.config_path()).unwrap();
    config.push_str("\n[retention]\nanonymise_after_days = 2\n");
    std::fs::write(daemon.config_path(), config).unwrap();
    daemon.start();
    daemon.wait_for_count(
        "SELECT count(*) FROM tickets WHERE anonymised_at IS NOT NULL",
        1,
    );
    daemon.wait_for_count(
        "SELECT count(*) FROM audit_log WHERE action = 'ticket.anonymised'",
        1,
    );
    // The job ends by truncating the write-ahead log: while the daemon still runs, neither the
    // main file nor the log holds the removed texts, the Message-ID or the quarantined mail.
    let started = Instant::now();
    while !daemon.log().contains("retention: personal data removed") {
        assert!(started.elapsed() < PATIENCE, "{}", daemon.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    for word in ["zafferano", "ginepro"] {
        assert!(
            !files_hold(&daemon.db_path(), word),
            "{word} is still in the database file or its -wal"
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(daemon.terminate() < Duration::from_secs(10));

    let (ok, stats_after, _) = run(&daemon, &["export", "stats", "--year", &year]);
    assert!(ok);
    assert_eq!(
        stats_after, stats_before,
        "the year's statistics are the same"
    );
    assert!(
        !file_holds(&daemon.db_path(), "zafferano"),
        "name, text, attachment, original mail and search index are gone from the file"
    );
    assert!(
        file_holds(&daemon.db_path(), "intatto"),
        "Bianca's open ticket is kept"
    );
    let (_, mario, _) = run(&daemon, &["export", "citizen", "mario@example.test"]);
    let mario: serde_json::Value = serde_json::from_str(&mario).unwrap();
    assert_eq!(mario["tickets"].as_array().unwrap().len(), 0, "{mario}");
    let (_, bianca, _) = run(&daemon, &["export", "citizen", "bianca@example.test"]);
    let bianca: serde_json::Value = serde_json::from_str(&bianca).unwrap();
    assert_eq!(bianca["tickets"][0]["subject"], "Attesa Intatto");
    assert_eq!(
        daemon.count("SELECT count(*) FROM audit_log WHERE action = 'citizen.exported'"),
        3,
        "each export is audited"
    );
}
