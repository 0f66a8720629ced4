//! From raw bytes to [`ParsedMail`]: the facts the pipeline needs, owned and plain.
//!
//! Everything here is attacker-controlled text; it is stored and later escaped, never trusted.

use chrono::{DateTime, TimeZone, Utc};
use mail_parser::{
    HeaderForm, HeaderName, HeaderValue, Message, MessageParser, MimeHeaders, PartType,
};

use super::auto::{self, Automatic};
use super::pec::{self, PecBox, PecInfo};
use super::MAX_LINE_CHARS;

/// Derived body text is capped: the raw message keeps everything, the UI and search need less.
pub const MAX_BODY_CHARS: usize = 1_000_000;

#[derive(Clone, Debug)]
pub struct AttachmentMeta {
    pub filename: Option<String>,
    pub content_type: String,
    pub size: usize,
}

/// What ascolto knows about one inbound message.
#[derive(Clone, Debug)]
pub struct ParsedMail {
    /// The Message-ID of the message as delivered (for PEC, the envelope's), without `<>`.
    pub message_id: Option<String>,
    /// In-Reply-To and References, in that order, without `<>`.
    pub references: Vec<String>,
    /// The citizen: for PEC the sender of the message inside the envelope.
    pub from_email: Option<String>,
    pub from_name: Option<String>,
    /// One line (see [`super::one_line`]): it is quoted into the subjects of our mails.
    pub subject: String,
    pub body_text: String,
    /// The Date header of the citizen's message.
    pub date: Option<DateTime<Utc>>,
    pub attachments: Vec<AttachmentMeta>,
    /// Set for auto-replies, delivery reports and PEC receipts.
    pub automatic: Option<Automatic>,
    /// Message-IDs an automatic message is about (the bounced original, a receipt's reference).
    pub automatic_refs: Vec<String>,
    pub pec: Option<PecInfo>,
    /// The `Authentication-Results` header values of the message as delivered, top to bottom
    /// (judged by [`super::auth::judge`] against the trusted server's name).
    pub authentication_results: Vec<String>,
}

/// Why a message cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not an email message: no header could be read")]
    NoHeaders,
    #[error("no sender: the message has no readable From address")]
    NoSender,
    #[error("PEC envelope without the citizen's message (postacert.eml)")]
    PecWithoutContent,
}

/// Reads `raw`. PEC envelopes are unwrapped only when it came from a PEC box (`pec_box`): on an
/// ordinary mailbox `X-Trasporto` is just a header anyone can write.
pub fn parse(raw: &[u8], pec_box: Option<&PecBox>) -> Result<ParsedMail, ParseError> {
    let outer = MessageParser::default()
        .parse(raw)
        .ok_or(ParseError::NoHeaders)?;
    if outer.headers().is_empty() {
        return Err(ParseError::NoHeaders);
    }
    let (automatic, automatic_refs) = auto::detect(&outer, raw);
    let envelope = pec_box.and_then(|_| pec::envelope_kind(&outer));
    let mut pec_info = None;
    // For a PEC envelope, the citizen's message is the attached postacert.eml.
    let content: &Message = match (envelope, pec_box) {
        (Some(kind), Some(pec_box)) if automatic.is_none() => {
            let (inner, mut info) =
                pec::unwrap(&outer, kind).ok_or(ParseError::PecWithoutContent)?;
            if let Some(ca_file) = &pec_box.ca_file {
                (info.signature, info.signature_error) = pec::verify_signature(raw, ca_file);
            }
            pec_info = Some(info);
            inner
        }
        _ => &outer,
    };

    let (mut from_email, mut from_name) = first_address(content.from());
    if pec_info.is_some() && from_email.is_none() {
        // Some providers put the citizen only in the envelope's Reply-To.
        (from_email, from_name) = first_address(outer.reply_to());
    }
    if from_email.is_none() && automatic.is_none() {
        return Err(ParseError::NoSender);
    }

    let mut references = ids(outer.in_reply_to());
    references.extend(ids(outer.references()));

    Ok(ParsedMail {
        message_id: outer.message_id().map(str::to_string),
        references,
        from_email,
        from_name,
        subject: super::one_line(content.subject().unwrap_or_default(), MAX_LINE_CHARS),
        body_text: body_text(content),
        date: content
            .date()
            .and_then(|d| Utc.timestamp_opt(d.to_timestamp(), 0).single()),
        attachments: attachments(content),
        automatic,
        automatic_refs,
        pec: pec_info,
        authentication_results: outer
            .header_as(HeaderName::AuthenticationResults, HeaderForm::Raw)
            .into_iter()
            .filter_map(|v| v.into_text().map(|t| t.into_owned()))
            .collect(),
    })
}

/// The bytes of the attachment at `position` among the citizen's message's attachments (inside
/// postacert.eml when the message was read as a PEC envelope, `unwrapped_pec`), as
/// [`ParsedMail::attachments`] lists them.
pub fn attachment_bytes(raw: &[u8], position: usize, unwrapped_pec: bool) -> Option<Vec<u8>> {
    let outer = MessageParser::default().parse(raw)?;
    let content: &Message = match pec::envelope_kind(&outer) {
        Some(kind) if unwrapped_pec => pec::unwrap(&outer, kind)?.0,
        _ => &outer,
    };
    let part = content.attachments().nth(position)?;
    Some(match &part.body {
        PartType::Message(m) => m.raw_message().to_vec(),
        _ => part.contents().to_vec(),
    })
}

fn first_address(addr: Option<&mail_parser::Address>) -> (Option<String>, Option<String>) {
    let Some(first) = addr.and_then(|a| a.first()) else {
        return (None, None);
    };
    let email = first
        .address()
        .map(|e| e.trim().to_string())
        .filter(|e| e.contains('@') && !e.contains(char::is_whitespace));
    let name = first
        .name()
        .map(|n| super::one_line(n, MAX_LINE_CHARS))
        .filter(|n| !n.is_empty());
    (email, name)
}

