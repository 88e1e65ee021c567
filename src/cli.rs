//! The command line: `serve`, `worker`, `migrate`, `user` and `sweep`, each with the global
//! `--config` and `--data-dir` options.

use crate::app::{self, Application};
use crate::settings::{CommandLineOverrides, Settings};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use linkyard_actors::accounts::Accounts;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "linkyard",
    version,
    about = "Short links, pastes, QR codes and bookmarks"
)]
pub struct Cli {
    /// Configuration file applied over the embedded defaults.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Directory of the embedded stores (SQLite file, blobs, search index).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server, the actors and the queue consumers.
    Serve(ServeArgs),
    /// Run the queue consumers (bookmark enrichment, indexing, QR pre-rendering) without the
    /// HTTP server, to scale job processing out.
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users and their API keys.
    #[command(subcommand)]
    User(UserCommand),
    /// Delete expired pastes and orphaned paste objects once, then exit.
    Sweep,
    /// Rebuild the bookmark search index from the database. Stop `serve` first when the index
    /// is the embedded Tantivy one, which only one process may open.
    Reindex,
    /// Print the metadata of a saved HTML page as JSON, with the bookmark API's field names.
    Extract {
        /// The URL the page was saved from; relative links resolve against it.
        #[arg(long)]
        url: String,
        /// The saved HTML file.
        file: PathBuf,
    },
    /// Import a Netscape bookmark file (as browsers export it) for a user.
    ImportBookmarks {
        /// The bookmark file.
        file: PathBuf,
        /// The email address of the user who gets the bookmarks.
        #[arg(long)]
        user: String,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, such as 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Base of every short URL, such as https://sho.rt. Defaults to http://<listen address>.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and print its first API key. The key is shown only once.
    Create {
        #[arg(long)]
        email: String,
    },
    /// Issue another API key for an existing user and print it.
    Key {
        #[arg(long)]
        email: String,
    },
}

impl Cli {
    fn settings(&self) -> anyhow::Result<Settings> {
        let mut overrides = CommandLineOverrides {
            data_dir: self.data_dir.clone(),
            ..Default::default()
        };
        if let Command::Serve(serve) = &self.command {
            overrides.listen = serve.listen;
            overrides.public_url = serve.public_url.clone();
        }
        Settings::load(self.config.as_deref(), &overrides).context("loading configuration")
    }
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings()?;
    crate::telemetry::init(&settings.log);
    tracing::debug!(?settings, "effective configuration");

    match cli.command {
        Command::Serve(_) => {
            Application::build(settings)
                .await?
                .run_until_stopped()
                .await
        }
        Command::Worker => {
            Application::build_worker(settings)
                .await?
                .run_until_stopped()
                .await
        }
        Command::Migrate => migrate(&settings).await,
        Command::User(command) => user(&settings, command).await,
        Command::Sweep => sweep(settings).await,
        Command::Reindex => crate::bookmark_commands::reindex(&settings).await,
        Command::Extract { url, file } => crate::bookmark_commands::extract(&url, &file),
        Command::ImportBookmarks { file, user } => {
            crate::bookmark_commands::import(&settings, &file, &user).await
        }
    }
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.storage.data_dir).context("creating the data directory")?;
    let db = app::connect_database(settings).await?;
    crate::migrate::run(&db)
        .await
        .context("migrating the database")?;
    tracing::info!("database is up to date");
    Ok(())
}

#[expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the command prints the new key for the operator"
)]
async fn user(settings: &Settings, command: UserCommand) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.storage.data_dir).context("creating the data directory")?;
    let db = app::connect_database(settings).await?;
    if settings.database.migrate_on_start {
        crate::migrate::run(&db)
            .await
            .context("migrating the database")?;
    }
    let accounts = Accounts::new(db, Duration::from_secs(1));
    match command {
        UserCommand::Create { email } => {
            let (_, key) = accounts.create_user(&email).await?;
            println!("{key}");
            eprintln!("Created user {email}. Store the API key above now: it is not shown again.");
        }
        UserCommand::Key { email } => {
            let key = accounts.issue_key(&email).await?;
            println!("{key}");
            eprintln!("Issued a new API key for {email}. It is not shown again.");
        }
    }
    Ok(())
}

/// Runs one paste sweep in a process of its own, against the configured database and blob
/// store, without serving HTTP.
#[expect(
    clippy::print_stdout,
    reason = "the command prints what it deleted for the operator"
)]
async fn sweep(mut settings: Settings) -> anyhow::Result<()> {
    // Port 0: this process serves nothing, and the real server may hold the configured port.
    settings.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    settings.pastes.sweep_interval_secs = 0;
    let app = Application::build(settings).await?;
    let report = app.state().pastes.sweep().await;
    app.shutdown().await?;
    let report = report.context("sweeping pastes")?;
    println!(
        "deleted {} expired pastes and {} orphaned objects",
        report.expired, report.orphans
    );
    Ok(())
}
