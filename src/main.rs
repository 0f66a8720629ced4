//! The `ascolto` command: parses the command line, loads the config, sets up logging and calls
//! into the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use ascolto::config::{Config, LogFormat};
use ascolto::domain::Role;
use ascolto::export::{self, Format};
use ascolto::ingest::{import, Pipeline, Settings};
use ascolto::notify::mailer::{Mailer, Outgoing};
use ascolto::{serve, stats, store, users};

#[derive(Parser)]
#[command(
    name = "ascolto",
    version,
    about = "The complaints desk (URP) daemon: a mailbox becomes classified tickets"
)]
struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        env = "ASCOLTO_CONFIG",
        default_value = "config.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: watch the mailboxes and turn mail into tickets.
    Serve,
    /// Validate the configuration and say which key is wrong.
    CheckConfig,
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Write tickets or quarantined messages to standard output.
    Export {
        #[command(subcommand)]
        what: ExportWhat,
    },
    /// Bring an old archive (an mbox file or a directory of .eml files) through the pipeline.
    /// Citizens are not mailed about imported complaints.
    Import {
        path: PathBuf,
        /// Read the archive as this configured mailbox's mail: an export of a PEC box
        /// (`pec = true`) has its envelopes unwrapped to the citizens' messages.
        #[arg(long)]
        mailbox: Option<String>,
    },
    /// Send a test mail with the [smtp] settings and explain what went wrong, if anything.
    SendTestEmail { address: String },
    /// Fill an empty database with synthetic tickets, for benchmarks and demonstrations
    /// (never on a real database: it refuses one that has tickets).
    GenerateDemo {
        /// How many tickets.
        #[arg(long)]
        tickets: usize,
        /// Spread over this many years up to now.
        #[arg(long, default_value_t = 5)]
        years: i64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Copy the database while the daemon runs (SQLite's online backup, one consistent
    /// snapshot), check the copy with PRAGMA integrity_check, and say so. PATH is a file, or a
    /// directory where the copy is named ascolto-YYYYMMDDTHHMMSSZ.sqlite3.
    Backup {
        path: PathBuf,
        /// In a directory: keep only the newest N backups.
        #[arg(long)]
        keep: Option<usize>,
    },
    /// Remove citizens' personal data from tickets closed more than [retention]
    /// anonymise_after_days ago (the daemon does it daily when that is set).
    Anonymise {
        /// Only say what would be done.
        #[arg(long)]
        dry_run: bool,
        /// Instead of [retention] anonymise_after_days.
        #[arg(long)]
        after_days: Option<u32>,
    },
    /// The istruttoria: send the reminders and escalations that are due (the daemon does it
    /// every few minutes).
    Istruttoria {
        #[command(subcommand)]
        action: IstruttoriaCommand,
    },
    /// The morning digests of tickets due and overdue (the daemon sends them once a day from
    /// `[workflow] digest_hour`): `ascolto riepilogo invia [--now T]`.
    Riepilogo {
        #[command(subcommand)]
        action: DigestCommand,
    },
    /// Replace the database with a backup, or with Litestream's replica (--from-litestream),
    /// after checking it. Refuses while the daemon runs; the replaced database is kept beside
    /// it, renamed.
    Restore {
        /// A backup file made by `ascolto backup`.
        #[arg(
            required_unless_present = "from_litestream",
            conflicts_with = "from_litestream"
        )]
        path: Option<PathBuf>,
        /// Litestream's configuration (litestream.yml): restore from the replica it names.
        #[arg(long, value_name = "CONFIG")]
        from_litestream: Option<PathBuf>,
        /// With --from-litestream: the database as it was at this moment (RFC 3339, e.g.
        /// 2026-11-22T09:30:00Z) instead of the newest transaction in the replica.
        #[arg(long, requires = "from_litestream")]
        timestamp: Option<String>,
    },
    /// Manage backoffice accounts.
    User {
        #[command(subcommand)]
        action: UserCommand,
    },
    /// The learned classifier: train it, measure it, explain a ticket.
    Classify {
        #[command(subcommand)]
        action: ClassifyCommand,
    },
}

