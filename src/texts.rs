//! Every Italian word an operator or a citizen reads that is not in a mail template
//! (`templates/` holds those): one place to change them.

use crate::admin::AdminError;
use crate::classify::PatternError;
use crate::domain::refusal::{Invalid, TwoCitizens, WorkflowError};
use crate::domain::{
    AuditAction, AuditGroup, Envelope, Kind, OutboxState, Outcome, QuarantineKind, RequestState,
    Role, RuleField, Signature, State,
};

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

/// A PEC envelope's kind, as the ticket page names it.
pub fn pec_envelope(e: Envelope) -> &'static str {
    match e {
        Envelope::Certified => "posta certificata",
        Envelope::Anomaly => "anomalia (messaggio non certificato giunto alla casella PEC)",
    }
}

/// What the check of a PEC envelope's signature found, as the ticket page says it.
pub fn pec_signature(s: Signature) -> &'static str {
    match s {
        Signature::Verified => "verificata (firma valida di un gestore riconosciuto)",
        Signature::Invalid => "NON valida",
        Signature::NotChecked => "non controllata (nessun certificato dei gestori configurato)",
    }
}

/// Why the backoffice refused a workflow step, as the operator reads it.
pub fn workflow_error(e: &WorkflowError) -> String {
    match e {
        WorkflowError::NotFound => "Reclamo non trovato.".into(),
        WorkflowError::Forbidden { .. } => "Il tuo ruolo non consente questa operazione.".into(),
        WorkflowError::WrongState {
            number, state: s, ..
        } => format!(
            "Il reclamo {number} è nello stato «{}»: l'operazione non è possibile.",
            state(*s)
        ),
        WorkflowError::Invalid(reason) => invalid(*reason).into(),
        WorkflowError::DifferentCitizens(c) => {
            let TwoCitizens {
                from,
                into,
                from_citizen,
                into_citizen,
            } = &**c;
            format!(
                "I due reclami sono di cittadini diversi: {from} è di {from_citizen}, {into} è di \
             {into_citizen}. Dopo l'unione le comunicazioni andranno solo a {into_citizen}, e \
             {from_citizen} non riceverà più notizie della sua pratica. Unisci solo se è lo \
             stesso caso, e conferma."
            )
        }
        WorkflowError::Other(_) => "Errore interno.".into(),
    }
}

/// A service that is not one (a forged form field).
pub fn invalid_service() -> &'static str {
    invalid(Invalid::UnknownService)
}

fn invalid(reason: Invalid) -> &'static str {
    match reason {
        Invalid::EmptyAnswer => "La risposta è vuota.",
        Invalid::EmptyNote => "La nota è vuota.",
        Invalid::UnknownCategory => "Classificazione non valida: scegli una sottocategoria.",
        Invalid::UnknownService => "Servizio non valido.",
        Invalid::NotAnOperator => "Il reclamo si assegna solo a un operatore attivo.",
        Invalid::MergeIntoItself => "Un reclamo non può essere unito a se stesso.",
        Invalid::AlreadyMerged => "Questo reclamo è già stato unito.",
        Invalid::TargetMerged => "Il reclamo di destinazione è stato a sua volta unito a un altro.",
        Invalid::NoReferente => "Scegli almeno un referente attivo a cui chiedere la relazione.",
        Invalid::EmptyRequest => "L'oggetto e il testo della richiesta non possono essere vuoti.",
        Invalid::BadRequestDue => {
            "La scadenza della relazione deve essere una data futura, entro un anno."
        }
        Invalid::UnknownRequest => "Richiesta di relazione non trovata.",
        Invalid::UnknownKind => "Tipologia non valida.",
        Invalid::NothingToConfirm => {
            "Il reclamo non è ancora classificato: non c'è nulla da confermare."
        }
        Invalid::EmptyComplaint => "Il testo del reclamo è vuoto.",
        Invalid::BadReceivedDate => {
            "La data di ricevimento non può essere futura né anteriore di oltre un anno."
        }
        Invalid::BadEmail => "L'indirizzo e-mail non è valido.",
        Invalid::NotYetAnswered => "La pratica non ha ancora ricevuto una risposta.",
        Invalid::EmptyReason => "Indica il motivo della modifica del termine.",
        Invalid::AlreadySuspended => "Il termine è già sospeso.",
        Invalid::NotSuspended => "Il termine non è sospeso.",
        Invalid::DeadlineMet => {
            "Il reclamo ha già ricevuto risposta: il termine non si modifica più."
        }
        Invalid::TooManyFiles => "Troppi allegati per una risposta.",
        Invalid::FilesTooLarge => "Gli allegati superano la dimensione massima consentita.",
        Invalid::FileTypeRefused => {
            "Tipo di file non ammesso negli allegati (ammessi: PDF, immagini, testo, documenti)."
        }
        Invalid::FileUnnamed => "Un allegato non ha nome.",
        Invalid::NoPendingDraft => "Non c'è una risposta da approvare con questo numero.",
        Invalid::NotAnsweredYet => {
            "Il riesame si chiede dopo la risposta: il reclamo non ha ancora ricevuto risposta."
        }
        Invalid::ReviewExists => "Per questo reclamo è già stata aperta una richiesta di riesame.",
        Invalid::NoReview => "Per questo reclamo non c'è una richiesta di riesame aperta.",
        Invalid::UnknownReviewBody => "Scegli uno degli organismi di riesame previsti.",
        Invalid::ReviewBodyExcluded => {
            "Questo organismo non è competente per la classificazione del reclamo: scegline un altro."
        }
        Invalid::BadExtension => {
            "Scegli una proroga tra quelle previste, più lunga del termine in vigore."
        }
    }
}

