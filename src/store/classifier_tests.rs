use super::*;
use crate::store::open_in_memory;

/// A bare ticket with one inbound message, written directly (the pipeline's tests cover how
/// mail becomes one).
fn ticket(conn: &Connection, seq: i64, subject: &str, body: &str) -> i64 {
    conn.execute(
        "INSERT OR IGNORE INTO contacts (email, name, created_at) VALUES ('c@e.test', 'Ada Zanzottera', 'x')",
        [],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO tickets (number, year, seq, thread_token, contact_id, subject, received_at,
             due_at, channel, created_at, updated_at)
         VALUES (?1, 2026, ?2, 't', 1, ?3, '2026-03-02T09:00:00Z', '2026-04-01T09:00:00Z',
             'email', 'x', 'x')",
        params![format!("URP-2026-{seq:06}"), seq, subject],
    )
    .unwrap();
    let id = conn.last_insert_rowid();
    conn.execute(
        "INSERT INTO messages (ticket_id, direction, subject, body_text, received_at, created_at)
         VALUES (?1, 'in', ?2, ?3, '2026-03-02T09:00:00Z', 'x')",
        params![id, subject, body],
    )
    .unwrap();
    id
}

fn category(conn: &Connection, code: &str) -> i64 {
    conn.query_row("SELECT id FROM categories WHERE code = ?1", [code], |r| {
        r.get(0)
    })
    .unwrap()
}

#[test]
fn only_the_newest_model_is_kept_and_versions_only_grow() {
    let conn = open_in_memory().unwrap();
    assert_eq!(latest_version(&conn).unwrap(), None);
    assert!(latest(&conn).unwrap().is_none());
    let thresholds = Thresholds {
        kind: Some(0.8),
        ..Thresholds::default()
    };
    let model = |bytes: &'static [u8]| NewModel {
        format_version: 1,
        trained_at: "2026-03-02T03:00:00Z",
        reason: TrainReason::Nightly,
        corpus_examples: 1220,
        ticket_examples: 3,
        seconds: 4.5,
        thresholds: &thresholds,
        bytes,
    };
    let v1 = store_model(&conn, &model(b"one")).unwrap();
    let v2 = store_model(&conn, &model(b"two")).unwrap();
    assert!(v2 > v1);
    assert_eq!(latest_version(&conn).unwrap(), Some(v2));
    let (v, format, bytes) = latest_bytes(&conn).unwrap().unwrap();
    assert_eq!((v, format, bytes.as_slice()), (v2, 1, &b"two"[..]));
    let n: i64 = conn
        .query_row("SELECT count(*) FROM classifier_models", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "the older model (and whatever it learnt) is gone");
    let row = latest(&conn).unwrap().unwrap();
    assert_eq!(row.thresholds, thresholds);
    assert_eq!((row.size, row.ticket_examples), (3, 3));
}

#[test]
fn sources_are_replaced_per_field_and_read_back_with_the_operator() {
    let conn = open_in_memory().unwrap();
    let t = ticket(&conn, 1, "s", "b");
    set_source(
        &conn,
        t,
        &FieldSource::rule(ClassField::Category, 7, "Liste d'attesa", "a"),
    )
    .unwrap();
    set_source(
        &conn,
        t,
        &FieldSource::model(ClassField::Kind, 3, 0.97, "b"),
    )
    .unwrap();
    let got = sources(&conn, t).unwrap();
    assert_eq!(got.len(), 2);
    let kind = got.iter().find(|s| s.field == ClassField::Kind).unwrap();
    assert_eq!(kind.confidence.map(|c| (c * 100.0).round()), Some(97.0));
    conn.execute(
        "INSERT INTO users (email, name, role, password_hash, created_at)
         VALUES ('o@h.test', 'Olga', 'operator', 'x', 'x')",
        [],
    )
    .unwrap();
    set_source(
        &conn,
        t,
        &FieldSource::operator(ClassField::Category, 1, "c"),
    )
    .unwrap();
    let got = sources(&conn, t).unwrap();
    let cat = got
        .iter()
        .find(|s| s.field == ClassField::Category)
        .unwrap();
    assert_eq!(cat.source, ClassSource::Operator);
    assert_eq!(cat.user_name.as_deref(), Some("Olga"));
    assert_eq!(
        cat.rule_id, None,
        "the rule's source was replaced, not merged"
    );
    clear_source(&conn, t, ClassField::Kind).unwrap();
    assert_eq!(sources(&conn, t).unwrap().len(), 1);
}

#[test]
fn suggestions_name_only_active_sub_categories_and_services() {
    let conn = open_in_memory().unwrap();
    let t = ticket(&conn, 1, "s", "b");
    set_suggestions(
        &conn,
        t,
        ClassField::Category,
        &[("TEM.02", 0.6), ("ALT", 0.2), ("XYZ.09", 0.1)],
        4,
    )
    .unwrap();
    set_suggestions(&conn, t, ClassField::Service, &[("PS", 0.5), ("-", 0.4)], 4).unwrap();
    set_suggestions(&conn, t, ClassField::Kind, &[("elogio", 0.7)], 4).unwrap();
    let got = suggestions(&conn, t).unwrap();
    let cats: Vec<_> = got
        .iter()
        .filter(|s| s.field == ClassField::Category)
        .collect();
    assert_eq!(cats.len(), 3);
    assert_eq!(
        cats[0].target.as_ref().map(|t| t.0),
        Some(category(&conn, "TEM.02"))
    );
    assert_eq!(cats[1].target, None, "a macro-category is no ticket's code");
    assert_eq!(cats[2].target, None, "an unknown code");
    let kind = got.iter().find(|s| s.field == ClassField::Kind).unwrap();
    assert_eq!(kind.kind(), Some(Kind::Elogio));
    // Replacing a field's suggestions leaves the others.
    set_suggestions(&conn, t, ClassField::Category, &[("ALB.01", 0.9)], 5).unwrap();
    assert_eq!(suggestions(&conn, t).unwrap().len(), 4);
    assert_eq!(sub_category_by_code(&conn, "ALT").unwrap(), None);
    assert!(sub_category_by_code(&conn, "ALB.01").unwrap().is_some());
    assert!(service_by_code(&conn, "PS").unwrap().is_some());
    assert_eq!(service_by_code(&conn, "-").unwrap(), None);
}

