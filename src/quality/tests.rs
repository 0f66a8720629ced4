use super::*;
use crate::domain::Role;
use crate::store::quality::{analysis, list};

fn actor(conn: &Connection, role: Role) -> Actor {
    conn.execute(
        "INSERT INTO users (email, name, role, password_hash, created_at)
         VALUES (?1, 'Test', ?2, 'x', '2026-01-01T00:00:00Z')",
        rusqlite::params![format!("{role}@hospital.test"), role],
    )
    .unwrap();
    Actor {
        id: conn.last_insert_rowid(),
        name: "Test".into(),
        role,
    }
}

fn ticket(conn: &Connection) -> i64 {
    conn.execute(
        "INSERT INTO contacts (email, created_at) VALUES ('c@example.test', '2026-01-01T00:00:00Z')",
        [],
    )
    .unwrap();
    let contact = conn.last_insert_rowid();
    conn.execute(
        "INSERT INTO tickets (number, year, seq, thread_token, contact_id, subject, received_at,
                              due_at, channel, created_at, updated_at)
         VALUES ('URP-2026-000001', 2026, 1, 't', ?1, 's', '2026-01-01T00:00:00Z',
                 '2026-01-31T00:00:00Z', 'email', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        [contact],
    )
    .unwrap();
    conn.last_insert_rowid()
}

#[test]
fn an_analysis_is_saved_audited_and_the_flag_reported_once() {
    let conn = store::open_in_memory().unwrap();
    let op = actor(&conn, Role::Operator);
    let t = ticket(&conn);
    let comps = list(&conn, QualityList::Components).unwrap();
    let frail = list(&conn, QualityList::Fragility).unwrap();
    let input = AnalysisInput {
        component_ids: vec![comps[0].id, comps[2].id],
        founded: Some(Founded::Partly),
        note: "  nota interna  ".into(),
        fragility_id: Some(frail[0].id),
        risk: true,
    };
    assert!(analyse(&conn, &op, t, &input, None).unwrap(), "flagged now");
    assert!(
        !analyse(&conn, &op, t, &input, None).unwrap(),
        "already flagged"
    );
    let a = analysis(&conn, t).unwrap();
    assert_eq!(a.components.len(), 2);
    assert_eq!(a.note, "nota interna");
    assert_eq!(a.founded, Some(Founded::Partly));
    assert!(a.risk && a.risk_flagged_at.is_some());
    let flagged: i64 = conn
        .query_row(
            "SELECT count(*) FROM audit_log WHERE action = ?1",
            [AuditAction::TicketRiskFlagged],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(flagged, 1);

    add_risk_ref(&conn, &op, t, "Incident reporting", "IR-2026-17").unwrap();
    add_risk_ref(&conn, &op, t, "Sinistri", "S-44").unwrap();
    assert_eq!(analysis(&conn, t).unwrap().risk_refs.len(), 2);
    assert!(matches!(
        add_risk_ref(&conn, &op, t, " ", "x"),
        Err(QualityError::Invalid(Invalid::EmptyRiskRef))
    ));
}

#[test]
fn a_viewer_cannot_analyse_and_unknown_entries_are_refused() {
    let conn = store::open_in_memory().unwrap();
    let viewer = actor(&conn, Role::Viewer);
    let op = actor(&conn, Role::Operator);
    let t = ticket(&conn);
    let input = AnalysisInput::default();
    assert!(matches!(
        analyse(&conn, &viewer, t, &input, None),
        Err(QualityError::Forbidden)
    ));
    let bad = AnalysisInput {
        component_ids: vec![9999],
        ..AnalysisInput::default()
    };
    assert!(matches!(
        analyse(&conn, &op, t, &bad, None),
        Err(QualityError::Invalid(Invalid::UnknownComponent))
    ));
}

#[test]
fn actions_name_tickets_by_number_and_are_audited() {
    let conn = store::open_in_memory().unwrap();
    let op = actor(&conn, Role::Operator);
    let viewer = actor(&conn, Role::Viewer);
    ticket(&conn);
    let mut form = ActionForm {
        title: "Nuova segnaletica".into(),
        due_date: "2026-03-01".into(),
        tickets: "URP-2026-000001".into(),
        ..ActionForm::default()
    };
    let id = create_action(&conn, &op, false, &form).unwrap();
    let a = actions_sql::action(&conn, id).unwrap().unwrap();
    assert_eq!(a.tickets.len(), 1);
    assert_eq!(a.state, ActionState::Proposed);
    assert!(a.overdue("2026-03-02"));
    assert!(matches!(
        create_action(&conn, &viewer, false, &form),
        Err(QualityError::Forbidden)
    ));
    // A viewer with the quality right may.
    create_action(&conn, &viewer, true, &form).unwrap();
    form.state = Some(ActionState::Completed);
    update_action(&conn, &op, false, id, &form).unwrap();
    let a = actions_sql::action(&conn, id).unwrap().unwrap();
    assert!(!a.overdue("2026-03-02") && a.completed_at.is_some());
    form.tickets = "URP-2026-999999".into();
    assert!(matches!(
        update_action(&conn, &op, false, id, &form),
        Err(QualityError::Invalid(Invalid::UnknownTicket(_)))
    ));
    let audited: i64 = conn
        .query_row(
            "SELECT count(*) FROM audit_log WHERE action LIKE 'improvement.%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(audited, 3);
}