/// A role, as the backoffice names it.
pub fn role(r: Role) -> &'static str {
    match r {
        Role::Admin => "Amministratore",
        Role::Operator => "Utente reclamo",
        Role::Viewer => "Utente ASL",
    }
}

/// An audit log action as the history reads it.
pub fn audit_action(a: AuditAction) -> &'static str {
    match a {
        AuditAction::TicketCreated => "Reclamo creato",
        AuditAction::TicketViewed => "Aperto",
        AuditAction::TicketViewRefused => "Apertura dei contenuti rifiutata (Utente ASL)",
        AuditAction::TicketTakenInCharge => "Preso in carico",
        AuditAction::TicketAnswered => "Risposta inviata",
        AuditAction::TicketClosed => "Chiuso",
        AuditAction::TicketReopened => "Riaperto dal cittadino",
        AuditAction::TicketClassified => "Classificazione modificata",
        AuditAction::TicketClassificationConfirmed => "Classificazione confermata",
        AuditAction::TicketNoteAdded => "Nota interna aggiunta",
        AuditAction::TicketDraftKept => "Risposta conservata come bozza (sessione scaduta)",
        AuditAction::TicketMergedInto => "Unito in un altro reclamo",
        AuditAction::TicketMergedFrom => "Ricevuto un reclamo unito",
        AuditAction::TicketAttachmentDownloaded => "Allegato scaricato",
        AuditAction::TicketOriginalDownloaded => "Messaggio originale scaricato",
        AuditAction::TicketAnonymised => "Dati personali rimossi (conservazione scaduta)",
        AuditAction::MessageReceived => "Messaggio del cittadino",
        AuditAction::MessageAutomatic => "Messaggio automatico ricevuto",
        AuditAction::UserLogin => "Accesso",
        AuditAction::UserLogout => "Uscita",
        AuditAction::UserLoginFailed => "Accesso non riuscito",
        AuditAction::UserCreated => "Utente creato",
        AuditAction::UserUpdated => "Utente modificato",
        AuditAction::UserDisabled => "Utente disattivato",
        AuditAction::UserPasswordReset => "Password reimpostata",
        AuditAction::QuarantineAdded => "Messaggio in quarantena",
        AuditAction::QuarantineRetried => "Quarantena: rielaborato",
        AuditAction::QuarantineRetryFailed => "Quarantena: rielaborazione non riuscita",
        AuditAction::QuarantineDiscarded => "Quarantena: scartato",
        AuditAction::QuarantineDownloaded => "Quarantena: originale scaricato",
        AuditAction::QuarantineAnonymised => {
            "Quarantena: contenuti rimossi (conservazione scaduta)"
        }
        AuditAction::OutboxRetried => "Email rimessa in coda",
        AuditAction::ServiceCreated => "Servizio creato",
        AuditAction::ServiceUpdated => "Servizio modificato",
        AuditAction::CategoryCreated => "Voce di classificazione creata",
        AuditAction::CategoryUpdated => "Voce di classificazione modificata",
        AuditAction::CategoryDeleted => "Voce di classificazione eliminata",
        AuditAction::RuleCreated => "Regola creata",
        AuditAction::RuleUpdated => "Regola modificata",
        AuditAction::RuleDeleted => "Regola eliminata",
        AuditAction::RuleMoved => "Regola spostata",
        AuditAction::CitizenExported => "Dati di un cittadino esportati (richiesta di accesso)",
        AuditAction::RequestSent => "Richiesta di relazione inviata",
        AuditAction::RequestReminded => "Sollecito della richiesta di relazione",
        AuditAction::RequestEscalated => "Relazione non pervenuta: segnalata al responsabile",
        AuditAction::RequestAnswered => "Relazione del servizio ricevuta",
        AuditAction::RequestAutomatic => "Risposta automatica o mancata consegna di una richiesta",
        AuditAction::RequestReportRead => "Relazione del servizio letta",
        AuditAction::ReferenteCreated => "Referente aggiunto",
        AuditAction::ReferenteUpdated => "Referente modificato",
        AuditAction::CitizenPageViewed => "Pagina della pratica aperta dal cittadino",
        AuditAction::CitizenMessageAdded => "Messaggio del cittadino dalla sua pagina",
        AuditAction::CitizenSatisfied => "Il cittadino si è detto soddisfatto",
        AuditAction::CitizenUnsatisfied => "Il cittadino si è detto non soddisfatto",
        AuditAction::TicketAnswerPrinted => "Risposta stampata come lettera",
        AuditAction::ClassifierTrained => "Classificatore addestrato",
        AuditAction::ClassifierEvaluated => "Classificatore valutato",
        AuditAction::TicketDeadlineSuspended => "Termine sospeso",
        AuditAction::TicketDeadlineResumed => "Termine ripreso",
        AuditAction::TicketDeadlineExtended => "Termine prorogato",
        AuditAction::TicketReviewOpened => "Richiesta di riesame aperta",
        AuditAction::TicketReviewClosed => "Esito del riesame registrato",
        AuditAction::TicketAnswerFilesAttached => "Allegati inviati con la risposta",
        AuditAction::TicketAnswerDrafted => "Risposta in attesa di approvazione",
        AuditAction::TicketAnswerApproved => "Risposta approvata e inviata",
        AuditAction::TicketAnswerReturned => "Risposta restituita con un commento",
        AuditAction::AnswerModelCreated => "Modello di risposta creato",
        AuditAction::AnswerModelUpdated => "Modello di risposta modificato",
        AuditAction::TicketAnalysed => "Analisi del reclamo",
        AuditAction::TicketRiskFlagged => "Segnalato come possibile evento avverso",
        AuditAction::TicketRiskUnflagged => "Tolta la segnalazione di possibile evento avverso",
        AuditAction::ImprovementCreated => "Azione di miglioramento creata",
        AuditAction::ImprovementUpdated => "Azione di miglioramento modificata",
        AuditAction::QualityListChanged => "Elenchi della qualità modificati",
    }
}

