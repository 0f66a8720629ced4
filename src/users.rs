//! Backoffice accounts: creation, listing, disabling, and their argon2 password hashes.

use anyhow::{Context, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rusqlite::Connection;
use serde_json::json;

use crate::admin::{AdminError, Thing, MIN_PASSWORD_CHARS};
use crate::domain::{AuditAction, AuditActor, Role};
use crate::store::{audit, users};

pub fn hash_password(password: &str) -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    let salt = SaltString::encode_b64(&bytes).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?
        .to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A random password of 20 letters and digits (about 119 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// Creates an account (the author of the audit entry is `actor`, e.g. the command line).
pub fn add(
    conn: &Connection,
    actor: AuditActor,
    email: &str,
    name: &str,
    role: Role,
    notify: bool,
    password: &str,
) -> Result<i64, AdminError> {
    let email = email.trim();
    if !email.contains('@') || email.contains(char::is_whitespace) {
        return Err(AdminError::NotAnEmail(email.to_string()));
    }
    if name.trim().is_empty() {
        return Err(AdminError::NameMissing);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AdminError::PasswordTooShort);
    }
    if users::by_email(conn, email)?.is_some() {
        return Err(AdminError::EmailTaken(email.to_string()));
    }
    let id = users::insert(
        conn,
        email,
        name.trim(),
        role,
        &hash_password(password)?,
        notify,
    )
    .context("creating the user")?;
    audit::record(
        conn,
        actor,
        AuditAction::UserCreated,
        None,
        json!({ "user": id, "role": role, "notify": notify }),
    )?;
    Ok(id)
}

pub fn disable(conn: &Connection, actor: AuditActor, email: &str) -> Result<(), AdminError> {
    let user = users::by_email(conn, email)?.ok_or(AdminError::NotFound(Thing::User))?;
    if users::disable(conn, email)? {
        audit::record(
            conn,
            actor,
            AuditAction::UserDisabled,
            None,
            json!({ "user": user.id }),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hashed_with_argon2_and_verified() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn accounts_are_created_once_audited_and_disabled() {
        let conn = crate::store::open_in_memory().unwrap();
        let id = add(
            &conn,
            AuditActor::Cli,
            "op@hospital.test",
            "Operatore",
            Role::Operator,
            true,
            "lunga-password-1",
        )
        .unwrap();
        assert!(add(
            &conn,
            AuditActor::Cli,
            "OP@hospital.test",
            "Altro",
            Role::Viewer,
            false,
            "lunga-password-2"
        )
        .is_err());
        assert!(add(
            &conn,
            AuditActor::Cli,
            "x@hospital.test",
            "X",
            Role::Viewer,
            false,
            "corta"
        )
        .is_err());
        disable(&conn, AuditActor::Cli, "op@hospital.test").unwrap();
        let u = users::by_email(&conn, "op@hospital.test").unwrap().unwrap();
        assert_eq!((u.id, u.active), (id, false));
        let audited: i64 = conn
            .query_row(
                "SELECT count(*) FROM audit_log WHERE action LIKE 'user.%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(audited, 2);
        assert_eq!(generate_password().len(), 20);
    }
}