#[test]
fn training_tickets_are_the_confirmed_ones_not_anonymised() {
    let conn = open_in_memory().unwrap();
    let confirmed = ticket(&conn, 1, "Portafoglio", "Ho perso il portafoglio");
    let by_rule = ticket(&conn, 2, "Attesa", "Nove ore");
    let anonymised = ticket(&conn, 3, "Borsa", "Ho perso la borsa");
    let alb = category(&conn, "ALB.01");
    for t in [confirmed, by_rule, anonymised] {
        conn.execute(
            "UPDATE tickets SET category_id = ?2, kind = 'reclamo' WHERE id = ?1",
            params![t, alb],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO users (email, name, role, password_hash, created_at)
         VALUES ('o@h.test', 'Olga', 'operator', 'x', 'x')",
        [],
    )
    .unwrap();
    for t in [confirmed, anonymised] {
        set_source(
            &conn,
            t,
            &FieldSource::operator(ClassField::Category, 1, "x"),
        )
        .unwrap();
    }
    set_source(
        &conn,
        by_rule,
        &FieldSource::rule(ClassField::Category, 1, "r", "x"),
    )
    .unwrap();
    set_source(
        &conn,
        confirmed,
        &FieldSource::rule(ClassField::Kind, 1, "r", "x"),
    )
    .unwrap();
    conn.execute(
        "UPDATE tickets SET anonymised_at = 'x' WHERE id = ?1",
        [anonymised],
    )
    .unwrap();
    let got = training_tickets(&conn).unwrap();
    assert_eq!(got.len(), 1);
    let t = &got[0];
    assert_eq!(t.id, confirmed);
    assert_eq!(t.body, "Ho perso il portafoglio");
    assert_eq!(t.sender_name.as_deref(), Some("Ada Zanzottera"));
    assert_eq!(t.category.as_deref(), Some("ALB.01"));
    assert_eq!(t.kind, None, "a kind set by a rule is not an operator's");
    assert!(!t.service_confirmed);
}

#[test]
fn rule_agreement_counts_what_operators_kept() {
    let conn = open_in_memory().unwrap();
    let (tem, alb) = (category(&conn, "TEM.02"), category(&conn, "ALB.01"));
    conn.execute(
        "INSERT INTO users (email, name, role, password_hash, created_at)
         VALUES ('o@h.test', 'Olga', 'operator', 'x', 'x')",
        [],
    )
    .unwrap();
    let rule: i64 = conn
        .query_row("SELECT min(id) FROM routing_rules", [], |r| r.get(0))
        .unwrap();
    // Three tickets the rule classified TEM.02: one kept, one changed, one nobody looked at.
    for (seq, final_category, judged) in [(1, tem, true), (2, alb, true), (3, tem, false)] {
        let t = ticket(&conn, seq, "s", "b");
        conn.execute(
            "UPDATE tickets SET category_id = ?2 WHERE id = ?1",
            params![t, final_category],
        )
        .unwrap();
        record_rule_result(&conn, t, rule, RuleValue::Category(tem)).unwrap();
        if judged {
            set_source(
                &conn,
                t,
                &FieldSource::operator(ClassField::Category, 1, "x"),
            )
            .unwrap();
        }
    }
    let got = rule_agreement(&conn).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].rule_id, got[0].applied, got[0].judged, got[0].agreed),
        (rule, 3, 2, 1)
    );
    assert!(got[0].name.is_some());
}

#[test]
fn evaluations_and_the_confirmed_share_read_back() {
    let conn = open_in_memory().unwrap();
    assert!(latest_evaluation(&conn).unwrap().is_none());
    let e = EvaluationRow {
        at: "2026-03-02T10:00:00Z".into(),
        source: "tickets".into(),
        folds: 5,
        examples: 40,
        summary: vec![FieldSummary {
            field: crate::learn::Field::Kind,
            labelled: 40,
            decided: 30,
            precision: 0.96,
            coverage: 0.75,
            accuracy_top1: 0.9,
            accuracy_top3: 1.0,
        }],
        report: "table".into(),
    };
    store_evaluation(&conn, &e).unwrap();
    assert_eq!(latest_evaluation(&conn).unwrap(), Some(e));

    let t1 = ticket(&conn, 1, "s", "b");
    let t2 = ticket(&conn, 2, "s", "b");
    ticket(&conn, 3, "s", "b");
    let alb = category(&conn, "ALB.01");
    conn.execute(
        "UPDATE tickets SET category_id = ?1 WHERE id IN (?2, ?3)",
        params![alb, t1, t2],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO users (email, name, role, password_hash, created_at)
         VALUES ('o@h.test', 'Olga', 'operator', 'x', 'x')",
        [],
    )
    .unwrap();
    set_source(
        &conn,
        t1,
        &FieldSource::operator(ClassField::Category, 1, "x"),
    )
    .unwrap();
    // A model's source is no confirmation.
    set_source(
        &conn,
        t2,
        &FieldSource::model(ClassField::Category, 1, 0.99, "x"),
    )
    .unwrap();
    let (classified, confirmed) =
        confirmed_share(&conn, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z").unwrap();
    assert_eq!((classified, confirmed), (2, 1));
}
