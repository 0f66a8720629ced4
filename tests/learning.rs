//! The learned classifier as operators meet it in the backoffice (issue 13): a ticket's
//! suggestions with their confidence, the one-click confirmation (a POST with the CSRF token,
//! operators only), where each field came from, the list's suggestion, the statistics' share
//! confirmed by an operator, the administration page; and `ascolto classify evaluate` naming a
//! malformed corpus line. (Training itself is tested in-process: `src/learned/tests.rs`.)

mod common;

use common::complaint;
use common::http::{office, Office};

/// What the model would have left on a ticket it did not classify (set up here: training on
/// the whole corpus takes minutes in a debug build).
fn suggest(o: &Office, number: &str, field: &str, values: &[(&str, f64)]) {
    let db = o.db_rw();
    let id: i64 = db
        .query_row("SELECT id FROM tickets WHERE number = ?1", [number], |r| {
            r.get(0)
        })
        .unwrap();
    for (rank, (value, confidence)) in values.iter().enumerate() {
        db.execute(
            "INSERT INTO ticket_suggestions (ticket_id, field, rank, value, confidence, model_version)
             VALUES (?1, ?2, ?3, ?4, ?5, 1)",
            rusqlite::params![id, field, rank as i64, value, confidence],
        )
        .unwrap();
    }
}

#[test]
fn an_operator_confirms_a_suggestion_in_one_click() {
    // No default rule matches this message: it arrives unclassified.
    let o = office(&[complaint(
        "lina@example.test",
        "Una domanda",
        "Vorrei sapere a che ora apre lo sportello per ritirare i documenti.",
    )]);
    let number = o.tickets[0].clone();
    suggest(
        &o,
        &number,
        "category",
        &[("INF.02", 0.62), ("BUR.02", 0.21)],
    );
    let page = format!("/reclami/{number}");

    // The list and the page show the suggestion with its confidence.
    let mut op = o.sign_in("operator");
    let list = op.get("/reclami").text();
    assert!(list.contains("suggerito INF.02 · 62 %"), "{list}");
    let html = op.get(&page).text();
    assert!(html.contains("Classificazione automatica"), "{html}");
    assert!(html.contains("INF.02 – Informazioni su servizi"), "{html}");
    assert!(html.contains("62 %") && html.contains("21 %"));
    assert!(html.contains("action=\"/reclami/") && html.contains("/conferma\""));

    // A viewer sees no button and is refused the POST.
    let mut viewer = o.sign_in("viewer");
    let viewer_page = viewer.get(&page).text();
    assert!(!viewer_page.contains("/conferma\""));

    // One click: the category is set, and it is the operator's.
    let r = op.post(
        &page,
        &format!("{page}/conferma"),
        &[("campo", "category"), ("valore", "INF.02")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let db = o.daemon.db();
    let (code, source): (String, String) = db
        .query_row(
            "SELECT k.code, s.source FROM tickets t JOIN categories k ON k.id = t.category_id
               JOIN ticket_field_sources s ON s.ticket_id = t.id AND s.field = 'category'
              WHERE t.number = ?1",
            [&number],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((code.as_str(), source.as_str()), ("INF.02", "operator"));
    let audited: i64 = db
        .query_row(
            "SELECT count(*) FROM audit_log a JOIN tickets t ON t.id = a.ticket_id
              WHERE t.number = ?1 AND a.action = 'ticket.classification_confirmed'
                AND a.actor LIKE 'user:%'",
            [&number],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(audited, 1);
    let html = op.get(&page).text();
    assert!(html.contains("impostata da operatore"), "{html}");

    // Without the page's token the same POST is refused.
    let r = op.post_raw(
        &format!("{page}/conferma"),
        &[("campo", "category"), ("valore", "BUR.02")],
    );
    assert_eq!(r.status, 403);
    let r = viewer.post(
        &page,
        &format!("{page}/conferma"),
        &[("campo", "category"), ("valore", "BUR.02")],
    );
    assert_eq!(r.status, 403);

    // The statistics count what operators confirmed, and can count only that.
    let stats = op.get("/statistiche?periodo=anno&confermate=1").text();
    assert!(
        stats.contains("Classificazioni confermate da un operatore"),
        "{stats}"
    );
    assert!(stats.contains("solo confermate da un operatore"));
    assert!(stats.contains("INF.02"));

    // The administration page shows the classifier and the rules' agreement.
    let mut admin = o.sign_in("admin");
    let html = admin.get_mut("/amministrazione/classificatore").text();
    assert!(html.contains("Classificatore appreso"), "{html}");
    assert!(html.contains("Nessun modello"), "{html}");
}

#[test]
fn evaluate_names_a_malformed_corpus_line() {
    let o = office(&[]);
    let corpus = o.daemon.dir.path().join("bad.jsonl");
    std::fs::write(
        &corpus,
        "{\"id\":\"a\",\"subject\":\"s\",\"body\":\"b\",\"kind\":\"reclamo\",\"category\":\"ALT\",\"service\":null}\n{\"id\":\"b\",\"body\":\n",
    )
    .unwrap();
    let out = o
        .daemon
        .command()
        .args(["classify", "evaluate", "--corpus"])
        .arg(&corpus)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.jsonl, line 2"), "{err}");
    // On a database without confirmed tickets: a clear refusal, not a panic.
    let out = o
        .daemon
        .command()
        .args(["classify", "evaluate"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("too few"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
