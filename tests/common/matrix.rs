//! Every route × every role: what each may see and do, as one table, checked against the real
//! daemon over HTTP and against its router in-process (`tests/web.rs` runs both, for both
//! values of `[web] viewer_sees_content`), with the same expected answers.

use super::complaint;
use super::http::{csrf_of, Office};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// 200 with a page.
    Page,
    /// 303 somewhere else than the sign-in page: the change was made.
    Done,
    /// 303 to the sign-in page.
    SignIn,
    /// 403.
    Refused,
    /// 404: a citizen's link that opens nothing.
    Missing,
}
use Cell::*;

/// Every route × (anonymous, viewer, viewer where `[web] viewer_sees_content = true`, operator,
/// admin). `{T}` is a ticket of the caller's own (so that one role's change does not get in
/// another's way), `{M}` its message, `{A}` its attachment, `{U}` the viewer's user id, `{Q}` a
/// quarantine entry, `{O}` a failed notification, `{R}` a rule, `{S}` a service, `{C}` a
/// category, `{RF}` a referente, `{RQ}` a request for a report on `{T}`, `{DUE}` a due date,
/// `{TODAY}` today, `{L}` a citizen's link to `{T}` and `{LC}` its page's form token, `{L0}` a
/// link that opens nothing. A route whose fields carry `_csrf` posts that token instead of the
/// session's.
/// `{AM}` an answer model, `{AF}` a file sent with an answer on `{T}`.
/// `{QC}` a complaint component, `{QF}` a kind of frailty, `{AZ}` an improvement action, `{RR}`
/// a register reference on `{T}` (issue 20).
/// `{AM}` an answer model, `{AF}` a file sent with an answer on `{T}`, `{DR}` and `{DR2}` answers
/// awaiting approval on `{T}`.
/// (method, path, form fields, expected for each column)
pub type Route = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    [Cell; 5],
);

/// The matrix's columns.
pub const ANONYMOUS: usize = 0;
pub const VIEWER: usize = 1;
pub const VIEWER_WITH_CONTENT: usize = 2;
pub const OPERATOR: usize = 3;
pub const ADMIN: usize = 4;

