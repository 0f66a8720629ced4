//! The page frame and the small pieces every page uses: Italian dates and numbers, labels,
//! state badges. Every string from a citizen goes through maud's escaping; nothing here uses
//! `PreEscaped` on data.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};

use super::auth::Session;
use crate::domain::time::{self, Deadline};
use crate::domain::{Channel, Kind, Role, State};
use crate::texts;

/// Which part of the site a page belongs to (the navigation marks it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Dashboard,
    Tickets,
    Stats,
    Admin,
}

pub fn page(session: &Session, section: Section, title: &str, body: Markup) -> Markup {
    frame(session, section, title, title, body)
}

/// The page frame with a document title (`<title>`) that differs from its heading: "Errore: …"
/// when a form came back with errors (see `super::feedback`).
pub fn frame(
    session: &Session,
    section: Section,
    doc_title: &str,
    title: &str,
    body: Markup,
) -> Markup {
    let nav_item = |s: Section, href: &str, label: &str| {
        html! {
            li {
                @if s == section {
                    a href=(href) aria-current="page" { (label) }
                } @else {
                    a href=(href) { (label) }
                }
            }
        }
    };
    html! {
        (DOCTYPE)
        html lang="it" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (doc_title) " · ascolto" }
                link rel="stylesheet" href="/static/ascolto.css";
            }
            body {
                a.skip href="#contenuto" { "Vai al contenuto" }
                header.top {
                    nav aria-label="Navigazione principale" {
                        span.brand { "ascolto" }
                        ul {
                            (nav_item(Section::Dashboard, "/", "Cruscotto"))
                            (nav_item(Section::Tickets, "/reclami", "Reclami"))
                            (nav_item(Section::Stats, "/statistiche", "Statistiche"))
                            @if session.is_admin() {
                                (nav_item(Section::Admin, "/amministrazione", "Amministrazione"))
                            }
                        }
                    }
                    div.who {
                        @if session.actor.role == Role::Viewer {
                            span title=(texts::viewer_scope(session.sees_content)) {
                                (session.actor.name) " · " (texts::viewer_badge(session.sees_content))
                            }
                        } @else {
                            span { (session.actor.name) " · " (texts::role(session.actor.role)) }
                        }
                        span.expiry { (session_expiry(session)) }
                        form method="post" action="/esci" {
                            (csrf(session))
                            button.link type="submit" { "Esci" }
                        }
                    }
                }
                main #contenuto tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// When the session ends if this page is the last one opened: the minutes of idleness are
/// counted from this request (it refreshed the session).
fn session_expiry(session: &Session) -> String {
    let at = time::rome_datetime(session.idle_until);
    let hhmm = at.rsplit(' ').next().unwrap_or(&at);
    texts::session_expiry(hhmm, session.idle_minutes)
}

/// The hidden CSRF field every form carries.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="_csrf" value=(session.csrf); }
}

/// The sign-in page; `notice` says why the person is here (an answer kept as a draft).
pub fn login_page(
    office: &str,
    token: &str,
    dopo: &str,
    error: Option<&str>,
    notice: Option<&str>,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="it" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Accesso · ascolto" }
                link rel="stylesheet" href="/static/ascolto.css";
            }
            body {
                main.login #contenuto {
                    h1 { "ascolto" }
                    p { (office) }
                    @if let Some(e) = error {
                        p.error role="alert" { (e) }
                    }
                    @if let Some(n) = notice {
                        p.notice role="status" { (n) }
                    }
                    form method="post" action="/accedi" {
                        input type="hidden" name="_csrf" value=(token);
                        input type="hidden" name="dopo" value=(dopo);
                        p {
                            label for="email" { "Email" }
                            input #email type="email" name="email" autocomplete="username" required autofocus;
                        }
                        p {
                            label for="password" { "Password" }
                            input #password type="password" name="password" autocomplete="current-password" required;
                        }
                        button type="submit" { "Accedi" }
                    }
                }
            }
        }
    }
}

/// A page with one message, for errors and refusals; it needs no session.
pub fn message_page(status: StatusCode, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="it" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Errore " (status.as_u16()) " · ascolto" }
                link rel="stylesheet" href="/static/ascolto.css";
            }
            body {
                main.login #contenuto {
                    h1 { "ascolto" }
                    p.error role="alert" { (message) }
                    p { a href="/" { "Torna al cruscotto" } }
                }
            }
        }
    }
}

/// A kind, or "Non indicata" when the ticket has none yet.
pub fn kind_label(kind: Option<Kind>) -> &'static str {
    kind.map(texts::kind).unwrap_or("Non indicata")
}

