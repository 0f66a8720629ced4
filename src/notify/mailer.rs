//! Where mail goes: an SMTP server, a folder of `.eml` files (for trying ascolto without a
//! server), or memory (unit tests).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{MailBackend, Security, SmtpConfig};
pub use crate::domain::Outgoing;
use crate::metrics::Metrics;

/// How long one SMTP conversation may take before it counts as failed (and is retried).
const SMTP_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        advice: Advice,
        /// With `[smtp.oauth2]`: the transport is rebuilt with each new token.
        oauth: Option<Arc<SmtpOAuth>>,
    },
    File(PathBuf),
    Memory(Arc<Mutex<Vec<Vec<u8>>>>),
}

/// Submission with OAuth2 access tokens (SASL XOAUTH2).
pub struct SmtpOAuth {
    tokens: crate::oauth::TokenSource,
    username: String,
    config: SmtpConfig,
    /// The transport signed in with the token it was built with.
    current: tokio::sync::Mutex<Option<(String, AsyncSmtpTransport<Tokio1Executor>)>>,
    /// Where whether a token could be had is kept, for `/healthz`.
    metrics: Arc<Metrics>,
}

/// An SMTP failure, explained; `permanent` for a 5xx refusal.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub permanent: bool,
    pub message: String,
}

/// Facts about the SMTP settings that turn an error into advice.
#[derive(Clone, Debug)]
pub struct Advice {
    host: String,
    port: u16,
    security: Security,
}

/// `Auto-Submitted: auto-replied` (RFC 3834) on every automatic mail.
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-replied".into())
    }
}

impl Mailer {
    /// The mailer `[smtp]` asks for; with `[smtp.oauth2]` it tells `metrics` whether tokens
    /// can be had.
    pub fn from_config(c: &SmtpConfig, metrics: Arc<Metrics>) -> Result<Mailer> {
        Ok(match c.backend {
            MailBackend::File => Mailer::File(c.file_dir.clone()),
            MailBackend::Smtp => Mailer::Smtp {
                transport: transport(c, None)?,
                advice: Advice {
                    host: c.host.clone(),
                    port: c.port,
                    security: c.security,
                },
                oauth: c.oauth2.as_ref().map(|o| {
                    Arc::new(SmtpOAuth {
                        tokens: crate::oauth::TokenSource::new(o.clone()),
                        username: c.username.clone().unwrap_or_default(),
                        config: c.clone(),
                        current: tokio::sync::Mutex::new(None),
                        metrics,
                    })
                }),
            },
        })
    }

    pub fn memory() -> (Mailer, Arc<Mutex<Vec<Vec<u8>>>>) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        (Mailer::Memory(sent.clone()), sent)
    }

    /// Sends one mail; the error says what to check.
    pub async fn send(&self, from: &Mailbox, mail: &Outgoing) -> Result<()> {
        let message = build(from, mail)?;
        match self {
            Mailer::Smtp {
                transport,
                advice,
                oauth: None,
            } => {
                transport.send(message).await.map_err(|e| SendError {
                    permanent: e.is_permanent(),
                    message: advice.explain(&e),
                })?;
            }
            Mailer::Smtp {
                advice,
                oauth: Some(oauth),
                ..
            } => {
                // A token that cannot be had is a passing failure: the mail waits and is retried.
                let token = oauth.tokens.token().await;
                oauth.metrics.smtp_token(token.is_ok());
                let token = token.map_err(|e| SendError {
                    permanent: false,
                    message: format!("SMTP sign-in as {:?}: {e:#}", oauth.username),
                })?;
                let transport = {
                    let mut current = oauth.current.lock().await;
                    match current.as_ref() {
                        Some((t, transport)) if *t == token => transport.clone(),
                        _ => {
                            let transport = transport(&oauth.config, Some(&token))?;
                            *current = Some((token.clone(), transport.clone()));
                            transport
                        }
                    }
                };
                if let Err(e) = transport.send(message).await {
                    // 535: the token was refused; the next attempt gets a new one. Never a
                    // permanent failure: the citizen's mail is not at fault.
                    let refused = e.status().is_some_and(|c| c.to_string().starts_with("535"));
                    if refused {
                        oauth.tokens.forget().await;
                        *oauth.current.lock().await = None;
                    }
                    return Err(SendError {
                        permanent: e.is_permanent() && !refused,
                        message: advice.explain(&e),
                    }
                    .into());
                }
            }
            Mailer::File(dir) => {
                crate::private_files::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                // Named by Message-ID: sending again (at least once) rewrites the same file.
                let name: String = mail
                    .message_id
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || "._-@".contains(c) {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let tmp = dir.join(format!(".{name}.tmp"));
                // A mail to a citizen is health data: 0600 whatever the umask.
                crate::private_files::write(&tmp, &message.formatted())?;
                std::fs::rename(&tmp, dir.join(format!("{name}.eml")))?;
            }
            Mailer::Memory(sent) => sent
                .lock()
                .expect("memory mailer lock")
                .push(message.formatted()),
        }
        Ok(())
    }
}

