//! ascolto's vocabulary: every domain word is a type, decoded once where it enters (a database
//! row, a form field, a config value) and matched exhaustively everywhere after.
//!
//! A closed set of words is declared with [`vocabulary!`]: one enum, its stored words, and the
//! conversions at the boundaries (`as_str`/`FromStr`, SQLite's `ToSql`/`FromSql`, serde). The
//! Italian an operator reads is not here: `crate::texts` renders each type through one
//! exhaustive `match`, so a new variant is a compile error until it has its label.
//!
//! - [`ticket`]: numbers, states, kinds, channels, outcomes; a ticket's related tickets.
//! - [`people`]: roles, the signed-in actor, and who an audit entry names.
//! - [`address`]: which mailbox an address reaches (for counting mail per mailbox).
//! - [`audit`]: the actions the audit log records.
//! - [`classification`]: classification fields, their sources, why a model was trained.
//! - [`mail`]: outbound mail kinds and states, automatic mail, quarantine, PEC words, rule fields.
//! - [`time`]: the legal deadline and Europe/Rome's calendar.
//! - [`request`]: the istruttoria's words: a request's state, its tag `[URP-2026-000042 R1]`.
//! - [`answering`]: how a ticket's deadline moved (suspended, resumed, extended).
//! - [`quality`]: the analysis of a complaint and improvement actions (issue 20).
//! - [`refusal`]: why the procedure refuses a step (`WorkflowError`).
//! - [`feedback`]: the actions the backoffice confirms after a redirect (`Done`).

pub mod address;
pub mod answering;
pub mod audit;
pub mod classification;
pub mod feedback;
pub mod mail;
pub mod people;
pub mod quality;
pub mod refusal;
pub mod request;
pub mod ticket;
pub mod time;

pub use address::RecipientKey;
pub use answering::{DeadlineChange, DraftState};
pub use audit::{AuditAction, AuditGroup};
pub use classification::{ClassField, ClassSource, TrainReason};
pub use feedback::Done;
pub use mail::{
    AutoKind, Direction, Envelope, MailKind, OutboxState, Outgoing, OutgoingFile, QuarantineKind,
    RuleField, Signature,
};
pub use people::{Actor, AuditActor, Role};
pub use quality::{ActionState, Founded};
pub use request::{RequestState, RequestTag};
pub use ticket::{Channel, Kind, Outcome, Relation, State, TicketNumber};

/// A word that is not in a vocabulary: from a database written by a newer ascolto, a hand-edited
/// row, or a forged form field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{word:?} is not a {vocabulary}: {}", one_of(expected))]
pub struct UnknownWord {
    pub vocabulary: &'static str,
    pub word: String,
    pub expected: &'static [&'static str],
}

/// "a, b or c".
fn one_of(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// Declares a closed vocabulary: an enum whose variants are stored, sent and parsed as fixed
/// words. Generates `ALL`, `as_str`, `FromStr`, `Display`, `ToSql`/`FromSql` and serde.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $word:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every word of the vocabulary, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word as stored and sent.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $word ),+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::domain::UnknownWord;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                match s {
                    $( $word => Ok($name::$variant), )+
                    _ => Err($crate::domain::UnknownWord {
                        vocabulary: stringify!($name),
                        word: s.to_string(),
                        expected: &[$($word),+],
                    }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::rusqlite::types::ToSql for $name {
            fn to_sql(&self) -> ::rusqlite::Result<::rusqlite::types::ToSqlOutput<'_>> {
                Ok(::rusqlite::types::ToSqlOutput::from(self.as_str()))
            }
        }

        impl ::rusqlite::types::FromSql for $name {
            fn column_result(
                value: ::rusqlite::types::ValueRef<'_>,
            ) -> ::rusqlite::types::FromSqlResult<Self> {
                value
                    .as_str()?
                    .parse()
                    .map_err(|e| ::rusqlite::types::FromSqlError::Other(Box::new(e)))
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                let word = <::std::borrow::Cow<'de, str>>::deserialize(d)?;
                word.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use vocabulary;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every vocabulary's words round-trip through text, SQLite and JSON, and are distinct.
    #[test]
    fn every_word_round_trips() {
        fn check<T>(all: &[T])
        where
            T: Copy
                + PartialEq
                + std::fmt::Debug
                + std::str::FromStr<Err = UnknownWord>
                + std::fmt::Display
                + rusqlite::types::ToSql
                + rusqlite::types::FromSql
                + serde::Serialize
                + serde::de::DeserializeOwned,
        {
            let conn = rusqlite::Connection::open_in_memory().unwrap();
            let mut seen = std::collections::HashSet::new();
            for &v in all {
                let word = v.to_string();
                assert!(seen.insert(word.clone()), "{word} twice");
                assert_eq!(word.parse::<T>().unwrap(), v);
                let back: T = conn.query_row("SELECT ?1", [v], |r| r.get(0)).unwrap();
                assert_eq!(back, v);
                let json = serde_json::to_string(&v).unwrap();
                assert_eq!(json, format!("{word:?}"));
                assert_eq!(serde_json::from_str::<T>(&json).unwrap(), v);
            }
            assert!("no such word".parse::<T>().is_err());
        }
        check(State::ALL);
        check(Kind::ALL);
        check(Channel::ALL);
        check(Outcome::ALL);
        check(Role::ALL);
        check(AuditAction::ALL);
        check(AuditGroup::ALL);
        check(MailKind::ALL);
        check(OutboxState::ALL);
        check(Direction::ALL);
        check(AutoKind::ALL);
        check(QuarantineKind::ALL);
        check(RuleField::ALL);
        check(Envelope::ALL);
        check(Signature::ALL);
        check(Relation::ALL);
        check(RequestState::ALL);
        check(ClassField::ALL);
        check(ClassSource::ALL);
        check(TrainReason::ALL);
        check(DeadlineChange::ALL);
        check(Founded::ALL);
        check(ActionState::ALL);
        check(DraftState::ALL);
    }

    #[test]
    fn an_unknown_word_says_what_was_expected() {
        let e = "chiuso".parse::<State>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"chiuso\" is not a State: pending, in_charge, answered or closed"
        );
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let bad = conn.query_row("SELECT 'chiuso'", [], |r| r.get::<_, State>(0));
        assert!(bad.is_err());
    }
}
