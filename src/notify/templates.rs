//! The notification mails' text: minijinja templates under `templates/`, editable by the
//! hospital (`[notify] templates_dir`), with the shipped copies built in as the fallback.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::domain::MailKind;

/// The built-in template of each kind of mail (its file is `templates/KIND.txt`).
fn builtin(kind: MailKind) -> &'static str {
    match kind {
        MailKind::Ack => include_str!("../../templates/ack.txt"),
        MailKind::InCharge => include_str!("../../templates/in_charge.txt"),
        MailKind::Answer => include_str!("../../templates/answer.txt"),
        MailKind::Reopened => include_str!("../../templates/reopened.txt"),
        MailKind::Closed => include_str!("../../templates/closed.txt"),
        MailKind::NewTicket => include_str!("../../templates/new_ticket.txt"),
        MailKind::Request => include_str!("../../templates/request.txt"),
        MailKind::RequestReminder => include_str!("../../templates/request_reminder.txt"),
        MailKind::RequestEscalation => include_str!("../../templates/request_escalation.txt"),
        MailKind::ReportArrived => include_str!("../../templates/report_arrived.txt"),
        MailKind::DeadlineChanged => include_str!("../../templates/deadline_changed.txt"),
        MailKind::RiskAlert => include_str!("../../templates/risk_alert.txt"),
        MailKind::Digest => include_str!("../../templates/digest.txt"),
    }
}

/// What a template may use. Every field is always present (null when unknown), so that a
/// misspelt variable in an edited template is an error at start, not a blank in a mail.
#[derive(Debug, Default, Clone, Serialize)]
pub struct MailVars {
    pub number: String,
    pub subject: String,
    pub citizen_name: Option<String>,
    pub received_at: String,
    pub due_date: String,
    pub deadline_days: u32,
    pub office: String,
    pub answer: Option<String>,
    pub operator_name: Option<String>,
    pub quoted: Option<String>,
    pub quoted_date: Option<String>,
    pub outcome: Option<String>,
    pub reopen_window_days: u32,
    pub channel: Option<String>,
    pub kind: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
    pub link: Option<String>,
    /// The citizen's own page (`/pratica/…`), in every mail to the citizen (issue 15).
    pub citizen_link: Option<String>,
    /// The istruttoria's mails (null in the others).
    pub citizen_email: Option<String>,
    pub referente: Option<String>,
    pub request_tag: Option<String>,
    pub request_due_date: Option<String>,
    pub request_sent_date: Option<String>,
    /// The request as sent, quoted (reminders).
    pub request_text: Option<String>,
    /// Who wrote the report (its sender's name and address).
    pub report_from: Option<String>,
    /// The deadline's notice (issue 19): "suspended", "resumed" or "extended", and the
    /// operator's reason (null in the other mails).
    pub deadline_change: Option<String>,
    pub deadline_reason: Option<String>,
    /// The morning digest: "own" (an operator's tickets) or "all" (the head's), its lists and
    /// counts, and `[workflow] remind_days`.
    pub digest_scope: Option<String>,
    pub digest_overdue: Option<String>,
    pub digest_due: Option<String>,
    pub digest_overdue_count: usize,
    pub digest_due_count: usize,
    pub remind_days: u32,
}

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Loads the templates (the hospital's where present) and renders each once with sample
    /// values, so that a broken template stops ascolto at start with the file named.
    pub fn load(dir: Option<&Path>) -> Result<Templates> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        for &kind in MailKind::ALL {
            let name = kind.as_str();
            let custom = dir
                .map(|d| d.join(format!("{name}.txt")))
                .filter(|p| p.exists());
            let (source, origin) = match &custom {
                Some(path) => (
                    std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?,
                    path.display().to_string(),
                ),
                None => (builtin(kind).to_string(), format!("built-in {name}.txt")),
            };
            let (subject, body) =
                split_source(&source).with_context(|| format!("template {origin}"))?;
            env.add_template_owned(format!("{name}.subject"), subject)
                .with_context(|| format!("template {origin}, its Subject: line"))?;
            env.add_template_owned(format!("{name}.body"), body)
                .with_context(|| format!("template {origin}"))?;
        }
        let templates = Templates { env };
        let sample = MailVars {
            number: "URP-2026-000001".into(),
            subject: "Prova".into(),
            citizen_name: Some("Maria Rossi".into()),
            received_at: "15/01/2026 alle 09:30".into(),
            due_date: "14/02/2026".into(),
            deadline_days: 30,
            office: "URP".into(),
            answer: Some("Risposta".into()),
            operator_name: Some("Operatore".into()),
            quoted: Some("> testo".into()),
            quoted_date: Some("15/01/2026".into()),
            outcome: Some("accolto".into()),
            reopen_window_days: 60,
            channel: Some("email".into()),
            kind: Some("reclamo".into()),
            category: Some("TEM.02".into()),
            service: Some("Pronto Soccorso".into()),
            link: Some("http://localhost/reclami/URP-2026-000001".into()),
            citizen_link: Some("http://localhost/pratica/0123456789abcdef".into()),
            citizen_email: Some("maria@example.test".into()),
            referente: Some("Dott. Bianchi (Direttore UO)".into()),
            request_tag: Some("[URP-2026-000001 R1]".into()),
            request_due_date: Some("22/01/2026".into()),
            request_sent_date: Some("15/01/2026".into()),
            request_text: Some("> Richiesta".into()),
            report_from: Some("Dott. Bianchi <bianchi@hospital.test>".into()),
            deadline_change: Some("extended".into()),
            deadline_reason: Some("Caso complesso".into()),
            digest_scope: Some("own".into()),
            digest_overdue: Some("  URP-2026-000001".into()),
            digest_due: None,
            digest_overdue_count: 1,
            digest_due_count: 0,
            remind_days: 7,
        };
        for &kind in MailKind::ALL {
            templates.render(kind, &sample).with_context(|| {
                format!(
                    "template {kind}.txt{}",
                    dir.map(|d| format!(" in {}", d.display()))
                        .unwrap_or_default()
                )
            })?;
        }
        Ok(templates)
    }

    /// Renders `kind`: the subject (one line, whatever the variables hold) and the body.
    ///
    /// The two are separate templates, split from the file's source at load: the subject is
    /// never looked for in rendered text, where a variable could have put a line of its own.
    pub fn render(&self, kind: MailKind, vars: &MailVars) -> Result<(String, String)> {
        let render = |part: &str| -> Result<String> {
            self.env
                .get_template(&format!("{kind}.{part}"))
                .map_err(|e| anyhow!("{e}"))?
                .render(vars)
                .map_err(|e| anyhow!("{e:#}"))
        };
        let subject = crate::mail::one_line(&render("subject")?, MAX_SUBJECT_CHARS);
        Ok((subject, render("body")?))
    }
}