pub const MATRIX: &[Route] = &[
    ("GET", "/", &[], [SignIn, Page, Page, Page, Page]),
    ("GET", "/reclami", &[], [SignIn, Page, Page, Page, Page]),
    (
        "GET",
        "/reclami?q=pronto&stato=pending",
        &[],
        [SignIn, Page, Page, Page, Page],
    ),
    ("GET", "/reclami/{T}", &[], [SignIn, Page, Page, Page, Page]),
    (
        "GET",
        "/reclami/{T}/messaggi/{M}/originale",
        &[],
        [SignIn, Refused, Page, Page, Page],
    ),
    (
        "GET",
        "/reclami/{T}/allegati/{A}",
        &[],
        [SignIn, Refused, Page, Page, Page],
    ),
    (
        "POST",
        "/reclami/{T}/nota",
        &[("testo", "nota")],
        [Refused, Refused, Refused, Done, Done],
    ),
    (
        "POST",
        "/reclami/{T}/classificazione",
        &[("tipologia", "reclamo")],
        [Refused, Refused, Refused, Done, Done],
    ),
    (
        "POST",
        "/reclami/{T}/conferma",
        &[("campo", "kind"), ("valore", "reclamo")],
        [Refused, Refused, Refused, Done, Done],
    ),
    // Deadlines that move (issue 19), before the answer (an answered ticket's deadline stays).
    (
        "POST",
        "/reclami/{T}/termine/sospensione",
        &[("motivo", "In attesa della delega")],
        [Refused, Refused, Refused, Done, Done],
    ),
    (
        "POST",
        "/reclami/{T}/termine/ripresa",
        &[("motivo", "Delega ricevuta")],
        [Refused, Refused, Refused, Done, Done],
    ),
    (
        "POST",
        "/reclami/{T}/termine/proroga",
        &[("giorni", "60"), ("motivo", "Caso complesso")],
        [Refused, Refused, Refused, Done, Done],
    ),
    // Answer models (issue 19): filled in for operators, kept by administrators.
    (
        "GET",
        "/reclami/{T}/risposta/modello?modello={AM}",
        &[],
        [SignIn, Refused, Refused, Page, Page],
    ),
    (
        "POST",
        "/reclami/{T}/risposta",
        &[("testo", "Gentile utente, ...")],
        [Refused, Refused, Refused, Done, Done],
    ),
    // The answer form with files (issue 19); an ordinary form is an answer without files.
    (
        "POST",
        "/reclami/{T}/risposta/allegati",
        &[("testo", "Gentile utente, in allegato ...")],
        [Refused, Refused, Refused, Done, Done],
    ),
    (
        "GET",
        "/reclami/{T}/risposte/allegati/{AF}",
        &[],
        [SignIn, Refused, Page, Page, Page],
    ),
    // The istruttoria (issue 14): viewers see requests, never prepare or send them.
    (
        "GET",
        "/reclami/{T}/relazioni/nuova",
        &[],
        [SignIn, Refused, Refused, Page, Page],
    ),
    (
        "GET",
        "/reclami/{T}/relazioni/nuova?referente={RF}&scadenza={DUE}",
        &[],
        [SignIn, Refused, Refused, Page, Page],
    ),
    (
        "POST",
        "/reclami/{T}/relazioni",
        &[
            ("referente", "{RF}"),
            ("scadenza", "{DUE}"),
            ("oggetto", "Richiesta di relazione"),
            ("testo", "Vi chiediamo una relazione."),
        ],
        [Refused, Refused, Refused, Done, Done],
    ),
    // Issue 15: complaints recorded by hand, answers printed as letters, the citizen's page.
    (
        "GET",
        "/reclami/nuovo",
        &[],
        [SignIn, Refused, Refused, Page, Page],
    ),
    (
        "POST",
        "/reclami/nuovo",
        &[
            ("canale", "telefono"),
            ("ricevuto", "{TODAY}"),
            ("nome", "Maria Rossi"),
            ("telefono", "055 123456{N}"),
            ("testo", "Ha telefonato per l'attesa in pronto soccorso."),
        ],
        [Refused, Refused, Refused, Done, Done],
    ),
    (
        "GET",
        "/reclami/{T}/stampa",
        &[],
        [SignIn, Refused, Page, Page, Page],
    ),
    // The public form is off unless `[public] form = true` (tests/intake.rs and
    // tests/browser.rs turn it on).
    (
        "GET",
        "/segnala",
        &[],
        [Missing, Missing, Missing, Missing, Missing],
    ),
    (
        "POST",
        "/segnala",
        &[("nome", "Anna"), ("testo", "x"), ("consenso", "1")],
        [Missing, Missing, Missing, Missing, Missing],
    ),
    ("GET", "/pratica/{L}", &[], [Page, Page, Page, Page, Page]),
    (
        "GET",
        "/pratica/{L0}",
        &[],
        [Missing, Missing, Missing, Missing, Missing],
    ),
    (
        "POST",
        "/pratica/{L}/messaggio",
        &[("_csrf", "{LC}"), ("testo", "Aggiungo un dettaglio.")],
        [Done, Done, Done, Done, Done],
    ),
    // The session's token is not the page's.
    (
        "POST",
        "/pratica/{L}/messaggio",
        &[("testo", "Aggiungo un dettaglio.")],
        [Refused, Refused, Refused, Refused, Refused],
    ),
    (
        "POST",
        "/pratica/{L0}/messaggio",
        &[("_csrf", "{LC0}"), ("testo", "Aggiungo un dettaglio.")],
        [Missing, Missing, Missing, Missing, Missing],
    ),
    (
        "POST",
        "/reclami/{T}/relazioni/{RQ}/letta",
        &[],
        [Refused, Refused, Refused, Done, Done],
    ),
    // Sign-off (issue 19): only an account with the approver right (the admin, here) approves
    // or returns; an operator without it is refused.
    (
        "POST",
        "/reclami/{T}/bozze/{DR}/approva",
        &[],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "POST",
        "/reclami/{T}/bozze/{DR2}/restituisci",
        &[("commento", "Da rivedere")],
        [Refused, Refused, Refused, Refused, Done],
    ),
    // The second level (issue 19): after the answer above.
    (
        "POST",
        "/reclami/{T}/riesame",
        &[
            ("organismo", "Difensore civico"),
            ("note", "Istanza del cittadino"),
        ],
        [Refused, Refused, Refused, Done, Done],
    ),
    (
        "POST",
        "/reclami/{T}/riesame/esito",
        &[("esito", "non_accolto"), ("note", "Verbale")],
        [Refused, Refused, Refused, Done, Done],
    ),
    // The confirmation steps (issue 18): a page that asks, nothing changed yet.
    (
        "POST",
        "/reclami/{T}/chiusura",
        &[("esito", "accolto")],
        [Refused, Refused, Refused, Page, Page],
    ),
    (
        "POST",
        "/reclami/{T2}/unione",
        &[("destinazione", "{T3}")],
        [Refused, Refused, Refused, Page, Page],
    ),
    (
        "POST",
        "/reclami/{T}/chiusura",
        &[("esito", "accolto"), ("confermato", "1")],
        [Refused, Refused, Refused, Done, Done],
    ),
    (
        "POST",
        "/reclami/{T2}/unione",
        // Two citizens' tickets: merged only when confirmed (issue 11, finding 9).
        &[
            ("destinazione", "{T3}"),
            ("conferma", "1"),
            ("confermato", "1"),
        ],
        [Refused, Refused, Refused, Done, Done],
    ),
    (
        "GET",
        "/amministrazione",
        &[],
        [SignIn, Refused, Refused, Refused, Page],
    ),
    (
        "GET",
        "/amministrazione/modelli",
        &[],
        [SignIn, Refused, Refused, Refused, Page],
    ),
    (
        "POST",
        "/amministrazione/modelli",
        &[
            ("titolo", "Modello {N}"),
            ("tipologia", "reclamo"),
            ("testo", "Gentile {{ citizen_name or \"utente\" }}"),
            ("attivo", "1"),
        ],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "POST",
        "/amministrazione/modelli/{AM}",
        &[
            ("titolo", "Attese"),
            ("testo", "La pratica {{ number }}"),
            ("attivo", "1"),
        ],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "GET",
        "/amministrazione/riepiloghi",
        &[],
        [SignIn, Refused, Refused, Refused, Page],
    ),
    (
        "POST",
        "/amministrazione/riepiloghi/{U}",
        &[("riepilogo", "1")],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "POST",
        "/amministrazione/riepiloghi/{U}/approvatore",
        &[("approvatore", "1")],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "GET",
        "/amministrazione/classificatore",
        &[],
        [SignIn, Refused, Refused, Refused, Page],
    ),
    (
        "GET",
        "/amministrazione/utenti",
        &[],
        [SignIn, Refused, Refused, Refused, Page],
    ),
    (
        "POST",
        "/amministrazione/utenti",
        &[
            ("email", "nuovo{N}@hospital.test"),
            ("nome", "Nuovo"),
            ("ruolo", "viewer"),
        ],
        [Refused, Refused, Refused, Refused, Page],
    ),
    (
        "POST",
        "/amministrazione/utenti/{U}",
        &[("ruolo", "viewer"), ("attivo", "1")],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "POST",
        "/amministrazione/utenti/{U}/password",
        &[],
        [Refused, Refused, Refused, Refused, Page],
    ),
    (
        "GET",
        "/amministrazione/servizi",
        &[],
        [SignIn, Refused, Refused, Refused, Page],
    ),
    (
        "POST",
        "/amministrazione/servizi",
        &[("codice", "NUOVO{N}"), ("nome", "Nuovo servizio")],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "POST",
        "/amministrazione/servizi/{S}",
        &[("nome", "Pronto soccorso"), ("attivo", "1")],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "GET",
        "/amministrazione/referenti",
        &[],
        [SignIn, Refused, Refused, Refused, Page],
    ),
    (
        "POST",
        "/amministrazione/referenti",
        &[
            ("servizio", "{S}"),
            ("nome", "Dott. Nuovo"),
            ("email", "ref{N}@hospital.test"),
            ("ruolo", "Direttore UO"),
        ],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "POST",
        "/amministrazione/referenti/{RF}",
        &[
            ("nome", "Dott. Bianchi"),
            ("email", "dir.ps@hospital.test"),
            ("attivo", "1"),
        ],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "GET",
        "/amministrazione/categorie",
        &[],
        [SignIn, Refused, Refused, Refused, Page],
    ),
    (
        "POST",
        "/amministrazione/categorie",
        &[
            ("codice", "ALT.9{N}"),
            ("descrizione", "Altro ancora"),
            ("padre", "{CP}"),
        ],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "POST",
        "/amministrazione/categorie/{C}",
        &[
            ("codice", "STR.02"),
            ("descrizione", "Segnaletica e orientamento"),
            ("attivo", "1"),
        ],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "GET",
        "/amministrazione/regole",
        &[],
        [SignIn, Refused, Refused, Refused, Page],
    ),
    (
        "GET",
        "/amministrazione/regole?prova_campo=text&prova_espressione=pronto",
        &[],
        [SignIn, Refused, Refused, Refused, Page],
    ),
    (
        "POST",
        "/amministrazione/regole",
        &[
            ("nome", "Prova"),
            ("campo", "subject"),
            ("espressione", "parcheggio"),
            ("tipologia", "segnalazione"),
            ("attiva", "1"),
        ],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "POST",
        "/amministrazione/regole/{R}",
        &[
            ("nome", "Regola"),
            ("campo", "text"),
            ("espressione", "\\bbagn"),
            ("tipologia", "reclamo"),
            ("attiva", "1"),
            ("azione", "salva"),
        ],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "POST",
        "/amministrazione/regole/{R}",
        &[("azione", "elimina")],
        [Refused, Refused, Refused, Refused, Page],
    ),
    (
        "POST",
        "/amministrazione/regole/{R}/sposta",
        &[("verso", "giu")],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "GET",
        "/amministrazione/quarantena",
        &[],
        [SignIn, Refused, Refused, Refused, Page],
    ),
    (
        "GET",
        "/amministrazione/quarantena/{Q}/originale",
        &[],
        [SignIn, Refused, Refused, Refused, Page],
    ),
    (
        "POST",
        "/amministrazione/quarantena/{Q}/scarta",
        &[],
        [Refused, Refused, Refused, Refused, Page],
    ),
    (
        "POST",
        "/amministrazione/quarantena/{Q}/scarta",
        &[("confermato", "1")],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "GET",
        "/amministrazione/posta",
        &[],
        [SignIn, Refused, Refused, Refused, Page],
    ),
    (
        "POST",
        "/amministrazione/posta/{O}/riprova",
        &[],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "GET",
        "/amministrazione/registro?azione=ticket.",
        &[],
        [SignIn, Refused, Refused, Refused, Page],
    ),
    // Issue 20: the analysis, clinical risk (the right: administrators here; a viewer with
    // the flag in tests/quality.rs), improvement actions, transparency, comparison, lists.
    (
        "POST",
        "/reclami/{T}/analisi",
        &[
            ("componente", "{QC}"),
            ("fondatezza", "fondato"),
            ("fragilita", "{QF}"),
            ("rischio", "1"),
            ("nota", "Analisi interna"),
        ],
        [Refused, Refused, Refused, Done, Done],
    ),
    (
        "POST",
        "/reclami/{T}/rischio",
        &[
            ("registro", "Incident reporting"),
            ("identificativo", "IR-{N}"),
        ],
        [Refused, Refused, Refused, Done, Done],
    ),
    (
        "POST",
        "/reclami/{T}/rischio/{RR}/rimuovi",
        &[],
        [Refused, Refused, Refused, Done, Done],
    ),
    (
        "GET",
        "/rischio-clinico",
        &[],
        [SignIn, Refused, Refused, Refused, Page],
    ),
    (
        "GET",
        "/rischio-clinico?anno=2026",
        &[],
        [SignIn, Refused, Refused, Refused, Page],
    ),
    ("GET", "/azioni", &[], [SignIn, Page, Page, Page, Page]),
    (
        "GET",
        "/azioni?stato=avviata&servizio={S}&scadute=1",
        &[],
        [SignIn, Page, Page, Page, Page],
    ),
    (
        "POST",
        "/azioni",
        &[
            ("titolo", "Nuova segnaletica"),
            ("stato", "avviata"),
            ("pratiche", "{T}"),
            ("categoria", "{C}"),
        ],
        [Refused, Refused, Refused, Done, Done],
    ),
    ("GET", "/azioni/{AZ}", &[], [SignIn, Page, Page, Page, Page]),
    (
        "POST",
        "/azioni/{AZ}",
        &[("titolo", "Segnaletica"), ("stato", "completata")],
        [Refused, Refused, Refused, Done, Done],
    ),
    (
        "GET",
        "/trasparenza/2026",
        &[],
        [SignIn, Page, Page, Page, Page],
    ),
    (
        "GET",
        "/trasparenza/2026/csv",
        &[],
        [SignIn, Page, Page, Page, Page],
    ),
    (
        "GET",
        "/statistiche/confronto?servizio={S}",
        &[],
        [SignIn, Page, Page, Page, Page],
    ),
    (
        "GET",
        "/statistiche/confronto?categoria={CP}&formato=csv",
        &[],
        [SignIn, Page, Page, Page, Page],
    ),
    (
        "GET",
        "/amministrazione/qualita",
        &[],
        [SignIn, Refused, Refused, Refused, Page],
    ),
    (
        "POST",
        "/amministrazione/qualita/componenti",
        &[("codice", "NUOVA{N}"), ("descrizione", "Nuova componente")],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "POST",
        "/amministrazione/qualita/componenti/{QC}",
        &[("descrizione", "Soggettiva"), ("attivo", "1")],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "POST",
        "/amministrazione/qualita/fragilita",
        &[("codice", "NUOVA{N}"), ("descrizione", "Nuova fragilità")],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "POST",
        "/amministrazione/qualita/fragilita/{QF}",
        &[("descrizione", "Persona anziana"), ("attivo", "1")],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "POST",
        "/amministrazione/qualita/codici/{C}",
        &[("codice", "6")],
        [Refused, Refused, Refused, Refused, Done],
    ),
    (
        "POST",
        "/amministrazione/qualita/rischio/{U}",
        &[],
        [Refused, Refused, Refused, Refused, Done],
    ),
    // Signing out lands on the sign-in page.
    (
        "POST",
        "/esci",
        &[],
        [Refused, SignIn, SignIn, SignIn, SignIn],
    ),
    ("GET", "/", &[], [SignIn, SignIn, SignIn, SignIn, SignIn]),
];

