//! Admin commands for projects, DSN keys and API tokens. They open the same database as
//! `serve` and work while it runs.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::json;
use sextant_protocol::auth::format_dsn as dsn;
use sextant_server::accounts::token::{generate_token, hash_token};
use sextant_server::config::Config;
use sextant_server::projects::{create_with_key, slugify};
use sextant_storage::{Project, ProjectKey, Store, StoreError, TokenScope};

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project and its first DSN key; prints the DSN.
    Create {
        /// Display name; the slug is derived from it unless --slug is given.
        name: String,
        /// Organization slug.
        #[arg(long, default_value = "default")]
        org: String,
        #[arg(long)]
        slug: Option<String>,
        /// Platform hint, e.g. python, node, rust.
        #[arg(long)]
        platform: Option<String>,
        /// Print JSON: {"id","slug","dsn"}.
        #[arg(long)]
        json: bool,
    },
    /// List projects with their DSNs.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List a project's DSN keys.
    List {
        #[arg(long)]
        project: String,
        #[arg(long, default_value = "default")]
        org: String,
        #[arg(long)]
        json: bool,
    },
    /// Create a DSN key.
    Create {
        #[arg(long)]
        project: String,
        #[arg(long, default_value = "default")]
        org: String,
        #[arg(long, default_value = "Default")]
        label: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a DSN key: SDKs using it get 401 from then on.
    Revoke {
        /// The key's public part (32 hex characters).
        public_key: String,
        #[arg(long)]
        project: String,
        #[arg(long, default_value = "default")]
        org: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API bearer token; it is shown once and stored hashed.
    Create {
        #[arg(long, default_value = "admin", value_parser = ["read", "write", "admin"])]
        scope: String,
        #[arg(long, default_value = "cli")]
        label: String,
        #[arg(long)]
        json: bool,
    },
}

async fn open(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.effective_database_url();
    sextant_storage::open(&url)
        .await
        .with_context(|| format!("cannot open database {}", sextant_storage::redact_url(&url)))
}

fn base_url(config: &Config) -> String {
    config.base_url(config.listen)
}

async fn find_project(store: &dyn Store, org: &str, slug: &str) -> anyhow::Result<Project> {
    match store.get_project_by_slug(org, slug).await {
        Ok(project) => Ok(project),
        Err(StoreError::NotFound) => bail!("no project {slug:?} in organization {org:?}"),
        Err(err) => Err(err.into()),
    }
}

fn key_json(config: &Config, key: &ProjectKey) -> serde_json::Value {
    json!({
        "public_key": key.public_key,
        "label": key.label,
        "active": key.active,
        "dsn": dsn(&base_url(config), &key.public_key, key.project_id),
    })
}

pub async fn project(config: &Config, command: ProjectCommand) -> anyhow::Result<ExitCode> {
    let store = open(config).await?;
    store.bootstrap_default().await?;
    match command {
        ProjectCommand::Create {
            name,
            org,
            slug,
            platform,
            json,
        } => {
            let slug = slug.unwrap_or_else(|| slugify(name.trim()));
            anyhow::ensure!(
                !slug.is_empty(),
                "cannot derive a slug from {name:?}; pass --slug"
            );
            let org = match store.get_org(&org).await {
                Ok(org) => org,
                Err(StoreError::NotFound) => bail!("no organization {org:?}"),
                Err(err) => return Err(err.into()),
            };
            let (project, key) =
                match create_with_key(store.as_ref(), org.id, &slug, &name, platform.as_deref())
                    .await
                {
                    Ok(created) => created,
                    Err(StoreError::Conflict(_)) => {
                        bail!("project {slug:?} already exists in {:?}", org.slug)
                    }
                    Err(err) => return Err(err.into()),
                };
            let dsn = dsn(&base_url(config), &key.public_key, project.id);
            if json {
                println!(
                    "{}",
                    json!({ "id": project.id, "slug": project.slug, "dsn": dsn })
                );
            } else {
                println!(
                    "Created project {} (id {}) in {}.\nDSN: {dsn}",
                    project.slug, project.id, org.slug
                );
            }
        }
        ProjectCommand::List { json } => {
            let mut rows = Vec::new();
            for project in store.list_projects(None).await? {
                let keys = store.list_keys(project.id).await?;
                let dsn = keys
                    .iter()
                    .find(|k| k.active)
                    .map(|k| dsn(&base_url(config), &k.public_key, project.id));
                rows.push((project, dsn));
            }
            if json {
                let list: Vec<_> = rows
                    .iter()
                    .map(|(p, dsn)| json!({"id": p.id, "org": p.org_slug, "slug": p.slug, "name": p.name, "dsn": dsn}))
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for (p, dsn) in rows {
                    println!(
                        "{:>4}  {}/{}  {}",
                        p.id,
                        p.org_slug,
                        p.slug,
                        dsn.unwrap_or_else(|| "(no active key)".into())
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn key(config: &Config, command: KeyCommand) -> anyhow::Result<ExitCode> {
    let store = open(config).await?;
    match command {
        KeyCommand::List { project, org, json } => {
            let project = find_project(store.as_ref(), &org, &project).await?;
            let keys = store.list_keys(project.id).await?;
            if json {
                println!(
                    "{}",
                    serde_json::Value::Array(keys.iter().map(|k| key_json(config, k)).collect())
                );
            } else {
                for k in &keys {
                    let state = if k.active { "active " } else { "revoked" };
                    println!(
                        "{}  {state}  {}  {}",
                        k.public_key,
                        k.label,
                        dsn(&base_url(config), &k.public_key, k.project_id)
                    );
                }
            }
        }
        KeyCommand::Create {
            project,
            org,
            label,
            json,
        } => {
            let project = find_project(store.as_ref(), &org, &project).await?;
            let key = store.create_key(project.id, &label).await?;
            if json {
                println!("{}", key_json(config, &key));
            } else {
                println!(
                    "DSN: {}",
                    dsn(&base_url(config), &key.public_key, project.id)
                );
            }
        }
        KeyCommand::Revoke {
            public_key,
            project,
            org,
            json,
        } => {
            let project = find_project(store.as_ref(), &org, &project).await?;
            let key = match store.set_key_active(project.id, &public_key, false).await {
                Ok(key) => key,
                Err(StoreError::NotFound) => {
                    bail!("no key {public_key:?} in project {:?}", project.slug)
                }
                Err(err) => return Err(err.into()),
            };
            if json {
                println!("{}", key_json(config, &key));
            } else {
                println!("Revoked {}.", key.public_key);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn token(config: &Config, command: TokenCommand) -> anyhow::Result<ExitCode> {
    let store = open(config).await?;
    match command {
        TokenCommand::Create { scope, label, json } => {
            let scope = TokenScope::parse(&scope).context("scope must be read, write or admin")?;
            let token = generate_token();
            let record = store
                .create_token(&hash_token(&token), scope, &label)
                .await?;
            if json {
                println!(
                    "{}",
                    json!({ "id": record.id, "token": token, "scope": scope.as_str() })
                );
            } else {
                println!(
                    "{token}\n(scope {}; shown once, store it now)",
                    scope.as_str()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
