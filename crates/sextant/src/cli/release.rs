//! `sextant release check`: the post-deploy gate for CI/CD pipelines.
//!
//! It asks a running server (`GET …/releases/{version}/health-check/`), so the verdict is
//! the same one the API and the automatic checks give, and the pipeline needs only a URL
//! and a read token, not database access. Exit codes: 0 healthy, 1 regressed (roll
//! back), 2 inconclusive, 3 error (bad arguments, unknown release, server unreachable).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use serde_json::Value;

/// Exit code for every failure to reach a verdict.
pub const EXIT_ERROR: u8 = 3;

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Judge a release against its baseline: exit 0 healthy, 1 regressed, 2 inconclusive,
    /// 3 error.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Project slug.
    #[arg(long)]
    pub project: String,
    /// Release version to judge.
    #[arg(long)]
    pub release: String,
    /// Environment the release was deployed to.
    #[arg(long)]
    pub environment: String,
    /// `auto` (the release deployed to the environment before this one) or a version.
    #[arg(long, default_value = "auto")]
    pub baseline: String,
    /// Window after the deploy to judge, e.g. 30m, 2h, 900 (seconds).
    #[arg(long, default_value = "30m")]
    pub window: String,
    /// Poll until the verdict is conclusive or the window has ended.
    #[arg(long)]
    pub wait: bool,
    /// Seconds between polls with --wait.
    #[arg(long, default_value_t = 15)]
    pub poll_interval: u64,
    /// Print the full report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Server URL [env: SEXTANT_URL, then SENTRY_URL; default http://127.0.0.1:9000].
    #[arg(long)]
    pub url: Option<String>,
    /// API token [env: SEXTANT_TOKEN, then SENTRY_AUTH_TOKEN].
    #[arg(long)]
    pub token: Option<String>,
    /// Organization slug [env: SENTRY_ORG; default "default"].
    #[arg(long)]
    pub org: Option<String>,
}

fn env_first(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

pub fn run(cmd: &ReleaseCommand) -> ExitCode {
    let ReleaseCommand::Check(args) = cmd;
    match check(args) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn check(args: &CheckArgs) -> anyhow::Result<u8> {
    let base = args
        .url
        .clone()
        .or_else(|| env_first(&["SEXTANT_URL", "SENTRY_URL"]))
        .unwrap_or_else(|| "http://127.0.0.1:9000".to_string());
    let token = args
        .token
        .clone()
        .or_else(|| env_first(&["SEXTANT_TOKEN", "SENTRY_AUTH_TOKEN"]))
        .ok_or_else(|| anyhow!("no API token: pass --token or set SEXTANT_TOKEN"))?;
    let org = args
        .org
        .clone()
        .or_else(|| env_first(&["SENTRY_ORG"]))
        .unwrap_or_else(|| "default".to_string());
    let url = format!(
        "{}/api/0/projects/{}/{}/releases/{}/health-check/?environment={}&baseline={}&window={}",
        base.trim_end_matches('/'),
        encode(&org),
        encode(&args.project),
        // Path segment: `/` must not split the version.
        encode(&args.release).replace('+', "%20"),
        encode(&args.environment),
        encode(&args.baseline),
        encode(&args.window),
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let started = Instant::now();
    loop {
        let report = fetch(&agent, &url, &token)?;
        let verdict = report["verdict"].as_str().unwrap_or_default();
        let complete = report["complete"].as_bool().unwrap_or(true);
        if !(args.wait && verdict == "inconclusive" && !complete) {
            print(&report, args.json)?;
            return match verdict {
                "healthy" => Ok(0),
                "regressed" => Ok(1),
                "inconclusive" => Ok(2),
                other => bail!("unexpected verdict {other:?}"),
            };
        }
        if !args.json {
            eprintln!(
                "inconclusive after {}s; waiting for more data…",
                started.elapsed().as_secs()
            );
        }
        std::thread::sleep(Duration::from_secs(args.poll_interval.max(1)));
    }
}

fn fetch(agent: &ureq::Agent, url: &str, token: &str) -> anyhow::Result<Value> {
    let mut resp = agent
        .get(url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .with_context(|| format!("cannot reach the server at {url}"))?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    match status {
        200 => Ok(body),
        404 => bail!("unknown release or project (404 from {url})"),
        _ => bail!(
            "server answered {status}: {}",
            body["detail"].as_str().unwrap_or("no detail")
        ),
    }
}

fn print(report: &Value, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    println!("{}", report["summary"].as_str().unwrap_or_default());
    if let Some(b) = report["baseline"].as_str() {
        println!("  baseline: {b}");
    }
    for reason in report["reasons"].as_array().into_iter().flatten() {
        println!("  - {}", reason.as_str().unwrap_or_default());
    }
    Ok(())
}
