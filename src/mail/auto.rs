//! Recognising automatic mail (DESIGN.md invariant 5): auto-replies (RFC 3834 and the usual
//! vendor headers), delivery status notifications, PEC receipts. Such mail never opens a
//! ticket and never gets an answer.

use std::sync::LazyLock;

use mail_parser::{Message, MimeHeaders};
use regex::bytes::Regex;

pub use crate::domain::AutoKind;

/// An automatic message and the header that gave it away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Automatic {
    pub kind: AutoKind,
    pub signal: String,
}

fn header<'a>(msg: &'a Message<'a>, name: &'a str) -> Option<&'a str> {
    msg.header_raw(name).map(str::trim)
}

/// Mailer-daemon style senders, whose mail is a report even without a report content type.
static DAEMON_SUBJECT: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"(?i)(undeliver|delivery status|delivery fail|returned mail|failure notice|mail delivery|non recapitat|mancata consegna|impossibile recapitare)",
    )
    .unwrap()
});

/// Message-ID lines inside a report's attached original message or headers.
static EMBEDDED_MESSAGE_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?im)^message-id:[ \t]*<([^>\s]+)>").unwrap());

/// Decides whether `msg` is automatic; returns that and the Message-IDs it is about, beyond its
/// own In-Reply-To/References (the original inside a bounce, a PEC receipt's reference).
pub fn detect(msg: &Message, raw: &[u8]) -> (Option<Automatic>, Vec<String>) {
    let found = |kind, signal: String| Some(Automatic { kind, signal });
    let mut refs = Vec::new();

    if let Some(tipo) = header(msg, "X-Ricevuta") {
        if let Some(r) = header(msg, "X-Riferimento-Message-ID") {
            refs.push(
                r.trim_matches(|c| c == '<' || c == '>' || c == ' ')
                    .to_string(),
            );
        }
        return (
            found(AutoKind::PecReceipt, format!("X-Ricevuta: {tipo}")),
            refs,
        );
    }

    let is_report = msg.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let local = from.split('@').next().unwrap_or_default();
    let daemon = matches!(local, "mailer-daemon" | "postmaster" | "mail-daemon")
        && DAEMON_SUBJECT.is_match(msg.subject().unwrap_or_default());
    let failed_rcpt = header(msg, "X-Failed-Recipients").is_some();
    if is_report || daemon || failed_rcpt {
        let body = &raw[msg.root_part().raw_body_offset() as usize..];
        refs.extend(
            EMBEDDED_MESSAGE_ID
                .captures_iter(body)
                .map(|c| String::from_utf8_lossy(&c[1]).into_owned()),
        );
        let signal = if is_report {
            "Content-Type: multipart/report".to_string()
        } else if failed_rcpt {
            "X-Failed-Recipients".to_string()
        } else {
            format!("From: {from}")
        };
        return (found(AutoKind::Bounce, signal), refs);
    }

    if let Some(v) = header(msg, "Auto-Submitted") {
        if !v.eq_ignore_ascii_case("no") {
            return (
                found(AutoKind::AutoReply, format!("Auto-Submitted: {v}")),
                refs,
            );
        }
    }
    for name in [
        "X-Autoreply",
        "X-Autorespond",
        "X-Autoresponder",
        "X-Auto-Response-Suppress",
    ] {
        if let Some(v) = header(msg, name) {
            return (found(AutoKind::AutoReply, format!("{name}: {v}")), refs);
        }
    }
    if let Some(v) = header(msg, "Precedence") {
        let p = v.to_ascii_lowercase();
        if matches!(p.as_str(), "bulk" | "junk" | "list" | "auto_reply") {
            return (found(AutoKind::AutoReply, format!("Precedence: {v}")), refs);
        }
    }
    if header(msg, "List-Id").is_some() || header(msg, "List-Unsubscribe").is_some() {
        return (
            found(AutoKind::AutoReply, "List-Id (mailing list)".into()),
            refs,
        );
    }
    if header(msg, "Return-Path").is_some_and(|v| v.trim() == "<>") {
        return (
            found(AutoKind::AutoReply, "Return-Path: <> (null sender)".into()),
            refs,
        );
    }
    (None, refs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn kind(raw: &[u8]) -> Option<AutoKind> {
        let m = MessageParser::default().parse(raw).unwrap();
        detect(&m, raw).0.map(|a| a.kind)
    }

    #[test]
    fn ordinary_mail_is_not_automatic() {
        assert_eq!(
            kind(b"From: a@example.test\r\nSubject: x\r\nAuto-Submitted: no\r\n\r\nhi\r\n"),
            None
        );
        assert_eq!(
            kind(b"From: a@example.test\r\nSubject: Re: x\r\n\r\nhi\r\n"),
            None
        );
    }

    #[test]
    fn auto_replies_by_any_usual_header() {
        for h in [
            "Auto-Submitted: auto-replied",
            "X-Autoreply: yes",
            "X-Autorespond: Fuori ufficio",
            "X-Auto-Response-Suppress: All",
            "Precedence: bulk",
            "Precedence: junk",
            "List-Id: <news.example.test>",
            "Return-Path: <>",
        ] {
            let raw = format!(
                "From: a@example.test\r\n{h}\r\nSubject: Fuori ufficio\r\n\r\nSono in ferie\r\n"
            );
            assert_eq!(kind(raw.as_bytes()), Some(AutoKind::AutoReply), "{h}");
        }
    }

    #[test]
    fn delivery_reports_carry_the_original_message_id() {
        let raw = b"From: MAILER-DAEMON@mx.example.test\r\nSubject: Undelivered Mail Returned to Sender\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n--B\r\n\
Content-Type: text/plain\r\n\r\nnot delivered\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n\
Final-Recipient: rfc822; x@example.test\r\nAction: failed\r\n\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n\
From: urp@hospital.test\r\nMessage-ID: <ascolto.URP-2026-000001.tok.1@hospital.test>\r\n\r\n--B--\r\n";
        let m = MessageParser::default().parse(&raw[..]).unwrap();
        let (a, refs) = detect(&m, raw);
        assert_eq!(a.unwrap().kind, AutoKind::Bounce);
        assert_eq!(
            refs,
            vec!["ascolto.URP-2026-000001.tok.1@hospital.test".to_string()]
        );
    }

    #[test]
    fn pec_receipts_are_recognised_by_header_not_subject() {
        let raw = b"From: posta-certificata@pec.example.test\r\nX-Ricevuta: avvenuta-consegna\r\n\
X-Riferimento-Message-ID: <ascolto.URP-2026-000001.tok.2@hospital.test>\r\nSubject: CONSEGNA: x\r\n\r\nok\r\n";
        let m = MessageParser::default().parse(&raw[..]).unwrap();
        let (a, refs) = detect(&m, raw);
        assert_eq!(a.unwrap().kind, AutoKind::PecReceipt);
        assert_eq!(
            refs,
            vec!["ascolto.URP-2026-000001.tok.2@hospital.test".to_string()]
        );
        // A citizen who writes "CONSEGNA" in a subject is still a citizen.
        assert_eq!(
            kind(b"From: a@example.test\r\nSubject: CONSEGNA: ricevuta\r\n\r\nx\r\n"),
            None
        );
    }
}