/// What replaces a citizen's personal data once the retention period has passed (subjects,
/// bodies, names, attachment names, notes, notifications).
pub const ANONYMISED: &str = "[dati personali rimossi: periodo di conservazione scaduto]";

/// Why an administrator's change was refused, as they read it. (`Database` is never shown:
/// the backoffice logs it and answers with its error page.)
pub fn admin_error(e: &AdminError) -> String {
    match e {
        AdminError::NotFound(_) => "Elemento non trovato.".into(),
        AdminError::CodeTaken(code) => format!("Il codice {code} è già usato."),
        AdminError::CodeOrNameMissing => {
            "Codice e nome sono obbligatori; il codice usa maiuscole, cifre, '.', '-', '_'.".into()
        }
        AdminError::NameMissing => "Il nome è obbligatorio.".into(),
        AdminError::ParentNotMacro => "La voce superiore deve essere una macrocategoria.".into(),
        AdminError::CategoryInUse => "La voce è in uso: disattivala invece di eliminarla.".into(),
        AdminError::RuleNameMissing => "La regola deve avere un nome.".into(),
        AdminError::RuleSetsNothing => {
            "La regola deve impostare almeno una classificazione, un servizio o una tipologia."
                .into()
        }
        AdminError::Pattern(PatternError::Empty) => "L'espressione è vuota.".into(),
        AdminError::Pattern(PatternError::Invalid(_)) => {
            "Espressione regolare non valida: correggila e riprova.".into()
        }
        AdminError::NotFailed => "Si rimettono in coda solo le email non consegnate.".into(),
        AdminError::SelfLockout => {
            "Non puoi togliere a te stesso l'amministrazione o l'accesso.".into()
        }
        AdminError::NotAnEmail(_) => "Indirizzo email non valido.".into(),
        AdminError::EmailTaken(_) => "Esiste già un utente con questa email.".into(),
        AdminError::ReferenteTaken(_) => "Il servizio ha già un referente con questa email.".into(),
        AdminError::ModelIncomplete => "Il modello deve avere un titolo e un testo.".into(),
        AdminError::ModelTemplate(why) => format!(
            "Il testo del modello non è valido (usa solo le variabili dei modelli email, ad esempio {{{{ citizen_name }}}}, {{{{ number }}}}, {{{{ due_date }}}}): {why}"
        ),
        AdminError::PasswordTooShort => format!(
            "La password deve avere almeno {} caratteri.",
            crate::admin::MIN_PASSWORD_CHARS
        ),
        AdminError::Database(_) => "Errore interno.".into(),
    }
}

