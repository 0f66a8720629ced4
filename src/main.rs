//! The `ascolto` command: parses the command line, loads the config, sets up logging and calls
//! into the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use ascolto::config::{Config, LogFormat};
use ascolto::export::{self, Format};
use ascolto::ingest::{import, Pipeline, Settings};
use ascolto::{serve, store};

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
    Import { path: PathBuf },
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
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
        Command::Export { what } => {
            let conn = store::open_read_only(&config.database.path)?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            match what {
                ExportWhat::Tickets { format } => export::tickets(&conn, format, &mut out),
                ExportWhat::Quarantine { format } => export::quarantine(&conn, format, &mut out),
            }
        }
        Command::Import { path } => {
            let mut conn = store::open(&config.database.path)?;
            let mut pipeline = Pipeline::new(Settings::from_config(&config));
            let r = import::import(&mut conn, &mut pipeline, &path, config.ingest.batch_size)?;
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
        Command::Serve => {
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            runtime.block_on(async {
                let shutdown = CancellationToken::new();
                let signals = tokio::spawn(cancel_on_signal(shutdown.clone()));
                let result = serve::run(config, shutdown).await;
                signals.abort();
                result
            })
        }
    }
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
