//! PEC (posta elettronica certificata): unwrapping certified and anomaly envelopes to the
//! citizen's own message, and reading the certified data in `daticert.xml`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use mail_parser::{Message, MimeHeaders, PartType};
use regex::Regex;
use serde::{Deserialize, Serialize};

pub use crate::domain::{Envelope, Signature};

/// A mailbox that receives PEC (`[[mailbox]] pec = true`). Only there are envelopes unwrapped:
/// anyone can write `X-Trasporto` into an ordinary mail, and an unwrapped envelope's
/// `daticert.xml` may set the time a complaint counts as received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PecBox {
    /// The PEC providers' CA certificates (PEM): with it, each envelope's S/MIME signature is
    /// checked (by the `openssl` command).
    pub ca_file: Option<PathBuf>,
}

/// What ascolto records about a message that came through PEC (stored as JSON; read back by
/// the ticket page).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PecInfo {
    pub envelope: Envelope,
    pub identificativo: Option<String>,
    /// The time of the sending as `daticert.xml` declares it.
    pub certified_at: Option<DateTime<Utc>>,
    /// Whether `certified_at` was taken as the time the complaint was received: only when it
    /// is plausible against the mailbox's own receipt time (see `ingest::pipeline`). Otherwise
    /// it is shown as the declared date ("data dichiarata") and nothing more.
    #[serde(default = "used_before_it_was_recorded")]
    pub certified_at_used: bool,
    /// The citizen's original Message-ID.
    pub original_msgid: Option<String>,
    #[serde(default = "not_checked")]
    pub signature: Signature,
    /// Why the signature is not valid, as `openssl` said it.
    pub signature_error: Option<String>,
}

/// Records from before issue 11 have neither field: their certified time was always used, and
/// nothing was checked.
fn used_before_it_was_recorded() -> bool {
    true
}
fn not_checked() -> Signature {
    Signature::NotChecked
}

/// The facts `daticert.xml` declares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Daticert {
    pub identificativo: Option<String>,
    pub certified_at: Option<DateTime<Utc>>,
    pub original_msgid: Option<String>,
}

/// Recognises an envelope from its top-level header, never from the subject.
pub fn envelope_kind(msg: &Message) -> Option<Envelope> {
    match msg
        .header_raw("X-Trasporto")?
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "posta-certificata" => Some(Envelope::Certified),
        "errore" => Some(Envelope::Anomaly),
        _ => None,
    }
}

/// The citizen's message inside the envelope (`postacert.eml`, else the first attached
/// message) and the certified data.
pub fn unwrap<'a>(outer: &'a Message<'a>, kind: Envelope) -> Option<(&'a Message<'a>, PecInfo)> {
    let mut inner = None;
    let mut daticert = None;
    for part in &outer.parts {
        let name = part
            .attachment_name()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match &part.body {
            PartType::Message(m) if name == "postacert.eml" => inner = Some(m),
            PartType::Message(m) if inner.is_none() => inner = Some(m),
            _ if name == "daticert.xml" => {
                daticert = Some(String::from_utf8_lossy(part.contents()))
            }
            _ => {}
        }
    }
    let inner = inner?;
    let d = daticert.map(|xml| parse_daticert(&xml)).unwrap_or_default();
    let info = PecInfo {
        envelope: kind,
        identificativo: d.identificativo,
        certified_at: d.certified_at,
        certified_at_used: false,
        original_msgid: d.original_msgid.or_else(|| {
            outer
                .header_raw("X-Riferimento-Message-ID")
                .or_else(|| inner.message_id())
                .map(|s| s.trim().trim_matches(['<', '>']).to_string())
        }),
        signature: Signature::NotChecked,
        signature_error: None,
    };
    Some((inner, info))
}

fn tag<'a>(xml: &'a str, re: &Regex) -> Option<&'a str> {
    re.captures(xml)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().trim())
}

static GIORNO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<giorno>\s*(\d{2}/\d{2}/\d{4})\s*</giorno>").unwrap());
static ORA: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<ora>\s*(\d{2}:\d{2}:\d{2})\s*</ora>").unwrap());
static ZONA: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"<data\s+zona\s*=\s*"([+-]\d{4})""#).unwrap());
static IDENTIFICATIVO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<identificativo>([^<]*)</identificativo>").unwrap());
static MSGID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<msgid>([^<]*)</msgid>").unwrap());