/// The SMTP transport of `c`: signing in with its password, or with `token` (XOAUTH2) when
/// given.
fn transport(c: &SmtpConfig, token: Option<&str>) -> Result<AsyncSmtpTransport<Tokio1Executor>> {
    let tls_params = || -> Result<TlsParameters> {
        let mut b = TlsParameters::builder(c.host.clone());
        if let Some(ca) = &c.ca_file {
            let pem = std::fs::read(ca)
                .with_context(|| format!("key `smtp.ca_file`: cannot read {}", ca.display()))?;
            b = b.add_root_certificate(Certificate::from_pem(&pem).context("key `smtp.ca_file`")?);
        }
        Ok(b.build_rustls()?)
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(c.host.clone())
        .port(c.port)
        .timeout(Some(SMTP_TIMEOUT));
    builder = match c.security {
        Security::None => builder.tls(Tls::None),
        Security::Starttls => builder.tls(Tls::Required(tls_params()?)),
        Security::Tls => builder.tls(Tls::Wrapper(tls_params()?)),
    };
    if let (Some(user), Some(password)) = (&c.username, &c.password) {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose().to_string(),
        ));
    }
    if let (Some(user), Some(token)) = (&c.username, token) {
        builder = builder
            .credentials(Credentials::new(user.clone(), token.to_string()))
            .authentication(vec![Mechanism::Xoauth2]);
    }
    Ok(builder.build())
}

fn build(from: &Mailbox, mail: &Outgoing) -> Result<Message> {
    let to: Mailbox = mail
        .to
        .parse()
        .with_context(|| format!("{:?} is not a valid recipient", mail.to))?;
    let mut b = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .message_id(Some(format!("<{}>", mail.message_id)));
    if let Some(irt) = &mail.in_reply_to {
        b = b.in_reply_to(irt.clone());
    }
    if let Some(refs) = &mail.refs {
        b = b.references(refs.clone());
    }
    if mail.automatic {
        b = b.header(AutoSubmitted);
    }
    if mail.attachments.is_empty() {
        return Ok(b.header(ContentType::TEXT_PLAIN).body(mail.body.clone())?);
    }
    // An answer with files (issue 19): the text first, then each file as sent, base64.
    let mut parts = lettre::message::MultiPart::mixed()
        .singlepart(lettre::message::SinglePart::plain(mail.body.clone()));
    for f in &mail.attachments {
        let content_type = ContentType::parse(&f.content_type).unwrap_or_else(|_| {
            ContentType::parse("application/octet-stream").expect("a valid type")
        });
        parts = parts.singlepart(
            lettre::message::Attachment::new(f.filename.clone())
                .body(f.bytes.clone(), content_type),
        );
    }
    Ok(b.multipart(parts)?)
}

impl Advice {
    /// The error, with the usual mistake spelled out where it applies.
    pub fn explain(&self, e: &lettre::transport::smtp::Error) -> String {
        let text = format!("{e}");
        let hint = match (self.port, self.security) {
            (465, s) if s != Security::Tls => Some("port 465 wants security = \"tls\" (TLS from the first byte)"),
            (587, s) if s != Security::Starttls => Some("port 587 wants security = \"starttls\""),
            _ if text.contains("onnection refused") => Some("nothing answers at that host and port: check [smtp] host and port"),
            _ if e.is_permanent() && text.contains("535") => Some("the server refused the username or password"),
            _ if e.is_timeout() => Some("the server did not answer in time: check the host, the port and any firewall"),
            _ if e.is_tls() => Some("the TLS handshake failed: check security (tls for 465, starttls for 587) and ca_file"),
            _ => None,
        };
        match hint {
            Some(h) => format!("SMTP {}:{}: {text} — {h}", self.host, self.port),
            None => format!("SMTP {}:{}: {text}", self.host, self.port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn automatic_mail_carries_auto_submitted_and_threading_headers() {
        let (mailer, sent) = Mailer::memory();
        let from: Mailbox = "URP <urp@hospital.test>".parse().unwrap();
        let mail = Outgoing {
            to: "maria@example.test".into(),
            subject: "[URP-2026-000001] Conferma di ricezione: Attesa".into(),
            body: "Gentile utente, è stata registrata.".into(),
            message_id: "ascolto.URP-2026-000001.x.y@hospital.test".into(),
            in_reply_to: Some("<orig@example.test>".into()),
            refs: Some("<orig@example.test>".into()),
            automatic: true,
            attachments: Vec::new(),
        };
        mailer.send(&from, &mail).await.unwrap();
        let raw = String::from_utf8(sent.lock().unwrap()[0].clone()).unwrap();
        assert!(raw.contains("Auto-Submitted: auto-replied"), "{raw}");
        assert!(
            raw.contains("Message-ID: <ascolto.URP-2026-000001.x.y@hospital.test>"),
            "{raw}"
        );
        assert!(raw.contains("In-Reply-To: <orig@example.test>"), "{raw}");
        // Parsed back, the Italian text survives the transfer encoding.
        let parsed = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        assert_eq!(
            parsed.subject(),
            Some("[URP-2026-000001] Conferma di ricezione: Attesa")
        );
        assert!(parsed.body_text(0).unwrap().contains("è stata registrata"));

        mailer
            .send(
                &from,
                &Outgoing {
                    automatic: false,
                    ..mail
                },
            )
            .await
            .unwrap();
        let raw = String::from_utf8(sent.lock().unwrap()[1].clone()).unwrap();
        assert!(
            !raw.contains("Auto-Submitted"),
            "an operator's answer is not automatic"
        );
    }
}
