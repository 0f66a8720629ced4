//! Every Italian word an operator or a citizen reads that is not in a mail template
//! (`templates/` holds those): one place to change them.

use crate::domain::Outcome;
use crate::domain::{Kind, State};

/// The state's label, as in the hospital's procedure.
pub fn state(s: State) -> &'static str {
    match s {
        State::Pending => "In attesa di elaborazione",
        State::InCharge => "Presa in carico",
        State::Answered => "In attesa di risposta",
        State::Closed => "Chiuso",
    }
}

/// The outcome (esito), as the citizen reads it in the closing notice.
pub fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Accolto => "accolto",
        Outcome::ParzialmenteAccolto => "parzialmente accolto",
        Outcome::NonAccolto => "non accolto",
        Outcome::NonDiCompetenza => "non di competenza",
        Outcome::Altro => "altro",
    }
}

/// The kind (tipologia).
pub fn kind(k: Kind) -> &'static str {
    match k {
        Kind::Reclamo => "Reclamo",
        Kind::Segnalazione => "Segnalazione",
        Kind::Elogio => "Elogio",
        Kind::Suggerimento => "Suggerimento",
    }
}

/// What the check of a PEC envelope's signature found, as the ticket page says it.
pub fn pec_signature(s: crate::mail::pec::Signature) -> &'static str {
    use crate::mail::pec::Signature;
    match s {
        Signature::Verified => "verificata (firma valida di un gestore riconosciuto)",
        Signature::Invalid => "NON valida",
        Signature::NotChecked => "non controllata (nessun certificato dei gestori configurato)",
    }
}

/// Why the backoffice refused a workflow step, as the operator reads it.
pub fn workflow_error(e: &crate::workflow::WorkflowError) -> String {
    use crate::workflow::WorkflowError as E;
    match e {
        E::NotFound => "Reclamo non trovato.".into(),
        E::Forbidden { .. } => "Il tuo ruolo non consente questa operazione.".into(),
        E::WrongState { number, state, .. } => {
            let label = state.parse().map(self::state).unwrap_or("?");
            format!("Il reclamo {number} è nello stato «{label}»: l'operazione non è possibile.")
        }
        E::Invalid(reason) => match *reason {
            "the answer is empty" => "La risposta è vuota.".into(),
            "the note is empty" => "La nota è vuota.".into(),
            "unknown category (choose a sub-category)" => {
                "Classificazione non valida: scegli una sottocategoria.".into()
            }
            "unknown service" => "Servizio non valido.".into(),
            "tickets are assigned to active operators only" => {
                "Il reclamo si assegna solo a un operatore attivo.".into()
            }
            "a ticket cannot be merged into itself" => {
                "Un reclamo non può essere unito a se stesso.".into()
            }
            "this ticket has already been merged" => "Questo reclamo è già stato unito.".into(),
            "the target ticket has itself been merged into another" => {
                "Il reclamo di destinazione è stato a sua volta unito a un altro.".into()
            }
            _ => "Dati non validi.".into(),
        },
        E::DifferentCitizens {
            from,
            into,
            from_citizen,
            into_citizen,
        } => format!(
            "I due reclami sono di cittadini diversi: {from} è di {from_citizen}, {into} è di \
             {into_citizen}. Dopo l'unione le comunicazioni andranno solo a {into_citizen}, e \
             {from_citizen} non riceverà più notizie della sua pratica. Unisci solo se è lo \
             stesso caso, e conferma."
        ),
        E::Other(_) => "Errore interno.".into(),
    }
}

/// An audit log action as the history reads it.
/// What replaces a citizen's personal data once the retention period has passed (subjects,
/// bodies, names, attachment names, notes, notifications).
pub const ANONYMISED: &str = "[dati personali rimossi: periodo di conservazione scaduto]";

pub fn audit_action(action: &str) -> &str {
    match action {
        "ticket.created" => "Reclamo creato",
        "ticket.viewed" => "Aperto",
        "ticket.taken_in_charge" => "Preso in carico",
        "ticket.answered" => "Risposta inviata",
        "ticket.closed" => "Chiuso",
        "ticket.reopened" => "Riaperto dal cittadino",
        "ticket.classified" => "Classificazione modificata",
        "ticket.note_added" => "Nota interna aggiunta",
        "ticket.merged_into" => "Unito in un altro reclamo",
        "ticket.merged_from" => "Ricevuto un reclamo unito",
        "ticket.attachment_downloaded" => "Allegato scaricato",
        "ticket.original_downloaded" => "Messaggio originale scaricato",
        "ticket.view_refused" => "Contenuto negato (utente ASL senza accesso ai contenuti)",
        "message.received" => "Messaggio del cittadino",
        "message.automatic" => "Messaggio automatico ricevuto",
        "user.login" => "Accesso",
        "user.logout" => "Uscita",
        "user.login_failed" => "Accesso non riuscito",
        "user.created" => "Utente creato",
        "user.updated" => "Utente modificato",
        "user.disabled" => "Utente disattivato",
        "user.password_reset" => "Password reimpostata",
        "quarantine.added" => "Messaggio in quarantena",
        "quarantine.retried" => "Quarantena: rielaborato",
        "quarantine.retry_failed" => "Quarantena: rielaborazione non riuscita",
        "quarantine.discarded" => "Quarantena: scartato",
        "outbox.retried" => "Email rimessa in coda",
        "quarantine.downloaded" => "Quarantena: originale scaricato",
        "service.created" => "Servizio creato",
        "service.updated" => "Servizio modificato",
        "category.created" => "Voce di classificazione creata",
        "category.updated" => "Voce di classificazione modificata",
        "category.deleted" => "Voce di classificazione eliminata",
        "rule.created" => "Regola creata",
        "rule.updated" => "Regola modificata",
        "rule.deleted" => "Regola eliminata",
        "rule.moved" => "Regola spostata",
        "ticket.anonymised" => "Dati personali rimossi (conservazione scaduta)",
        "citizen.exported" => "Dati di un cittadino esportati (richiesta di accesso)",
        other => other,
    }
}