/// Reads `daticert.xml`. Missing or malformed fields are left `None`: the envelope is kept
/// whole as evidence anyway.
pub fn parse_daticert(xml: &str) -> Daticert {
    let certified_at = (|| {
        let day = NaiveDate::parse_from_str(tag(xml, &GIORNO)?, "%d/%m/%Y").ok()?;
        let time = NaiveTime::parse_from_str(tag(xml, &ORA)?, "%H:%M:%S").ok()?;
        let zone = tag(xml, &ZONA).unwrap_or("+0100");
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let hours: i32 = zone[1..3].parse().ok()?;
        let minutes: i32 = zone[3..5].parse().ok()?;
        let offset = FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))?;
        let local = offset.from_local_datetime(&day.and_time(time)).single()?;
        Some(local.with_timezone(&Utc))
    })();
    let unescape = |s: &str| {
        s.replace("&lt;", "")
            .replace("&gt;", "")
            .trim_matches(['<', '>'])
            .trim()
            .to_string()
    };
    Daticert {
        identificativo: tag(xml, &IDENTIFICATIVO)
            .map(unescape)
            .filter(|s| !s.is_empty()),
        certified_at,
        original_msgid: tag(xml, &MSGID).map(unescape).filter(|s| !s.is_empty()),
    }
}

/// `openssl smime -verify` taking longer than this is stopped: the envelope counts as not
/// verified (an envelope is a few megabytes at most; verifying takes milliseconds).
const VERIFY_TIMEOUT: Duration = Duration::from_secs(20);

/// Checks the S/MIME signature of the whole envelope `raw` against the CA certificates in
/// `ca_file`, with the `openssl` command (Debian's `openssl` package): the signature must be
/// valid and its certificate chain to one of them. Returns the result and, when not valid,
/// `openssl`'s reason.
pub fn verify_signature(raw: &[u8], ca_file: &Path) -> (Signature, Option<String>) {
    match run_openssl_verify(raw, ca_file) {
        Ok(()) => (Signature::Verified, None),
        Err(reason) => (Signature::Invalid, Some(reason)),
    }
}

fn run_openssl_verify(raw: &[u8], ca_file: &Path) -> Result<(), String> {
    let mut child = Command::new("openssl")
        .args(["smime", "-verify", "-purpose", "any", "-CAfile"])
        .arg(ca_file)
        .args(["-out", "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run openssl (install Debian's openssl package): {e}"))?;
    // Fed and drained from threads: openssl may stop reading (a malformed envelope) while we
    // write, or fill its error pipe while we wait.
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = raw.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut err = Vec::new();
        let _ = stderr.read_to_end(&mut err);
        err
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > VERIFY_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("openssl did not answer in {VERIFY_TIMEOUT:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("openssl: {e}")),
        }
    };
    let _ = writer.join();
    let err = String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned();
    if status.success() {
        return Ok(());
    }
    // openssl's first line says what failed ("Verification failure", "certificate verify
    // error: … unable to get local issuer certificate"); the rest is a stack of internals.
    let reason = err
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    Err(crate::mail::one_line(
        if reason.is_empty() {
            "not a valid S/MIME signature"
        } else {
            &reason
        },
        300,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daticert_gives_the_certified_time_in_utc() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<postacert tipo="posta-certificata" errore="nessuno">
  <intestazione><mittente>mario@pec.example.test</mittente></intestazione>
  <dati>
    <gestore-emittente>Gestore</gestore-emittente>
    <data zona="+0100"><giorno>15/01/2026</giorno><ora>09:30:05</ora></data>
    <identificativo>opec21.20260115093005.12345.67.1.1@pec.example.test</identificativo>
    <msgid>&lt;orig-1@pec.example.test&gt;</msgid>
  </dati>
</postacert>"#;
        let info = parse_daticert(xml);
        assert_eq!(
            info.certified_at.unwrap().to_rfc3339(),
            "2026-01-15T08:30:05+00:00"
        );
        assert_eq!(
            info.identificativo.as_deref(),
            Some("opec21.20260115093005.12345.67.1.1@pec.example.test")
        );
        assert_eq!(
            info.original_msgid.as_deref(),
            Some("orig-1@pec.example.test")
        );
    }

    #[test]
    fn malformed_daticert_leaves_fields_empty() {
        let info =
            parse_daticert("<postacert><data zona=\"+0100\"><giorno>32/13/2026</giorno></data>");
        assert_eq!(info.certified_at, None);
        assert_eq!(info.identificativo, None);
    }
}
