//! A ticket's words: its number, state, kind, channel and outcome.

use std::fmt;
use std::str::FromStr;

use super::vocabulary;

/// A ticket number such as `URP-2026-000042`: prefix, year of receipt (Europe/Rome), and a
/// gap-free sequence within that year.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TicketNumber {
    pub prefix: String,
    pub year: i32,
    pub seq: i64,
}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:04}-{:06}", self.prefix, self.year, self.seq)
    }
}

/// Not a ticket number (a typo in a URL, a forged form field).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a ticket number like URP-2026-000042")]
pub struct NotATicketNumber(pub String);

impl FromStr for TicketNumber {
    type Err = NotATicketNumber;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || NotATicketNumber(s.to_string());
        let mut parts = s.rsplitn(3, '-');
        let seq = parts.next().ok_or_else(bad)?;
        let year = parts.next().ok_or_else(bad)?;
        let prefix = parts.next().ok_or_else(bad)?;
        if prefix.is_empty() || seq.len() < 6 || year.len() != 4 {
            return Err(bad());
        }
        Ok(TicketNumber {
            prefix: prefix.to_ascii_uppercase(),
            year: year.parse().map_err(|_| bad())?,
            seq: seq.parse().map_err(|_| bad())?,
        })
    }
}

impl rusqlite::types::ToSql for TicketNumber {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::from(self.to_string()))
    }
}

impl rusqlite::types::FromSql for TicketNumber {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|e| rusqlite::types::FromSqlError::Other(Box::new(e)))
    }
}

impl serde::Serialize for TicketNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for TicketNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

vocabulary! {
    /// Where a ticket stands in the hospital's procedure (DESIGN.md "Ticket life").
    pub enum State {
        Pending = "pending",
        InCharge = "in_charge",
        Answered = "answered",
        Closed = "closed",
    }
}

impl State {
    /// Every state but `closed`: the ticket still needs the office.
    pub fn is_open(self) -> bool {
        self != State::Closed
    }

    /// A citizen's new message waits for an operator's eyes: the ticket is being worked
    /// (a new ticket is in the "new" queue anyway, a closed one is reopened).
    pub fn shows_new_message(self) -> bool {
        matches!(self, State::InCharge | State::Answered)
    }
}

vocabulary! {
    /// tipologia
    pub enum Kind {
        Reclamo = "reclamo",
        Segnalazione = "segnalazione",
        Elogio = "elogio",
        Suggerimento = "suggerimento",
    }
}

vocabulary! {
    /// canale: how the complaint reached the office.
    pub enum Channel {
        Email = "email",
        Pec = "pec",
        /// The public complaint form (`/segnala`).
        Web = "web",
        /// Recorded by an operator (issue 15): by phone, at the desk, by letter (post, fax, a
        /// printed PEC).
        Telefono = "telefono",
        Sportello = "sportello",
        Lettera = "lettera",
    }
}

vocabulary! {
    /// esito
    pub enum Outcome {
        Accolto = "accolto",
        ParzialmenteAccolto = "parzialmente_accolto",
        NonAccolto = "non_accolto",
        NonDiCompetenza = "non_di_competenza",
        Altro = "altro",
    }
}

vocabulary! {
    /// How another ticket relates to this one.
    pub enum Relation {
        /// It was merged into this one (or this one into it).
        Merged = "merged",
        /// It names this one: opened by someone else who quoted the number, or a late reply.
        Linked = "linked",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_and_parse() {
        let n = TicketNumber {
            prefix: "URP".into(),
            year: 2026,
            seq: 42,
        };
        assert_eq!(n.to_string(), "URP-2026-000042");
        assert_eq!("urp-2026-000042".parse::<TicketNumber>().unwrap(), n);
        assert_eq!(
            "URP-2026-1234567".parse::<TicketNumber>().unwrap().seq,
            1_234_567
        );
        assert!("URP-26-000042".parse::<TicketNumber>().is_err());
        assert!("2026-000042".parse::<TicketNumber>().is_err());
    }

    #[test]
    fn ticket_numbers_parse_and_print() {
        let n: TicketNumber = "urp-2026-000042".parse().unwrap();
        assert_eq!(n.to_string(), "URP-2026-000042");
        assert_eq!(n.year, 2026);
        for bad in [
            "",
            "URP-26-000001",
            "URP-2026-42",
            "-2026-000001",
            "URP-2026-abcdef",
        ] {
            assert!(bad.parse::<TicketNumber>().is_err(), "{bad}");
        }
    }

    #[test]
    fn open_and_new_message_states() {
        assert!(State::Pending.is_open() && !State::Closed.is_open());
        let shows: Vec<State> = State::ALL
            .iter()
            .copied()
            .filter(|s| s.shows_new_message())
            .collect();
        assert_eq!(shows, [State::InCharge, State::Answered]);
    }
}
