//! Running the real-SDK driver scripts in `tests/sdk/` as subprocesses.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::wait_until;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

const SETUP_HINT: &str =
    "run scripts/test.sh (or .ci/run) once: it creates .venv and tests/sdk/node/node_modules";

/// The Python with sentry-sdk and raven: `$SEXTANT_PYTHON`, else `.venv/bin/python`.
pub fn python() -> PathBuf {
    let path = match std::env::var_os("SEXTANT_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => repo_root().join(".venv/bin/python"),
    };
    assert!(
        path.exists(),
        "Python for the SDK tests not found at {}; {SETUP_HINT}",
        path.display()
    );
    path
}

/// `node`, after checking that the driver's packages are installed.
pub fn node() -> PathBuf {
    let modules = repo_root().join("tests/sdk/node/node_modules/@sentry/node");
    assert!(
        modules.exists(),
        "@sentry/node is not installed in tests/sdk/node; {SETUP_HINT}"
    );
    std::env::var_os("SEXTANT_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("node"))
}

#[derive(Debug)]
pub struct DriverRun {
    pub code: Option<i32>,
    /// The last JSON line the driver printed.
    pub result: Value,
    pub stdout: String,
    pub stderr: String,
}

impl DriverRun {
    /// The event ids the driver reported (`event_ids`, else `event_id`).
    pub fn event_ids(&self) -> Vec<String> {
        if let Some(ids) = self.result.get("event_ids").and_then(Value::as_array) {
            return ids
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
        }
        self.result
            .get("event_id")
            .and_then(Value::as_str)
            .map(|s| vec![s.to_string()])
            .unwrap_or_default()
    }

    pub fn assert_success(&self) {
        assert_eq!(
            self.code,
            Some(0),
            "driver failed (exit {:?})\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
    }
}

/// Runs `program args…` in `dir` with `envs`, waiting at most `timeout`.
pub fn run(
    program: &Path,
    args: &[&str],
    dir: &Path,
    envs: &[(&str, &str)],
    timeout: Duration,
) -> DriverRun {
    let out_dir = tempfile::tempdir().expect("temp dir");
    let stdout_path = out_dir.path().join("stdout");
    let stderr_path = out_dir.path().join("stderr");
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        // Keep the drivers hermetic: no inherited SDK configuration.
        .env_remove("SENTRY_DSN")
        .env_remove("SENTRY_RELEASE")
        .env_remove("SENTRY_ENVIRONMENT");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let mut status = None;
    let finished = wait_until(timeout, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    if !finished {
        let _ = child.kill();
        let _ = child.wait();
    }
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(
        finished,
        "{} {args:?} did not finish within {timeout:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        program.display()
    );
    let result = stdout
        .lines()
        .rev()
        .find_map(|l| {
            serde_json::from_str::<Value>(l.trim())
                .ok()
                .filter(Value::is_object)
        })
        .unwrap_or(Value::Null);
    DriverRun {
        code: status.and_then(|s| s.code()),
        result,
        stdout,
        stderr,
    }
}

/// `tests/sdk/python/send_event.py DSN SCENARIO`.
pub fn python_driver(dsn: &str, scenario: &str, envs: &[(&str, &str)]) -> DriverRun {
    let dir = repo_root().join("tests/sdk/python");
    run(
        &python(),
        &["send_event.py", dsn, scenario],
        &dir,
        envs,
        Duration::from_secs(60),
    )
}

/// `tests/sdk/python/send_raven.py DSN`.
pub fn raven_driver(dsn: &str) -> DriverRun {
    let dir = repo_root().join("tests/sdk/python");
    run(
        &python(),
        &["send_raven.py", dsn],
        &dir,
        &[],
        Duration::from_secs(60),
    )
}

/// `tests/sdk/node/send_event.js DSN SCENARIO`.
pub fn node_driver(dsn: &str, scenario: &str, envs: &[(&str, &str)]) -> DriverRun {
    let dir = repo_root().join("tests/sdk/node");
    run(
        &node(),
        &["send_event.js", dsn, scenario],
        &dir,
        envs,
        Duration::from_secs(60),
    )
}
