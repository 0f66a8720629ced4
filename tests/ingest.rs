//! Ingest against real Dovecot and Postfix: mail sent by SMTP to the complaint mailbox, watched
//! by the real `ascolto serve`, checked through `ascolto export` and the database.

mod common;

use common::{complaint, fixture, Daemon, MailServers};

const URP: &str = "urp@hospital.test";

fn running(servers: &MailServers, extra: &str) -> Daemon {
    let mut d = Daemon::new(|db| servers.config(db, extra));
    d.start();
    d
}

#[test]
fn a_plain_complaint_becomes_a_classified_ticket_with_the_exported_contract() {
    let servers = MailServers::start();
    let d = running(&servers, "");
    servers.send("maria.rossi@example.test", URP, &fixture("plain.eml"));
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    let t = d.ticket_by_subject("Attesa di nove ore al pronto soccorso");
    let year = chrono::Utc::now().format("%Y").to_string();
    assert_eq!(t["number"], format!("URP-{year}-000001"));
    assert_eq!(t["state"], "pending");
    assert_eq!(t["kind"], "reclamo");
    assert_eq!(t["category"], "TEM.02");
    assert_eq!(t["service"], "PS");
    assert_eq!(t["citizen_email"], "maria.rossi@example.test");
    assert_eq!(t["citizen_name"], "Maria Rossi");
    assert_eq!(t["pec"], false);
    assert_eq!(t["inbound_messages"], 1);
    assert_eq!(t["messages"], 1);
    // Received when the mailbox got it (now), due 30 days later, both RFC 3339.
    let received =
        chrono::DateTime::parse_from_rfc3339(t["received_at"].as_str().unwrap()).unwrap();
    let due = chrono::DateTime::parse_from_rfc3339(t["due_at"].as_str().unwrap()).unwrap();
    assert!((chrono::Utc::now() - received.to_utc()).num_minutes().abs() < 10);
    assert_eq!((due - received).num_days(), 30);
    // The mailbox is left as it was: nothing flagged \Seen, nothing moved.
    let cur = servers
        .dir
        .path()
        .join("mail/hospital.test/urp/Maildir/cur");
    // Maildir flags follow ":2," in the file name; "S" is \Seen.
    let seen = std::fs::read_dir(&cur)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.rsplit_once(":2,")
                        .is_some_and(|(_, flags)| flags.contains('S'))
                })
                .count()
        })
        .unwrap_or(0);
    assert_eq!(seen, 0, "ascolto must not set \\Seen");
}