pub const BAD_ROLE: &str = "Ruolo non valido.";
pub const BAD_KIND: &str = "Tipologia non valida.";
/// Issue 15: a form that cannot be read, or with too many files.
pub const BAD_FORM: &str = "Il modulo inviato non è leggibile: ricarichi la pagina e riprovi.";
pub const TOO_MANY_FILES: &str = "Troppi allegati: al massimo 10 file.";
/// Issue 15: a channel not in the list.
pub const BAD_CHANNEL: &str = "Canale non valido.";
/// Issue 15: "print the answer" on a ticket not answered yet.
pub const NOTHING_TO_PRINT: &str = "La pratica non ha ancora una risposta da stampare.";
pub const BAD_RULE_FIELD: &str = "Campo non valido.";
/// A confirmation naming no classification field.
pub const BAD_FIELD: &str = "Campo della classificazione non valido.";

/// What a routing rule's pattern is matched against.
pub fn rule_field(f: RuleField) -> &'static str {
    match f {
        RuleField::Subject => "oggetto",
        RuleField::Body => "testo",
        RuleField::Sender => "mittente",
        RuleField::Text => "oggetto o testo",
    }
}

/// Why a message sits in quarantine, as the administration page names it.
pub fn quarantine_kind(k: QuarantineKind) -> &'static str {
    match k {
        QuarantineKind::Unparseable => "illeggibile",
        QuarantineKind::StoreError => "errore di registrazione",
        QuarantineKind::Automatic => "messaggio automatico",
    }
}

/// A quarantined message that still cannot become a ticket; `reason` is the pipeline's.
pub fn quarantine_still_failing(reason: &str) -> String {
    format!("Il messaggio non può ancora diventare un reclamo: {reason}")
}

/// Where a notification stands, as the outgoing mail page says it.
pub fn outbox_state(s: OutboxState) -> &'static str {
    match s {
        OutboxState::Pending => "in attesa",
        OutboxState::Failed => "non consegnata",
        OutboxState::Suppressed => "non inviata",
        OutboxState::Sent => "inviata",
    }
}

/// A family of actions in the audit log's filter.
pub fn audit_group(g: AuditGroup) -> &'static str {
    match g {
        AuditGroup::Tickets => "Reclami",
        AuditGroup::Views => "Aperture",
        AuditGroup::Users => "Utenti e accessi",
        AuditGroup::Messages => "Messaggi ricevuti",
        AuditGroup::Quarantine => "Quarantena",
        AuditGroup::Rules => "Regole",
        AuditGroup::Categories => "Classificazione",
        AuditGroup::Services => "Servizi",
        AuditGroup::Outbox => "Posta in uscita",
        AuditGroup::Citizens => "Richieste di accesso dei cittadini",
        AuditGroup::Requests => "Istruttoria (richieste di relazione)",
        AuditGroup::Referenti => "Referenti dei servizi",
        AuditGroup::Classifier => "Classificatore appreso",
        AuditGroup::AnswerModels => "Modelli di risposta",
        AuditGroup::Improvements => "Azioni di miglioramento",
        AuditGroup::Quality => "Elenchi della qualità",
    }
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

