//! The istruttoria's words (issue 14): where a request for a report stands, and the tag that
//! names it in subjects (`[URP-2026-000042 R1]`).

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use super::{vocabulary, TicketNumber};

vocabulary! {
    /// Where a request for a report stands, as `requests.state` stores it.
    pub enum RequestState {
        /// Sent; no report yet (it may be reminded and escalated).
        Open = "open",
        /// A report arrived.
        Answered = "answered",
    }
}

/// A request's name: the ticket's number (when the request was sent) and its position among
/// the ticket's requests. Shown in subjects as `[URP-2026-000042 R1]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestTag {
    pub ticket: TicketNumber,
    pub seq: i64,
}

impl fmt::Display for RequestTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} R{}", self.ticket, self.seq)
    }
}

impl RequestTag {
    /// As a subject carries it.
    pub fn bracketed(&self) -> String {
        format!("[{self}]")
    }

    /// The tags with our prefix in a subject, whatever reply prefixes surround them. A tag
    /// proves nothing by itself: it counts only with the request's own referente as sender.
    pub fn in_subject(subject: &str, prefix: &str) -> Vec<RequestTag> {
        static TAG: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"(?i)\[\s*([A-Z0-9]+-\d{4}-\d{6,9})\s+R(\d{1,6})\s*\]").unwrap()
        });
        TAG.captures_iter(subject)
            .filter_map(|c| {
                let ticket: TicketNumber = c[1].to_ascii_uppercase().parse().ok()?;
                (ticket.prefix.eq_ignore_ascii_case(prefix)).then_some(())?;
                Some(RequestTag {
                    ticket,
                    seq: c[2].parse().ok()?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_found_through_reply_prefixes() {
        let tag = RequestTag {
            ticket: "URP-2026-000042".parse().unwrap(),
            seq: 3,
        };
        assert_eq!(tag.bracketed(), "[URP-2026-000042 R3]");
        for s in [
            "Re: [URP-2026-000042 R3] Richiesta di relazione",
            "R: I: [urp-2026-000042 r3] x",
            "AW: [ URP-2026-000042 R3 ]",
        ] {
            assert_eq!(RequestTag::in_subject(s, "URP"), vec![tag.clone()], "{s}");
        }
        assert!(RequestTag::in_subject("[URP-2026-000042] x", "URP").is_empty());
        assert!(RequestTag::in_subject("[ABC-2026-000042 R1] x", "URP").is_empty());
    }
}
