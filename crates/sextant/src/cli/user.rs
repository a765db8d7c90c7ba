//! `sextant user create`: makes console accounts from the command line, typically the
//! first owner of a fresh install (the one-time /setup page is the other way).

use std::io::Read;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::json;
use sextant_server::accounts::normalize_email;
use sextant_server::accounts::password::{check_strength, hash_password};
use sextant_server::config::Config;
use sextant_storage::{Role, StoreError};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password comes from --password, else SEXTANT_PASSWORD, else the
    /// first line of standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, env = "SEXTANT_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Make the user an owner of every organization.
        #[arg(long)]
        owner: bool,
        /// Add the user to this organization (by slug) as a member; repeatable.
        #[arg(long = "org", value_name = "SLUG")]
        orgs: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

fn password_from_stdin() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("reading the password from standard input")?;
    Ok(input.lines().next().unwrap_or("").to_string())
}

pub async fn user(config: &Config, command: UserCommand) -> anyhow::Result<ExitCode> {
    let url = config.effective_database_url();
    let store = sextant_storage::open(&url)
        .await
        .with_context(|| format!("cannot open database {}", sextant_storage::redact_url(&url)))?;
    store.bootstrap_default().await?;
    match command {
        UserCommand::Create {
            email,
            password,
            owner,
            orgs,
            json,
        } => {
            let email = normalize_email(&email);
            anyhow::ensure!(email.contains('@'), "{email:?} is not an email address");
            let password = match password {
                Some(p) => p,
                None => password_from_stdin()?,
            };
            check_strength(&password)?;
            let hash = hash_password(&password)?;
            let user = match store.create_user(&email, &hash).await {
                Ok(user) => user,
                Err(StoreError::Conflict(_)) => bail!("a user with email {email:?} already exists"),
                Err(err) => return Err(err.into()),
            };
            let mut joined = Vec::new();
            if owner {
                for org in store.list_orgs().await? {
                    store.set_member(org.id, user.id, Role::Owner).await?;
                    joined.push((org.slug, Role::Owner));
                }
            }
            for slug in orgs {
                let org = match store.get_org(&slug).await {
                    Ok(org) => org,
                    Err(StoreError::NotFound) => bail!("no organization {slug:?}"),
                    Err(err) => return Err(err.into()),
                };
                if !joined.iter().any(|(s, _)| *s == org.slug) {
                    store.set_member(org.id, user.id, Role::Member).await?;
                    joined.push((org.slug, Role::Member));
                }
            }
            if json {
                let orgs: Vec<_> = joined
                    .iter()
                    .map(|(slug, role)| json!({"org": slug, "role": role.as_str()}))
                    .collect();
                println!(
                    "{}",
                    json!({"id": user.id, "email": user.email, "orgs": orgs})
                );
            } else {
                println!("Created user {} (id {}).", user.email, user.id);
                for (slug, role) in joined {
                    println!("  {role} of {slug}", role = role.as_str());
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