/// After a ticket's number or date: how it came, when that is worth a mark.
pub fn channel_mark(channel: Channel) -> Markup {
    match channel {
        Channel::Pec => html! { " " abbr.pec title="Posta elettronica certificata" { "PEC" } },
        Channel::Email => html! {},
        Channel::Web | Channel::Telefono | Channel::Sportello | Channel::Lettera => {
            html! { " " span.channel { (texts::channel(channel)) } }
        }
    }
}

/// How a list names a citizen: their name, else their address; a citizen without e-mail
/// (issue 15) is never named by the placeholder address.
pub fn citizen_label(name: Option<&str>, email: &str) -> String {
    match name {
        Some(n) if !n.trim().is_empty() => n.to_string(),
        _ if crate::domain::address::has_email(email) => email.to_string(),
        _ => texts::NO_EMAIL.to_string(),
    }
}

pub fn state_badge(state: State) -> Markup {
    html! { span class={"badge state-" (state)} { (texts::state(state)) } }
}

/// "31/03/2026 23:30", Europe/Rome.
pub fn datetime(t: DateTime<Utc>) -> String {
    time::rome_datetime(t)
}

/// A stored RFC 3339 time, formatted; unreadable text is shown as is.
pub fn stored_datetime(s: &str) -> String {
    time::stored_rome_datetime(s)
}

/// 1234567 → "1.234.567".
pub fn number(n: i64) -> String {
    texts::number(n)
}

/// A size in bytes as people read it: "12,3 kB".
pub fn size(bytes: i64) -> String {
    let b = bytes as f64;
    if b < 1000.0 {
        format!("{bytes} B")
    } else if b < 1_000_000.0 {
        format!("{:.1} kB", b / 1000.0).replace('.', ",")
    } else {
        format!("{:.1} MB", b / 1_000_000.0).replace('.', ",")
    }
}

/// Days left to the deadline, or late, for a ticket not yet answered.
pub fn deadline_cell(due_at: DateTime<Utc>, answered: bool, state: State) -> Markup {
    if answered || !state.is_open() {
        return html! { span.muted { "risposto" } };
    }
    match time::deadline(due_at, Utc::now()) {
        Deadline::Overdue { days } => html! {
            span.overdue { "scaduto da " (days) (if days == 1 { " giorno" } else { " giorni" }) }
        },
        Deadline::DueSoon { days } => html! {
            span.duesoon { (days) (if days == 1 { " giorno" } else { " giorni" }) }
        },
        Deadline::OnTime { days } => html! { span { (days) " giorni" } },
    }
}

/// At most `max` characters of `s`, cut on a character boundary and marked with "…" when
/// anything was left out: what lists show of subjects, names and addresses.
pub fn clip(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]).into(),
        None => s.into(),
    }
}

/// Percent-encodes a query-string value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn italian_numbers_and_sizes() {
        assert_eq!(number(0), "0");
        assert_eq!(number(999), "999");
        assert_eq!(number(1000), "1.000");
        assert_eq!(number(1234567), "1.234.567");
        assert_eq!(size(12_345), "12,3 kB");
    }

    #[test]
    fn long_texts_are_clipped_on_character_boundaries() {
        assert_eq!(clip("breve", 10), "breve");
        assert_eq!(clip("esattamente", 11), "esattamente");
        assert_eq!(clip("più lungo", 3), "più…");
        let huge = "è".repeat(1_000_000);
        let clipped = clip(&huge, 200);
        assert_eq!(clipped.chars().count(), 201);
        assert!(clipped.ends_with("è…"));
        assert_eq!(clip("🙂🙂🙂", 2), "🙂🙂…");
    }

    #[test]
    fn dates_are_shown_in_rome_time() {
        let t: DateTime<Utc> = "2026-03-31T23:30:00Z".parse().unwrap();
        assert_eq!(datetime(t), "01/04/2026 01:30");
    }
}

/// Whether search engines may list a public page: the complaint form yes, a citizen's own page
/// never.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Robots {
    Index,
    NoIndex,
}

/// The frame of the pages the public reaches without signing in (`/segnala`, `/pratica/…`):
/// the office's name, no backoffice navigation.
pub fn public_frame(office: &str, title: &str, body: Markup, robots: Robots) -> Markup {
    html! {
        (DOCTYPE)
        html lang="it" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if robots == Robots::NoIndex { meta name="robots" content="noindex"; }
                title { (title) " · " (office) }
                link rel="stylesheet" href="/static/ascolto.css";
            }
            body.public {
                a.skip href="#contenuto" { "Vai al contenuto" }
                header { p { (office) } }
                main #contenuto { h1 { (title) } (body) }
            }
        }
    }
}