#[derive(Subcommand)]
enum ClassifyCommand {
    /// Train a model now from the shipped corpus and the operators' confirmed tickets and store
    /// it (the daemon picks it up at its next batch). Safe while the daemon runs.
    Train,
    /// Stratified k-fold cross-validation on the operators' confirmed tickets (or on a
    /// labelled corpus file or folder): precision, recall, coverage and confusion matrices.
    Evaluate {
        #[arg(long, default_value_t = 5)]
        folds: usize,
        /// A JSON-lines corpus file, or a folder of them (data/corpus), instead of the tickets.
        #[arg(long)]
        corpus: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "table")]
        format: EvalFormat,
    },
    /// What the model says about a ticket, and the words that weighed most.
    Explain { number: String },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum EvalFormat {
    Json,
    Table,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account; the password is read from standard input with --password-stdin,
    /// otherwise generated and printed once.
    Add {
        email: String,
        #[arg(long)]
        name: String,
        /// admin, operator or viewer.
        #[arg(long)]
        role: String,
        /// Receives a mail for every new ticket ("riceve mail").
        #[arg(long)]
        notify: bool,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the accounts.
    List,
    /// Disable an account (it is kept: the audit log refers to it).
    Disable { email: String },
}

#[derive(Subcommand)]
enum DigestCommand {
    /// Send the morning digests now (whatever the hour, even if sent today).
    Invia {
        /// The time to count from (RFC 3339), instead of now.
        #[arg(long)]
        now: Option<chrono::DateTime<chrono::Utc>>,
    },
}

#[derive(Subcommand)]
enum IstruttoriaCommand {
    /// Reminders of requests past their due date, escalations past escalate_after_days.
    Solleciti {
        /// The time to count from (RFC 3339), instead of now: what would be due then is sent
        /// now.
        #[arg(long)]
        now: Option<chrono::DateTime<chrono::Utc>>,
    },
}

#[derive(Subcommand)]
enum ExportWhat {
    Tickets {
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
    },
    Quarantine {
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
    },
    /// Notifications: sent, pending (with the last error), failed, or suppressed (with why).
    Outbox {
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
    },
    /// The statistics of a year (or of one month of it, with --month): JSON, or every table
    /// of the statistics page as CSV (RFC 4180), one after the other, each under a `# name` line.
    Stats {
        #[arg(long)]
        year: i32,
        #[arg(long)]
        month: Option<u32>,
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
    },
    /// Everything stored about one citizen (an access request, GDPR art. 15), as JSON: their
    /// tickets, messages, attachments' names and the mail sent to them. Written to the audit log.
    Citizen { email: String },
    /// Issue 20: the tickets flagged as possible adverse events (for the risk manager).
    Risk {
        #[arg(long)]
        year: Option<i32>,
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
    },
    /// Issue 20: the year's transparency report, without personal data and with small counts
    /// hidden.
    Transparency {
        #[arg(long)]
        year: i32,
        #[arg(long, value_enum, default_value = "html")]
        format: ascolto::quality::export::ReportFormat,
    },
    /// Issue 20: one row per ticket of the year for the regional flows (README "Regional export").
    Regional {
        #[arg(long)]
        year: i32,
        #[arg(long, value_enum, default_value = "csv")]
        format: ascolto::quality::export::RegionalFormat,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", ascolto::errors::chain(&*e));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let config = Config::load(&cli.config)?;
    init_logging(&config);
    match cli.command {
        Command::CheckConfig => {
            println!(
                "{}: valid ({} mailbox(es), database {})",
                cli.config.display(),
                config.mailboxes.len(),
                config.database.path.display()
            );
            Ok(())
        }
        Command::Migrate => {
            store::open(&config.database.path)?;
            println!(
                "{}: schema version {}",
                config.database.path.display(),
                store::schema_version()
            );
            Ok(())
        }
        Command::Export {
            what: ExportWhat::Citizen { email },
        } => {
            let conn = store::open(&config.database.path)?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            export::citizen(&conn, &email, &mut out)
        }
        Command::Export { what } => {
            let conn = store::open_read_only(&config.database.path)?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            match what {
                ExportWhat::Tickets { format } => export::tickets(&conn, format, &mut out),
                ExportWhat::Quarantine { format } => export::quarantine(&conn, format, &mut out),
                ExportWhat::Outbox { format } => export::outbox(&conn, format, &mut out),
                ExportWhat::Stats {
                    year,
                    month,
                    format,
                } => stats::export(&conn, year, month, format, &mut out),
                ExportWhat::Citizen { .. } => unreachable!("handled above"),
                ExportWhat::Risk { year, format } => {
                    ascolto::quality::export::risk(&conn, year, format, &mut out)
                }
                ExportWhat::Transparency { year, format } => {
                    ascolto::quality::export::transparency(
                        &conn,
                        year,
                        &config.notify.office_name,
                        config.public.transparency_min_count,
                        format,
                        &mut out,
                    )
                }
                ExportWhat::Regional { year, format } => ascolto::quality::export::regional(
                    &conn,
                    year,
                    &config.quality.trust_code,
                    format,
                    &mut out,
                ),
            }
        }
        Command::Import { path, mailbox } => {
            if let Some(name) = &mailbox {
                if !config.mailboxes.iter().any(|m| &m.name == name) {
                    bail!("--mailbox {name:?}: no [[mailbox]] with that name in the config");
                }
            }
            let mut conn = store::open(&config.database.path)?;
            let mut pipeline = Pipeline::new(Settings::from_config(&config));
            let r = import::import(
                &mut conn,
                &mut pipeline,
                &path,
                mailbox.as_deref(),
                config.ingest.batch_size,
            )?;
            println!(
                "imported {}: {} new tickets, {} replies, {} automatic, {} duplicates, {} quarantined",
                path.display(),
                r.created,
                r.threaded,
                r.automatic,
                r.duplicates,
                r.quarantined
            );
            Ok(())
        }
        Command::GenerateDemo {
            tickets,
            years,
            seed,
        } => {
            let mut conn = store::open(&config.database.path)?;
            let started = std::time::Instant::now();
            ascolto::store::demo::generate(
                &mut conn,
                tickets,
                years.max(1),
                chrono::Utc::now(),
                seed,
            )?;
            println!(
                "generated {tickets} tickets in {} in {:.1} s",
                config.database.path.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::SendTestEmail { address } => {
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            runtime.block_on(send_test_email(&config, &address))
        }
        Command::User { action } => {
            let conn = store::open(&config.database.path)?;
            match action {
                UserCommand::Add {
                    email,
                    name,
                    role,
                    notify,
                    password_stdin,
                } => {
                    let role: Role = role.parse().map_err(anyhow::Error::msg)?;
                    let (password, generated) = if password_stdin {
                        let mut line = String::new();
                        std::io::stdin()
                            .read_line(&mut line)
                            .context("reading the password from stdin")?;
                        (line.trim_end_matches(['\r', '\n']).to_string(), false)
                    } else {
                        (users::generate_password(), true)
                    };
                    users::add(
                        &conn,
                        ascolto::domain::AuditActor::Cli,
                        &email,
                        &name,
                        role,
                        notify,
                        &password,
                    )?;
                    println!("user {email} created ({})", role.as_str());
                    if generated {
                        println!("password (shown only now): {password}");
                    }
                }
                UserCommand::List => {
                    for u in store::users::list(&conn)? {
                        println!(
                            "{}\t{}\t{}\t{}{}",
                            u.email,
                            u.name,
                            u.role,
                            if u.notify { "riceve mail" } else { "-" },
                            if u.active { "" } else { "\tdisabled" }
                        );
                    }
                }
                UserCommand::Disable { email } => {
                    users::disable(&conn, ascolto::domain::AuditActor::Cli, &email)?;
                    println!("user {email} disabled");
                }
            }
            Ok(())
        }
        Command::Backup { path, keep } => {
            let made = ascolto::store::backup::backup(&config.database.path, &path, keep)?;
            println!(
                "backup written: {} ({:.1} MB, {} tickets, schema {}); PRAGMA integrity_check: ok",
                made.path.display(),
                made.bytes as f64 / 1e6,
                made.tickets,
                made.schema
            );
            Ok(())
        }
        Command::Anonymise {
            dry_run,
            after_days,
        } => {
            let days = after_days.unwrap_or(config.retention.anonymise_after_days);
            if after_days.is_none() && days == 0 {
                anyhow::bail!(
                    "retention is off ([retention] anonymise_after_days = 0): set it, or give --after-days"
                );
            }
            let mut conn = store::open(&config.database.path)?;
            let wal = ascolto::retention::WalCheckpoint::for_config(&config);
            let s =
                ascolto::retention::run_with(&mut conn, days, chrono::Utc::now(), dry_run, wal)?;
            println!(
                "{} {} tickets closed before {} ({} messages, {} attachments, {:.1} MB of original mail, {} notes, {} notifications, {} contacts) and {} quarantined messages{}",
                if dry_run { "would anonymise" } else { "anonymised" },
                s.tickets,
                s.cutoff,
                s.messages,
                s.attachments,
                s.original_bytes as f64 / 1e6,
                s.notes,
                s.notifications,
                s.contacts,
                s.quarantined,
                if s.first_numbers.is_empty() {
                    String::new()
                } else {
                    format!(": {}{}", s.first_numbers.join(", "), if s.tickets > s.first_numbers.len() { ", …" } else { "" })
                }
            );
            Ok(())
        }
        Command::Riepilogo {
            action: DigestCommand::Invia { now },
        } => {
            let notifier = ascolto::notify::Notifier::from_config(&config)?;
            let mut conn = store::open(&config.database.path)?;
            let tx = conn.transaction()?;
            let done = ascolto::digest::due_round(
                &tx,
                &notifier,
                &config.workflow,
                now.unwrap_or_else(chrono::Utc::now),
                true,
            )?;
            tx.commit()?;
            println!(
                "{} operators' digests queued{}",
                done.operators,
                if done.head { ", and the head's" } else { "" }
            );
            Ok(())
        }
        Command::Istruttoria {
            action: IstruttoriaCommand::Solleciti { now },
        } => {
            let notifier = ascolto::notify::Notifier::from_config(&config)?;
            let settings = ascolto::istruttoria::Settings::from_config(&config);
            let mut conn = store::open(&config.database.path)?;
            let tx = conn.transaction()?;
            let done = ascolto::istruttoria::due_round(
                &tx,
                &notifier,
                &settings,
                now.unwrap_or_else(chrono::Utc::now),
            )?;
            tx.commit()?;
            println!(
                "{} reminders and {} escalations queued",
                done.reminded, done.escalated
            );
            Ok(())
        }
        Command::Restore {
            path,
            from_litestream,
            timestamp,
        } => {
            let (done, source) = match (path, from_litestream) {
                (Some(path), _) => (
                    ascolto::store::backup::restore(&config.database.path, &path)?,
                    path.display().to_string(),
                ),
                (None, Some(litestream_config)) => {
                    // The database as litestream.yml names it: `[replication] litestream_db_path`,
                    // or ours made absolute.
                    let db_in_config = match &config.replication.litestream_db_path {
                        Some(p) => p.clone(),
                        None => std::path::absolute(&config.database.path)?,
                    };
                    let done = ascolto::store::backup::restore_from_litestream(
                        &config.database.path,
                        &ascolto::store::backup::FromLitestream {
                            command: &config.replication.litestream_command,
                            config: &litestream_config,
                            db_in_config: &db_in_config,
                            timestamp: timestamp.as_deref(),
                        },
                    )?;
                    // The scratch copy it went through is gone: name the replica instead.
                    let source = format!(
                        "Litestream's replica of {} ({}{})",
                        db_in_config.display(),
                        litestream_config.display(),
                        timestamp
                            .map(|t| format!(", as of {t}"))
                            .unwrap_or_default()
                    );
                    (done, source)
                }
                (None, None) => unreachable!("clap requires one"),
            };
            println!(
                "restored {} from {} ({} tickets, schema {}; PRAGMA integrity_check: ok)",
                config.database.path.display(),
                source,
                done.from.tickets,
                done.from.schema
            );
            if let Some(previous) = done.previous {
                println!("the database it replaced is kept as {}", previous.display());
            }
            if let Some(state) = done.litestream_state_removed {
                println!(
                    "Litestream's state for the replaced database ({}) was removed: start Litestream again",
                    state.display()
                );
            }
            Ok(())
        }
        Command::Classify { action } => classify(&config, action),
        Command::Serve => {
            // Before the runtime's threads exist: taking a socket that systemd handed over
            // removes LISTEN_FDS and LISTEN_PID from the environment.
            let handed_over = serve::handed_over_listener()?;
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            runtime.block_on(async {
                let listener = match handed_over {
                    Some(socket) => {
                        tracing::info!("listening on the socket handed over by the service manager; `web.bind` is not used");
                        tokio::net::TcpListener::from_std(socket)?
                    }
                    None => tokio::net::TcpListener::bind(config.web.bind)
                        .await
                        .with_context(|| {
                            format!("cannot listen on {} (key `web.bind`)", config.web.bind)
                        })?,
                };
                let shutdown = CancellationToken::new();
                let signals = tokio::spawn(cancel_on_signal(shutdown.clone()));
                let result = serve::run(config, listener, shutdown).await;
                signals.abort();
                result
            })
        }
    }
}

fn classify(config: &Config, action: ClassifyCommand) -> Result<()> {
    use ascolto::domain::{AuditActor, TrainReason};
    use ascolto::learned::{self, evaluation};
    match action {
        ClassifyCommand::Train => {
            let mut conn = store::open(&config.database.path)?;
            // Read and trained outside any write transaction; stored in one short one.
            let trained = learned::Trainer::default().train(&conn)?;
            let loaded = learned::training::store_trained(
                &mut conn,
                trained,
                TrainReason::OnDemand,
                AuditActor::Cli,
            )?;
            let row = store::classifier::latest(&conn)?.context("the model just stored")?;
            let t = |x: Option<f32>| x.map_or("never".to_string(), |v| format!("{v:.2}"));
            println!(
                "model version {} trained in {:.1} s on {} corpus messages and {} confirmed tickets ({:.1} MB); thresholds: kind {}, category {}, macro-category {}, service {}",
                loaded.version,
                row.seconds,
                row.corpus_examples,
                row.ticket_examples,
                row.size as f64 / 1e6,
                t(row.thresholds.kind),
                t(row.thresholds.category),
                t(row.thresholds.macro_category),
                t(row.thresholds.service),
            );
            Ok(())
        }
        ClassifyCommand::Evaluate {
            folds,
            corpus,
            format,
        } => {
            if folds < 2 {
                bail!("--folds: at least 2");
            }
            let conn = store::open(&config.database.path)?;
            let options = ascolto::learn::EvalOptions {
                folds,
                ..Default::default()
            };
            let source = match &corpus {
                Some(path) => evaluation::EvalSource::Corpus(path),
                None => evaluation::EvalSource::Tickets,
            };
            let (evaluation, row) = evaluation::evaluate(&conn, source, &options)?;
            evaluation::keep(&conn, &row, AuditActor::Cli)?;
            match format {
                EvalFormat::Json => println!("{}", serde_json::to_string_pretty(&evaluation)?),
                EvalFormat::Table => print!("{}", row.report),
            }
            Ok(())
        }
        ClassifyCommand::Explain { number } => {
            let number: ascolto::domain::TicketNumber =
                number.parse().map_err(anyhow::Error::msg)?;
            let conn = store::open_read_only(&config.database.path)?;
            let id = store::tickets::id_by_number(&conn, &number)?
                .with_context(|| format!("no ticket {number}"))?;
            let slot = learned::ModelSlot::default();
            let loaded = slot
                .refresh(&conn)?
                .context("no model in the database: run `ascolto classify train`")?;
            let e = learned::explain::explain(&conn, &loaded, id)?
                .with_context(|| format!("no ticket {number}"))?;
            println!("{number}");
            for s in store::classifier::sources(&conn, id)? {
                println!(
                    "{:<15} set by {} at {}",
                    s.field.as_str(),
                    ascolto::texts::class_source(&s),
                    s.at
                );
            }
            print!("{}", e.to_text());
            Ok(())
        }
    }
}

async fn send_test_email(config: &Config, address: &str) -> Result<()> {
    // Nothing reads these counts: the command reports what happened itself.
    let mailer = Mailer::from_config(&config.smtp, Default::default())?;
    let from = lettre::message::Mailbox::new(
        Some(config.smtp.from_name.clone()),
        config.smtp.from().parse()?,
    );
    let mut unique = [0u8; 8];
    getrandom::fill(&mut unique).map_err(|e| anyhow::anyhow!("random source: {e}"))?;
    let mail = Outgoing {
        to: address.to_string(),
        subject: "Prova di invio da ascolto".into(),
        body: "Questo è un messaggio di prova inviato da ascolto per verificare le impostazioni di posta.\n".into(),
        message_id: format!("ascolto.test.{}@{}", hex::encode(unique), config.smtp.message_id_domain()),
        in_reply_to: None,
        refs: None,
        automatic: true,
        attachments: Vec::new(),
    };
    mailer.send(&from, &mail).await?;
    match &mailer {
        Mailer::File(dir) => println!(
            "written to {} ([smtp] backend = \"file\": nothing was sent)",
            dir.display()
        ),
        _ => println!(
            "sent to {address} through {}:{}",
            config.smtp.host, config.smtp.port
        ),
    }
    Ok(())
}

/// SIGINT or SIGTERM cancels `token`.
async fn cancel_on_signal(token: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for signals");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    token.cancel();
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
