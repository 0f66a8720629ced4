//! Amministrazione: accounts, services, categories, routing rules, quarantine, the outbox and
//! the audit log. Every handler takes [`AdminUser`].

use std::panic::AssertUnwindSafe;
use std::sync::PoisonError;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::auth::{AdminUser, Session};
use super::ui::{self, csrf, Section};
use super::{App, WebError, WebResult};
use crate::classify::Classifier;
use crate::domain::AuditAction;
use crate::domain::Role;
use crate::store::rules::RuleRow;
use crate::store::{admin as sql, backoffice as q};

const RULE_TEST_TICKETS: usize = 500;

fn flag(v: &Option<String>) -> bool {
    super::form_flag(v.as_deref())
}

/// Runs an administrator's change in a transaction; its refusal is shown in Italian.
async fn change<T: Send + 'static>(
    app: &App,
    f: impl FnOnce(&rusqlite::Connection) -> anyhow::Result<T> + Send + 'static,
) -> WebResult<T> {
    let out = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            match f(&tx) {
                Ok(v) => {
                    tx.commit()?;
                    Ok(Ok(v))
                }
                Err(e) => Ok(Err(e)),
            }
        })
        .await?;
    out.map_err(|e| WebError::Refused(crate::texts::admin_error(&format!("{e:#}"))))
}

fn back(path: &str) -> Response {
    Redirect::to(path).into_response()
}

fn admin_page(s: &Session, title: &str, body: Markup) -> Markup {
    let body = html! {
        nav.subnav aria-label="Amministrazione" {
            ul {
                li { a href="/amministrazione/utenti" { "Utenti" } }
                li { a href="/amministrazione/servizi" { "Servizi" } }
                li { a href="/amministrazione/categorie" { "Classificazione" } }
                li { a href="/amministrazione/regole" { "Regole di smistamento" } }
                li { a href="/amministrazione/quarantena" { "Quarantena" } }
                li { a href="/amministrazione/posta" { "Posta in uscita" } }
                li { a href="/amministrazione/registro" { "Registro attività" } }
            }
        }
        (body)
    };
    ui::page(s, Section::Admin, title, body)
}

pub async fn index(State(app): State<App>, AdminUser(s): AdminUser) -> WebResult<Markup> {
    let (quarantined, failed, pending) = app
        .readers
        .read(|conn| {
            let n =
                |sql: &str| -> anyhow::Result<i64> { Ok(conn.query_row(sql, [], |r| r.get(0))?) };
            Ok((
                n("SELECT count(*) FROM quarantine WHERE resolved_at IS NULL")?,
                n("SELECT count(*) FROM outbox WHERE state = 'failed'")?,
                n("SELECT count(*) FROM outbox WHERE state = 'pending'")?,
            ))
        })
        .await?;
    let body = html! {
        ul.counts {
            li { a href="/amministrazione/quarantena" { span.n { (ui::number(quarantined)) } span { "messaggi in quarantena" } } }
            li { a href="/amministrazione/posta" { span.n { (ui::number(failed)) } span { "email non consegnate" } } }
            li { a href="/amministrazione/posta" { span.n { (ui::number(pending)) } span { "email in attesa di invio" } } }
        }
    };
    Ok(admin_page(&s, "Amministrazione", body))
}

// ---- users ----

