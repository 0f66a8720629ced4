//! ascolto: the complaints desk (URP) of a hospital, from its mailbox to classified tickets.
//!
//! # Layout
//!
//! - [`config`]: the typed, layered configuration (`config.toml` + `ASCOLTO__…` overrides).
//! - [`store`]: the SQLite database: schema, migrations, the single writer, and all SQL.
//! - [`mail`]: reading inbound mail: parsing, PEC envelopes, automatic mail, threading proofs.
//! - [`classify`]: the hospital's routing rules, compiled.
//! - [`tickets`]: ticket numbers, states, kinds, deadlines, Europe/Rome time.
//! - [`texts`]: the Italian labels operators and citizens read (mail texts are in `templates/`).
//! - [`ingest`]: the pipeline (one transaction per batch), the IMAP watcher, archive import.
//! - [`workflow`]: the ticket's life: taking in charge, answering, closing, reopening.
//! - [`notify`]: notifications: templates, the outbox, the mailer and its worker.
//! - [`users`]: backoffice accounts and their passwords (argon2).
//! - [`export`]: tickets and quarantine as JSON lines or CSV.
//! - [`private_files`]: files with health data are created readable by the service's user only.
//! - [`serve`]: the daemon: supervised tasks and graceful shutdown.
#![forbid(unsafe_code)]

pub mod backup;
pub mod classify;
pub mod config;
pub mod demo;
pub mod export;
pub mod ingest;
pub mod learn;
pub mod mail;
pub mod metrics;
pub mod notify;
pub mod oauth;
pub mod private_files;
pub mod retention;
pub mod serve;
pub mod stats;
pub mod store;
pub mod texts;
pub mod tickets;
pub mod users;
pub mod web;
pub mod workflow;
