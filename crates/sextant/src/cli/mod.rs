//! Command-line interface: flags, configuration layering and subcommand dispatch.

mod admin;
mod config;
pub mod release;
mod send_test_event;
mod serve;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "sextant",
    version,
    about = "Sentry-compatible error monitoring and release health in one binary"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command, so admin commands reach the same database as `serve`.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// TOML configuration file (default: ./sextant.toml when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the embedded SQLite database [default: ./sextant-data].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL (postgres://…) or SQLite (sqlite://…) URL; overrides --data-dir.
    /// Also read from SEXTANT_DATABASE_URL.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Base URL SDKs and users reach the server at, used in printed DSNs.
    #[arg(long, global = true, value_name = "URL")]
    pub public_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (ingest, processing and API).
    Serve(serve::ServeArgs),
    /// Manage projects.
    #[command(subcommand)]
    Project(admin::ProjectCommand),
    /// Manage a project's DSN keys.
    #[command(subcommand)]
    Key(admin::KeyCommand),
    /// Manage API bearer tokens.
    #[command(subcommand)]
    Token(admin::TokenCommand),
    /// Manage console users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Release health: the post-deploy gate.
    #[command(subcommand)]
    Release(release::ReleaseCommand),
    /// Send a test error event (with a stack trace) to a DSN and report the result.
    SendTestEvent(send_test_event::SendTestEventArgs),
    /// Print the effective configuration (secrets redacted).
    ShowConfig,
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let quiet = !matches!(cli.command, Command::Serve(_));
    init_logging(quiet);
    match cli.command {
        Command::SendTestEvent(args) => send_test_event::run(&args),
        Command::Release(cmd) => Ok(release::run(&cmd)),
        command => {
            let config = config::load(
                &cli.global,
                match &command {
                    Command::Serve(args) => Some(args),
                    _ => None,
                },
            )?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                match command {
                    Command::Serve(_) => serve::run(config).await,
                    Command::Project(cmd) => admin::project(&config, cmd).await,
                    Command::Key(cmd) => admin::key(&config, cmd).await,
                    Command::Token(cmd) => admin::token(&config, cmd).await,
                    Command::User(cmd) => user::user(&config, cmd).await,
                    Command::ShowConfig => config::show(&config),
                    Command::SendTestEvent(_) | Command::Release(_) => {
                        unreachable!("handled above")
                    }
                }
            })
        }
    }
}

fn init_logging(quiet: bool) {
    let default = if quiet { "warn" } else { "info" };
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
