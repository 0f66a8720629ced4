//! The administrators' answer models (issue 19): kept like the other settings (checked here,
//! written through `store::answer_models`, audited in the caller's transaction), and filled in
//! for a ticket on the server when an operator picks one.

use rusqlite::Connection;
use serde_json::json;

use crate::admin::{AdminError, Thing};
use crate::domain::{AuditAction, AuditActor};
use crate::notify::templates::{render_text, MailVars};
use crate::store::answer_models::{self as sql, ModelInput};
use crate::store::audit;

type Result<T, E = AdminError> = std::result::Result<T, E>;

/// A model's title and text are required, its category must exist, and its text must render
/// with the mail templates' variables (a misspelt one is refused here, not sent blank).
fn check(conn: &Connection, m: &ModelInput) -> Result<()> {
    if m.title.trim().is_empty() || m.body.trim().is_empty() {
        return Err(AdminError::ModelIncomplete);
    }
    if let Some(c) = m.category_id {
        if !sql::category_exists(conn, c)? {
            return Err(AdminError::NotFound(Thing::Category));
        }
    }
    render_text(&m.body, &MailVars::default())
        .map_err(|e| AdminError::ModelTemplate(e.to_string()))?;
    Ok(())
}

pub fn create(conn: &Connection, actor: AuditActor, m: &ModelInput) -> Result<i64> {
    check(conn, m)?;
    let id = sql::insert(conn, m, &crate::store::now_text())?;
    audit::record(
        conn,
        actor,
        AuditAction::AnswerModelCreated,
        None,
        json!({ "model": id, "kind": m.kind, "category": m.category_id }),
    )?;
    Ok(id)
}

pub fn update(conn: &Connection, actor: AuditActor, id: i64, m: &ModelInput) -> Result<()> {
    check(conn, m)?;
    if !sql::update(conn, id, m, &crate::store::now_text())? {
        return Err(AdminError::NotFound(Thing::AnswerModel));
    }
    audit::record(
        conn,
        actor,
        AuditAction::AnswerModelUpdated,
        None,
        json!({ "model": id, "kind": m.kind, "category": m.category_id, "active": m.active }),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Kind;

    fn input(body: &str) -> ModelInput {
        ModelInput {
            title: "Tempi di attesa".into(),
            kind: Some(Kind::Reclamo),
            category_id: None,
            body: body.into(),
            active: true,
        }
    }

    #[test]
    fn models_are_checked_and_audited() {
        let conn = crate::store::open_in_memory().unwrap();
        let id = create(
            &conn,
            AuditActor::Cli,
            &input("Gentile {{ citizen_name or \"utente\" }}, la pratica {{ number }}…"),
        )
        .unwrap();
        assert!(matches!(
            create(&conn, AuditActor::Cli, &input("{{ nome_sbagliato }}")),
            Err(AdminError::ModelTemplate(_))
        ));
        assert!(matches!(
            create(&conn, AuditActor::Cli, &input("  ")),
            Err(AdminError::ModelIncomplete)
        ));
        let mut off = input("Testo");
        off.active = false;
        update(&conn, AuditActor::Cli, id, &off).unwrap();
        assert!(matches!(
            update(&conn, AuditActor::Cli, 999, &off),
            Err(AdminError::NotFound(Thing::AnswerModel))
        ));
        let audited: i64 = conn
            .query_row(
                "SELECT count(*) FROM audit_log WHERE action LIKE 'answer_model.%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(audited, 2);
        assert!(sql::suitable(&conn, Some(Kind::Reclamo), None)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_ticket_sees_the_models_of_its_kind_and_category() {
        let conn = crate::store::open_in_memory().unwrap();
        let cat = |code: &str| -> i64 {
            conn.query_row("SELECT id FROM categories WHERE code = ?1", [code], |r| {
                r.get(0)
            })
            .unwrap()
        };
        let add = |title: &str, kind: Option<Kind>, category_id: Option<i64>| {
            let mut m = input("Testo");
            m.title = title.into();
            m.kind = kind;
            m.category_id = category_id;
            create(&conn, AuditActor::Cli, &m).unwrap();
        };
        add("A generico", None, None);
        add("B reclami", Some(Kind::Reclamo), None);
        add("C elogi", Some(Kind::Elogio), None);
        add("D tempi (macro)", None, Some(cat("TEM")));
        add("E attese PS", Some(Kind::Reclamo), Some(cat("TEM.02")));
        add("F comfort", None, Some(cat("ALB.01")));
        let titles = |kind, category| -> Vec<String> {
            sql::suitable(&conn, kind, category)
                .unwrap()
                .into_iter()
                .map(|m| m.title)
                .collect()
        };
        assert_eq!(
            titles(Some(Kind::Reclamo), Some(cat("TEM.02"))),
            ["A generico", "B reclami", "D tempi (macro)", "E attese PS"]
        );
        assert_eq!(titles(Some(Kind::Elogio), None), ["A generico", "C elogi"]);
        assert_eq!(titles(None, None), ["A generico"]);
    }
}
