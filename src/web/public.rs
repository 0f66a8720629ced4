//! The public complaint form, `/segnala` (issue 15; `[public] form = true`): server-rendered,
//! no JavaScript, in Italian, for anyone. It creates a `web` ticket and the usual
//! acknowledgement; the citizen's address counts as confirmed once they open the link in it.
//!
//! Abuse is met before anything is stored ([`Gate`]): a signed form token (HMAC-SHA256 over
//! the time it was served and a nonce, with a key made at start) that must be at least
//! `min_fill_secs` old, at most [`TOKEN_LIFE`], and used once; a honeypot field people never
//! see; and limits per client address and for everyone, per hour. A refusal stores nothing.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State as AppState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use maud::{html, Markup};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config::PublicConfig;
use crate::domain::{Channel, Kind};
use crate::intake::{self, NewComplaint, Numbering};
use crate::store::backoffice as q;
use crate::store::intake::CitizenDetails;
use crate::texts;
use crate::web::auth::client_address;
use crate::web::ui::{self, Robots};
use crate::web::{form_id, multipart, App, WebError, WebResult};
use crate::workflow::{self, WorkflowError};

/// How long a served form may wait before it is sent (a long complaint, written slowly).
const TOKEN_LIFE: Duration = Duration::from_secs(2 * 3600);
const HOUR: Duration = Duration::from_secs(3600);
/// The honeypot's name: a field a form-filling script fills and a person never sees.
const HONEYPOT: &str = "sito_web";

/// Why the form was refused before anything was stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No token, a forged or expired one, or one already used.
    BadToken,
    /// Sent back faster than a person writes.
    TooFast,
    /// The honeypot was filled.
    Honeypot,
    /// This address sent too many, or everyone together did.
    TooMany,
}

/// The form's settings and what it remembers: the token key, the tokens used, the
/// submissions of the last hour.
pub struct Gate {
    settings: PublicConfig,
    key: [u8; 32],
    used: Mutex<HashMap<String, SystemTime>>,
    per_address: Mutex<HashMap<IpAddr, VecDeque<SystemTime>>>,
    everyone: Mutex<VecDeque<SystemTime>>,
}

