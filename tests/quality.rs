//! Issue 20 against the real daemon and command line: the transparency report leaks nothing a
//! citizen wrote and hides small counts; the risk view needs the right; the analysis reaches
//! the ticket export and survives the anonymisation; the regional export and the five-year
//! comparison match hand-counted fixtures.

mod common;

use chrono::Datelike;
use common::complaint;
use common::http::{office_with, Office};

/// `[quality]` and `[public]` appended after the `[web]` table the office writes.
const PUBLIC: &str = "\n[quality]\ntrust_code = \"090201\"\n\n[public]\ntransparency = true\n";

fn run(o: &Office, args: &[&str]) -> String {
    let out = o.daemon.command().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The citizens of the leak test: each name, address and phrase must stay out of the report.
const CITIZENS: &[(&str, &str, &str, &str)] = &[
    (
        "Ermenegilda Zappacosta",
        "ermenegilda.zappacosta@example.test",
        "Quadrifoglio smeraldino nel corridoio",
        "la zuppa di ortiche era fredda",
    ),
    (
        "Policarpo Vescovini",
        "policarpo.vescovini@example.test",
        "Ombrello arancione dimenticato",
        "mio figlio Gianfilippo aspettava",
    ),
    (
        "Teodolinda Brambillasca",
        "teodolinda.b@example.test",
        "Lampadario tremolante reparto",
        "telefonai al numero 0564 987654",
    ),
    (
        "Sigismondo Pappalardo",
        "sigismondo.pappalardo@example.test",
        "Ascensore fermo da giorni",
        "la signora Ottavina mi ha aiutato",
    ),
    (
        "Eufrasia Lombardozzi",
        "eufrasia.lombardozzi@example.test",
        "Parcheggio introvabile",
        "codice fiscale LMBFRS80A41E202X",
    ),
    (
        "Crisogono Taddeucci",
        "crisogono.taddeucci@example.test",
        "Grazie infinite al reparto",
        "l'infermiera Clelia fu gentilissima",
    ),
    (
        "Gelsomina Fantozzi",
        "gelsomina.fantozzi@example.test",
        "Complimenti alla cardiologia",
        "dopo il bypass di mio marito Anselmo",
    ),
];

fn messages() -> Vec<Vec<u8>> {
    CITIZENS
        .iter()
        .map(|(name, email, subject, body)| {
            complaint(&format!("\"{name}\" <{email}>"), subject, body)
        })
        .collect()
}

/// Every string the report must not hold: names, surnames, addresses and their local parts,
/// subjects, bodies, and what operators wrote about the cases.
fn secrets() -> Vec<String> {
    let mut out = Vec::new();
    for (name, email, subject, body) in CITIZENS {
        out.push(name.to_string());
        out.extend(name.split(' ').map(str::to_string));
        out.push(email.to_string());
        out.push(email.split('@').next().unwrap().to_string());
        out.push(subject.to_string());
        out.push(body.to_string());
    }
    out.push("nota riservata ippocastano".into());
    out.push("analisi segreta ornitorinco".into());
    out
}

#[test]
fn the_transparency_report_holds_no_personal_data_and_hides_small_counts() {
    let o = office_with(&messages(), PUBLIC);
    let db = o.db_rw();
    // Five complaints and two praises (the last two); one unit concerned by one ticket.
    db.execute_batch(
        "UPDATE tickets SET kind = 'reclamo';
         UPDATE tickets SET kind = 'elogio' WHERE id IN (SELECT id FROM tickets ORDER BY id DESC LIMIT 2);
         UPDATE tickets SET service_id = (SELECT id FROM services WHERE code = 'PS')
           WHERE id = (SELECT min(id) FROM tickets);",
    )
    .unwrap();
    let mut op = o.sign_in("operator");
    let first = format!("/reclami/{}", o.tickets[0]);
    assert_eq!(
        op.post(
            &first,
            &format!("{first}/nota"),
            &[("testo", "nota riservata ippocastano")]
        )
        .status,
        303
    );
    let fragility = o
        .daemon
        .count("SELECT min(id) FROM fragility_kinds")
        .to_string();
    let r = op.post(
        &first,
        &format!("{first}/analisi"),
        &[
            ("fondatezza", "fondato"),
            ("fragilita", &fragility),
            ("nota", "analisi segreta ornitorinco"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    // An improvement action the staff wrote is published with its state.
    db.execute(
        "INSERT INTO improvement_actions (title, state, created_at, updated_at)
         VALUES ('Nuova segnaletica al pronto soccorso', 'avviata', '2026-03-05T00:00:00Z', '2026-03-05T00:00:00Z')",
        [],
    )
    .unwrap();

    // The public page (nobody signed in), its CSV, and the command line's HTML and CSV.
    let public = o.client();
    let page = public.get("/trasparenza/2026");
    assert_eq!(page.status, 200);
    let csv = public.get("/trasparenza/2026/csv");
    assert_eq!(csv.status, 200);
    let renderings = [
        ("page", page.text()),
        ("csv", csv.text()),
        (
            "export html",
            run(
                &o,
                &[
                    "export",
                    "transparency",
                    "--year",
                    "2026",
                    "--format",
                    "html",
                ],
            ),
        ),
        (
            "export csv",
            run(
                &o,
                &[
                    "export",
                    "transparency",
                    "--year",
                    "2026",
                    "--format",
                    "csv",
                ],
            ),
        ),
    ];
    for (what, text) in &renderings {
        let lower = text.to_lowercase();
        for secret in secrets() {
            assert!(
                !lower.contains(&secret.to_lowercase()),
                "{what} holds {secret:?}"
            );
        }
        // "< 3", escaped in HTML.
        assert!(
            text.contains("< 3") || text.contains("&lt; 3"),
            "{what}: small counts hidden"
        );
        assert!(
            text.contains("Nuova segnaletica al pronto soccorso"),
            "{what}: the action"
        );
    }
    let export_csv = &renderings[3].1;
    assert!(export_csv.contains("Totale,Segnalazioni ricevute,7"));
    // Two praises out of seven: hidden, and so is the complaints' five (else 7 - 5 gives it).
    assert!(export_csv.contains("Per tipologia,Elogio,< 3"));
    assert!(export_csv.contains("Per tipologia,Reclamo,< 3"));
    // One frail citizen: hidden.
    assert!(export_csv.contains("Attenzioni particolari,Persone fragili,< 3"));
    assert!(export_csv.contains("Per canale,Email,7"));
    assert!(
        export_csv.contains("Azione di miglioramento,Nuova segnaletica al pronto soccorso,avviata")
    );
}

#[test]
fn the_risk_view_needs_the_right_and_the_analysis_reaches_exports_and_survives_anonymisation() {
    let config = PUBLIC.replace(
        "[quality]\n",
        "[quality]\nrisk_office = \"rischio.clinico@hospital.test\"\n",
    );
    let o = office_with(&messages()[..2], &config);
    let number = o.tickets[0].clone();
    let page = format!("/reclami/{number}");
    let mut op = o.sign_in("operator");
    let components: Vec<String> = {
        let db = o.daemon.db();
        let mut st = db
            .prepare("SELECT id FROM complaint_components ORDER BY position LIMIT 2")
            .unwrap();
        st.query_map([], |r| r.get::<_, i64>(0))
            .unwrap()
            .map(|r| r.unwrap().to_string())
            .collect()
    };
    let r = op.post(
        &page,
        &format!("{page}/analisi"),
        &[
            ("componente", &components[0]),
            ("componente", &components[1]),
            ("fondatezza", "parzialmente_fondato"),
            ("rischio", "1"),
            ("nota", "analisi segreta ornitorinco"),
            ("avvisa", "1"),
            ("nota_rischio", "Sentire il direttore del reparto"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    // The clinical-risk office's mail: the number and the operator's note, nothing of the
    // citizen's (their name, address, subject, words, or the internal analysis).
    let (to, subject, body): (String, String, String) = o
        .daemon
        .db()
        .query_row(
            "SELECT to_address, subject, body_text FROM outbox WHERE kind = 'risk_alert'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(to, "rischio.clinico@hospital.test");
    let mail = format!("{subject}\n{body}");
    assert!(mail.contains(&number) && mail.contains("Sentire il direttore del reparto"));
    let (name, email, subj, words) = CITIZENS[0];
    for secret in [name, email, subj, words, "ornitorinco"] {
        assert!(
            !mail.contains(secret),
            "the risk mail holds {secret:?}: {mail}"
        );
    }
    let r = op.post(
        &page,
        &format!("{page}/rischio"),
        &[
            ("registro", "Incident reporting"),
            ("identificativo", "IR-77"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        o.daemon
            .count("SELECT count(*) FROM audit_log WHERE action = 'ticket.risk_flagged'"),
        3,
        "the flag, the office's mail and the reference"
    );

    // Refused to roles without the right; shown to a viewer given it.
    assert_eq!(op.get("/rischio-clinico").status, 403);
    let viewer = o.sign_in("viewer");
    assert_eq!(viewer.get("/rischio-clinico").status, 403);
    o.db_rw()
        .execute(
            "UPDATE users SET risk_manager = 1 WHERE email = 'viewer@hospital.test'",
            [],
        )
        .unwrap();
    let list = viewer.get("/rischio-clinico");
    assert_eq!(list.status, 200);
    assert!(list.text().contains(&number) && list.text().contains("IR-77"));
    assert!(!list.text().contains(&o.tickets[1]), "only flagged tickets");

    let risk = run(&o, &["export", "risk", "--year", "2026", "--format", "csv"]);
    assert!(risk.contains(&number) && risk.contains("Incident reporting:IR-77"));
    assert_eq!(risk.lines().count(), 2, "a header and the flagged ticket");

    let exported = o.daemon.ticket(&number);
    assert_eq!(exported["components"].as_array().unwrap().len(), 2);
    assert_eq!(exported["founded"], "parzialmente_fondato");
    assert_eq!(exported["fragile"], false);
    assert_eq!(exported["risk_refs"][0]["identifier"], "IR-77");
    assert_eq!(exported["number"], number.as_str(), "old keys kept");

    // Closed long ago, anonymised: the note goes, components, flags and references stay.
    o.db_rw()
        .execute(
            "UPDATE tickets SET state = 'closed', closed_at = '2026-03-10T00:00:00Z' WHERE number = ?1",
            [&number],
        )
        .unwrap();
    run(&o, &["anonymise", "--after-days", "1"]);
    let note: String = o
        .daemon
        .db()
        .query_row("SELECT note FROM ticket_analysis", [], |r| r.get(0))
        .unwrap();
    assert!(!note.contains("ornitorinco"), "{note}");
    let exported = o.daemon.ticket(&number);
    assert_eq!(exported["components"].as_array().unwrap().len(), 2);
    assert_eq!(exported["founded"], "parzialmente_fondato");
    assert_eq!(exported["risk"], true);
    assert_eq!(exported["risk_refs"][0]["identifier"], "IR-77");
}

#[test]
fn the_regional_export_matches_a_hand_counted_fixture() {
    let o = office_with(&messages()[..4], PUBLIC);
    let db = o.db_rw();
    db.execute_batch(
        "UPDATE tickets SET received_at = '2026-03-02T09:00:00Z', due_at = '2026-04-01T09:00:00Z',
                channel = 'email', kind = NULL, category_id = NULL, service_id = NULL,
                outcome = NULL, first_answered_at = NULL;
         -- 1: a complaint about waiting in PS (TEM.02: the macro-category's code, 4), answered
         -- 10 days later, upheld.
         UPDATE tickets SET kind = 'reclamo', category_id = (SELECT id FROM categories WHERE code = 'TEM.02'),
                service_id = (SELECT id FROM services WHERE code = 'PS'), outcome = 'accolto',
                first_answered_at = '2026-03-12T10:00:00Z'
          WHERE seq = 1;
         -- 2: a praise by PEC (REL.01: 2), received late on 31 March UTC (1 April in Rome),
         -- answered on 3 April.
         UPDATE tickets SET kind = 'elogio', channel = 'pec', received_at = '2026-03-31T23:30:00Z',
                category_id = (SELECT id FROM categories WHERE code = 'REL.01'),
                first_answered_at = '2026-04-03T08:00:00Z'
          WHERE seq = 2;
         -- 3: a report of a sub-category with a code of its own.
         UPDATE tickets SET kind = 'segnalazione', category_id = (SELECT id FROM categories WHERE code = 'TEM.01')
          WHERE seq = 3;
         INSERT INTO regional_codes (category_id, code) SELECT id, '4B' FROM categories WHERE code = 'TEM.01';
         -- 4: merged into 1: not a ticket of its own.
         UPDATE tickets SET merged_into = (SELECT id FROM tickets WHERE seq = 1) WHERE seq = 4;
         -- 1 went to the second level.
         INSERT INTO reviews (ticket_id, body, opened_at)
         SELECT id, 'Difensore civico', '2026-03-20T09:00:00Z' FROM tickets WHERE seq = 1;",
    )
    .unwrap();
    let out = run(
        &o,
        &["export", "regional", "--year", "2026", "--format", "csv"],
    );
    let expected = format!(
        "trust,ticket,structure,received_date,channel,kind,category_code,outcome,days_to_answer,reviewed\n\
         090201,{},PS,2026-03-02,email,reclamo,4,accolto,10,1\n\
         090201,{},,2026-04-01,pec,elogio,2,,2,0\n\
         090201,{},,2026-03-02,email,segnalazione,4B,,,0\n",
        o.tickets[0], o.tickets[1], o.tickets[2]
    );
    assert_eq!(out, expected);
}

#[test]
fn the_five_year_comparison_matches_a_hand_counted_fixture() {
    let o = office_with(&messages()[..5], PUBLIC);
    let y = chrono::Utc::now().year();
    let db = o.db_rw();
    let set = |seq: i64, year: i32, kind: &str, answered: Option<&str>| {
        db.execute(
            "UPDATE tickets SET year = ?2, kind = ?3,
                    received_at = ?2 || '-03-02T09:00:00Z', due_at = ?2 || '-04-01T09:00:00Z',
                    first_answered_at = CASE ?4 WHEN 'on_time' THEN ?2 || '-03-20T09:00:00Z'
                                                WHEN 'late' THEN ?2 || '-05-20T09:00:00Z' END,
                    service_id = (SELECT id FROM services WHERE code = 'PS')
             WHERE seq = ?1",
            rusqlite::params![seq, year, kind, answered],
        )
        .unwrap();
    };
    set(1, y - 4, "reclamo", Some("on_time"));
    set(2, y - 4, "elogio", None);
    set(3, y - 2, "reclamo", Some("late"));
    set(4, y, "reclamo", Some("on_time"));
    set(5, y, "segnalazione", None);
    // Ticket 5 concerns no unit: not PS's.
    db.execute("UPDATE tickets SET service_id = NULL WHERE seq = 5", [])
        .unwrap();
    let ps = o.daemon.count("SELECT id FROM services WHERE code = 'PS'");
    let viewer = o.sign_in("viewer");
    let csv = viewer.get(&format!("/statistiche/confronto?servizio={ps}&formato=csv"));
    assert_eq!(csv.status, 200);
    let expected = format!(
        "anno,segnalazioni,reclami,elogi,nei_termini,oltre_i_termini\n\
         {},2,1,1,1,0\n{},0,0,0,0,0\n{},1,1,0,0,1\n{},0,0,0,0,0\n{},1,1,0,1,0\n",
        y - 4,
        y - 3,
        y - 2,
        y - 1,
        y
    );
    assert_eq!(csv.text(), expected);
    let page = viewer.get(&format!("/statistiche/confronto?servizio={ps}"));
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Ultimi cinque anni"));
}