/// A complaint with a small attachment.
fn complaint_with_attachment(from: &str, subject: &str, body: &str) -> Vec<u8> {
    let plain = String::from_utf8(complaint(from, subject, body)).unwrap();
    let (head, text) = plain.split_once("\r\n\r\n").unwrap();
    let head = head.replace(
        "Content-Type: text/plain; charset=UTF-8",
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"",
    );
    format!(
        "{head}\r\n\r\n--b\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{text}\r\n--b\r\n\
         Content-Type: application/pdf; name=\"referto.pdf\"\r\nContent-Disposition: attachment; filename=\"referto.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOf\r\n--b--\r\n"
    )
    .into_bytes()
}

/// The tickets the matrix works on: twelve complaints with an attachment, and a malformed
/// message for the quarantine.
pub fn messages() -> Vec<Vec<u8>> {
    let mut messages: Vec<Vec<u8>> = (0..12)
        .map(|i| {
            complaint_with_attachment(
                &format!("cittadino{i}@example.test"),
                &format!("Reclamo numero {i}"),
                "Attesa di sei ore in pronto soccorso.",
            )
        })
        .collect();
    messages.push(super::fixture("malformed.eml"));
    messages
}

/// With `[web] viewer_sees_content` off (the default): a viewer's attempts at contents are
/// refused, and audited.
pub fn every_route_checks_every_role(o: &Office) {
    check_matrix(
        o,
        &[
            (ANONYMOUS, "anonymous"),
            (VIEWER, "viewer"),
            (OPERATOR, "operator"),
            (ADMIN, "admin"),
        ],
    );
    // A viewer's attempts at contents were refused and audited against the ticket.
    let refused = o.daemon.count(&format!(
        "SELECT count(*) FROM audit_log WHERE action = 'ticket.view_refused' AND actor LIKE 'user:%'
           AND ticket_id = (SELECT id FROM tickets WHERE number = '{}')",
        o.tickets[3]
    ));
    assert_eq!(
        refused, 4,
        "the original, the attachment, the printed answer and the file sent with an answer"
    );
}

