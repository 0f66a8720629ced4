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