// ---- statistics ----

/// The months, as the statistics name them (January first).
pub const MONTHS: [&str; 12] = [
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
];

/// The channel (canale) a complaint came by, as the statistics name it.
pub fn channel(c: crate::domain::Channel) -> &'static str {
    match c {
        crate::domain::Channel::Email => "Email",
        crate::domain::Channel::Pec => "PEC",
        crate::domain::Channel::Web => "Modulo web",
        crate::domain::Channel::Telefono => "Telefono",
        crate::domain::Channel::Sportello => "Sportello",
        crate::domain::Channel::Lettera => "Lettera",
    }
}

/// A refusal's reason in Italian, for pages outside the backoffice (the public form).
pub fn invalid_text(reason: Invalid) -> &'static str {
    invalid(reason)
}

/// The public form (issue 15).
pub const PUBLIC_FORM_INTRO: &str = "Con questo modulo può inviare all'Ufficio Relazioni con il \
     Pubblico un reclamo, una segnalazione, un elogio o un suggerimento. Riceverà un numero di \
     pratica; se indica un indirizzo e-mail, anche un link per seguirla.";
pub const PUBLIC_CONSENT: &str =
    "Ho letto l'informativa e acconsento al trattamento dei dati per la gestione della segnalazione.";
pub const PUBLIC_BAD_TOKEN: &str =
    "Il modulo è scaduto o non è valido: lo riapra e lo compili di nuovo.";
pub const PUBLIC_TOO_FAST: &str =
    "Il modulo è stato inviato troppo in fretta: attenda qualche secondo e lo invii di nuovo.";
pub const PUBLIC_TOO_MANY: &str =
    "Sono state inviate troppe segnalazioni in poco tempo: riprovi più tardi.";
pub const PUBLIC_NAME_MISSING: &str = "Indichi il Suo nome e cognome.";
pub const PUBLIC_TEXT_MISSING: &str = "Scriva il testo della segnalazione.";
pub const PUBLIC_CONTACT_MISSING: &str =
    "Indichi almeno un recapito: e-mail, telefono o indirizzo postale.";
pub const PUBLIC_BAD_EMAIL: &str = "L'indirizzo e-mail non è valido.";
pub const PUBLIC_CONSENT_MISSING: &str =
    "Per inviare la segnalazione occorre acconsentire al trattamento dei dati.";
pub const PUBLIC_CHECK_MAIL: &str = "Le abbiamo inviato una e-mail di conferma con il numero e \
     un link per seguire la pratica: lo apra per confermare il Suo indirizzo.";
pub const PUBLIC_NO_MAIL: &str =
    "Conservi questo numero: l'ufficio La contatterà ai recapiti indicati.";

/// The privacy notice above the public form's consent box when `[public] privacy_notice` is
/// empty.
pub fn privacy_notice(office: &str) -> String {
    format!(
        "I dati inviati con questo modulo sono trattati da {office} al solo fine di gestire la \
         segnalazione, secondo il Regolamento (UE) 2016/679, e conservati per il tempo previsto \
         dalle norme sulla gestione dei reclami. Può chiedere l'accesso, la rettifica o la \
         cancellazione dei dati rivolgendosi allo stesso ufficio."
    )
}

/// A ticket's state as its citizen reads it on their page (issue 15).
pub fn citizen_state(s: State) -> &'static str {
    match s {
        State::Pending => "Ricevuta, in attesa di essere esaminata",
        State::InCharge => "Presa in carico dall'ufficio",
        State::Answered => "Risposta inviata",
        State::Closed => "Chiusa",
    }
}

/// Too many requests to citizens' pages from one address.
pub const CITIZEN_TOO_MANY: &str =
    "Troppe richieste in poco tempo da questa connessione: riprovi tra un minuto.";

/// A citizen who gave no e-mail address (a complaint by phone, at the desk, by letter).
pub const NO_EMAIL: &str = "senza e-mail";

