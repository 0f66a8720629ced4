//! Routing rules: the hospital's explicit classification, in order, with a box that tries a
//! pattern on the last tickets.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::{admin_page, back, change, flag, FormAction};
use crate::admin;
use crate::classify::Classifier;
use crate::domain::{Done, Kind, RuleField};
use crate::store::admin::RuleInput;
use crate::store::backoffice as q;
use crate::store::rules::RuleRow;
use crate::texts;
use crate::web::auth::{AdminUser, Session};
use crate::web::feedback::{self, DoneQuery};
use crate::web::ui::{csrf, Section};
use crate::web::{App, WebError, WebResult};

/// The "try this rule" box tries a pattern on this many of the most recent tickets.
const RULE_TEST_TICKETS: usize = 500;

/// The fields in the order the forms offer them (the usual one first).
const RULE_FIELDS: &[RuleField] = &[
    RuleField::Text,
    RuleField::Subject,
    RuleField::Body,
    RuleField::Sender,
];

#[derive(Deserialize, Default)]
pub struct RuleTestQuery {
    #[serde(default)]
    prova_campo: String,
    #[serde(default)]
    prova_espressione: String,
    #[serde(default)]
    prova_regola: String,
}

/// Which of the last tickets a pattern on a field matches, as the ingest would match it.
fn rule_test(
    field: RuleField,
    pattern: &str,
    tickets: &[(String, String, String, String)],
) -> Result<Vec<(String, String)>, String> {
    let row = RuleRow {
        id: 1,
        name: "prova".into(),
        field,
        pattern: pattern.into(),
        category_id: None,
        service_id: None,
        kind: Some(Kind::Reclamo),
        active: true,
    };
    crate::classify::check_pattern(pattern).map_err(|e| e.to_string())?;
    let (classifier, errors) = Classifier::compile(0, vec![row]);
    if let Some(e) = errors.first() {
        return Err(e.clone());
    }
    Ok(tickets
        .iter()
        .filter(|(_, subject, body, sender)| {
            !classifier
                .classify(subject, body, sender)
                .rule_ids
                .is_empty()
        })
        .map(|(n, subject, _, _)| (n.clone(), subject.clone()))
        .collect())
}