/// Why an administrator's change was refused, as they read it. The store says it in English
/// (logs, CLI); known reasons are translated, anything else is shown with a lead-in.
pub fn admin_error(reason: &str) -> String {
    let known = [
        ("is already used", "Il codice è già usato."),
        (
            "code and name are required",
            "Codice e nome sono obbligatori; il codice usa maiuscole, cifre, '.', '-', '_'.",
        ),
        (
            "code and label are required",
            "Codice e descrizione sono obbligatori; il codice usa maiuscole, cifre, '.', '-', '_'.",
        ),
        ("the name is required", "Il nome è obbligatorio."),
        (
            "the parent must be a macro-category",
            "La voce superiore deve essere una macrocategoria.",
        ),
        (
            "the category is in use",
            "La voce è in uso: disattivala invece di eliminarla.",
        ),
        ("the rule needs a name", "La regola deve avere un nome."),
        ("unknown field", "Campo non valido."),
        (
            "the rule must set",
            "La regola deve impostare almeno una classificazione, un servizio o una tipologia.",
        ),
        ("the pattern is empty", "L'espressione è vuota."),
        (
            "invalid pattern",
            "Espressione regolare non valida: correggila e riprova.",
        ),
        (
            "only a failed notification",
            "Si rimettono in coda solo le email non consegnate.",
        ),
        (
            "you cannot remove your own",
            "Non puoi togliere a te stesso l'amministrazione o l'accesso.",
        ),
        ("no such", "Elemento non trovato."),
        ("already exists", "Esiste già un utente con questa email."),
        ("is not an email address", "Indirizzo email non valido."),
        ("the name must not be empty", "Il nome è obbligatorio."),
    ];
    known
        .iter()
        .find(|(k, _)| reason.contains(k))
        .map(|(_, it)| (*it).to_string())
        .unwrap_or_else(|| format!("Operazione non riuscita ({reason})."))
}

// ---- backoffice: periods, viewers, downloads (issue 11) ----

/// A year outside what the statistics count.
pub fn stats_bad_year(first: i32, last: i32) -> String {
    format!("Anno non valido: indica un anno dal {first} al {last}.")
}

pub const STATS_BAD_MONTH: &str = "Mese non valido: indica un numero da 1 a 12.";
pub const STATS_BAD_DATE: &str =
    "Data non valida: indica una data nel formato aaaa-mm-gg, da 1970 all'anno prossimo.";
pub const STATS_BAD_RANGE: &str =
    "Intervallo non valido: la data di inizio deve precedere quella di fine, al massimo dieci anni dopo.";

/// What an ASL viewer sees of a ticket, told on its page and in the page header.
pub fn viewer_scope(sees_content: bool) -> &'static str {
    if sees_content {
        "Come Utente ASL puoi leggere anche i contenuti dei reclami (cittadino, messaggi, \
         allegati, messaggio originale). Ogni apertura è registrata."
    } else {
        "Come Utente ASL vedi i dati della pratica (numero, date, stato, tipologia, \
         classificazione, servizio, esito) e le statistiche, non il cittadino né i testi, \
         le note, gli allegati o il messaggio originale."
    }
}

/// The viewer's role in the page header, with what it reaches.
pub fn viewer_badge(sees_content: bool) -> &'static str {
    if sees_content {
        "Utente ASL · con contenuti"
    } else {
        "Utente ASL · senza contenuti"
    }
}

/// What the users page tells administrators about the viewer role under the current setting.
pub fn viewer_role_for_admins(sees_content: bool) -> &'static str {
    if sees_content {
        "Utente ASL: statistiche, elenchi e reclami completi in sola lettura (in [web] del file di \
         configurazione viewer_sees_content = true)."
    } else {
        "Utente ASL: statistiche, elenchi e i soli dati delle pratiche, senza cittadino, testi, \
         note, allegati e messaggi originali (per mostrarli: viewer_sees_content = true in [web] \
         del file di configurazione)."
    }
}

/// A download refused while too many large ones are being served.
pub const DOWNLOADS_BUSY: &str =
    "Troppi allegati grandi in scaricamento in questo momento: riprova tra qualche secondo.";

/// A sign-in refused by the throttle, with how long to wait.
pub fn sign_in_throttled(minutes: u64) -> String {
    format!(
        "Troppi tentativi non riusciti. Riprova tra {minutes} minut{}.",
        if minutes == 1 { "o" } else { "i" }
    )
}