/// A count of tickets without a kind, a state or an outcome.
pub const STATS_UNSET: &str = "Non indicato";
/// A count of tickets not classified yet.
pub const STATS_UNCLASSIFIED: &str = "Da classificare";
/// A count of tickets without a service.
pub const STATS_NO_SERVICE: &str = "Nessun servizio indicato";

// ---- the istruttoria (issue 14) ----

/// Where a request for a report stands, as the ticket page and the dashboard say it.
pub fn request_state(s: RequestState) -> &'static str {
    match s {
        RequestState::Open => "in attesa della relazione",
        RequestState::Answered => "relazione ricevuta",
    }
}

/// The heading of a service's report in a ticket's istruttoria.
pub const REPORT: &str = "Relazione del servizio";
/// A report written by someone of the hospital other than the referente asked.
pub const REPORT_OTHER_SENDER: &str = "da altro mittente";
/// What a referente whose mail bounces is marked with in Amministrazione.
pub const REFERENTE_BOUNCING: &str =
    "indirizzo non raggiungibile: una richiesta è tornata indietro, correggi l'indirizzo";
/// The list filter and the statistics' word for tickets with an open request.
pub const IN_ISTRUTTORIA: &str = "in istruttoria";
// ---- the learned classifier (issue 13) ----

/// A classification field, as the ticket page names it.
pub fn class_field(f: crate::domain::ClassField) -> &'static str {
    match f {
        crate::domain::ClassField::Kind => "Tipologia",
        crate::domain::ClassField::Category => "Classificazione",
        crate::domain::ClassField::Service => "Servizio",
    }
}

/// Where a field's value came from: the rule's name, the model's version and confidence, or
/// the operator.
pub fn class_source(s: &crate::store::classifier::FieldSource) -> String {
    use crate::domain::ClassSource;
    match s.source {
        ClassSource::Rule => format!("regola «{}»", s.rule_name.as_deref().unwrap_or("eliminata")),
        ClassSource::Model => format!(
            "modello v{} ({} % di confidenza)",
            s.model_version.unwrap_or_default(),
            percent(s.confidence.unwrap_or_default())
        ),
        ClassSource::Operator => match &s.user_name {
            Some(name) => format!("operatore ({name})"),
            None => "operatore".into(),
        },
    }
}

/// A confidence (0–1) as a whole percentage.
pub fn percent(confidence: f64) -> i64 {
    (confidence * 100.0).round() as i64
}

/// Why a model was trained, as the administration page says it.
pub fn train_reason(r: crate::domain::TrainReason) -> &'static str {
    match r {
        crate::domain::TrainReason::FirstStart => "primo avvio",
        crate::domain::TrainReason::Nightly => "addestramento notturno",
        crate::domain::TrainReason::OnDemand => "su richiesta (ascolto classify train)",
    }
}

/// The service suggestion "no unit concerned".
pub const SUGGESTED_NO_SERVICE: &str = "nessun servizio";
/// A suggestion the hospital's lists no longer have (a code removed or deactivated).
pub const SUGGESTION_UNKNOWN: &str = "voce non più in elenco";

// ---- answering as an URP answers (issue 19) ----

/// A change of the answer deadline, as the ticket's record names it.
pub fn deadline_change(c: crate::domain::DeadlineChange) -> &'static str {
    match c {
        crate::domain::DeadlineChange::Suspended => "Termine sospeso",
        crate::domain::DeadlineChange::Resumed => "Termine ripreso",
        crate::domain::DeadlineChange::Extended => "Termine prorogato",
    }
}

/// A second-level review without its outcome yet.
pub const REVIEW_OPEN: &str = "in corso";

/// A review's outcome form sent without one.
pub const REVIEW_CHOOSE_OUTCOME: &str = "Scegli l'esito del riesame.";

/// A file upload the server could not read.
pub const BAD_UPLOAD: &str = "Il modulo inviato non è leggibile: ricarica la pagina e riprova.";
/// Issue 20: the analysis's verdict (fondatezza).
pub fn founded(f: crate::domain::Founded) -> &'static str {
    match f {
        crate::domain::Founded::Founded => "fondato",
        crate::domain::Founded::Partly => "parzialmente fondato",
        crate::domain::Founded::Unfounded => "infondato",
    }
}