/// With `[web] viewer_sees_content = true`: a viewer downloads, and the downloads are audited.
pub fn every_route_checks_every_role_when_viewers_see_content(o: &Office) {
    check_matrix(
        o,
        &[
            (ANONYMOUS, "anonymous"),
            (VIEWER_WITH_CONTENT, "viewer"),
            (OPERATOR, "operator"),
            (ADMIN, "admin"),
        ],
    );
    assert_eq!(
        o.daemon
            .count("SELECT count(*) FROM audit_log WHERE action = 'ticket.view_refused'"),
        0
    );
    let downloads = o.daemon.count(&format!(
        "SELECT count(*) FROM audit_log WHERE action IN ('ticket.original_downloaded', 'ticket.attachment_downloaded')
           AND ticket_id = (SELECT id FROM tickets WHERE number = '{}')",
        o.tickets[3]
    ));
    assert_eq!(
        downloads, 3,
        "the viewer's downloads are audited (the answer's file too)"
    );
}

/// Runs [`MATRIX`] for each (column, role); each role works its own three tickets.
fn check_matrix(o: &Office, columns: &[(usize, &str)]) {
    let db = o.db_rw();
    let id = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    let viewer_id = id("SELECT id FROM users WHERE email = 'viewer@hospital.test'");
    let quarantine = id("SELECT id FROM quarantine");
    let rule = id("SELECT min(id) FROM routing_rules");
    let service = id("SELECT id FROM services WHERE code = 'PS'");
    let category = id("SELECT id FROM categories WHERE code = 'STR.02'");
    let macro_cat = id("SELECT id FROM categories WHERE code = 'ALT'");
    db.execute(
        "INSERT OR IGNORE INTO referenti (service_id, name, email, role, created_at)
         VALUES (?1, 'Dott. Bianchi', 'dir.ps@hospital.test', 'Direttore UO', '2026-01-01T00:00:00Z')",
        [service],
    )
    .unwrap();
    let referente = id("SELECT id FROM referenti WHERE email = 'dir.ps@hospital.test'");
    let due = (chrono::Utc::now() + chrono::Duration::days(10))
        .format("%Y-%m-%d")
        .to_string();
    let author = id("SELECT id FROM users WHERE email = 'admin@hospital.test'");
    db.execute("UPDATE users SET approver = 1 WHERE id = ?1", [author])
        .unwrap();
    db.execute(
        "INSERT INTO answer_models (title, body, updated_at)
         VALUES ('Attese', 'Gentile {{ citizen_name or \"utente\" }}, la pratica {{ number }}', '2026-01-01T00:00:00Z')",
        [],
    )
    .unwrap();
    let answer_model = db.last_insert_rowid();
    // Issue 20: a component, a kind of frailty, an improvement action.
    let component = id("SELECT min(id) FROM complaint_components");
    let fragility = id("SELECT min(id) FROM fragility_kinds");
    db.execute(
        "INSERT INTO improvement_actions (title, created_at, updated_at)
         VALUES ('Azione di prova', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        [],
    )
    .unwrap();
    let action = db.last_insert_rowid();

    for (r, (column, role)) in columns.iter().enumerate() {
        // Each role works its own three tickets; each failed mail is its own.
        let own = |k: usize| o.tickets[r * 3 + k].clone();
        let message = id(&format!(
            "SELECT m.id FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE t.number = '{}'",
            own(0)
        ));
        let attachment = id(&format!(
            "SELECT a.id FROM attachments a JOIN messages m ON m.id = a.message_id
             JOIN tickets t ON t.id = m.ticket_id WHERE t.number = '{}'",
            own(0)
        ));
        db.execute(
            "INSERT INTO outbox (ticket_id, kind, to_address, subject, body_text, message_id, automatic, state, next_attempt_at, created_at)
             VALUES (NULL, 'ack', 'x@example.test', 's', 'b', ?1, 1, 'failed', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            [format!("failed-{role}@hospital.test")],
        )
        .unwrap();
        let outbox = db.last_insert_rowid();
        db.execute(
            "INSERT INTO answer_files (ticket_id, outbox_id, filename, content_type, size, bytes, created_at)
             SELECT id, ?2, 'lettera.pdf', 'application/pdf', 4, X'25504446', '2026-01-01T00:00:00Z'
             FROM tickets WHERE number = ?1",
            rusqlite::params![own(0), outbox],
        )
        .unwrap();
        let answer_file = db.last_insert_rowid();
        let draft = |body: &str| -> i64 {
            db.execute(
                "INSERT INTO answer_drafts (ticket_id, author_id, body, state, created_at)
                 SELECT id, ?2, ?3, 'pending', '2026-01-01T00:00:00Z' FROM tickets WHERE number = ?1",
                rusqlite::params![own(0), author, body],
            )
            .unwrap();
            db.last_insert_rowid()
        };
        let (draft_approve, draft_return) = (draft("Bozza uno"), draft("Bozza due"));
        db.execute(
            "INSERT INTO requests (ticket_id, tag, referente_id, service_id, to_address, to_name,
               subject, body_text, author_id, sent_at, due_at, report_unread, created_at)
             SELECT t.id, t.number || ' R9{N}', ?2, ?3, 'dir.ps@hospital.test', 'Dott. Bianchi', 's', 'b',
               ?4, '2026-01-01T00:00:00Z', '2026-01-08T00:00:00Z', 1, '2026-01-01T00:00:00Z'
             FROM tickets t WHERE t.number = ?1"
                .replace("{N}", &r.to_string())
                .as_str(),
            rusqlite::params![own(0), referente, service, author],
        )
        .unwrap();
        let request = db.last_insert_rowid();
        let ticket_of = id(&format!(
            "SELECT id FROM tickets WHERE number = '{}'",
            own(0)
        ));
        let link = ascolto::citizen_link::mint(&db, ticket_of).unwrap();
        let link_token = ascolto::citizen_link::page_csrf(&link);
        let no_link = "0".repeat(64);
        let no_link_token = ascolto::citizen_link::page_csrf(&no_link);
        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        db.execute(
            "INSERT INTO ticket_risk_refs (ticket_id, register, identifier, created_at)
             SELECT id, 'Sinistri', 'S-' || id, '2026-01-01T00:00:00Z' FROM tickets WHERE number = ?1",
            [own(0)],
        )
        .unwrap();
        let risk_ref = db.last_insert_rowid();
        let fill = |s: &str| {
            s.replace("{T}", &own(0))
                .replace("{T2}", &own(1))
                .replace("{T3}", &own(2))
                .replace("{M}", &message.to_string())
                .replace("{A}", &attachment.to_string())
                .replace("{U}", &viewer_id.to_string())
                .replace("{Q}", &quarantine.to_string())
                .replace("{O}", &outbox.to_string())
                .replace("{R}", &rule.to_string())
                .replace("{S}", &service.to_string())
                .replace("{CP}", &macro_cat.to_string())
                .replace("{C}", &category.to_string())
                .replace("{N}", &r.to_string())
                .replace("{RF}", &referente.to_string())
                .replace("{RQ}", &request.to_string())
                .replace("{DUE}", &due)
                .replace("{TODAY}", &today)
                .replace("{LC0}", &no_link_token)
                .replace("{LC}", &link_token)
                .replace("{L0}", &no_link)
                .replace("{L}", &link)
                .replace("{AM}", &answer_model.to_string())
                .replace("{AF}", &answer_file.to_string())
                .replace("{QC}", &component.to_string())
                .replace("{QF}", &fragility.to_string())
                .replace("{AZ}", &action.to_string())
                .replace("{RR}", &risk_ref.to_string())
                .replace("{DR2}", &draft_return.to_string())
                .replace("{DR}", &draft_approve.to_string())
        };
        let mut client = if *role == "anonymous" {
            o.client()
        } else {
            o.sign_in(role)
        };
        // The token of this session, taken from a page this role may see.
        let token = if *role == "anonymous" {
            "no-session".to_string()
        } else {
            csrf_of(&client.get("/").text()).expect("every page carries the logout form's token")
        };
        for (method, path, fields, expected) in MATRIX {
            let path = fill(path);
            let resp = if *method == "GET" {
                client.get(&path)
            } else {
                let values: Vec<String> = fields.iter().map(|(_, v)| fill(v)).collect();
                let mut form: Vec<(&str, &str)> = Vec::new();
                if !fields.iter().any(|(k, _)| *k == "_csrf") {
                    form.push(("_csrf", token.as_str()));
                }
                form.extend(
                    fields
                        .iter()
                        .zip(&values)
                        .map(|((k, _), v)| (*k, v.as_str())),
                );
                client.post_raw(&path, &form)
            };
            let got = match (resp.status, resp.location.as_deref()) {
                (200, _) => Page,
                (303, Some(l)) if l.starts_with("/accedi") => SignIn,
                (303, _) => Done,
                (403, _) => Refused,
                (404, _) => Missing,
                (s, l) => panic!(
                    "{role} {method} {path}: unexpected {s} {l:?}: {}",
                    resp.text()
                ),
            };
            assert_eq!(
                got,
                expected[*column],
                "{role} {method} {path}: {}",
                resp.text().chars().take(600).collect::<String>()
            );
            // The admin was given back their page, not another's.
            if got == Page && *method == "GET" {
                assert!(resp.header("content-security-policy").is_some(), "{path}");
            }
        }
    }
    // The workflow really ran for the operator: answered, then closed; the viewer's ticket
    // was opened but not taken in charge.
    assert_eq!(o.state(&o.tickets[6]), "closed");
    assert_eq!(
        o.state(&o.tickets[3]),
        "pending",
        "a viewer's opening takes nothing in charge"
    );
    let merged: Option<String> = db
        .query_row(
            "SELECT m.number FROM tickets t JOIN tickets m ON m.id = t.merged_into WHERE t.number = ?1",
            [&o.tickets[7]],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(merged.as_deref(), Some(o.tickets[8].as_str()));
    // Every view by anyone is in the audit log, the viewer's included.
    let views = id(&format!(
        "SELECT count(*) FROM audit_log WHERE action = 'ticket.viewed' AND ticket_id = (SELECT id FROM tickets WHERE number = '{}')",
        o.tickets[3]
    ));
    assert!(views >= 1);
}