pub async fn users(State(app): State<App>, AdminUser(s): AdminUser) -> WebResult<Markup> {
    let users = app.readers.read(crate::store::users::list).await?;
    let roles = ["admin", "operator", "viewer"];
    let body = html! {
        div.tablewrap {
            table {
                caption { "Utenti del backoffice" }
                thead { tr { th scope="col" { "Nome" } th scope="col" { "Email" } th scope="col" { "Ruolo, notifiche, accesso" } th scope="col" { "Password" } } }
                tbody {
                    @for u in &users {
                        tr {
                            td { (u.name) }
                            td { (u.email) }
                            td {
                                form.inline method="post" action={"/amministrazione/utenti/" (u.id)} {
                                    (csrf(&s))
                                    label for={"ruolo-" (u.id)} { "Ruolo" }
                                    select id={"ruolo-" (u.id)} name="ruolo" {
                                        @for r in roles { option value=(r) selected[u.role == r] { (ui::role_label(r)) } }
                                    }
                                    label { input type="checkbox" name="notifica" value="1" checked[u.notify]; " riceve mail" }
                                    label { input type="checkbox" name="attivo" value="1" checked[u.active]; " attivo" }
                                    button type="submit" { "Salva" }
                                }
                            }
                            td {
                                form.inline method="post" action={"/amministrazione/utenti/" (u.id) "/password"} {
                                    (csrf(&s))
                                    button type="submit" { "Nuova password" }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.small.muted { (crate::texts::viewer_role_for_admins(app.settings.viewer_sees_content)) }
        h2 { "Nuovo utente" }
        form.action.grid method="post" action="/amministrazione/utenti" {
            (csrf(&s))
            p { label for="n-email" { "Email" } input #n-email type="email" name="email" required; }
            p { label for="n-nome" { "Nome e cognome" } input #n-nome type="text" name="nome" required; }
            p {
                label for="n-ruolo" { "Ruolo" }
                select #n-ruolo name="ruolo" { @for r in roles { option value=(r) selected[r == "operator"] { (ui::role_label(r)) } } }
            }
            p { label { input type="checkbox" name="notifica" value="1"; " riceve una mail per ogni nuovo reclamo" } }
            p.buttons { button type="submit" { "Crea utente" } }
        }
    };
    Ok(admin_page(&s, "Utenti", body))
}

fn password_page(s: &Session, email: &str, password: &str) -> Markup {
    admin_page(
        s,
        "Password",
        html! {
            p role="status" { "La password di " strong { (email) } " è:" }
            p { code.password { (password) } }
            p { "Comunicala all'utente in modo sicuro: non verrà mostrata di nuovo." }
            p { a href="/amministrazione/utenti" { "Torna agli utenti" } }
        },
    )
}

#[derive(Deserialize)]
pub struct UserAddForm {
    email: String,
    nome: String,
    ruolo: String,
    notifica: Option<String>,
}

pub async fn user_add(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Form(f): Form<UserAddForm>,
) -> WebResult<Markup> {
    let role: Role = f
        .ruolo
        .parse()
        .map_err(|_| WebError::Refused("Ruolo non valido.".into()))?;
    let password = crate::users::generate_password();
    let (actor, email, name, notify, pw) = (
        s.actor.audit(),
        f.email.clone(),
        f.nome,
        flag(&f.notifica),
        password.clone(),
    );
    change(&app, move |conn| {
        crate::users::add(conn, actor, &email, &name, role, notify, &pw)
    })
    .await?;
    Ok(password_page(&s, f.email.trim(), &password))
}

#[derive(Deserialize)]
pub struct UserForm {
    ruolo: String,
    notifica: Option<String>,
    attivo: Option<String>,
}

pub async fn user_update(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
    Form(f): Form<UserForm>,
) -> WebResult<Response> {
    let role: Role = f
        .ruolo
        .parse()
        .map_err(|_| WebError::Refused("Ruolo non valido.".into()))?;
    let (me, notify, active) = (s.actor.id, flag(&f.notifica), flag(&f.attivo));
    change(&app, move |conn| {
        sql::user_update(conn, me, id, role.as_str(), notify, active)
    })
    .await?;
    Ok(back("/amministrazione/utenti"))
}

pub async fn user_password(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
) -> WebResult<Markup> {
    let password = crate::users::generate_password();
    let hash = {
        let p = password.clone();
        tokio::task::spawn_blocking(move || crate::users::hash_password(&p))
            .await
            .map_err(|e| anyhow::anyhow!("hashing: {e}"))??
    };
    let actor = s.actor.audit();
    let email = change(&app, move |conn| {
        let user =
            crate::store::users::by_id(conn, id)?.ok_or_else(|| anyhow::anyhow!("no such user"))?;
        crate::store::users::set_password_hash(conn, id, &hash)?;
        crate::store::audit::record(
            conn,
            actor,
            AuditAction::UserPasswordReset,
            None,
            serde_json::json!({ "user": id }),
        )?;
        Ok(user.email)
    })
    .await?;
    Ok(password_page(&s, &email, &password))
}

// ---- services ----

pub async fn services(State(app): State<App>, AdminUser(s): AdminUser) -> WebResult<Markup> {
    let services = app.readers.read(q::services).await?;
    let body = html! {
        div.tablewrap {
            table {
                caption { "Servizi e unità operative" }
                thead { tr { th scope="col" { "Codice" } th scope="col" { "Nome e stato" } } }
                tbody {
                    @for sv in &services {
                        tr {
                            td { (sv.code) }
                            td {
                                form.inline method="post" action={"/amministrazione/servizi/" (sv.id)} {
                                    (csrf(&s))
                                    label.visually-hidden for={"sv-" (sv.id)} { "Nome" }
                                    input id={"sv-" (sv.id)} type="text" name="nome" value=(sv.name) required;
                                    label { input type="checkbox" name="attivo" value="1" checked[sv.active]; " attivo" }
                                    button type="submit" { "Salva" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Nuovo servizio" }
        form.action.grid method="post" action="/amministrazione/servizi" {
            (csrf(&s))
            p { label for="sv-codice" { "Codice" } input #sv-codice type="text" name="codice" required pattern="[A-Z0-9._\\-]{1,20}"; }
            p { label for="sv-nome" { "Nome" } input #sv-nome type="text" name="nome" required; }
            p.buttons { button type="submit" { "Aggiungi" } }
        }
    };
    Ok(admin_page(&s, "Servizi", body))
}

#[derive(Deserialize)]
pub struct ServiceAddForm {
    codice: String,
    nome: String,
}

pub async fn service_add(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Form(f): Form<ServiceAddForm>,
) -> WebResult<Response> {
    let actor = s.actor.audit();
    change(&app, move |conn| {
        sql::service_add(conn, actor, f.codice.trim(), &f.nome)
    })
    .await?;
    Ok(back("/amministrazione/servizi"))
}

#[derive(Deserialize)]
pub struct ServiceForm {
    nome: String,
    attivo: Option<String>,
}

pub async fn service_update(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
    Form(f): Form<ServiceForm>,
) -> WebResult<Response> {
    let (actor, active) = (s.actor.audit(), flag(&f.attivo));
    change(&app, move |conn| {
        sql::service_update(conn, actor, id, &f.nome, active)
    })
    .await?;
    Ok(back("/amministrazione/servizi"))
}

// ---- categories ----

pub async fn categories(State(app): State<App>, AdminUser(s): AdminUser) -> WebResult<Markup> {
    let cats = app.readers.read(q::categories).await?;
    let body = html! {
        p { "Una voce usata da reclami o regole non si elimina: si disattiva, così i reclami passati e le statistiche mantengono il loro codice." }
        div.tablewrap {
            table {
                caption { "Classificazione a due livelli" }
                thead { tr { th scope="col" { "Livello" } th scope="col" { "Codice, descrizione, stato" } th scope="col" { "Elimina" } } }
                tbody {
                    @for c in &cats {
                        tr.sub[c.parent_id.is_some()] {
                            td { @if c.parent_id.is_some() { "sottocategoria" } @else { strong { "macrocategoria" } } }
                            td {
                                form.inline method="post" action={"/amministrazione/categorie/" (c.id)} {
                                    (csrf(&s))
                                    label.visually-hidden for={"cc-" (c.id)} { "Codice" }
                                    input.code id={"cc-" (c.id)} type="text" name="codice" value=(c.code) required;
                                    label.visually-hidden for={"cl-" (c.id)} { "Descrizione" }
                                    input id={"cl-" (c.id)} type="text" name="descrizione" value=(c.label) required;
                                    label { input type="checkbox" name="attivo" value="1" checked[c.active]; " attiva" }
                                    button type="submit" name="azione" value="salva" { "Salva" }
                                }
                            }
                            td {
                                @if !c.used {
                                    form.inline method="post" action={"/amministrazione/categorie/" (c.id)} {
                                        (csrf(&s))
                                        input type="hidden" name="azione" value="elimina";
                                        button type="submit" { "Elimina " (c.code) }
                                    }
                                } @else { span.muted { "in uso" } }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Nuova voce" }
        form.action.grid method="post" action="/amministrazione/categorie" {
            (csrf(&s))
            p { label for="nc-codice" { "Codice" } input #nc-codice type="text" name="codice" required placeholder="TEM.05"; }
            p { label for="nc-descr" { "Descrizione" } input #nc-descr type="text" name="descrizione" required; }
            p {
                label for="nc-padre" { "Macrocategoria" }
                select #nc-padre name="padre" {
                    option value="" { "(nuova macrocategoria)" }
                    @for c in cats.iter().filter(|c| c.parent_id.is_none()) { option value=(c.id) { (c.code) " – " (c.label) } }
                }
            }
            p.buttons { button type="submit" { "Aggiungi" } }
        }
    };
    Ok(admin_page(&s, "Classificazione", body))
}

#[derive(Deserialize)]
pub struct CategoryAddForm {
    codice: String,
    descrizione: String,
    #[serde(default)]
    padre: String,
}

pub async fn category_add(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Form(f): Form<CategoryAddForm>,
) -> WebResult<Response> {
    let actor = s.actor.audit();
    let parent = super::form_id(&f.padre)?;
    change(&app, move |conn| {
        sql::category_add(conn, actor, f.codice.trim(), &f.descrizione, parent)
    })
    .await?;
    Ok(back("/amministrazione/categorie"))
}

#[derive(Deserialize)]
pub struct CategoryForm {
    #[serde(default)]
    codice: String,
    #[serde(default)]
    descrizione: String,
    attivo: Option<String>,
    #[serde(default)]
    azione: String,
}

pub async fn category_update(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
    Form(f): Form<CategoryForm>,
) -> WebResult<Response> {
    let actor = s.actor.audit();
    let active = flag(&f.attivo);
    if f.azione == "elimina" {
        change(&app, move |conn| sql::category_delete(conn, actor, id)).await?;
    } else {
        change(&app, move |conn| {
            sql::category_update(conn, actor, id, f.codice.trim(), &f.descrizione, active)
        })
        .await?;
    }
    Ok(back("/amministrazione/categorie"))
}

// ---- routing rules ----

#[derive(Deserialize, Default)]
pub struct RuleTestQuery {
    #[serde(default)]
    prova_campo: String,
    #[serde(default)]
    prova_espressione: String,
    #[serde(default)]
    prova_regola: String,
}

fn field_label(f: &str) -> &'static str {
    match f {
        "subject" => "oggetto",
        "body" => "testo",
        "sender" => "mittente",
        "text" => "oggetto o testo",
        _ => "?",
    }
}

/// Which of the last tickets a pattern on a field matches, as the ingest would match it.
fn rule_test(
    field: &str,
    pattern: &str,
    tickets: &[(String, String, String, String)],
) -> Result<Vec<(String, String)>, String> {
    let row = RuleRow {
        id: 1,
        name: "prova".into(),
        field: field.into(),
        pattern: pattern.into(),
        category_id: None,
        service_id: None,
        kind: Some("reclamo".into()),
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
) -> WebResult<Markup> {
    let (rules, cats, services, recent) = app
        .readers
        .read(|conn| {
            let rules = crate::store::rules::all(conn)?;
            Ok((
                rules,
                q::categories(conn)?,
                q::services(conn)?,
                sql::recent_for_rule_test(conn, RULE_TEST_TICKETS)?,
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
        Some(r) => (r.field.clone(), r.pattern.clone()),
        None => (t.prova_campo.clone(), t.prova_espressione.clone()),
    };
    let tested = (!pattern.is_empty()).then(|| {
        rule_test(
            if field.is_empty() { "text" } else { &field },
            &pattern,
            &recent,
        )
    });
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
    let kind_options = |selected: Option<&str>| {
        html! {
            option value="" { "—" }
            @for k in ["reclamo", "segnalazione", "elogio", "suggerimento"] {
                option value=(k) selected[selected == Some(k)] { (ui::kind_label(Some(k))) }
            }
        }
    };
    let field_options = |selected: &str| {
        html! {
            @for f in ["text", "subject", "body", "sender"] {
                option value=(f) selected[selected == f] { (field_label(f)) }
            }
        }
    };
    let body = html! {
        p { "Le regole si applicano nell'ordine indicato: ciascuna regola che corrisponde imposta la classificazione, il servizio e la tipologia non ancora impostati. Le espressioni sono regolari, senza distinzione tra maiuscole e minuscole e tra lettere accentate e non." }
        section aria-labelledby="prova" {
            h2 #prova { "Prova una regola" }
            form.action.grid method="get" action="/amministrazione/regole" {
                p { label for="pr-campo" { "Campo" } select #pr-campo name="prova_campo" { (field_options(&field)) } }
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
                    p { label for={"rf-" (id)} { "Campo" } select id={"rf-" (id)} name="campo" { (field_options(field)) } }
                    p.wide { label for={"rp-" (id)} { "Espressione" } input id={"rp-" (id)} type="text" name="espressione" value=(pattern) required; }
                    p { label for={"rc-" (id)} { "Classificazione" } select id={"rc-" (id)} name="categoria" { (category_options(*cat)) } }
                    p { label for={"rs-" (id)} { "Servizio" } select id={"rs-" (id)} name="servizio" { (service_options(*svc)) } }
                    p { label for={"rk-" (id)} { "Tipologia" } select id={"rk-" (id)} name="tipologia" { (kind_options(kind.as_deref())) } }
                    p { label { input type="checkbox" name="attiva" value="1" checked[*active]; " attiva" } }
                    p.buttons {
                        button type="submit" name="azione" value="salva" { "Salva" }
                        " "
                        button type="submit" name="azione" value="elimina" { "Elimina" }
                        " "
                        a href={"/amministrazione/regole?prova_regola=" (id) "#prova"} { "Prova" }
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
                p { label for="nr-campo" { "Campo" } select #nr-campo name="campo" { (field_options("text")) } }
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
    azione: String,
}

impl RuleForm {
    fn input(&self) -> WebResult<sql::RuleInput> {
        let kind = match self.tipologia.trim() {
            "" => None,
            k if k.parse::<crate::domain::Kind>().is_ok() => Some(k.to_string()),
            _ => return Err(WebError::Refused("Tipologia non valida.".into())),
        };
        Ok(sql::RuleInput {
            name: self.nome.clone(),
            field: self.campo.clone(),
            pattern: self.espressione.clone(),
            category_id: super::form_id(&self.categoria)?,
            service_id: super::form_id(&self.servizio)?,
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
    change(&app, move |conn| sql::rule_add(conn, actor, &input)).await?;
    Ok(back("/amministrazione/regole"))
}

pub async fn rule_update(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
    Form(f): Form<RuleForm>,
) -> WebResult<Response> {
    let actor = s.actor.audit();
    if f.azione == "elimina" {
        change(&app, move |conn| sql::rule_delete(conn, actor, id)).await?;
    } else {
        let input = f.input()?;
        change(&app, move |conn| sql::rule_update(conn, actor, id, &input)).await?;
    }
    Ok(back("/amministrazione/regole"))
}

#[derive(Deserialize)]
pub struct MoveForm {
    verso: String,
}

pub async fn rule_move(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
    Form(f): Form<MoveForm>,
) -> WebResult<Response> {
    let (actor, up) = (s.actor.audit(), f.verso == "su");
    change(&app, move |conn| sql::rule_move(conn, actor, id, up)).await?;
    Ok(back("/amministrazione/regole"))
}

// ---- quarantine ----

pub async fn quarantine(State(app): State<App>, AdminUser(s): AdminUser) -> WebResult<Markup> {
    let rows = app
        .readers
        .read(|conn| {
            let mut rows = Vec::new();
            crate::store::query::quarantine(conn, |r| {
                if !r.resolved {
                    rows.push(r);
                }
                Ok(())
            })?;
            Ok(rows)
        })
        .await?;
    let body = html! {
        p { "Messaggi che non sono diventati reclami, con il motivo. L'originale è conservato: si può scaricare, rielaborare (dopo aver corretto una regola, o se il reclamo a cui si riferiva ora esiste) o scartare." }
        @if rows.is_empty() {
            p.muted { "Nessun messaggio in quarantena." }
        } @else {
            div.tablewrap {
                table {
                    caption { "Quarantena" }
                    thead { tr { th scope="col" { "N." } th scope="col" { "Ricevuto" } th scope="col" { "Tipo" } th scope="col" { "Motivo" } th scope="col" { "Dimensione" } th scope="col" { "Azioni" } } }
                    tbody {
                        @for r in &rows {
                            tr {
                                td { (r.id) }
                                td { (ui::stored_datetime(&r.received_at)) }
                                td { (r.kind) }
                                td { (r.reason) }
                                td { (ui::size(r.size)) }
                                td {
                                    a href={"/amministrazione/quarantena/" (r.id) "/originale"} download { "Scarica" }
                                    form.inline method="post" action={"/amministrazione/quarantena/" (r.id) "/riprova"} {
                                        (csrf(&s)) button type="submit" { "Rielabora" }
                                    }
                                    form.inline method="post" action={"/amministrazione/quarantena/" (r.id) "/scarta"} {
                                        (csrf(&s)) button type="submit" { "Scarta" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(admin_page(&s, "Quarantena", body))
}

pub async fn quarantine_raw(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let raw: Option<Vec<u8>> = app
        .readers
        .read(move |conn| {
            use rusqlite::OptionalExtension;
            Ok(conn
                .query_row(
                    "SELECT r.bytes FROM quarantine q JOIN raw_mail r ON r.id = q.raw_id WHERE q.id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .optional()?)
        })
        .await?;
    let raw = raw.ok_or(WebError::NotFound)?;
    let actor = s.actor.audit();
    app.store
        .call(move |conn| {
            crate::store::audit::record(
                conn,
                actor,
                AuditAction::QuarantineDownloaded,
                None,
                serde_json::json!({ "quarantine": id }),
            )
        })
        .await?;
    Ok(super::downloads::response(
        &format!("quarantena-{id}.eml"),
        raw,
        None,
    ))
}

pub async fn quarantine_retry(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let (pipeline, actor) = (app.pipeline.clone(), s.actor.audit());
    let outcome = app
        .store
        .call(move |conn| {
            let mut pipeline = pipeline.lock().unwrap_or_else(PoisonError::into_inner);
            // A quarantined message is hostile by definition: should parsing it panic, the
            // panic is caught while the lock is held, so the lock is not poisoned for ingest.
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                pipeline.retry_quarantined(conn, id, actor)
            }))
            .map_err(|_| anyhow::anyhow!("retrying quarantine entry {id} panicked"))?
        })
        .await?;
    match outcome {
        Ok(_) => Ok(back("/amministrazione/quarantena")),
        Err(reason) => Err(WebError::Refused(format!(
            "Il messaggio non può ancora diventare un reclamo: {reason}"
        ))),
    }
}

pub async fn quarantine_discard(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let actor = s.actor.audit();
    change(&app, move |conn| sql::quarantine_discard(conn, actor, id)).await?;
    Ok(back("/amministrazione/quarantena"))
}

// ---- outbox ----

pub async fn outbox(State(app): State<App>, AdminUser(s): AdminUser) -> WebResult<Markup> {
    let rows = app
        .readers
        .read(|conn| q::outbox_attention(conn, 300))
        .await?;
    let state_label = |st: &str| match st {
        "pending" => "in attesa",
        "failed" => "non consegnata",
        "suppressed" => "non inviata",
        "sent" => "inviata",
        _ => "?",
    };
    let body = html! {
        p { "Le email in attesa vengono ritentate automaticamente. Quelle non consegnate dopo tutti i tentativi si possono rimettere in coda; quelle non inviate per scelta (limite ai messaggi automatici, indirizzo che rimbalza) riportano il motivo." }
        @if rows.is_empty() {
            p.muted { "Nessuna email in attesa o non consegnata." }
        } @else {
            div.tablewrap {
                table {
                    caption { "Posta in uscita da seguire" }
                    thead { tr { th scope="col" { "Creata" } th scope="col" { "Reclamo" } th scope="col" { "Destinatario" } th scope="col" { "Oggetto" } th scope="col" { "Stato" } th scope="col" { "Tentativi" } th scope="col" { "Ultimo errore o motivo" } th scope="col" { "Azioni" } } }
                    tbody {
                        @for r in &rows {
                            tr {
                                td { (ui::stored_datetime(&r.created_at)) }
                                td { @if let Some(n) = &r.ticket { a href={"/reclami/" (n)} { (n) } } }
                                td { (ui::clip(&r.to, q::LIST_TEXT_CHARS)) }
                                td { (ui::clip(&r.subject, q::LIST_TEXT_CHARS)) }
                                td { (state_label(&r.state)) }
                                td { (r.attempts) }
                                td { (r.last_error.as_deref().unwrap_or("")) }
                                td {
                                    @if r.state == "failed" {
                                        form.inline method="post" action={"/amministrazione/posta/" (r.id) "/riprova"} {
                                            (csrf(&s)) button type="submit" { "Rimetti in coda" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(admin_page(&s, "Posta in uscita", body))
}

pub async fn outbox_retry(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    let actor = s.actor.audit();
    change(&app, move |conn| sql::outbox_retry(conn, actor, id)).await?;
    Ok(back("/amministrazione/posta"))
}

// ---- audit log ----

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    azione: String,
    #[serde(default)]
    utente: String,
    #[serde(default)]
    reclamo: String,
    #[serde(default)]
    pagina: String,
}

const AUDIT_PAGE: usize = 100;

pub async fn audit(
    State(app): State<App>,
    AdminUser(s): AdminUser,
    Query(f): Query<AuditQuery>,
) -> WebResult<Markup> {
    let page = super::page_number(&f.pagina);
    let action = (!f.azione.trim().is_empty()).then(|| f.azione.trim().to_string());
    let user = f.utente.trim().parse::<i64>().ok();
    let ticket = (!f.reclamo.trim().is_empty()).then(|| f.reclamo.trim().to_ascii_uppercase());
    let (rows, users) = app
        .readers
        .read(move |conn| {
            Ok((
                q::audit_log(
                    conn,
                    action.as_deref(),
                    user,
                    ticket.as_deref(),
                    page - 1,
                    AUDIT_PAGE,
                )?,
                crate::store::users::list(conn)?,
            ))
        })
        .await?;
    let link = |p: usize| {
        format!(
            "/amministrazione/registro?azione={}&utente={}&reclamo={}&pagina={p}",
            ui::url_encode(&f.azione),
            ui::url_encode(&f.utente),
            ui::url_encode(&f.reclamo)
        )
    };
    let body = html! {
        form.filters method="get" action="/amministrazione/registro" {
            p {
                label for="ra" { "Azione" }
                select #ra name="azione" {
                    option value="" { "Tutte" }
                    @for (prefix, label) in [("ticket.", "Reclami"), ("ticket.viewed", "Aperture"), ("user.", "Utenti e accessi"), ("message.", "Messaggi ricevuti"), ("quarantine.", "Quarantena"), ("rule.", "Regole"), ("category.", "Classificazione"), ("service.", "Servizi"), ("outbox.", "Posta in uscita")] {
                        option value=(prefix) selected[f.azione == prefix] { (label) }
                    }
                }
            }
            p {
                label for="ru" { "Utente" }
                select #ru name="utente" {
                    option value="" { "Tutti" }
                    @for u in &users { option value=(u.id) selected[f.utente == u.id.to_string()] { (u.name) } }
                }
            }
            p { label for="rr" { "Reclamo" } input #rr type="text" name="reclamo" value=(f.reclamo) placeholder="URP-2026-000042"; }
            p.buttons { button type="submit" { "Filtra" } }
        }
        div.tablewrap {
            table {
                caption { "Registro attività (dal più recente)" }
                thead { tr { th scope="col" { "Quando" } th scope="col" { "Chi" } th scope="col" { "Cosa" } th scope="col" { "Reclamo" } th scope="col" { "Dettagli" } } }
                tbody {
                    @for (h, number) in &rows {
                        tr {
                            td { (ui::stored_datetime(&h.at)) }
                            td { (h.actor) }
                            td { (crate::texts::audit_action(&h.action)) }
                            td { @if let Some(n) = number { a href={"/reclami/" (n)} { (n) } } }
                            td { code { (h.detail) } }
                        }
                    }
                }
            }
        }
        nav.pages aria-label="Pagine" {
            @if page > 1 { a rel="prev" href=(link(page - 1)) { "← Più recenti" } }
            @if rows.len() == AUDIT_PAGE { a rel="next" href=(link(page + 1)) { "Meno recenti →" } }
        }
    };
    Ok(admin_page(&s, "Registro attività", body))
}