/// Issue 20: where an improvement action stands.
pub fn action_state(a: crate::domain::ActionState) -> &'static str {
    match a {
        crate::domain::ActionState::Proposed => "proposta",
        crate::domain::ActionState::Started => "avviata",
        crate::domain::ActionState::Completed => "completata",
        crate::domain::ActionState::Abandoned => "abbandonata",
    }
}

/// Issue 20: what the transparency report shows instead of a count too small to publish.
pub fn suppressed_count(threshold: i64) -> String {
    format!("< {threshold}")
}

/// Issue 20: why a change of the quality work was refused.
pub fn quality_error(e: &crate::quality::QualityError) -> String {
    use crate::quality::{Invalid, QualityError};
    match e {
        QualityError::NotFound => "Elemento non trovato.".into(),
        QualityError::Forbidden => "Il tuo ruolo non consente questa operazione.".into(),
        QualityError::Other(_) => "Errore interno.".into(),
        QualityError::Invalid(i) => match i {
            Invalid::UnknownComponent => "Componente sconosciuta.".into(),
            Invalid::UnknownFragility => "Tipo di fragilità sconosciuto.".into(),
            Invalid::EmptyRiskRef => {
                "Indica il registro e l'identificativo (al massimo 120 caratteri ciascuno).".into()
            }
            Invalid::EmptyTitle => "L'azione deve avere un titolo.".into(),
            Invalid::BadDueDate => "La scadenza non è una data valida (aaaa-mm-gg).".into(),
            Invalid::UnknownService => "Servizio sconosciuto.".into(),
            Invalid::UnknownTicket(n) => format!("Nessuna pratica {n}."),
            Invalid::UnknownCategory => "Classificazione sconosciuta.".into(),
            Invalid::CodeOrLabelMissing => {
                "Codice e descrizione sono obbligatori; il codice usa maiuscole, cifre, '.', '-', '_'."
                    .into()
            }
            Invalid::CodeTaken(code) => format!("Il codice {code} è già usato."),
        },
    }
}

// ---- Feedback on the backoffice's forms (issue 18): confirmations, errors, confirmation steps.

/// What the page says after `d` was done; `detail` is the citizen's address for an answer,
/// the ticket merged in for a merge, empty otherwise.
pub fn done(d: crate::domain::Done, detail: &str) -> String {
    use crate::domain::Done;
    match d {
        Done::Answered if detail.is_empty() => "Risposta inviata al cittadino.".into(),
        Done::Answered => format!("Risposta inviata a {detail}."),
        Done::Noted => "Nota interna aggiunta.".into(),
        Done::Classified => "Classificazione salvata.".into(),
        Done::Confirmed => "Classificazione confermata.".into(),
        Done::Closed => {
            "Reclamo chiuso: il cittadino riceverà la comunicazione di chiusura.".into()
        }
        Done::Merged if detail.is_empty() => "Reclami uniti.".into(),
        Done::Merged => format!("Il reclamo {detail} è stato unito in questo."),
        Done::RuleSaved => "Regola salvata.".into(),
        Done::RuleAdded => "Regola aggiunta in fondo all'elenco.".into(),
        Done::RuleDeleted => "Regola eliminata.".into(),
        Done::QuarantineRetried => "Messaggio rielaborato.".into(),
        Done::QuarantineDiscarded => "Messaggio scartato.".into(),
        Done::Saved => "Modifiche salvate.".into(),
        Done::MailRequeued => "Email rimessa in coda: sarà inviata a breve.".into(),
        Done::RequestSent => "Richiesta di relazione inviata al servizio.".into(),
        Done::AnswerDrafted => {
            "Risposta salvata in attesa di approvazione: al cittadino non è stato inviato nulla."
                .into()
        }
    }
}

/// The heading of a form's error summary.
pub fn error_summary_title(n: usize) -> String {
    if n == 1 {
        "C'è un errore nel modulo".into()
    } else {
        format!("Ci sono {n} errori nel modulo")
    }
}
/// The word before a page's title when its form came back with errors.
pub const ERROR_TITLE: &str = "Errore";
pub const END_BEFORE_START: &str = "La data finale precede quella iniziale.";
pub const BAD_DATE: &str = "Data non valida: scrivila come gg/mm/aaaa.";
pub const CONFIRM_CANCEL: &str = "Annulla e torna indietro";
pub const DRAFT_RESTORED: &str =
    "Bozza recuperata: la sessione era scaduta mentre scrivevi. Controlla il testo e invialo.";
