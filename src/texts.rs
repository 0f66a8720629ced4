//! Every Italian word an operator or a citizen reads that is not in a mail template
//! (`templates/` holds those): one place to change them.

use crate::tickets::{Kind, State};
use crate::workflow::Outcome;

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