#[test]
fn html_only_and_legacy_charsets_are_read_correctly() {
    let servers = MailServers::start();
    let d = running(&servers, "");
    for name in [
        "html-only.eml",
        "iso-8859-1.eml",
        "windows-1252.eml",
        "utf-8.eml",
    ] {
        servers.send("someone@example.test", URP, &fixture(name));
    }
    d.wait_for_count("SELECT count(*) FROM tickets", 4);

    let html = d.ticket_by_subject("Personale scortese allo sportello");
    assert_eq!(html["category"], "REL.01");
    assert_eq!(html["service"], "AMM");
    let body: String = d
        .db()
        .query_row(
            "SELECT body_text FROM messages WHERE subject = 'Personale scortese allo sportello'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        body.contains("l'impiegata allo sportello dell'accettazione è stata scortese"),
        "{body}"
    );
    assert!(!body.contains("<b>") && !body.contains("alert"), "{body}");

    let latin1 = d.ticket_by_subject("Perché così tanta attesa?");
    assert_eq!(latin1["citizen_name"], "Nicolò Bellà");
    assert_eq!(latin1["category"], "TEM.02");
    let cp1252 = d.ticket_by_subject("Rimborso di 50 € mai arrivato");
    assert_eq!(cp1252["category"], "BUR.01");
    let body: String = d
        .db()
        .query_row(
            "SELECT body_text FROM messages WHERE subject LIKE 'Rimborso%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(body.contains("50 € da mesi, “nessuno risponde”"), "{body}");
    let utf8 = d.ticket_by_subject("Ringraziamento al reparto di cardiologia ❤");
    assert_eq!(utf8["citizen_name"], "Sérgio Costà");
    assert_eq!(utf8["kind"], "elogio");
    assert_eq!(utf8["service"], "CARD");
}

#[test]
fn pec_envelopes_become_tickets_and_receipts_never_do() {
    let servers = MailServers::start();
    let mut d = Daemon::new(|db| {
        servers.config(db, "pec = true").replace(
            "username = \"urp@hospital.test\"",
            "username = \"pec@hospital.test\"",
        )
    });
    d.start();
    // The box got the envelope a few seconds after the certified sending (08:30:05 UTC): the
    // certified time is then the time of receipt.
    let got_at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_768_465_810);
    servers.deliver_to_maildir_at("pec@hospital.test", &fixture("pec-envelope.eml"), got_at);
    // Numbered first (Dovecot may see a mail delivered by LMTP before the file it has not
    // scanned yet).
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    servers.send(
        "posta-certificata@pec.example.test",
        "pec@hospital.test",
        &fixture("pec-anomaly.eml"),
    );
    d.wait_for_count("SELECT count(*) FROM tickets", 2);
    let t = d.ticket_by_subject("Reclamo per mancata assistenza");
    assert_eq!(t["pec"], true);
    assert_eq!(t["citizen_email"], "mario.bianchi@pec.example.test");
    assert_eq!(
        t["received_at"], "2026-01-15T08:30:05Z",
        "the certified time from daticert.xml"
    );
    assert_eq!(t["number"], "URP-2026-000001");
    let anomaly = d.ticket_by_subject("Sporcizia nei bagni");
    assert_eq!(anomaly["citizen_email"], "giulia.verdi@example.test");
    assert_eq!(anomaly["category"], "ALB.01");

    // A receipt about mail we sent for the ticket is evidence on it; one about nothing is
    // quarantined. Neither is a ticket.
    let ours = d.our_message_id("URP-2026-000001");
    let receipt = String::from_utf8(fixture("pec-receipt.eml"))
        .unwrap()
        .replace("{{REF}}", &ours);
    servers.send(
        "posta-certificata@pec.example.test",
        "pec@hospital.test",
        receipt.as_bytes(),
    );
    let stray = String::from_utf8(fixture("pec-receipt.eml"))
        .unwrap()
        .replace("{{REF}}", "unknown@hospital.test")
        .replace("opec21.20260115100211.555", "opec21.20260115100211.556");
    servers.send(
        "posta-certificata@pec.example.test",
        "pec@hospital.test",
        stray.as_bytes(),
    );
    d.wait_for_count(
        "SELECT count(*) FROM messages WHERE automatic = 'pec_receipt'",
        1,
    );
    d.wait_for_count("SELECT count(*) FROM quarantine", 1);
    assert_eq!(d.count("SELECT count(*) FROM tickets"), 2);
    let q = d.export_quarantine();
    assert!(
        q[0]["reason"].as_str().unwrap().contains("pec_receipt"),
        "{q:?}"
    );
    assert!(q[0]["size"].as_i64().unwrap() > 500);
}

