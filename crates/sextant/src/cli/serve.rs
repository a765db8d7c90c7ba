//! `sextant serve`: run the server until SIGINT or SIGTERM, then drain.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use sextant_server::Server;
use sextant_server::config::Config;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:9000].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
}

pub async fn run(config: Config) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let database = sextant_storage::redact_url(&config.effective_database_url());
    let server = Server::prepare(config, listener)
        .await
        .with_context(|| format!("cannot open database {database}"))?;
    let base = server.base_url();
    if let Some(boot) = &server.bootstrapped {
        println!(
            "Created organization \"{}\" and project \"{}\".",
            boot.org.slug, boot.project.slug
        );
    }
    println!(
        "Sextant {} listening on {}",
        env!("CARGO_PKG_VERSION"),
        base
    );
    println!("  API: {base}/api/0/");
    if let Some(dsn) = server.default_dsn().await? {
        println!("  DSN: {dsn}");
    }
    server.serve(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
