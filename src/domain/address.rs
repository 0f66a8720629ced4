//! Which mailbox an address reaches, for counting automatic mail per mailbox rather than per
//! spelling: `victim+1@…` … `victim+5@…` are one mailbox, and so one rate limit (issue 11).

use std::fmt;

/// The domain of the placeholder address a citizen without e-mail is recorded under (a
/// complaint by phone, at the desk, by letter): `.invalid` is reserved (RFC 2606) and reaches
/// no one, and the notifier sends nothing to it. The contacts table keys citizens by address,
/// so each such citizen gets one of their own (`<random>@nessuna-email.invalid`).
pub const NO_EMAIL_DOMAIN: &str = "nessuna-email.invalid";

/// Whether `address` is a real one, not the placeholder of a citizen without e-mail.
pub fn has_email(address: &str) -> bool {
    !address
        .rsplit_once('@')
        .is_some_and(|(_, domain)| domain.eq_ignore_ascii_case(NO_EMAIL_DOMAIN))
}

/// A new placeholder address for a citizen without e-mail.
pub fn no_email_placeholder() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    format!("{}@{NO_EMAIL_DOMAIN}", hex::encode(bytes))
}

/// Providers that ignore dots in the local part (`ma.ria@gmail.com` is `maria@gmail.com`), with
/// the domain their mailboxes are known by.
const DOTLESS_DOMAINS: &[(&str, &str)] =
    &[("gmail.com", "gmail.com"), ("googlemail.com", "gmail.com")];

/// An address reduced to the mailbox it reaches: lower case, the `+tag` of sub-addressing
/// removed, and for Gmail the dots removed. Only for counting: mail still goes to the address
/// as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecipientKey(String);

impl RecipientKey {
    pub fn of(address: &str) -> RecipientKey {
        let address = address.trim().to_lowercase();
        let Some((local, domain)) = address.rsplit_once('@') else {
            return RecipientKey(address);
        };
        let domain = domain.trim_end_matches('.');
        // Sub-addressing (RFC 5233): everything from the first `+` is a tag the mailbox ignores.
        let local = local.split('+').next().unwrap_or_default();
        match DOTLESS_DOMAINS.iter().find(|(d, _)| *d == domain) {
            Some((_, canonical)) => RecipientKey(format!("{}@{canonical}", local.replace('.', ""))),
            None => RecipientKey(format!("{local}@{domain}")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecipientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(a: &str) -> String {
        RecipientKey::of(a).to_string()
    }

    #[test]
    fn variants_of_one_mailbox_share_a_key() {
        for a in [
            "victim@gmail.test",
            "victim+1@gmail.test",
            "Victim+anything+more@GMAIL.test",
            " VICTIM@gmail.test ",
            "victim+@gmail.test",
            "victim@gmail.test.",
        ] {
            assert_eq!(key(a), "victim@gmail.test", "{a}");
        }
        for a in [
            "mario.rossi@gmail.com",
            "m.a.r.i.o.r.o.s.s.i@gmail.com",
            "Mario.Rossi+urp@GoogleMail.com",
            "mariorossi@googlemail.com",
        ] {
            assert_eq!(key(a), "mariorossi@gmail.com", "{a}");
        }
    }

    #[test]
    fn different_mailboxes_keep_different_keys() {
        // Dots matter everywhere but Gmail; a hyphen is part of the name, not a tag.
        assert_eq!(key("mario.rossi@example.test"), "mario.rossi@example.test");
        assert_ne!(
            key("mario.rossi@example.test"),
            key("mariorossi@example.test")
        );
        assert_ne!(key("mario-rossi@example.test"), key("mario@example.test"));
        assert_ne!(key("victim@gmail.test"), key("victim@gmail.com"));
        assert_ne!(key("a@x.test"), key("a@y.test"));
        // Not an address at all: kept, lower case.
        assert_eq!(key("Nobody"), "nobody");
    }
}