/// Renders an administrator's answer model (issue 19) with the mail templates' variables. The
/// environment is strict like the templates': a misspelt variable is an error the model's form
/// shows, not a blank in an answer.
pub fn render_text(source: &str, vars: &MailVars) -> Result<String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.render_str(source, vars).map_err(|e| anyhow!("{e:#}"))
}

/// A rendered subject longer than this is cut (the citizen's own subject is already at most
/// [`crate::mail::MAX_LINE_CHARS`]; the template adds its words and the ticket number).
pub(crate) const MAX_SUBJECT_CHARS: usize = 300;

/// A template file's source: its first line `Subject: …`, then (after one blank line) the body.
fn split_source(source: &str) -> Result<(String, String)> {
    let (first, body) = source.split_once('\n').unwrap_or((source, ""));
    let Some(subject) = first.trim_end_matches('\r').strip_prefix("Subject:") else {
        bail!("the first line must be `Subject: …`, found {first:?}");
    };
    let body = body
        .strip_prefix('\n')
        .or_else(|| body.strip_prefix("\r\n"))
        .unwrap_or(body);
    if body.trim().is_empty() {
        bail!("the template has no body after its Subject: line");
    }
    Ok((subject.trim().to_string(), body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_templates_render() {
        let t = Templates::load(None).unwrap();
        let vars = MailVars {
            number: "URP-2026-000007".into(),
            subject: "Attesa".into(),
            due_date: "01/02/2026".into(),
            ..Default::default()
        };
        let (subject, body) = t.render(MailKind::Ack, &vars).unwrap();
        assert_eq!(subject, "Conferma di ricezione: Attesa");
        assert!(body.starts_with("Gentile utente,"), "{body}");
        assert!(body.contains("URP-2026-000007") && body.contains("01/02/2026"));
    }

    /// Issue 11, finding 1: a subject that decodes to several lines wrote the start of the
    /// hospital's own mail (the first rendered line was taken as the subject).
    #[test]
    fn a_subject_with_line_breaks_stays_in_the_subject() {
        let t = Templates::load(None).unwrap();
        let vars = MailVars {
            number: "URP-2026-000007".into(),
            subject: "Attesa\nATTENZIONE paghi su http://evil.test/pay\nApri la pratica: http://evil.test/login".into(),
            due_date: "01/02/2026".into(),
            link: Some("http://127.0.0.1:8080/reclami/URP-2026-000007".into()),
            ..Default::default()
        };
        for (kind, first_body_line) in [
            (MailKind::Ack, "Gentile utente,"),
            (MailKind::NewTicket, "È arrivata una nuova pratica."),
        ] {
            let (subject, body) = t.render(kind, &vars).unwrap();
            assert!(!subject.contains(['\n', '\r']), "{kind}: {subject:?}");
            assert!(
                subject.contains("Attesa ATTENZIONE paghi"),
                "{kind}: {subject:?}"
            );
            assert_eq!(body.lines().next(), Some(first_body_line), "{kind}: {body}");
        }
    }

    #[test]
    fn a_hospital_template_overrides_and_a_broken_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ack.txt"),
            "Subject: Ricevuto {{ number }}\n\nGrazie.\n",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let (subject, body) = t
            .render(
                MailKind::Ack,
                &MailVars {
                    number: "N".into(),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(
            (subject.as_str(), body.as_str()),
            ("Ricevuto N", "Grazie.\n")
        );

        std::fs::write(dir.path().join("closed.txt"), "Subject: x\n\n{{ esito }}\n").unwrap();
        let e = format!("{:#}", Templates::load(Some(dir.path())).err().unwrap());
        assert!(e.contains("closed.txt") && e.contains("esito"), "{e}");
        std::fs::write(dir.path().join("closed.txt"), "no subject line\n\nx\n").unwrap();
        let e = format!("{:#}", Templates::load(Some(dir.path())).err().unwrap());
        assert!(e.contains("Subject"), "{e}");
    }
}
