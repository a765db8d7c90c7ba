//! Runs the real `sextant` binary as a child process for CLI and crash tests, each on a
//! fresh `sextant_testkit::TestDb` (SQLite, or PostgreSQL when `SEXTANT_TEST_PG_URL` is
//! set).

#![allow(dead_code)]

pub mod receiver;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use sextant_testkit::{TestDb, wait_until};

pub const BIN: &str = env!("CARGO_BIN_EXE_sextant");

/// The database flags every command takes: the test's PostgreSQL database, or its
/// SQLite data directory.
pub fn db_args(db: &TestDb) -> Vec<String> {
    match &db.url {
        Some(url) => vec!["--database-url".into(), url.clone()],
        None => vec!["--data-dir".into(), db.path().display().to_string()],
    }
}

/// Runs a command to completion, without inheriting the caller's `SEXTANT_*` settings.
pub fn sextant(db: &TestDb, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(db_args(db))
        .args(args)
        .env_remove("SEXTANT_DATABASE_URL")
        .env("RUST_LOG", "warn");
    cmd.current_dir(db.path());
    cmd.output().expect("run sextant")
}

pub fn stdout_json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// A running `sextant serve` child.
pub struct ServerProcess {
    child: Child,
    pub base_url: String,
    pub dsn: String,
}

impl ServerProcess {
    pub fn start(db: &TestDb) -> ServerProcess {
        ServerProcess::start_with_env(db, &[])
    }

    /// Like `start`, with extra environment (`SEXTANT_*` settings).
    pub fn start_with_env(db: &TestDb, env: &[(&str, &str)]) -> ServerProcess {
        let mut cmd = Command::new(BIN);
        cmd.envs(env.iter().copied());
        cmd.args(db_args(db))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("SEXTANT_DATABASE_URL")
            .env("RUST_LOG", "warn")
            .current_dir(db.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("spawn sextant serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let (mut base_url, mut dsn) = (None, None);
        while base_url.is_none() || dsn.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("server printed its URL and DSN in time");
            if let Some(rest) = line.split(" listening on ").nth(1) {
                base_url = Some(rest.trim().to_string());
            }
            if let Some(rest) = line.trim().strip_prefix("DSN: ") {
                dsn = Some(rest.to_string());
            }
        }
        ServerProcess {
            child,
            base_url: base_url.unwrap(),
            dsn: dsn.unwrap(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no chance to flush or drain anything.
    pub fn kill9(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        self.child.wait().expect("wait")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

pub fn get_json(agent: &ureq::Agent, url: &str, token: &str) -> (u16, serde_json::Value) {
    let mut response = agent
        .get(url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("GET");
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    )
}

pub fn post_json(
    agent: &ureq::Agent,
    url: &str,
    token: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let mut response = agent
        .post(url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(body.to_string().as_bytes())
        .expect("POST");
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// An envelope with one error event.
pub fn envelope(event_id: &str, message: &str, release: &str) -> Vec<u8> {
    event_envelope(
        event_id,
        &serde_json::json!({
            "event_id": event_id,
            "platform": "python",
            "release": release,
            "exception": {"values": [{"type": "CrashTestError", "value": message,
                "stacktrace": {"frames": [{"module": "app.jobs", "function": "work",
                    "in_app": true,
                    "context_line": format!("raise CrashTestError({message:?})")}]}}]}
        }),
    )
}

/// An envelope carrying `event` as its one event item.
pub fn event_envelope(event_id: &str, event: &serde_json::Value) -> Vec<u8> {
    let payload = serde_json::to_vec(event).unwrap();
    let mut body = format!(
        "{{\"event_id\":\"{event_id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n",
        payload.len()
    )
    .into_bytes();
    body.extend_from_slice(&payload);
    body.push(b'\n');
    body
}

/// A new API token of `scope`, created with the CLI.
pub fn create_token(db: &TestDb, scope: &str) -> String {
    stdout_json(&sextant(
        db,
        &["token", "create", "--scope", scope, "--json"],
    ))["token"]
        .as_str()
        .expect("token in the CLI's JSON")
        .to_string()
}

/// The DSN's public key and the project's envelope endpoint.
pub fn envelope_target(dsn: &str) -> (String, String) {
    let (scheme, rest) = dsn.split_once("://").unwrap();
    let (key, host_path) = rest.split_once('@').unwrap();
    let (host, project) = host_path.rsplit_once('/').unwrap();
    (
        key.to_string(),
        format!("{scheme}://{host}/api/{project}/envelope/"),
    )
}

pub fn data_dir(db: &TestDb) -> PathBuf {
    db.path().to_path_buf()
}