pub const DRAFT_SAVED_SIGN_IN: &str =
    "La sessione è scaduta: il testo che avevi scritto è stato conservato come bozza. Accedi di nuovo per ritrovarlo nel reclamo.";

/// The page header's note on when an idle session ends.
pub fn session_expiry(at: &str, idle_minutes: i64) -> String {
    format!("Sessione attiva fino alle {at} senza attività ({idle_minutes} minuti)")
}
pub const MERGE_FORMAT: &str =
    "Scrivi il numero del reclamo di destinazione nel formato URP-2026-000123 (prefisso, anno, sei cifre).";
pub const CHOOSE_OUTCOME: &str = "Scegli l'esito della chiusura.";
pub const CLOSE_CONSEQUENCES: &str = "Il reclamo passa allo stato «Chiuso» e il cittadino riceve per email la comunicazione di chiusura. Se il cittadino risponde, il reclamo si riapre.";
pub const MERGE_DIFFERENT_CITIZENS: &str = "I due reclami sono di cittadini diversi: dopo l'unione le comunicazioni andranno solo al cittadino del reclamo di destinazione. Conferma solo se è lo stesso caso.";

/// A merge's target that does not exist (or is not a ticket number).
pub fn merge_target_missing(written: &str) -> String {
    if written.is_empty() {
        "Scrivi il numero del reclamo in cui unire questo.".into()
    } else {
        format!("Il reclamo {written} non esiste.")
    }
}

/// What a merge does, on its confirmation step.
pub fn merge_consequences(
    from: &crate::domain::TicketNumber,
    into: &crate::domain::TicketNumber,
) -> String {
    format!("I messaggi, le note e gli allegati di {from} saranno spostati in {into}; {from} resterà come rimando a {into}. L'unione non si annulla.")
}
pub const RULE_DELETE_CONSEQUENCES: &str = "La regola non classificherà più i nuovi messaggi. I reclami già classificati da questa regola mantengono la loro classificazione. Per sospenderla senza perderla, togli invece la spunta «attiva».";
pub const QUARANTINE_DISCARD_CONSEQUENCES: &str = "Il messaggio esce dalla quarantena e non diventerà un reclamo. L'operazione è registrata nel registro attività.";

/// A quarantine entry's reason as the pipeline wrote it (English, with technical detail),
/// with its known phrases said in Italian; what is not known (an error's detail) stays as is.
pub fn quarantine_reason(reason: &str) -> String {
    const PHRASES: &[(&str, &str)] = &[
        (
            "not an email message: no header could be read",
            "non è un messaggio email: nessuna intestazione leggibile",
        ),
        (
            "no sender: the message has no readable From address",
            "nessun mittente: il messaggio non ha un indirizzo From leggibile",
        ),
        (
            "PEC envelope without the citizen's message (postacert.eml)",
            "busta PEC senza il messaggio del cittadino (postacert.eml)",
        ),
        (
            "could not be stored: ",
            "non è stato possibile registrarlo: ",
        ),
        (
            " that refers to no ticket",
            " che non si riferisce ad alcun reclamo",
        ),
        (
            " from a sender the mail server could not authenticate ",
            " da un mittente che il server di posta non ha potuto autenticare ",
        ),
        (
            "sent from one of the hospital's own addresses",
            "inviato da uno degli indirizzi dell'ospedale",
        ),
        ("auto_reply", "risposta automatica"),
        ("pec_receipt", "ricevuta PEC"),
        ("bounce", "mancata consegna"),
    ];
    PHRASES
        .iter()
        .fold(reason.to_string(), |out, (en, it)| out.replace(en, it))
}

/// The administration page of the morning digests.
pub const DIGEST_PAGE: &str = "Riepilogo del mattino";

/// Where an answer awaiting approval stands.
pub fn draft_state(s: crate::domain::DraftState) -> &'static str {
    match s {
        crate::domain::DraftState::Pending => "da approvare",
        crate::domain::DraftState::Approved => "approvata e inviata",
        crate::domain::DraftState::Returned => "restituita",
    }
}

/// 1234567 → "1.234.567", as Italian writes numbers (the backoffice and the public report).
pub fn number(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}
