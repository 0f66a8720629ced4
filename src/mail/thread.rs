//! Threading (DESIGN.md invariant 6): the Message-IDs ascolto gives its own mail carry the
//! ticket number and the ticket's secret token; a reply proves it belongs to a ticket by
//! referencing one. Ticket numbers in subjects count only together with the right sender,
//! which the pipeline checks against the database.

use std::sync::LazyLock;

use regex::Regex;

use crate::domain::TicketNumber;

/// Every Message-ID ascolto generates starts with this.
pub const ID_PREFIX: &str = "ascolto.";

/// A new per-ticket secret: 128 random bits, hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    hex::encode(bytes)
}

/// A Message-ID (without `<>`) for mail about `number`: `ascolto.NUMBER.TOKEN.UNIQUE@DOMAIN`.
pub fn outbound_message_id(number: &TicketNumber, token: &str, domain: &str) -> String {
    let mut unique = [0u8; 8];
    getrandom::fill(&mut unique).expect("the operating system's random source failed");
    format!(
        "{ID_PREFIX}{number}.{token}.{}@{domain}",
        hex::encode(unique)
    )
}

static OURS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^ascolto\.([A-Za-z0-9]+-\d{4}-\d{6,})\.([0-9a-f]{32})\.[0-9a-f]+@").unwrap()
});

/// If `id` has the shape of one of ascolto's Message-IDs, the ticket number and token it
/// claims. The claim still has to be checked against the ticket's token.
pub fn claimed_ticket(id: &str) -> Option<(TicketNumber, &str)> {
    let caps = OURS.captures(id.trim())?;
    let number = caps.get(1)?.as_str().parse().ok()?;
    Some((number, caps.get(2)?.as_str()))
}

/// Compares secrets in time that does not depend on where they differ.
pub fn tokens_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Ticket numbers with our prefix mentioned anywhere in a subject, whatever the reply prefixes
/// (`Re:`, `R:`, `RIF:`, `I:`, `Fwd:`, `AW:`, `VS:` …) around them.
pub fn numbers_in_subject(subject: &str, prefix: &str) -> Vec<TicketNumber> {
    static NUMBER: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)\b([A-Z0-9]+)-(\d{4})-(\d{6,9})\b").unwrap());
    NUMBER
        .captures_iter(subject)
        .filter(|c| c[1].eq_ignore_ascii_case(prefix))
        .filter_map(|c| {
            Some(TicketNumber {
                prefix: prefix.to_string(),
                year: c[2].parse().ok()?,
                seq: c[3].parse().ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_message_ids_round_trip() {
        let n: TicketNumber = "URP-2026-000042".parse().unwrap();
        let token = new_token();
        let id = outbound_message_id(&n, &token, "hospital.test");
        let (claimed, t) = claimed_ticket(&id).unwrap();
        assert_eq!(claimed, n);
        assert!(tokens_match(t, &token));
        assert!(!tokens_match(t, &new_token()));
        assert!(claimed_ticket("CAF=x@mail.gmail.com").is_none());
        assert!(claimed_ticket("ascolto.URP-2026-000042.nothex.1@h").is_none());
    }

    #[test]
    fn numbers_are_found_through_any_reply_prefix() {
        for subject in [
            "Re: [URP-2026-000042] Attesa",
            "R: RIF: urp-2026-000042",
            "AW: VS: I: Fwd: pratica URP-2026-000042 sollecito",
        ] {
            let found = numbers_in_subject(subject, "URP");
            assert_eq!(found.len(), 1, "{subject}");
            assert_eq!(found[0].to_string(), "URP-2026-000042");
        }
        assert!(numbers_in_subject("ABC-2026-000042", "URP").is_empty());
        assert!(numbers_in_subject("URP-2026-42", "URP").is_empty());
    }
}
