//! `cargo bench --bench ingest` (as root: it starts throw-away Dovecot and Postfix).
//!
//! Prints, on this machine and in one run:
//!  (a) raw IMAP `UID FETCH 1:* BODY.PEEK[]` throughput of the local Dovecot over a mailbox of
//!      BENCH_MESSAGES (default 10,000) realistic complaint messages;
//!  (b) ascolto's end-to-end ingest throughput of that same mailbox into tickets (routing rules
//!      and the learned classifier, whose model is trained before the daemon starts), and (b)/(a);
//!  (c) median and 95th percentile from SMTP delivery of one message to its ticket being
//!      committed, with IDLE (BENCH_LATENCY_SAMPLES, default 50);
//!  (d) ascolto's peak RSS while ingesting;
//!  (e) the database thread's time per message, by phase (`ascolto_ingest_writer_seconds_total`
//!      of the last run's daemon);
//!  (f) median and 95th percentile from IMAP APPEND of one message to its ticket being committed
//!      (the mail server's own delivery left out: what remains is the server's IDLE notification
//!      and ascolto).

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::imap::ImapConn;
use common::{Daemon, MailServers};

const URP: &str = "urp@hospital.test";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    let n = env_usize("BENCH_MESSAGES", 10_000);
    let samples = env_usize("BENCH_LATENCY_SAMPLES", 50);
    let servers = MailServers::start();

    eprintln!("filling the mailbox with {n} messages…");
    let mut bytes = 0;
    for i in 0..n {
        let m = realistic_message(i);
        bytes += m.len();
        servers.deliver_to_maildir(URP, &m);
    }
    // Dovecot indexes a new Maildir on first access, and caches INTERNALDATE the first time it is
    // fetched (0.5 s for 10,000 messages here): both outside the measurements, for both sides.
    raw_fetch(servers.imap_port, "UID INTERNALDATE BODY.PEEK[]");

    // (a) best of three.
    let raw_runs: Vec<(usize, Duration)> = (0..3)
        .map(|_| raw_fetch(servers.imap_port, "BODY.PEEK[]"))
        .collect();
    assert!(
        raw_runs.iter().all(|(count, _)| *count == n),
        "raw fetch saw {raw_runs:?}"
    );
    let raw_best = raw_runs.iter().map(|r| r.1).min().unwrap();
    let raw_rate = n as f64 / raw_best.as_secs_f64();

    // (b) best of three, each a fresh process and a fresh database; (d) over all of them.
    let mut ingest_runs = Vec::new();
    let mut peak_kb = 0;
    let mut last = None;
    for _ in 0..3 {
        // Acknowledgements are composed in the measured transaction, and written as files
        // rather than delivered: 10,000 SMTP deliveries on the same 2 cores would measure Postfix.
        let mut d = Daemon::new(|db| {
            let sent = db.parent().unwrap().join("sent-mail");
            servers
                .config(db, "")
                .replace("batch_size = 50", "batch_size = 200")
                .replace(
                    "backend = \"smtp\"",
                    &format!("backend = \"file\"\nfile_dir = \"{}\"", sent.display()),
                )
        });
        // The learned classifier's model is in the database before the daemon starts, as on
        // any day but the first (training is not ingest; it is measured by `--bench classify`).
        // BENCH_NO_MODEL=1: the rules alone (what the model costs is the difference).
        if std::env::var_os("BENCH_NO_MODEL").is_none() {
            let trained = d.command().args(["classify", "train"]).output().unwrap();
            assert!(
                trained.status.success(),
                "{}",
                String::from_utf8_lossy(&trained.stderr)
            );
        }
        let start = Instant::now();
        d.start();
        let pid = d.pid();
        loop {
            peak_kb = peak_kb.max(vm_hwm_kb(pid));
            if d.count("SELECT count(*) FROM tickets") >= n as i64 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(600),
                "ingest did not finish:\n{}",
                common::tail(&d.log())
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        ingest_runs.push(start.elapsed());
        peak_kb = peak_kb.max(vm_hwm_kb(pid));
        if let Some(mut previous) = last.replace(d) {
            Daemon::terminate(&mut previous);
        }
    }
    let mut d: Daemon = last.unwrap();
    let pid = d.pid();
    let ingest_best = *ingest_runs.iter().min().unwrap();
    let ingest_rate = n as f64 / ingest_best.as_secs_f64();
    let classified = d.count("SELECT count(*) FROM tickets WHERE category_id IS NOT NULL");
    let by_model = d.count(
        "SELECT count(*) FROM ticket_field_sources WHERE field = 'category' AND source = 'model'",
    );

    // (e) from the last run's daemon, which ingested the n messages once.
    let phases = writer_phases(d.web_port);

    // (c) one message at a time, the daemon waiting in IDLE.
    std::thread::sleep(Duration::from_secs(1));
    let mut latencies = Vec::with_capacity(samples);
    for i in 0..samples {
        let subject = format!("Latenza {i}");
        let raw = common::complaint(
            "latency@example.test",
            &subject,
            "Attesa in pronto soccorso.",
        );
        let sent = Instant::now();
        servers.send("latency@example.test", URP, &raw);
        let sql = format!("SELECT count(*) FROM tickets WHERE subject = '{subject}'");
        while d.count(&sql) == 0 {
            assert!(
                sent.elapsed() < Duration::from_secs(60),
                "message {i} never arrived"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        latencies.push(sent.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    latencies.sort();
    // (f) the same, added by APPEND instead of delivered by Postfix.
    let mut appended = Vec::with_capacity(samples);
    let mut imap = ImapConn::login(servers.imap_port, URP, "secret");
    for i in 0..samples {
        let subject = format!("Appesa {i}");
        let raw = common::complaint("latency@example.test", &subject, "Attesa in reparto.");
        let sql = format!("SELECT count(*) FROM tickets WHERE subject = '{subject}'");
        let start = Instant::now();
        imap.append(&raw);
        while d.count(&sql) == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "appended message {i} never arrived"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        appended.push(start.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(imap);
    appended.sort();
    let pct_of =
        |v: &[Duration], p: f64| v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1];
    let pct = |p: f64| pct_of(&latencies, p);
    peak_kb = peak_kb.max(vm_hwm_kb(pid));
    d.terminate();

    let secs = |runs: &[Duration]| {
        runs.iter()
            .map(|r| format!("{:.3}", r.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "ascolto ingest benchmark — {n} messages, {:.1} MB, average {:.1} KB",
        bytes as f64 / 1e6,
        bytes as f64 / n as f64 / 1e3
    );
    println!(
        "(a) raw IMAP UID FETCH 1:* BODY.PEEK[] (EXAMINE): {raw_rate:.0} messages/s (best of 3; runs {} s)",
        secs(&raw_runs.iter().map(|r| r.1).collect::<Vec<_>>())
    );
    println!(
        "(b) ascolto end-to-end ingest: {ingest_rate:.0} messages/s (best of 3, process start to last ticket committed; runs {} s; {classified} of {n} classified, {by_model} of them by the learned model above its threshold, the rest by the default rules)",
        secs(&ingest_runs)
    );
    println!(
        "    ratio (b)/(a): {:.2}   (target ≥ 0.50)",
        ingest_rate / raw_rate
    );
    println!(
        "(c) SMTP delivery → ticket committed, with IDLE, {samples} samples: median {} ms, p95 {} ms, max {} ms   (target p95 < 2000 ms)",
        pct(0.5).as_millis(),
        pct(0.95).as_millis(),
        latencies.last().unwrap().as_millis()
    );
    println!(
        "(d) peak RSS of ascolto: {:.1} MB   (target < 150 MB)",
        peak_kb as f64 / 1024.0
    );
    let total: f64 = phases.iter().map(|(_, s)| s).sum();
    println!(
        "(e) the writer's time per message (last run): {:.1} µs = {}",
        total * 1e6 / n as f64,
        phases
            .iter()
            .map(|(phase, secs)| format!("{phase} {:.1}", secs * 1e6 / n as f64))
            .collect::<Vec<_>>()
            .join(" + ")
    );
    println!(
        "(f) IMAP APPEND → ticket committed, with IDLE, {samples} samples: median {} ms, p95 {} ms, max {} ms",
        pct_of(&appended, 0.5).as_millis(),
        pct_of(&appended, 0.95).as_millis(),
        appended.last().unwrap().as_millis()
    );
}

/// `ascolto_ingest_writer_seconds_total` by phase, read from the daemon's `/metrics`.
fn writer_phases(web_port: u16) -> Vec<(String, f64)> {
    let mut stream = TcpStream::connect(("127.0.0.1", web_port)).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("ascolto_ingest_writer_seconds_total{phase=\"")?;
            let (phase, value) = rest.split_once("\"} ")?;
            Some((phase.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// Logs in with a minimal client, EXAMINEs INBOX and runs `UID FETCH 1:* (items)`; returns how
/// many FETCH responses arrived and how long the fetch took (login excluded).
fn raw_fetch(port: u16, items: &str) -> (usize, Duration) {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut r = BufReader::with_capacity(1 << 20, stream.try_clone().unwrap());
    let mut w = stream;
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).unwrap(); // greeting
    let mut command = |tag: &str, cmd: &str, r: &mut BufReader<TcpStream>| -> usize {
        w.write_all(format!("{tag} {cmd}\r\n").as_bytes()).unwrap();
        let mut fetches = 0;
        let mut literal = vec![0u8; 0];
        loop {
            let mut line = Vec::new();
            r.read_until(b'\n', &mut line).unwrap();
            assert!(!line.is_empty(), "connection closed");
            if line.starts_with(b"* ") && line.windows(7).any(|x| x == b" FETCH ") {
                fetches += 1;
            }
            // A literal {N} at the end of the line: read its N bytes, then the line goes on.
            let mut current = line;
            while let Some(len) = literal_len(&current) {
                literal.resize(len, 0);
                r.read_exact(&mut literal).unwrap();
                current.clear();
                r.read_until(b'\n', &mut current).unwrap();
            }
            if current.starts_with(format!("{tag} ").as_bytes()) {
                assert!(
                    current.starts_with(format!("{tag} OK").as_bytes()),
                    "{}",
                    String::from_utf8_lossy(&current)
                );
                return fetches;
            }
        }
    };
    command("a", "LOGIN urp@hospital.test secret", &mut r);
    command("b", "EXAMINE INBOX", &mut r);
    let start = Instant::now();
    let n = command("c", &format!("UID FETCH 1:* ({items})"), &mut r);
    let took = start.elapsed();
    command("d", "LOGOUT", &mut r);
    (n, took)
}

fn literal_len(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r\n")?;
    let line = line.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&line[open + 1..]).ok()?.parse().ok()
}

fn vm_hwm_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

const NAMES: &[(&str, &str)] = &[
    ("Maria Rossi", "maria.rossi"),
    ("Giuseppe Russo", "g.russo"),
    ("Anna Ferrari", "anna.ferrari"),
    ("Francesco Esposito", "f.esposito"),
    ("Giulia Bianchi", "giulia.b"),
    ("Luca Romano", "luca.romano"),
    ("Chiara Colombo", "chiara.colombo"),
    ("Marco Ricci", "marco.ricci"),
];

const COMPLAINTS: &[(&str, &str)] = &[
    ("Attesa in pronto soccorso", "Sabato sera sono arrivato al pronto soccorso con un forte dolore al petto e ho dovuto attendere sette ore prima di essere visitato. Nessuno ci ha dato informazioni sui tempi di attesa e in sala d'attesa non c'erano abbastanza sedie per tutti."),
    ("Comportamento del personale", "Durante il ricovero di mio padre in medicina interna un'infermiera del turno di notte è stata scortese e maleducata, rispondendo in modo sgarbato alle nostre domande. Chiediamo che il fatto venga segnalato al coordinatore."),
    ("Pulizia della stanza", "La stanza 214 del reparto di ortopedia era sporca: il bagno non è stato pulito per tre giorni e il cestino era sempre pieno. Mi sembra una situazione inaccettabile per un ospedale."),
    ("Richiesta di rimborso", "Ho pagato il ticket per una visita cardiologica che è stata annullata dall'ospedale il giorno stesso. Allego la ricevuta del pagamento e chiedo il rimborso della somma versata."),
    ("Mancanza di informazioni", "Mia madre è stata operata martedì e nessuno ci ha spiegato come fosse andato l'intervento né quali fossero le indicazioni per le dimissioni. Abbiamo dovuto chiedere più volte senza ricevere risposta."),
    ("Ringraziamento", "Voglio ringraziare di cuore tutto il personale del reparto di pediatria per la professionalità e l'umanità dimostrate durante il ricovero di mio figlio. Siete stati straordinari."),
    ("Lista d'attesa per la risonanza", "Per una risonanza magnetica con priorità B il CUP mi ha dato come prima data disponibile fra otto mesi. Mi chiedo come sia possibile rispettare i tempi previsti dalla legge."),
    ("Parcheggio", "Il parcheggio dell'ospedale è sempre pieno e non ci sono posti riservati sufficienti per le persone con disabilità. Mio marito in sedia a rotelle ha dovuto attendere in auto."),
    ("Suggerimento per la sala d'attesa", "Sarebbe utile installare un display con il numero di chiamata nella sala d'attesa del laboratorio analisi, così da evitare confusione tra i pazienti in coda per il prelievo."),
    ("Referto non consegnato", "Ho effettuato una TAC il mese scorso ma il referto non mi è ancora stato consegnato, nonostante le numerose telefonate allo sportello. Ho bisogno del documento per la visita specialistica."),
];

/// A complaint shaped like real mail: delivery headers, often multipart/alternative from a phone
/// or webmail, sometimes with a photo or a scanned document attached.
fn realistic_message(i: usize) -> Vec<u8> {
    let (name, local) = NAMES[i % NAMES.len()];
    let (subject, text) = COMPLAINTS[(i / NAMES.len() + i) % COMPLAINTS.len()];
    let from = format!("{local}{i}@example.test");
    let day = 1 + i % 28;
    let mut m = format!(
        "Return-Path: <{from}>\r\nDelivered-To: {URP}\r\n\
Received: from mx.example.test (mx.example.test [192.0.2.{}])\r\n\tby mx.hospital.test (Postfix) with ESMTPS id {i:08X}\r\n\tfor <{URP}>; Mon, {day:02} Mar 2026 10:{:02}:00 +0100\r\n\
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.test; s=mail; h=from:to:subject:date:message-id;\r\n\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dGVzdCBzaWduYXR1cmUgZm9yIGJlbmNobWFyayBvbmx5IG5vdCB2YWxpZA==\r\n\
From: {name} <{from}>\r\nTo: URP Ospedale <{URP}>\r\nSubject: {subject} (pratica {i})\r\n\
Date: Mon, {day:02} Mar 2026 10:{:02}:00 +0100\r\nMessage-ID: <bench.{i}.{}@example.test>\r\nMIME-Version: 1.0\r\n\
User-Agent: Mozilla/5.0 Thunderbird/115.0\r\n",
        i % 250,
        i % 60,
        i % 60,
        i * 7919
    );
    let text_body = format!(
        "Buongiorno,\r\n\r\n{text}\r\n\r\nDistinti saluti,\r\n{name}\r\nTel. 333 {i:07}\r\n"
    );
    let boundary = format!("----=_Part_{i}_bench");
    if i.is_multiple_of(10) {
        let photo: String = (0..300)
            .map(|k| format!("{:076}\r\n", (k * 31 + i) % 997))
            .collect();
        m.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n\
Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text_body}\r\n--{boundary}\r\n\
Content-Type: image/jpeg; name=\"foto.jpg\"\r\nContent-Disposition: attachment; filename=\"foto.jpg\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{photo}--{boundary}--\r\n"
        ));
    } else if i.is_multiple_of(2) {
        let html = text_body
            .replace("\r\n\r\n", "</p><p>")
            .replace("\r\n", "<br>");
        m.push_str(&format!(
            "Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n\
Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text_body}\r\n--{boundary}\r\n\
Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
<html><head><meta charset=\"utf-8\"></head><body><div dir=\"ltr\"><p>{html}</p></div></body></html>\r\n--{boundary}--\r\n"
        ));
    } else {
        m.push_str(&format!("Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text_body}"));
    }
    m.into_bytes()
}
