//! Reclamo: one ticket, its facts, its thread, its history and the forms to work it.

use axum::extract::{Query, State as AppState};
use chrono::{DateTime, Utc};
use maud::{html, Markup};

use super::{analysis, answers, deadline, drafts, requests, review, suggest, ticket_id};
use crate::domain::{Done, Kind, Outcome, Relation, Role, TicketNumber};
use crate::mail::pec::PecInfo;
use crate::store::backoffice::{self as q, Entry, EntryKind};
use crate::store::classifier as class_sql;
use crate::store::tickets::{self, Ticket};
use crate::texts;
use crate::web::auth::{AnyUser, Session};
use crate::web::feedback::{self, DoneQuery, FormErrors};
use crate::web::ui::{self, csrf, Section};
use crate::web::{App, UrlPath, WebResult};
use crate::workflow;

pub async fn show(
    AppState(app): AppState<App>,
    AnyUser(s): AnyUser,
    UrlPath(number): UrlPath<TicketNumber>,
    Query(done): Query<DoneQuery>,
) -> WebResult<Markup> {
    let id = ticket_id(&app, &number).await?;
    // Every opening is audited; an operator's first takes the ticket in charge.
    {
        let (notifier, actor) = (app.notifier.clone(), s.actor.clone());
        app.store
            .call(move |conn| {
                workflow::in_transaction(conn, |tx| workflow::view(tx, &notifier, &actor, id))
                    .map_err(anyhow::Error::from)
            })
            .await?;
    }
    let feedback = Feedback {
        done: done.done().map(|d| (d, done.detail().to_string())),
        ..Feedback::default()
    };
    render(&app, s, id, feedback).await
}

/// What the ticket page shows besides the ticket: the confirmation of the action just done,
/// or a form sent back with its errors and what was typed in it.
#[derive(Default)]
pub(super) struct Feedback {
    pub done: Option<(Done, String)>,
    pub errors: FormErrors,
    pub typed: Typed,
    /// When the answer shown was kept from a session that ended (see `web::auth::keep_answer`).
    pub draft_saved_at: Option<String>,
}

/// What was typed in the ticket's forms, shown again when one comes back with errors.
#[derive(Default)]
pub(super) struct Typed {
    pub answer: Option<String>,
    pub note: Option<String>,
    pub merge: Option<String>,
}