#[test]
fn out_of_office_replies_and_bounces_join_their_ticket_and_open_nothing() {
    let servers = MailServers::start();
    let d = running(&servers, "");
    servers.send_complaint("mario.bianchi@example.test", "Reclamo", "testo");
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    let number = d.export_tickets()[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    let ours = d.our_message_id(&number);
    for name in ["out-of-office.eml", "bounce.eml"] {
        let raw = String::from_utf8(fixture(name))
            .unwrap()
            .replace("{{REF}}", &ours);
        servers.send("mailer-daemon@example.test", URP, raw.as_bytes());
    }
    d.wait_for_count(
        "SELECT count(*) FROM messages WHERE automatic IS NOT NULL",
        2,
    );
    assert_eq!(d.count("SELECT count(*) FROM tickets"), 1);
    let t = d.ticket(&number);
    assert_eq!(t["messages"], 3);
    assert_eq!(
        t["inbound_messages"], 1,
        "automatic mail is not the citizen writing"
    );
    assert_eq!(
        d.count("SELECT count(*) FROM messages WHERE automatic = 'bounce'"),
        1
    );
}

#[test]
fn replies_thread_by_number_only_from_the_citizen() {
    let servers = MailServers::start();
    let d = running(&servers, "");
    servers.send(
        "anna@example.test",
        URP,
        &complaint("Anna <anna@example.test>", "Parcheggio", "Non c'è posto."),
    );
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    let number = d.export_tickets()[0]["number"]
        .as_str()
        .unwrap()
        .to_string();

    let reply = complaint(
        "Anna <ANNA@example.test>",
        &format!("R: [{number}] Conferma di ricezione"),
        "Aggiungo che…",
    );
    servers.send("anna@example.test", URP, &reply);
    d.wait_for_count("SELECT count(*) FROM messages", 2);
    assert_eq!(d.ticket(&number)["inbound_messages"], 2);

    let hijack = complaint(
        "intruso@example.test",
        &format!("Re: {number}"),
        "Chiudete la pratica.",
    );
    servers.send("intruso@example.test", URP, &hijack);
    d.wait_for_count("SELECT count(*) FROM tickets", 2);
    let tickets = d.export_tickets();
    let new = tickets
        .iter()
        .find(|t| t["number"] != number.as_str())
        .unwrap();
    assert_eq!(new["linked_to"], number.as_str());
    assert_eq!(new["citizen_email"], "intruso@example.test");
    assert_eq!(
        d.ticket(&number)["inbound_messages"],
        2,
        "the stranger did not get into Anna's ticket"
    );
}

#[test]
fn the_same_message_delivered_twice_is_stored_once() {
    let servers = MailServers::start();
    let d = running(&servers, "");
    let raw = complaint("paolo@example.test", "Doppione", "Inviato due volte.");
    servers.send("paolo@example.test", URP, &raw);
    servers.send("paolo@example.test", URP, &raw);
    servers.send_complaint("paolo@example.test", "Dopo", "marker");
    d.wait_for_count("SELECT count(*) FROM tickets WHERE subject = 'Dopo'", 1);
    assert_eq!(d.count("SELECT count(*) FROM tickets"), 2);
    assert_eq!(d.count("SELECT count(*) FROM messages"), 2);
    assert_eq!(
        d.count("SELECT last_uid FROM mailbox_progress"),
        3,
        "all three were seen"
    );
}

#[test]
fn a_malformed_message_is_quarantined_and_the_next_one_ingested() {
    let servers = MailServers::start();
    let d = running(&servers, "");
    // Written straight into the mailbox: an MTA would have "repaired" some of it.
    servers.deliver_to_maildir(URP, &fixture("malformed.eml"));
    servers.send_complaint("y@example.test", "Dopo il guasto", "ok");
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    d.wait_for_count("SELECT count(*) FROM quarantine", 1);
    let q = d.export_quarantine();
    assert_eq!(q.len(), 1);
    assert!(q[0]["reason"].as_str().unwrap().contains("sender"), "{q:?}");
    assert!(q[0]["id"].as_i64().is_some() && q[0]["received_at"].as_str().is_some());
    let raw: Vec<u8> = d
        .db()
        .query_row(
            "SELECT r.bytes FROM quarantine q JOIN raw_mail r ON r.id = q.raw_id",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // Kept as the server served it (Dovecot sends CRLF and masks NUL bytes), undecoded.
    assert!(raw.starts_with(b"Subject: \xff\xfe broken\r\n"), "{raw:?}");
    assert!(
        raw.windows(26).any(|w| w == b"garbage without any sender"),
        "{raw:?}"
    );
}

#[test]
fn a_20_mb_attachment_is_ingested() {
    let servers = MailServers::start();
    let d = running(&servers, "");
    let payload: Vec<u8> = (0..20 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let b64 = base64_lines(&payload);
    let raw = format!(
        "From: Laura <laura@example.test>\r\nTo: {URP}\r\nSubject: Cartella clinica allegata\r\n\
Message-ID: <big-1@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BIG\r\n\r\n\
--BIG\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nAllego la cartella clinica.\r\n\
--BIG\r\nContent-Type: application/pdf; name=cartella.pdf\r\nContent-Disposition: attachment; filename=cartella.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{b64}--BIG--\r\n"
    );
    servers.send("laura@example.test", URP, raw.as_bytes());
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    let (name, size): (String, i64) = d
        .db()
        .query_row("SELECT filename, size FROM attachments", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((name.as_str(), size), ("cartella.pdf", 20 * 1024 * 1024));
    assert_eq!(
        d.ticket_by_subject("Cartella clinica allegata")["category"],
        "BUR.02"
    );
}

fn base64_lines(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() * 4 / 3 + data.len() / 38);
    for (i, chunk) in data.chunks(3).enumerate() {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for j in 0..4 {
            if j <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * j)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
        if i % 19 == 18 {
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    out
}

#[test]
fn tls_and_starttls_connections_work_with_a_private_ca() {
    let servers = MailServers::start();
    let ca = servers.ca_file();
    let mut tls = Daemon::new(|db| {
        servers
            .config(db, &format!("ca_file = \"{}\"", ca.display()))
            .replace(
                &format!("port = {}", servers.imap_port),
                &format!("port = {}", servers.imaps_port),
            )
            .replace("security = \"none\"", "security = \"tls\"")
            .replace("host = \"127.0.0.1\"", "host = \"localhost\"")
    });
    let mut starttls = Daemon::new(|db| {
        servers
            .config(db, &format!("ca_file = \"{}\"", ca.display()))
            .replace("security = \"none\"", "security = \"starttls\"")
            .replace("host = \"127.0.0.1\"", "host = \"localhost\"")
    });
    tls.start();
    starttls.start();
    servers.send_complaint("z@example.test", "Via TLS", "x");
    tls.wait_for_count("SELECT count(*) FROM tickets", 1);
    starttls.wait_for_count("SELECT count(*) FROM tickets", 1);

    // Without the private CA the certificate is refused, and the daemon says why and keeps trying.
    let mut untrusted = Daemon::new(|db| {
        servers
            .config(db, "")
            .replace(
                &format!("port = {}", servers.imap_port),
                &format!("port = {}", servers.imaps_port),
            )
            .replace("security = \"none\"", "security = \"tls\"")
            .replace("host = \"127.0.0.1\"", "host = \"localhost\"")
    });
    untrusted.start();
    let start = std::time::Instant::now();
    while !untrusted.log().contains("TLS handshake") && start.elapsed() < common::PATIENCE {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        untrusted.log().contains("TLS handshake"),
        "{}",
        untrusted.log()
    );
    assert!(untrusted.is_running());
    assert_eq!(untrusted.count("SELECT count(*) FROM tickets"), 0);
}

#[test]
fn start_from_new_skips_what_was_already_there() {
    let servers = MailServers::start();
    servers.send_complaint("old@example.test", "Vecchio", "x");
    // Wait until Dovecot has it, so that it predates the daemon.
    let inbox = servers
        .dir
        .path()
        .join("mail/hospital.test/urp/Maildir/new");
    let start = std::time::Instant::now();
    while std::fs::read_dir(&inbox).map(|d| d.count()).unwrap_or(0) == 0
        && start.elapsed() < common::PATIENCE
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let d = running(&servers, "start_from = \"new\"");
    d.wait_for_count("SELECT count(*) FROM mailbox_progress", 1);
    servers.send_complaint("new@example.test", "Nuovo", "x");
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    let tickets = d.export_tickets();
    assert_eq!(tickets.len(), 1);
    assert_eq!(tickets[0]["subject"], "Nuovo");
}

#[test]
fn move_to_moves_a_message_once_its_ticket_is_stored() {
    let servers = MailServers::start();
    // An existing folder "Archiviati" (Maildir++ layout), as the hospital would create it.
    let maildir = servers.dir.path().join("mail/hospital.test/urp/Maildir");
    servers.deliver_to_maildir(URP, &complaint("k@example.test", "Da archiviare", "x"));
    for sub in ["", "/cur", "/new", "/tmp"] {
        let p = std::path::PathBuf::from(format!("{}/.Archiviati{sub}", maildir.display()));
        std::fs::create_dir(&p).unwrap();
        std::os::unix::fs::chown(&p, Some(5000), Some(5000)).unwrap();
    }
    let d = running(&servers, "move_to = \"Archiviati\"");
    d.wait_for_count("SELECT count(*) FROM tickets", 1);
    let count = |dir: &str| {
        std::fs::read_dir(maildir.join(dir))
            .map(|r| r.count())
            .unwrap_or(0)
    };
    let start = std::time::Instant::now();
    while count(".Archiviati/cur") + count(".Archiviati/new") == 0
        && start.elapsed() < common::PATIENCE
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        count(".Archiviati/cur") + count(".Archiviati/new"),
        1,
        "{}",
        d.log()
    );
    assert_eq!(count("cur") + count("new"), 0, "nothing left in INBOX");
    assert_eq!(d.count("SELECT count(*) FROM tickets"), 1);
}
