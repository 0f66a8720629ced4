//! The links to the citizen's own page (`/pratica/<link>`; issue 15): each mail to the citizen
//! carries a fresh one ([`mint`]); only the SHA-256 of its 256-bit secret is stored, so a copy
//! of the database opens no page. It is not the ticket's threading token (that one travels in
//! every Message-ID, which mail servers log), and it dies with the ticket's anonymisation.

use rusqlite::Connection;
use sha2::{Digest, Sha256};

use crate::store::{self, intake as sql};

/// A link's secret: 256 random bits, hex.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    hex::encode(bytes)
}

fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new link to the ticket's page for a mail to its citizen: the secret goes into the mail,
/// its hash into the database.
pub fn mint(conn: &Connection, ticket_id: i64) -> anyhow::Result<String> {
    let secret = new_secret();
    sql::insert_link(conn, ticket_id, &secret_hash(&secret), &store::now_text())?;
    Ok(secret)
}

/// Whether `text` has the shape of a link's secret (64 lower-case hex digits).
pub fn looks_like_secret(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The ticket a link's secret opens, if any (not after anonymisation).
///
/// The database is asked for the secret's SHA-256, never the secret: how long the index
/// lookup takes depends on the hash, which an attacker does not control, so timing tells
/// nothing about how close a guess came. The stored hash is compared again in constant time.
pub fn open(conn: &Connection, secret: &str) -> anyhow::Result<Option<i64>> {
    let wanted = secret_hash(secret);
    let found = sql::ticket_of_link(conn, &wanted)?;
    Ok(found.and_then(|(id, stored)| constant_time_eq(&stored, &wanted).then_some(id)))
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The CSRF token of the forms on a link's page: derived from the secret (which only its
/// holder knows), so the page needs no session.
pub fn page_csrf(secret: &str) -> String {
    hex::encode(Sha256::digest(
        format!("ascolto citizen page form {secret}").as_bytes(),
    ))
}

/// `text` with every link's secret cut out (`/pratica/…`): what a mail to the citizen says,
/// for an export. A link is a key to the citizen's page; it is never exported.
pub fn redact(text: &str) -> String {
    const PATH: &str = "/pratica/";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(PATH) {
        let (before, after) = rest.split_at(i + PATH.len());
        out.push_str(before);
        let secret_len = after.bytes().take_while(u8::is_ascii_hexdigit).count();
        if secret_len > 0 {
            out.push('…');
        }
        rest = &after[secret_len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_hex_and_hashed() {
        let s = new_secret();
        assert!(looks_like_secret(&s));
        assert_ne!(secret_hash(&s), s);
        assert!(!looks_like_secret(&s[..63]));
        assert!(!looks_like_secret(&s.to_uppercase()));
    }

    #[test]
    fn exports_never_carry_a_link() {
        let secret = new_secret();
        let mail = format!("Segua la pratica: https://urp.example/pratica/{secret}\nSaluti");
        let redacted = redact(&mail);
        assert!(!redacted.contains(&secret));
        assert_eq!(
            redacted,
            "Segua la pratica: https://urp.example/pratica/…\nSaluti"
        );
    }

    #[test]
    fn a_minted_link_opens_its_ticket_and_nothing_else_does() {
        let conn = crate::store::open_in_memory().unwrap();
        let contact_id = crate::store::ingest::upsert_contact(&conn, "a@b.it", None).unwrap();
        let number: crate::domain::TicketNumber = "URP-2026-000001".parse().unwrap();
        let id = crate::store::ingest::insert_ticket(
            &conn,
            &crate::store::ingest::NewTicket {
                number: &number,
                year: 2026,
                seq: 1,
                thread_token: "t",
                kind: None,
                category_id: None,
                service_id: None,
                contact_id,
                subject: "s",
                received_at: "2026-03-02T09:00:00Z",
                due_at: "2026-04-01T09:00:00Z",
                channel: crate::domain::Channel::Telefono,
                linked_ticket_id: None,
            },
        )
        .unwrap();
        let secret = mint(&conn, id).unwrap();
        assert_eq!(open(&conn, &secret).unwrap(), Some(id));
        let mut wrong = secret.clone();
        wrong.replace_range(0..1, if secret.starts_with('0') { "1" } else { "0" });
        assert_eq!(open(&conn, &wrong).unwrap(), None);
    }
}