/// Message-IDs in a header, without angle brackets.
pub fn ids(value: &HeaderValue) -> Vec<String> {
    match value {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(list) => list.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn body_text(msg: &Message) -> String {
    let mut text = msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
    if text.trim().is_empty() {
        // Nothing in a text part (or an empty one): take an HTML part converted to text.
        if let Some(html) = msg.body_html(0) {
            text = mail_parser::decoders::html::html_to_text(&html);
        }
    }
    let text = text.replace("\r\n", "\n");
    match text.char_indices().nth(MAX_BODY_CHARS) {
        Some((cut, _)) => format!("{}\n[…]", &text[..cut]),
        None => text,
    }
}

fn attachments(msg: &Message) -> Vec<AttachmentMeta> {
    msg.attachments()
        .map(|part| {
            let content_type = part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| match part.body {
                    PartType::Message(_) => "message/rfc822".into(),
                    PartType::Text(_) => "text/plain".into(),
                    _ => "application/octet-stream".into(),
                })
                .to_ascii_lowercase();
            AttachmentMeta {
                filename: part.attachment_name().map(str::to_string),
                content_type,
                size: part.contents().len(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sender_subject_and_text() {
        let raw = b"From: \"Maria Rossi\" <maria.rossi@example.test>\r\nTo: urp@hospital.test\r\n\
Subject: Attesa di sei ore\r\nMessage-ID: <abc@example.test>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0100\r\n\r\n\
Buongiorno, ho atteso sei ore.\r\n";
        let m = parse(raw, None).unwrap();
        assert_eq!(m.from_email.as_deref(), Some("maria.rossi@example.test"));
        assert_eq!(m.from_name.as_deref(), Some("Maria Rossi"));
        assert_eq!(m.subject, "Attesa di sei ore");
        assert_eq!(m.message_id.as_deref(), Some("abc@example.test"));
        assert!(m.body_text.contains("sei ore"));
        assert_eq!(m.date.unwrap().to_rfc3339(), "2026-03-02T09:00:00+00:00");
        assert!(m.automatic.is_none() && m.pec.is_none());
    }

    #[test]
    fn decodes_encoded_words_and_legacy_charsets() {
        let raw = b"From: =?ISO-8859-1?Q?Nicol=F2_Bell=E0?= <n@example.test>\r\n\
Subject: =?windows-1252?Q?Reparto_=80_pulizia?=\r\n\
Content-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
Perch\xe9 la stanza non \xe8 pulita?\r\n";
        let m = parse(raw, None).unwrap();
        assert_eq!(m.from_name.as_deref(), Some("Nicolò Bellà"));
        assert_eq!(m.subject, "Reparto € pulizia");
        assert!(
            m.body_text.contains("Perché la stanza non è pulita?"),
            "{}",
            m.body_text
        );
    }

    /// Issue 11, finding 1: an encoded subject may decode to several lines; it is one line here.
    #[test]
    fn an_encoded_subject_with_line_breaks_becomes_one_line() {
        let payload = "Attesa\nATTENZIONE … paghi su http://evil.test/pay\nApri la pratica: http://evil.test/login";
        let raw = format!(
            "From: =?utf-8?b?{}?= <a@example.test>\r\nSubject: =?utf-8?b?{}?=\r\n\r\ntesto\r\n",
            b64("Mario\r\nBcc: x@evil.test"),
            b64(payload)
        );
        let m = parse(raw.as_bytes(), None).unwrap();
        assert_eq!(
            m.subject,
            "Attesa ATTENZIONE … paghi su http://evil.test/pay Apri la pratica: http://evil.test/login"
        );
        assert_eq!(m.from_name.as_deref(), Some("Mario Bcc: x@evil.test"));
        let long = format!(
            "Subject: {}\r\nFrom: a@example.test\r\n\r\nx\r\n",
            "lungo ".repeat(400_000)
        );
        assert!(
            parse(long.as_bytes(), None)
                .unwrap()
                .subject
                .chars()
                .count()
                <= crate::mail::MAX_LINE_CHARS + 1
        );
    }

    fn b64(text: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    #[test]
    fn html_only_mail_becomes_text() {
        let raw = b"From: a@example.test\r\nSubject: html\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<html><body><p>Il <b>bagno</b> era sporco</p><script>alert(1)</script></body></html>\r\n";
        let m = parse(raw, None).unwrap();
        assert!(m.body_text.contains("bagno"), "{}", m.body_text);
        assert!(!m.body_text.contains("<b>"), "{}", m.body_text);
        assert!(!m.body_text.contains("alert"), "{}", m.body_text);
    }

    #[test]
    fn garbage_and_missing_sender_are_errors() {
        assert!(matches!(parse(b"", None), Err(ParseError::NoHeaders)));
        assert!(matches!(
            parse(b"Subject: no sender\r\n\r\nbody\r\n", None),
            Err(ParseError::NoSender)
        ));
        assert!(matches!(
            parse(b"From: not an address\r\nSubject: x\r\n\r\nbody\r\n", None),
            Err(ParseError::NoSender)
        ));
    }

    #[test]
    fn lists_attachments() {
        let raw = b"From: a@example.test\r\nSubject: foto\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\ntesto\r\n\
--XX\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; filename=\"foto.jpg\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nAAECAwQF\r\n--XX--\r\n";
        let m = parse(raw, None).unwrap();
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].filename.as_deref(), Some("foto.jpg"));
        assert_eq!(m.attachments[0].content_type, "image/jpeg");
        assert_eq!(m.attachments[0].size, 6);
    }
}
