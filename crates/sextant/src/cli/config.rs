//! Configuration layering: defaults, then a TOML file, then `SEXTANT_*` environment
//! variables (`__` separates nested keys), then command-line flags.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use sextant_server::config::Config;

use super::GlobalArgs;
use super::serve::ServeArgs;

/// Top-level config keys; other `SEXTANT_*` variables belong to tools, not to us.
const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "public_url",
    "trust_forwarded_for",
    "allow_remote_setup",
    "limits",
    "http",
    "rate_limit",
    "pipeline",
    "releases",
    "outbound",
    "alerts",
];

pub fn load(global: &GlobalArgs, serve: Option<&ServeArgs>) -> anyhow::Result<Config> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    match &global.config {
        Some(path) => {
            anyhow::ensure!(
                path.exists(),
                "config file {} does not exist",
                path.display()
            );
            figment = figment.merge(Toml::file(path));
        }
        None if Path::new("sextant.toml").exists() => {
            figment = figment.merge(Toml::file("sextant.toml"))
        }
        None => {}
    }
    let env = Env::prefixed("SEXTANT_").split("__").filter(|key| {
        let top = key.as_str().split('.').next().unwrap_or("");
        KEYS.iter().any(|k| k.eq_ignore_ascii_case(top))
    });
    let mut config: Config = figment
        .merge(env)
        .extract()
        .context("invalid configuration")?;
    if let Some(dir) = &global.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(url) = &global.database_url {
        config.database_url = Some(url.clone());
    }
    if let Some(url) = &global.public_url {
        config.public_url = Some(url.clone());
    }
    if let Some(args) = serve
        && let Some(listen) = args.listen
    {
        config.listen = listen;
    }
    Ok(config)
}

pub fn show(config: &Config) -> anyhow::Result<ExitCode> {
    let mut shown = config.clone();
    shown.database_url = shown
        .database_url
        .as_deref()
        .map(sextant_storage::redact_url);
    shown.alerts.email = shown.alerts.email.redacted();
    println!("{}", toml_like(&shown)?);
    Ok(ExitCode::SUCCESS)
}

fn toml_like(config: &Config) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(config)?)
}
