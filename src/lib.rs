//! ascolto: the complaints desk (URP) of a hospital, from its mailbox to classified tickets.
//!
//! # Layout
//!
//! - [`domain`]: the vocabulary (states, kinds, channels, roles, actions, mail kinds, …) as
//!   enums with one stored spelling each; deadlines and Europe/Rome time; refusals.
//! - [`config`]: the typed, layered configuration (`config.toml` + `ASCOLTO__…` overrides).
//! - [`store`]: the SQLite database: schema, migrations, the single writer, and all SQL.
//! - [`mail`]: reading inbound mail: parsing, PEC envelopes, automatic mail, threading proofs.
//! - [`classify`]: the hospital's routing rules, compiled.
//! - [`learn`]: the learned classifier itself (features, model, calibration, evaluation).
//! - [`learned`]: that classifier in the product: stored, trained from the corpus and the
//!   operators' confirmations, applied at ingest after the rules.
//! - [`ingest`]: the pipeline (one transaction per batch), the IMAP watcher, archive import.
//! - [`workflow`]: the ticket's life: taking in charge, answering, closing, reopening.
//! - [`intake`]: complaints not sent by mail (operators' form, public form) and what the
//!   citizen does on their own page; [`citizen_link`]: that page's links.
//! - [`deadlines`]: the answer deadline suspended, resumed, extended, on the record.
//! - [`signoff`]: answers awaiting approval: drafts, approving, returning.
//! - [`digest`]: the morning digest of tickets due and overdue, per operator and for the head.
//! - [`answer_files`]: files attached to an answer, checked, stored, sent with its mail.
//! - [`answer_models`]: the administrators' answer models, filled in for a ticket.
//! - [`reviews`]: the second level (riesame): a review opened after the answer, its outcome.
//! - [`istruttoria`]: asking the service concerned for its report: requests, reports,
//!   reminders and escalations.
//! - [`notify`]: notifications: templates, the outbox, the mailer and its worker.
//! - [`users`], [`admin`]: backoffice accounts (argon2); administrators' changes and their checks.
//! - [`retention`]: anonymisation of what is past the retention period.
//! - [`stats`]: the statistics (page, CSV, `ascolto export stats`).
//! - [`export`]: tickets, quarantine and a citizen's data as JSON or CSV.
//! - [`metrics`]: the process's counters, shared by `Arc`.
//! - [`texts`]: the Italian labels operators and citizens read (mail texts are in `templates/`).
//! - [`web`]: the backoffice (axum + maud), `/healthz` and `/metrics`.
//! - [`oauth`]: OAuth2 tokens for IMAP and SMTP sign-in.
//! - [`private_files`]: files with health data are created readable by the service's user only.
//! - [`serve`]: the daemon: supervised tasks on a given listener, graceful shutdown.
#![forbid(unsafe_code)]

pub mod admin;
pub mod answer_files;
pub mod answer_models;
pub mod citizen_link;
pub mod classify;
pub mod config;
pub mod deadlines;
pub mod digest;
pub mod domain;
pub mod errors;
pub mod export;
pub mod ingest;
pub mod intake;
pub mod istruttoria;
pub mod learn;
pub mod learned;
pub mod mail;
pub mod metrics;
pub mod notify;
pub mod oauth;
pub mod private_files;
pub mod quality;
pub mod replication;
pub mod retention;
pub mod reviews;
pub mod serve;
pub mod signoff;
pub mod stats;
pub mod store;
pub mod texts;
pub mod transparency;
pub mod users;
pub mod web;
pub mod workflow;