fn hmac(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    let mut inner = Sha256::new();
    let mut outer = Sha256::new();
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Gate {
    pub fn new(settings: PublicConfig) -> Gate {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source failed");
        Gate {
            settings,
            key,
            used: Mutex::default(),
            per_address: Mutex::default(),
            everyone: Mutex::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.settings.form
    }

    /// A token for a form served at `now`: `TIME.NONCE.MAC`.
    pub fn token(&self, now: SystemTime) -> String {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let body = format!("{}.{}", secs(now), hex::encode(nonce));
        let mac = hex::encode(hmac(&self.key, body.as_bytes()));
        format!("{body}.{mac}")
    }

    /// Checks a token sent back at `now`; a good one is spent.
    fn spend(&self, token: &str, now: SystemTime) -> Result<(), Refusal> {
        let (body, mac) = token.rsplit_once('.').ok_or(Refusal::BadToken)?;
        let expected = hex::encode(hmac(&self.key, body.as_bytes()));
        if !crate::web::auth::constant_time_eq(mac, &expected) {
            return Err(Refusal::BadToken);
        }
        let served: u64 = body
            .split('.')
            .next()
            .and_then(|t| t.parse().ok())
            .ok_or(Refusal::BadToken)?;
        let age = secs(now).saturating_sub(served);
        if age > TOKEN_LIFE.as_secs() {
            return Err(Refusal::BadToken);
        }
        if age < u64::from(self.settings.min_fill_secs) {
            return Err(Refusal::TooFast);
        }
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        used.retain(|_, at| now.duration_since(*at).unwrap_or_default() < TOKEN_LIFE);
        if used.insert(body.to_string(), now).is_some() {
            return Err(Refusal::BadToken);
        }
        Ok(())
    }

    /// Counts one submission from `ip`, unless this address or everyone is over the limit.
    fn admit(&self, ip: IpAddr, now: SystemTime) -> Result<(), Refusal> {
        let recent = |q: &mut VecDeque<SystemTime>| {
            while q
                .front()
                .is_some_and(|t| now.duration_since(*t).unwrap_or_default() >= HOUR)
            {
                q.pop_front();
            }
        };
        let mut everyone = self.everyone.lock().unwrap_or_else(PoisonError::into_inner);
        let mut per = self
            .per_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        recent(&mut everyone);
        per.retain(|_, q| {
            recent(q);
            !q.is_empty()
        });
        let mine = per.entry(ip).or_default();
        if mine.len() >= self.settings.per_address_per_hour as usize
            || everyone.len() >= self.settings.global_per_hour as usize
        {
            return Err(Refusal::TooMany);
        }
        mine.push_back(now);
        everyone.push_back(now);
        Ok(())
    }

    /// Every check that needs no database, in order; nothing is counted for a refused form
    /// but the address's submission.
    pub fn check(
        &self,
        token: &str,
        honeypot: &str,
        ip: IpAddr,
        now: SystemTime,
    ) -> Result<(), Refusal> {
        if !honeypot.is_empty() {
            return Err(Refusal::Honeypot);
        }
        self.spend(token, now)?;
        self.admit(ip, now)
    }
}

/// The form's fields, as sent.
#[derive(Debug, Default, Deserialize)]
pub struct PublicForm {
    #[serde(default)]
    _token: String,
    #[serde(default)]
    sito_web: String,
    #[serde(default)]
    nome: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    telefono: String,
    #[serde(default)]
    indirizzo: String,
    #[serde(default)]
    delegato: String,
    #[serde(default)]
    interessato: String,
    #[serde(default)]
    tipologia: String,
    #[serde(default)]
    servizio: String,
    #[serde(default)]
    oggetto: String,
    #[serde(default)]
    testo: String,
    #[serde(default)]
    consenso: String,
}

fn form_page(app: &App, services: &[q::Service], f: &PublicForm, errors: &[&str]) -> Markup {
    let gate = &app.public;
    let notice = match gate.settings.privacy_notice.trim() {
        "" => texts::privacy_notice(&app.settings.office_name),
        n => n.to_string(),
    };
    let body = html! {
        @if !errors.is_empty() {
            div.error role="alert" {
                p { "Il modulo non è stato inviato:" }
                ul { @for e in errors { li { (e) } } }
            }
        }
        p { (texts::PUBLIC_FORM_INTRO) }
        form.stack method="post" action="/segnala" enctype="multipart/form-data" {
            input type="hidden" name="_token" value=(gate.token(SystemTime::now()));
            fieldset {
                legend { "Chi scrive" }
                p { label for="nome" { "Nome e cognome (obbligatorio)" } input #nome type="text" name="nome" required aria-required="true" autocomplete="name" value=(f.nome); }
                p { label for="email" { "E-mail (riceverà il numero della pratica e un link per seguirla)" } input #email type="email" name="email" autocomplete="email" value=(f.email); }
                p { label for="telefono" { "Telefono" } input #telefono type="tel" name="telefono" autocomplete="tel" value=(f.telefono); }
                p { label for="indirizzo" { "Indirizzo postale" } textarea #indirizzo name="indirizzo" rows="2" autocomplete="street-address" { (f.indirizzo) } }
                p { label for="delegato" { "Se scrive per conto di un'altra persona: il Suo nome" } input #delegato type="text" name="delegato" value=(f.delegato); }
                p { label for="interessato" { "… e il nome della persona interessata" } input #interessato type="text" name="interessato" value=(f.interessato); }
            }
            // A field people never see (hidden by the stylesheet, skipped by screen readers).
            p.honeypot aria-hidden="true" {
                label for=(HONEYPOT) { "Non compilare questo campo" }
                input id=(HONEYPOT) type="text" name=(HONEYPOT) tabindex="-1" autocomplete="off";
            }
            fieldset {
                legend { "La segnalazione" }
                p {
                    label for="tipologia" { "Di che cosa si tratta" }
                    select #tipologia name="tipologia" {
                        @for &k in Kind::ALL {
                            option value=(k) selected[f.tipologia == k.as_str()] { (texts::kind(k)) }
                        }
                    }
                }
                p {
                    label for="servizio" { "Servizio o reparto interessato" }
                    select #servizio name="servizio" {
                        option value="" { "Non so / nessuno in particolare" }
                        @for sv in services.iter().filter(|s| s.active) {
                            option value=(sv.id) selected[f.servizio == sv.id.to_string()] { (sv.name) }
                        }
                    }
                }
                p { label for="oggetto" { "Oggetto" } input #oggetto type="text" name="oggetto" maxlength="200" value=(f.oggetto); }
                p { label for="testo" { "Testo (obbligatorio)" } textarea #testo name="testo" rows="10" required aria-required="true" { (f.testo) } }
                p {
                    label for="allegati" { "Allegati (facoltativi: documenti o foto, fino a 10 file, 12 MB in tutto)" }
                    input #allegati type="file" name="allegati" multiple;
                }
            }
            fieldset {
                legend { "Informativa sulla privacy" }
                p.notice { (notice) }
                p {
                    input #consenso type="checkbox" name="consenso" value="1" required aria-required="true";
                    " "
                    label for="consenso" { (texts::PUBLIC_CONSENT) }
                }
            }
            p.buttons { button type="submit" { "Invia la segnalazione" } }
        }
    };
    ui::public_frame(
        &app.settings.office_name,
        "Segnalazione all'URP",
        body,
        Robots::Index,
    )
}

async fn services(app: &App) -> WebResult<Vec<q::Service>> {
    Ok(app.readers.read(q::services).await?)
}

pub async fn page(AppState(app): AppState<App>) -> WebResult<Markup> {
    if !app.public.enabled() {
        return Err(WebError::NotFound);
    }
    let services = services(&app).await?;
    Ok(form_page(&app, &services, &PublicForm::default(), &[]))
}

fn refused(app: &App, status: StatusCode, message: &str) -> Response {
    let body =
        html! { p.error role="alert" { (message) } p { a href="/segnala" { "Torna al modulo" } } };
    (
        status,
        ui::public_frame(
            &app.settings.office_name,
            "Segnalazione non inviata",
            body,
            Robots::Index,
        ),
    )
        .into_response()
}

pub async fn submit(
    AppState(app): AppState<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> WebResult<Response> {
    if !app.public.enabled() {
        return Err(WebError::NotFound);
    }
    let (f, files): (PublicForm, _) = multipart::form(&headers, &body)?;
    let ip = client_address(peer.ip(), &headers, &app.settings.trusted_proxies);
    if let Err(r) = app
        .public
        .check(&f._token, &f.sito_web, ip, SystemTime::now())
    {
        tracing::warn!(refusal = ?r, "public form refused");
        let (status, text) = match r {
            Refusal::BadToken | Refusal::Honeypot => {
                (StatusCode::FORBIDDEN, texts::PUBLIC_BAD_TOKEN)
            }
            Refusal::TooFast => (StatusCode::FORBIDDEN, texts::PUBLIC_TOO_FAST),
            Refusal::TooMany => (StatusCode::TOO_MANY_REQUESTS, texts::PUBLIC_TOO_MANY),
        };
        return Ok(refused(&app, status, text));
    }
    let mut errors: Vec<&str> = Vec::new();
    if f.nome.trim().is_empty() {
        errors.push(texts::PUBLIC_NAME_MISSING);
    }
    if f.testo.trim().is_empty() {
        errors.push(texts::PUBLIC_TEXT_MISSING);
    }
    if f.email.trim().is_empty() && f.telefono.trim().is_empty() && f.indirizzo.trim().is_empty() {
        errors.push(texts::PUBLIC_CONTACT_MISSING);
    }
    if !f.email.trim().is_empty() && !intake::plausible_email(f.email.trim()) {
        errors.push(texts::PUBLIC_BAD_EMAIL);
    }
    if !crate::web::form_flag(Some(f.consenso.as_str())) {
        errors.push(texts::PUBLIC_CONSENT_MISSING);
    }
    let kind: Option<Kind> = f.tipologia.trim().parse().ok();
    let service_id = form_id(&f.servizio).unwrap_or(None);
    if !errors.is_empty() {
        let services = services(&app).await?;
        let page = form_page(&app, &services, &f, &errors);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let email = Some(f.email.trim().to_string()).filter(|e| !e.is_empty());
    let complaint = NewComplaint {
        channel: Channel::Web,
        received_at: Utc::now(),
        name: Some(f.nome),
        details: CitizenDetails {
            phone: Some(f.telefono),
            postal_address: Some(f.indirizzo),
            delegate: Some(f.delegato),
            concerned: Some(f.interessato),
            email_unconfirmed: email.is_some(),
        },
        email,
        subject: f.oggetto,
        text: f.testo,
        kind,
        category_id: None,
        service_id,
        attachments: files,
    };
    let numbering = Numbering {
        prefix: app.settings.number_prefix.clone(),
        deadline_days: app.settings.deadline_days,
    };
    let notifier = app.notifier.clone();
    let (pipeline, text) = (app.pipeline.clone(), complaint.text.clone());
    let has_email = complaint.email.is_some();
    let recorded = app
        .store
        .call(move |conn| {
            Ok(workflow::in_transaction(conn, |tx| {
                let recorded =
                    intake::record(tx, &notifier, &numbering, None, &complaint, Utc::now())?;
                // The routing rules fill what is still empty, as for mail.
                pipeline
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .classify_recorded(tx, recorded.0, &text)?;
                // … and then the operators with "riceve mail" hear of it, as of a new mail.
                notifier.to_operators(tx, recorded.0)?;
                Ok(recorded)
            }))
        })
        .await?;
    let (_, number) = match recorded {
        Ok(r) => r,
        Err(WorkflowError::Invalid(why)) => {
            return Ok(refused(
                &app,
                StatusCode::UNPROCESSABLE_ENTITY,
                texts::invalid_text(why),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let body = html! {
        p role="status" { "La Sua segnalazione è stata registrata con il numero " strong { (number) } "." }
        @if has_email {
            p { (texts::PUBLIC_CHECK_MAIL) }
        } @else {
            p { (texts::PUBLIC_NO_MAIL) }
        }
    };
    Ok(ui::public_frame(
        &app.settings.office_name,
        "Segnalazione ricevuta",
        body,
        Robots::Index,
    )
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(min_fill: u32, per_address: u32, global: u32) -> Gate {
        Gate::new(PublicConfig {
            form: true,
            per_address_per_hour: per_address,
            global_per_hour: global,
            min_fill_secs: min_fill,
            ..PublicConfig::default()
        })
    }

    #[test]
    fn a_token_is_good_once_after_the_fill_time_and_before_it_expires() {
        let g = gate(5, 100, 100);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = SystemTime::now();
        let token = g.token(t0);
        assert_eq!(g.check(&token, "", ip, t0), Err(Refusal::TooFast));
        assert_eq!(
            g.check(&token, "x", ip, t0 + Duration::from_secs(6)),
            Err(Refusal::Honeypot)
        );
        assert_eq!(g.check(&token, "", ip, t0 + Duration::from_secs(6)), Ok(()));
        assert_eq!(
            g.check(&token, "", ip, t0 + Duration::from_secs(7)),
            Err(Refusal::BadToken),
            "used"
        );
        let old = g.token(t0);
        assert_eq!(
            g.check(&old, "", ip, t0 + TOKEN_LIFE + Duration::from_secs(1)),
            Err(Refusal::BadToken)
        );
        let mut forged = g.token(t0);
        forged.replace_range(0..1, "9");
        assert_eq!(
            g.check(&forged, "", ip, t0 + Duration::from_secs(6)),
            Err(Refusal::BadToken)
        );
        assert_eq!(g.check("", "", ip, t0), Err(Refusal::BadToken));
        let other = gate(5, 100, 100);
        assert_eq!(
            other.check(&g.token(t0), "", ip, t0 + Duration::from_secs(6)),
            Err(Refusal::BadToken)
        );
    }

    #[test]
    fn limits_per_address_and_for_everyone() {
        let g = gate(0, 2, 3);
        let t0 = SystemTime::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let c: IpAddr = "192.0.2.3".parse().unwrap();
        assert_eq!(g.check(&g.token(t0), "", a, t0), Ok(()));
        assert_eq!(g.check(&g.token(t0), "", a, t0), Ok(()));
        assert_eq!(g.check(&g.token(t0), "", a, t0), Err(Refusal::TooMany));
        assert_eq!(g.check(&g.token(t0), "", b, t0), Ok(()));
        assert_eq!(
            g.check(&g.token(t0), "", c, t0),
            Err(Refusal::TooMany),
            "everyone"
        );
        assert_eq!(
            g.check(&g.token(t0), "", a, t0 + HOUR),
            Ok(()),
            "an hour later"
        );
    }

    #[test]
    fn hmac_is_rfc_4231s() {
        // RFC 4231, test case 1: a 20-byte key (zero-padded, as HMAC pads it), "Hi There".
        let mut key = [0u8; 32];
        key[..20].fill(0x0b);
        assert_eq!(
            hex::encode(hmac(&key, b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }
}
