//! Who acts: backoffice roles, the signed-in actor, and the authors the audit log names.

use std::fmt;
use std::str::FromStr;

use super::vocabulary;

vocabulary! {
    /// A backoffice account's role (DESIGN.md "Roles").
    pub enum Role {
        /// Amministratore: everything.
        Admin = "admin",
        /// Utente reclamo: works tickets.
        Operator = "operator",
        /// Utente ASL: statistics and read-only lists.
        Viewer = "viewer",
    }
}

impl Role {
    /// Whether this role works tickets (takes in charge, answers, closes, classifies).
    pub fn works_tickets(self) -> bool {
        match self {
            Role::Admin | Role::Operator => true,
            Role::Viewer => false,
        }
    }
}

/// Who acts: a signed-in backoffice user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub id: i64,
    pub name: String,
    pub role: Role,
}

impl Actor {
    /// How the audit log names this actor.
    pub fn audit(&self) -> AuditActor {
        AuditActor::User(self.id)
    }
}

/// The author of an audit entry, as `audit_log.actor` stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditActor {
    /// `user:ID`: a backoffice account.
    User(i64),
    /// `system:ingest`: what ingest does on its own.
    Ingest,
    /// `system:retention`: the retention job.
    Retention,
    /// `system:istruttoria`: reminders and escalations of requests for reports.
    Istruttoria,
    /// `system:classifier`: the learned classifier's nightly or first training.
    Classifier,
    /// `cli`: an administrator at the command line.
    Cli,
    /// `web:anonymous`: someone not signed in (a failed sign-in).
    Anonymous,
    /// `web:citizen`: the ticket's citizen on their own page (`/pratica/<link>`), or someone
    /// filling the public form.
    Citizen,
}

impl fmt::Display for AuditActor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditActor::User(id) => write!(f, "user:{id}"),
            AuditActor::Ingest => f.write_str("system:ingest"),
            AuditActor::Retention => f.write_str("system:retention"),
            AuditActor::Istruttoria => f.write_str("system:istruttoria"),
            AuditActor::Classifier => f.write_str("system:classifier"),
            AuditActor::Cli => f.write_str("cli"),
            AuditActor::Anonymous => f.write_str("web:anonymous"),
            AuditActor::Citizen => f.write_str("web:citizen"),
        }
    }
}

impl FromStr for AuditActor {
    type Err = super::UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "system:ingest" => Ok(AuditActor::Ingest),
            "system:retention" => Ok(AuditActor::Retention),
            "system:istruttoria" => Ok(AuditActor::Istruttoria),
            "system:classifier" => Ok(AuditActor::Classifier),
            "cli" => Ok(AuditActor::Cli),
            "web:anonymous" => Ok(AuditActor::Anonymous),
            "web:citizen" => Ok(AuditActor::Citizen),
            _ => s
                .strip_prefix("user:")
                .and_then(|id| id.parse().ok())
                .map(AuditActor::User)
                .ok_or_else(|| super::UnknownWord {
                    vocabulary: "AuditActor",
                    word: s.to_string(),
                    expected: &[
                        "user:ID",
                        "system:ingest",
                        "system:retention",
                        "system:classifier",
                        "cli",
                        "web:anonymous",
                        "web:citizen",
                    ],
                }),
        }
    }
}

impl rusqlite::types::ToSql for AuditActor {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::from(self.to_string()))
    }
}

impl rusqlite::types::FromSql for AuditActor {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|e| rusqlite::types::FromSqlError::Other(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_actors_round_trip() {
        for a in [
            AuditActor::User(42),
            AuditActor::Ingest,
            AuditActor::Retention,
            AuditActor::Istruttoria,
            AuditActor::Classifier,
            AuditActor::Cli,
            AuditActor::Anonymous,
            AuditActor::Citizen,
        ] {
            assert_eq!(a.to_string().parse::<AuditActor>().unwrap(), a);
        }
        assert!("user:x".parse::<AuditActor>().is_err());
        assert!("system:other".parse::<AuditActor>().is_err());
    }
}