/// The ticket page of ticket `id` (no audit: [`show`] records the opening).
/// (`s` is taken by value so that the page's body reads as it did when it was `show`'s.)
pub(super) async fn render(app: &App, s: Session, id: i64, fb: Feedback) -> WebResult<Markup> {
    if !s.sees_content {
        return facts_page(app, &s, id).await;
    }
    let mut fb = fb;
    if fb.typed.answer.is_none() && s.may_act() {
        // An answer kept when the session ended goes back into the form.
        let user = s.actor.id;
        let draft = app
            .readers
            .read(move |conn| crate::store::kept_answers::of(conn, user, id))
            .await?;
        if let Some(d) = draft {
            fb.typed.answer = Some(d.body);
            fb.draft_saved_at = Some(d.saved_at);
        }
    }
    let slot = app.model.clone();
    let (t, related, entries, history, categories, services, operators, learned) = app
        .readers
        .read(move |conn| {
            let t = tickets::ticket(conn, id)?.ok_or_else(|| anyhow::anyhow!("ticket vanished"))?;
            let explanation = match slot.refresh(conn)? {
                Some(loaded) => crate::learned::explain::explain(conn, &loaded, id)?,
                None => None,
            };
            let learned = suggest::Learned {
                sources: class_sql::sources(conn, id)?,
                suggestions: class_sql::suggestions(conn, id)?,
                explanation,
            };
            Ok((
                t,
                tickets::related(conn, id)?,
                q::thread(conn, id)?,
                q::history(conn, id)?,
                q::categories(conn)?,
                q::services(conn)?,
                q::operators(conn)?,
                learned,
            ))
        })
        .await?;
    let requests = app
        .readers
        .read(move |conn| requests::read(conn, id))
        .await?;
    let citizen = super::other::read(app, id).await?;
    let deadline_facts = app
        .readers
        .read(move |conn| deadline::read(conn, id))
        .await?;
    let review_row = app.readers.read(move |conn| review::read(conn, id)).await?;
    let user_id = s.actor.id;
    let (drafts, approver) = app
        .readers
        .read(move |conn| drafts::read(conn, id, user_id))
        .await?;
    let answer_files = app
        .readers
        .read(move |conn| crate::store::answer_files::of_ticket(conn, id))
        .await?;
    let models = app
        .readers
        .read(move |conn| answers::suitable(conn, id))
        .await?;
    let quality = app
        .readers
        .read(move |conn| analysis::read(conn, id))
        .await?;
    let title = format!("Reclamo {}", t.number);
    let flash = fb.done.as_ref().map(|(d, detail)| match d {
        Done::Answered => texts::done(*d, &t.citizen.email),
        Done::Merged => texts::done(
            *d,
            detail
                .parse::<TicketNumber>()
                .map(|n| n.to_string())
                .as_deref()
                .unwrap_or(""),
        ),
        _ => texts::done(*d, ""),
    });
    let body = html! {
        @if let Some(m) = &flash { (feedback::flash(m)) }
        @if s.actor.role == Role::Viewer {
            p.notice { (texts::viewer_scope(true)) }
        }
        p.subject-line { (ui::state_badge(t.state)) " " strong { (ui::clip(&t.subject, SUBJECT_LINE_CHARS)) } }
        (summary(&t, Some(&related)))
        (super::other::section(&t, &citizen))
        @if let Some(f) = &deadline_facts {
            (deadline::section(&s, &t.number, f, true, s.may_act() && t.merged_into.is_none() && t.state.is_open(), &app.settings.workflow.extend_to_days))
        }
        (suggest::section(&s, &t, &learned, s.may_act() && t.merged_into.is_none()))
        section aria-labelledby="conversazione" {
            h2 #conversazione { "Conversazione" }
            @for e in &entries {
                (entry(&t, e))
            }
            (answers::files_list(&t.number, &answer_files))
        }
        (drafts::section(&s, &t.number, &drafts, approver))
        (requests::section(&s, &t.number, &requests, s.may_act() && t.merged_into.is_none()))
        (review::section(&s, &t, review_row.as_ref(), true, &app.settings.workflow))
        (analysis::section(&s, &t.number, &quality, s.may_act() && t.merged_into.is_none(), app.settings.quality.risk_office.is_some()))
        @if s.may_act() && t.merged_into.is_none() {
            @if t.state.is_open() { (answers::picker(&t.number, &models)) }
            (actions(&s, &t, &categories, &services, &operators, &fb))
        }
        section aria-labelledby="storia" {
            h2 #storia { "Storia della pratica" }
            details {
                summary { (history.len()) " eventi dal registro" }
                div.tablewrap {
                    table {
                        thead { tr { th scope="col" { "Quando" } th scope="col" { "Chi" } th scope="col" { "Cosa" } th scope="col" { "Dettagli" } } }
                        tbody {
                            @for h in &history {
                                tr {
                                    td { (ui::stored_datetime(&h.at)) }
                                    td { (h.actor) }
                                    td { (texts::audit_action(h.action)) }
                                    td { code { (h.detail) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(feedback::page_with_errors(
        &s,
        Section::Tickets,
        &title,
        &fb.errors,
        body,
    ))
}

/// How much of a subject the ticket's heading shows (each message shows its own in full).
const SUBJECT_LINE_CHARS: usize = 500;

/// A ticket as a viewer without contents sees it: its number, dates, state, kind, category,
/// service and outcome; no citizen, subject, message, note, attachment, history or original.
async fn facts_page(app: &App, s: &Session, id: i64) -> WebResult<Markup> {
    let (t, requests, deadline_facts, review_row) = app
        .readers
        .read(move |conn| {
            Ok((
                tickets::ticket(conn, id)?.ok_or_else(|| anyhow::anyhow!("ticket vanished"))?,
                requests::read(conn, id)?,
                deadline::read(conn, id)?,
                review::read(conn, id)?,
            ))
        })
        .await?;
    let body = html! {
        p.notice { (texts::viewer_scope(false)) }
        (summary(&t, None))
        @if let Some(f) = &deadline_facts { (deadline::section(s, &t.number, f, false, false, &[])) }
        (requests::facts(&requests))
        (review::section(s, &t, review_row.as_ref(), false, &app.settings.workflow))
    };
    Ok(ui::page(
        s,
        Section::Tickets,
        &format!("Reclamo {}", t.number),
        body,
    ))
}

/// The ticket's facts; with the tickets related to it (`contents`), also who wrote, who works
/// it and which tickets it relates to (a viewer without contents sees only the facts).
fn summary(t: &Ticket, contents: Option<&[(TicketNumber, Relation)]>) -> Markup {
    let due: DateTime<Utc> = t.due_at.parse().unwrap_or_else(|_| Utc::now());
    html! {
        dl.summary {
            @if contents.is_some() {
                dt { "Cittadino" }
                dd {
                    @if let Some(n) = &t.citizen.name { (n) " " }
                    @if crate::domain::address::has_email(&t.citizen.email) { "<" (t.citizen.email) ">" }
                    @else { span.muted { (texts::NO_EMAIL) } }
                    @if t.citizen.bouncing_since.is_some() { " " span.flag { "indirizzo non raggiungibile" } }
                }
            } @else {
                dt { "Stato" }
                dd { (ui::state_badge(t.state)) }
            }
            dt { "Ricevuto" }
            dd { (ui::stored_datetime(&t.received_at)) (ui::channel_mark(t.channel)) }
            dt { "Scadenza" }
            dd { (ui::stored_datetime(&t.due_at)) " · " (ui::deadline_cell(due, t.first_answered_at.is_some(), t.state)) }
            dt { "Tipologia" }
            dd { (ui::kind_label(t.kind)) }
            dt { "Classificazione" }
            dd {
                @match &t.category {
                    Some(c) => { (c.code) " – " (c.label) }
                    None => { span.muted { "da classificare" } }
                }
            }
            dt { "Servizio" }
            dd { (t.service.as_ref().map_or("—", |s| s.label.as_str())) }
            @if contents.is_some() {
                dt { "Operatore" }
                dd { (t.assigned.as_ref().map_or("—", |a| a.name.as_str())) }
            }
            @if let Some(at) = &t.taken_in_charge_at {
                dt { "Presa in carico" }
                dd { (ui::stored_datetime(at)) }
            }
            @if let Some(at) = &t.first_answered_at {
                dt { "Prima risposta" }
                dd { (ui::stored_datetime(at)) }
            }
            @if let Some(at) = &t.closed_at {
                dt { "Chiuso" }
                dd { (ui::stored_datetime(at)) @if let Some(o) = t.outcome { " · esito: " (texts::outcome(o)) } }
            }
            @if let Some(related) = contents {
                @if t.reopen_count > 0 {
                    dt { "Riaperture" }
                    dd { (t.reopen_count) }
                }
                @if let Some(n) = &t.linked_to {
                    dt { "Collegato a" }
                    dd { a href={"/reclami/" (n)} { (n) } }
                }
                @if let Some(n) = &t.merged_into {
                    dt { "Unito in" }
                    dd { a href={"/reclami/" (n)} { (n) } " (i messaggi sono stati spostati lì)" }
                }
                @if !related.is_empty() {
                    dt { "Pratiche collegate" }
                    dd {
                        @for (n, how) in related {
                            a href={"/reclami/" (n)} { (n) } " (" (relation(*how)) ") "
                        }
                    }
                }
            }
        }
    }
}

fn relation(how: Relation) -> &'static str {
    match how {
        Relation::Merged => "unita",
        Relation::Linked => "collegata",
    }
}

fn pec_details(json: &str) -> Markup {
    let Ok(pec) = serde_json::from_str::<PecInfo>(json) else {
        // Unreadable (a hand-edited row): the original .eml is still there to read.
        return html! { p.muted { "Dati della busta PEC non leggibili." } };
    };
    html! {
        dl.pec {
            dt { "Busta" } dd { (texts::pec_envelope(pec.envelope)) }
            dt { "Firma del gestore" } dd {
                (texts::pec_signature(pec.signature))
                @if let Some(e) = &pec.signature_error { ": " (e) }
            }
            @if let Some(id) = &pec.identificativo { dt { "Identificativo" } dd { (id) } }
            @if let Some(at) = pec.certified_at.map(crate::store::time_text) {
                @if pec.certified_at_used {
                    dt { "Data certificata" } dd { (ui::stored_datetime(&at)) }
                } @else {
                    dt { "Data dichiarata" }
                    dd { (ui::stored_datetime(&at)) " (troppo lontana dalla ricezione nella casella: non usata come data di ricevimento)" }
                }
            }
            @if let Some(m) = &pec.original_msgid { dt { "Message-ID originale" } dd { (m) } }
        }
    }
}

fn entry(t: &Ticket, e: &Entry) -> Markup {
    let (class, heading) = match e.kind {
        EntryKind::Inbound => ("in", "Dal cittadino"),
        EntryKind::Outbound => ("out", "Risposta dell'ufficio"),
        EntryKind::Automatic => ("auto", "Messaggio automatico"),
        EntryKind::Note => ("note", "Nota interna"),
    };
    let content = html! {
        @if let Some(reason) = &e.sender_unverified {
            p.error role="note" {
                strong { "Mittente non verificato" }
                ": il server di posta dell'ospedale non ha potuto autenticare il mittente ("
                (reason) "). Il messaggio è stato registrato come nuova pratica e non modifica le pratiche esistenti."
            }
        }
        @if let Some(subject) = &e.subject { p.msg-subject { "Oggetto: " (subject) } }
        div.body { (e.body) }
        @if !e.attachments.is_empty() {
            ul.attachments aria-label="Allegati" {
                @for a in &e.attachments {
                    li {
                        a href={"/reclami/" (t.number) "/allegati/" (a.id)} download {
                            (a.filename.as_deref().unwrap_or("allegato senza nome"))
                        }
                        " (" (a.content_type) ", " (ui::size(a.size)) ")"
                    }
                }
            }
        }
        @if let Some(pec) = &e.pec { (pec_details(pec)) }
        @if let Some(id) = e.raw_message {
            p.small { a href={"/reclami/" (t.number) "/messaggi/" (id) "/originale"} download { "Scarica il messaggio originale (.eml)" } }
        }
    };
    html! {
        article class={"entry " (class)} {
            header {
                strong { (heading) }
                " · "
                @if let Some(a) = &e.author { (a) " " }
                @if let Some(m) = &e.author_email { "<" (m) "> " }
                " · " time datetime=(e.at) { (ui::stored_datetime(&e.at)) }
            }
            @if e.kind == EntryKind::Automatic {
                details { summary { "Mostra" } (content) }
            } @else {
                (content)
            }
        }
    }
}

fn actions(
    s: &Session,
    t: &Ticket,
    categories: &[q::Category],
    services: &[q::Service],
    operators: &[(i64, String)],
    fb: &Feedback,
) -> Markup {
    let (e, typed) = (&fb.errors, &fb.typed);
    let base = format!("/reclami/{}", t.number);
    let category_id = t.category.as_ref().map(|c| c.id);
    let service_id = t.service.as_ref().map(|s| s.id);
    let assigned_to = t.assigned.as_ref().map(|a| a.id);
    let closed = !t.state.is_open();
    html! {
        section aria-labelledby="azioni" {
            h2 #azioni { "Lavorazione" }
            @if !closed {
                (answers::answer_form(s, &t.number, typed.answer.as_deref().unwrap_or(""), e, fb.draft_saved_at.as_deref()))
            }
            form.action method="post" action={(base) "/nota"} {
                (csrf(s))
                label for="nota" { "Nota interna (non inviata al cittadino)" }
                (e.message("nota"))
                textarea #nota name="testo" rows="3" required aria-invalid=[e.invalid("nota")] aria-describedby=[e.described_by("nota")] { (typed.note.as_deref().unwrap_or("")) }
                button type="submit" { "Aggiungi nota" }
            }
            form.action.grid method="post" action={(base) "/classificazione"} {
                (csrf(s))
                p {
                    label for="c-tipologia" { "Tipologia" }
                    select #c-tipologia name="tipologia" {
                        option value="" { "Non indicata" }
                        @for &k in Kind::ALL {
                            option value=(k) selected[t.kind == Some(k)] { (texts::kind(k)) }
                        }
                    }
                }
                p {
                    label for="c-categoria" { "Classificazione" }
                    select #c-categoria name="categoria" {
                        option value="" { "Da classificare" }
                        @for macro_cat in categories.iter().filter(|c| c.parent_id.is_none()) {
                            optgroup label={(macro_cat.code) " – " (macro_cat.label)} {
                                @for c in categories.iter().filter(|c| c.parent_id == Some(macro_cat.id)) {
                                    @if c.active || category_id == Some(c.id) {
                                        option value=(c.id) selected[category_id == Some(c.id)] { (c.code) " – " (c.label) }
                                    }
                                }
                            }
                        }
                    }
                }
                p {
                    label for="c-servizio" { "Servizio" }
                    select #c-servizio name="servizio" {
                        option value="" { "Nessuno" }
                        @for sv in services {
                            @if sv.active || service_id == Some(sv.id) {
                                option value=(sv.id) selected[service_id == Some(sv.id)] { (sv.name) }
                            }
                        }
                    }
                }
                p {
                    label for="c-operatore" { "Operatore" }
                    select #c-operatore name="operatore" {
                        option value="" { "Nessuno" }
                        @for (id, name) in operators {
                            option value=(id) selected[assigned_to == Some(*id)] { (name) }
                        }
                    }
                }
                p.buttons { button type="submit" { "Salva classificazione" } }
            }
            @if !closed {
                form.action method="post" action={(base) "/chiusura"} {
                    (csrf(s))
                    label for="esito" { "Esito" }
                    (e.message("esito"))
                    select #esito name="esito" required aria-invalid=[e.invalid("esito")] aria-describedby=[e.described_by("esito")] {
                        option value="" { "Scegli l'esito" }
                        @for &o in Outcome::ALL {
                            option value=(o) { (texts::outcome(o)) }
                        }
                    }
                    button type="submit" { "Chiudi il reclamo…" }
                }
                form.action method="post" action={(base) "/unione"} {
                    (csrf(s))
                    label for="unisci" { "Unisci in un altro reclamo (stesso caso scritto due volte)" }
                    p.hint #unisci-formato { (texts::MERGE_FORMAT) }
                    (e.message("unisci"))
                    input #unisci type="text" name="destinazione" value=(typed.merge.as_deref().unwrap_or("")) required pattern="[A-Z0-9]{1,10}-[0-9]{4}-[0-9]{6}" aria-invalid=[e.invalid("unisci")] aria-describedby={"unisci-formato" @if let Some(d) = e.described_by("unisci") { " " (d) }};
                    button type="submit" { "Unisci…" }
                }
            }
        }
    }
}