pub async fn rules(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Query(t): Query<RuleTestQuery>,
    Query(done): Query<DoneQuery>,
) -> WebResult<Markup> {
    let (rules, cats, services, recent) = app
        .readers
        .read(|conn| {
            let rules = crate::store::rules::all(conn)?;
            Ok((
                rules,
                q::categories(conn)?,
                q::services(conn)?,
                crate::store::admin::recent_for_rule_test(conn, RULE_TEST_TICKETS)?,
            ))
        })
        .await?;
    // The box tests what was typed, or an existing rule when one is named.
    let (field, pattern) = match t
        .prova_regola
        .parse::<i64>()
        .ok()
        .and_then(|id| rules.iter().find(|r| r.id == id))
    {
        Some(r) => (r.field, r.pattern.clone()),
        None => (
            t.prova_campo.parse().unwrap_or(RuleField::Text),
            t.prova_espressione.clone(),
        ),
    };
    let tested = (!pattern.is_empty()).then(|| rule_test(field, &pattern, &recent));
    let category_options = |selected: Option<i64>| {
        html! {
            option value="" { "—" }
            @for c in cats.iter().filter(|c| c.parent_id.is_some() && (c.active || selected == Some(c.id))) {
                option value=(c.id) selected[selected == Some(c.id)] { (c.code) " – " (c.label) }
            }
        }
    };
    let service_options = |selected: Option<i64>| {
        html! {
            option value="" { "—" }
            @for sv in services.iter().filter(|sv| sv.active || selected == Some(sv.id)) {
                option value=(sv.id) selected[selected == Some(sv.id)] { (sv.name) }
            }
        }
    };
    let kind_options = |selected: Option<Kind>| {
        html! {
            option value="" { "—" }
            @for &k in Kind::ALL {
                option value=(k) selected[selected == Some(k)] { (texts::kind(k)) }
            }
        }
    };
    let field_options = |selected: RuleField| {
        html! {
            @for &f in RULE_FIELDS {
                option value=(f) selected[selected == f] { (texts::rule_field(f)) }
            }
        }
    };
    let body = html! {
        @if let Some(d) = done.done() { (feedback::flash(&texts::done(d, ""))) }
        p { "Le regole si applicano nell'ordine indicato: ciascuna regola che corrisponde imposta la classificazione, il servizio e la tipologia non ancora impostati. Le espressioni sono regolari, senza distinzione tra maiuscole e minuscole e tra lettere accentate e non." }
        section aria-labelledby="prova" {
            h2 #prova { "Prova una regola" }
            form.action.grid method="get" action="/amministrazione/regole" {
                p { label for="pr-campo" { "Campo" } select #pr-campo name="prova_campo" { (field_options(field)) } }
                p.wide { label for="pr-espr" { "Espressione" } input #pr-espr type="text" name="prova_espressione" value=(pattern); }
                p.buttons { button type="submit" { "Prova sugli ultimi " (RULE_TEST_TICKETS) " reclami" } }
            }
            @match &tested {
                Some(Ok(hits)) => {
                    p role="status" { (hits.len()) " reclami su " (recent.len()) " corrispondono." }
                    @if !hits.is_empty() {
                        ul.hits { @for (n, subject) in hits.iter().take(100) { li { a href={"/reclami/" (n)} { (n) } " " (subject) } } }
                    }
                }
                Some(Err(e)) => { p.error role="alert" { "Espressione non valida: " (e) } }
                None => {}
            }
        }
        h2 { "Regole" }
        @for (i, r) in rules.iter().enumerate() {
            @let RuleRow { id, name, field, pattern, category_id: cat, service_id: svc, kind, active } = r;
            form.rule method="post" action={"/amministrazione/regole/" (id)} {
                (csrf(&s))
                fieldset {
                    legend { (i + 1) ". " (name) @if !*active { " (disattivata)" } }
                    p { label for={"rn-" (id)} { "Nome" } input id={"rn-" (id)} type="text" name="nome" value=(name) required; }
                    p { label for={"rf-" (id)} { "Campo" } select id={"rf-" (id)} name="campo" { (field_options(*field)) } }
                    p.wide { label for={"rp-" (id)} { "Espressione" } input id={"rp-" (id)} type="text" name="espressione" value=(pattern) required; }
                    p { label for={"rc-" (id)} { "Classificazione" } select id={"rc-" (id)} name="categoria" { (category_options(*cat)) } }
                    p { label for={"rs-" (id)} { "Servizio" } select id={"rs-" (id)} name="servizio" { (service_options(*svc)) } }
                    p { label for={"rk-" (id)} { "Tipologia" } select id={"rk-" (id)} name="tipologia" { (kind_options(*kind)) } }
                    p { label { input type="checkbox" name="attiva" value="1" checked[*active]; " attiva" } }
                    p.buttons {
                        button type="submit" name="azione" value="salva" { "Salva" span.visually-hidden { " la regola " (name) } }
                        " "
                        button type="submit" name="azione" value="elimina" { "Elimina…" span.visually-hidden { " la regola " (name) } }
                        " "
                        a href={"/amministrazione/regole?prova_regola=" (id) "#prova"} { "Prova" span.visually-hidden { " la regola " (name) } }
                    }
                }
            }
            div.move {
                form.inline method="post" action={"/amministrazione/regole/" (id) "/sposta"} {
                    (csrf(&s))
                    button type="submit" name="verso" value="su" aria-label={"Sposta su la regola " (name)} disabled[i == 0] { "↑ su" }
                    button type="submit" name="verso" value="giu" aria-label={"Sposta giù la regola " (name)} disabled[i + 1 == rules.len()] { "↓ giù" }
                }
            }
        }
        h2 { "Nuova regola" }
        form.rule method="post" action="/amministrazione/regole" {
            (csrf(&s))
            fieldset {
                legend { "Nuova regola (in fondo all'elenco)" }
                p { label for="nr-nome" { "Nome" } input #nr-nome type="text" name="nome" required; }
                p { label for="nr-campo" { "Campo" } select #nr-campo name="campo" { (field_options(RuleField::Text)) } }
                p.wide { label for="nr-espr" { "Espressione" } input #nr-espr type="text" name="espressione" required placeholder="\\bpronto soccorso\\b"; }
                p { label for="nr-cat" { "Classificazione" } select #nr-cat name="categoria" { (category_options(None)) } }
                p { label for="nr-svc" { "Servizio" } select #nr-svc name="servizio" { (service_options(None)) } }
                p { label for="nr-kind" { "Tipologia" } select #nr-kind name="tipologia" { (kind_options(None)) } }
                input type="hidden" name="attiva" value="1";
                p.buttons { button type="submit" { "Aggiungi regola" } }
            }
        }
    };
    Ok(admin_page(&s, "Regole di smistamento", body))
}

#[derive(Deserialize)]
pub struct RuleForm {
    #[serde(default)]
    nome: String,
    #[serde(default)]
    campo: String,
    #[serde(default)]
    espressione: String,
    #[serde(default)]
    categoria: String,
    #[serde(default)]
    servizio: String,
    #[serde(default)]
    tipologia: String,
    attiva: Option<String>,
    #[serde(default)]
    azione: FormAction,
    /// "1" from the confirmation step of a deletion.
    #[serde(default)]
    confermato: Option<String>,
}

impl RuleForm {
    fn input(&self) -> WebResult<RuleInput> {
        let kind = match self.tipologia.trim() {
            "" => None,
            k => Some(
                k.parse()
                    .map_err(|_| WebError::Refused(texts::BAD_KIND.into()))?,
            ),
        };
        let field = self
            .campo
            .trim()
            .parse()
            .map_err(|_| WebError::Refused(texts::BAD_RULE_FIELD.into()))?;
        Ok(RuleInput {
            name: self.nome.clone(),
            field,
            pattern: self.espressione.clone(),
            category_id: crate::web::form_id(&self.categoria)?,
            service_id: crate::web::form_id(&self.servizio)?,
            kind,
            active: flag(&self.attiva),
        })
    }
}

pub async fn rule_add(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Form(f): Form<RuleForm>,
) -> WebResult<Response> {
    let (actor, input) = (s.actor.audit(), f.input()?);
    change(&app, move |conn| admin::rule_add(conn, actor, &input)).await?;
    Ok(feedback::done(
        "/amministrazione/regole",
        Done::RuleAdded,
        None,
    ))
}

pub async fn rule_update(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
    Form(f): Form<RuleForm>,
) -> WebResult<Response> {
    let actor = s.actor.audit();
    if f.azione == FormAction::Elimina {
        if !feedback::confirmed(f.confermato.as_deref()) {
            let name = app
                .readers
                .read(move |conn| {
                    Ok(crate::store::rules::all(conn)?
                        .into_iter()
                        .find(|r| r.id == id)
                        .map(|r| r.name))
                })
                .await?
                .ok_or(WebError::NotFound)?;
            return Ok(confirm_delete(&s, id, &name).into_response());
        }
        change(&app, move |conn| admin::rule_delete(conn, actor, id)).await?;
        return Ok(feedback::done(
            "/amministrazione/regole",
            Done::RuleDeleted,
            None,
        ));
    }
    let input = f.input()?;
    change(&app, move |conn| {
        admin::rule_update(conn, actor, id, &input)
    })
    .await?;
    Ok(feedback::done(
        "/amministrazione/regole",
        Done::RuleSaved,
        None,
    ))
}

/// The step before a rule is deleted.
fn confirm_delete(s: &Session, id: i64, name: &str) -> Markup {
    feedback::confirm_page(
        s,
        Section::Admin,
        feedback::Confirm {
            title: &format!("Eliminare la regola «{name}»?"),
            consequences: html! { p { (texts::RULE_DELETE_CONSEQUENCES) } },
            action: &format!("/amministrazione/regole/{id}"),
            fields: &[("azione", "elimina")],
            extra: html! {},
            button: "Sì, elimina la regola",
            cancel: "/amministrazione/regole",
        },
    )
}

#[derive(Deserialize)]
pub struct MoveForm {
    verso: Towards,
}

/// Where a rule moves in the order rules apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Towards {
    /// Earlier.
    Su,
    /// Later.
    Giu,
}

pub async fn rule_move(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
    Form(f): Form<MoveForm>,
) -> WebResult<Response> {
    let (actor, up) = (s.actor.audit(), f.verso == Towards::Su);
    change(&app, move |conn| admin::rule_move(conn, actor, id, up)).await?;
    Ok(back("/amministrazione/regole"))
}
