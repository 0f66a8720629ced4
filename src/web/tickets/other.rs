//! The ticket page's block about the citizen beyond the contact (issue 15): what a complaint
//! recorded by hand holds (phone, postal address, delegate, person concerned, an unconfirmed
//! address), the citizen's other tickets, and the answer printed as a letter.

use maud::{html, Markup};

use crate::domain::address::has_email;
use crate::store::intake::{self as sql, CitizenDetails, OtherTicket};
use crate::store::tickets::Ticket;
use crate::web::{ui, App, WebResult};

pub struct Citizen {
    details: Option<CitizenDetails>,
    others: Vec<OtherTicket>,
}

pub async fn read(app: &App, id: i64) -> WebResult<Citizen> {
    Ok(app
        .readers
        .read(move |conn| {
            Ok(Citizen {
                details: sql::details(conn, id)?,
                others: sql::other_tickets(conn, id)?,
            })
        })
        .await?)
}

pub fn section(t: &Ticket, c: &Citizen) -> Markup {
    let no_email = !has_email(&t.citizen.email);
    html! {
        @if let Some(d) = &c.details {
            dl.summary {
                @if let Some(p) = &d.phone { dt { "Telefono" } dd { (p) } }
                @if let Some(a) = &d.postal_address { dt { "Indirizzo postale" } dd { @for l in a.lines() { (l) br; } } }
                @if let Some(x) = &d.delegate { dt { "Delegato" } dd { (x) } }
                @if let Some(x) = &d.concerned { dt { "Persona interessata" } dd { (x) } }
                @if d.email_unconfirmed { dt { "E-mail" } dd { span.flag { "e-mail non confermata" } } }
            }
        }
        @if no_email {
            p.notice {
                "Il cittadino non ha indicato un indirizzo e-mail: nessuna mail gli viene inviata. "
                @if t.first_answered_at.is_some() {
                    a href={"/reclami/" (t.number) "/stampa"} { "Stampa la risposta come lettera" }
                }
            }
        }
        @if !c.others.is_empty() {
            details.others {
                summary { "Altre pratiche dello stesso cittadino (" (c.others.len()) ")" }
                ul {
                    @for o in &c.others {
                        li {
                            a href={"/reclami/" (o.number)} { (o.number) } " · "
                            (ui::stored_datetime(&o.received_at)) " · " (ui::state_badge(o.state)) " · "
                            (ui::clip(&o.subject, 120))
                        }
                    }
                }
            }
        }
    }
}
