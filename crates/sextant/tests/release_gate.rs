//! `sextant release check` against a real server fed generated traffic with known truth:
//! the same crash and error rates as the baseline exit 0, three times the crash rate
//! exits 1, too few sessions exits 2, an unknown release exits 3. Runs on SQLite, and on
//! PostgreSQL when `SEXTANT_TEST_PG_URL` is set.

mod support;

use std::process::Command;

use serde_json::{Value, json};
use support::{BIN, ServerProcess, TestDb, agent, create_token};

const MIN: i64 = 60_000;

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

fn iso(ms: i64) -> String {
    let dt = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
    dt.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

struct Fixture {
    server: ServerProcess,
    token: String,
    key: String,
    project_id: String,
}

impl Fixture {
    fn post(&self, path: &str, body: &Value) -> u16 {
        agent()
            .post(&format!("{}{path}", self.server.base_url))
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .send(&serde_json::to_vec(body).unwrap()[..])
            .expect("POST")
            .status()
            .as_u16()
    }

    fn envelope(&self, items: &[(&str, Value)]) {
        let mut body = b"{}\n".to_vec();
        for (ty, payload) in items {
            let payload = serde_json::to_vec(payload).unwrap();
            body.extend_from_slice(
                format!("{{\"type\":\"{ty}\",\"length\":{}}}\n", payload.len()).as_bytes(),
            );
            body.extend_from_slice(&payload);
            body.push(b'\n');
        }
        let status = agent()
            .post(&format!(
                "{}/api/{}/envelope/",
                self.server.base_url, self.project_id
            ))
            .header(
                "X-Sentry-Auth",
                &format!("Sentry sentry_key={}, sentry_version=7", self.key),
            )
            .send(&body[..])
            .expect("POST envelope")
            .status()
            .as_u16();
        assert_eq!(status, 200);
    }

    /// `sessions` spread evenly over the 30 minutes from `from`, `crashed` of them crashed,
    /// and `events` error events in the same minutes.
    fn traffic(
        &self,
        release: &str,
        env: &str,
        from: i64,
        sessions: i64,
        crashed: i64,
        events: i64,
    ) {
        let buckets: Vec<Value> = (0..30)
            .map(|m| {
                let share = |n: i64| n / 30 + i64::from(m < n % 30);
                let c = share(crashed);
                json!({"started": iso(from + m * MIN), "exited": share(sessions) - c, "crashed": c})
            })
            .collect();
        self.envelope(&[(
            "sessions",
            json!({"attrs": {"release": release, "environment": env}, "aggregates": buckets}),
        )]);
        for i in 0..events {
            let ts = from + (i % 30) * MIN + 1000;
            self.envelope(&[(
                "event",
                json!({
                    "event_id": uuid::Uuid::new_v4().simple().to_string(),
                    "timestamp": ts as f64 / 1000.0,
                    "platform": "python", "level": "error",
                    "release": release, "environment": env,
                    "exception": {"values": [{"type": "GateError", "value": format!("{env} {}", i % 3)}]},
                }),
            )]);
        }
    }

    fn deploy(&self, release: &str, env: &str, finished: i64) {
        let created = self.post(
            "/api/0/organizations/default/releases/",
            &json!({"version": release, "projects": ["default"]}),
        );
        assert_eq!(created, 201);
        let deployed = self.post(
            &format!("/api/0/organizations/default/releases/{release}/deploys/"),
            &json!({"environment": env, "dateFinished": iso(finished)}),
        );
        assert_eq!(deployed, 201);
    }

    fn check(&self, release: &str, env: &str, extra: &[&str]) -> (i32, String) {
        let out = Command::new(BIN)
            .args([
                "release",
                "check",
                "--project",
                "default",
                "--release",
                release,
            ])
            .args(["--environment", env, "--window", "30m", "--json"])
            .args(["--url", &self.server.base_url, "--token", &self.token])
            .args(extra)
            .env_remove("SENTRY_URL")
            .env_remove("SENTRY_AUTH_TOKEN")
            .output()
            .expect("run sextant release check");
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    /// Waits until the processor has stored everything sent so far.
    fn settle(&self, release: &str, env: &str, sessions: i64) {
        let url = format!(
            "{}/api/0/projects/default/default/releases/{release}/health/?environment={env}&statsPeriod=1d",
            self.server.base_url
        );
        support::wait_until(std::time::Duration::from_secs(30), || {
            let (_, body) = support::get_json(&agent(), &url, &self.token);
            (body["sessions"]["total"].as_i64() == Some(sessions)).then_some(())
        })
        .expect("timed out waiting for the sessions to be stored");
    }
}

fn setup() -> (TestDb, Fixture) {
    let db = TestDb::new();
    let server = ServerProcess::start(&db);
    let token = create_token(&db, "admin");
    let dsn = server.dsn.clone();
    let key = dsn
        .split("://")
        .nth(1)
        .and_then(|r| r.split('@').next())
        .unwrap()
        .to_string();
    let project_id = dsn.rsplit('/').next().unwrap().to_string();
    (
        db,
        Fixture {
            server,
            token,
            key,
            project_id,
        },
    )
}

#[test]
fn the_gate_gives_the_right_exit_code_for_each_scenario() {
    let (_db, f) = setup();
    let now = now_ms();
    let live = now - 40 * MIN - now.rem_euclid(MIN);
    // Each scenario has its own environment: baseline 1.0 went live two hours before
    // the candidate, and the windows compared are the 30 minutes either side of `live`.
    for (env, candidate, crashed, sessions) in [
        ("same", "1.1", 20, 2000),
        ("worse", "1.2", 60, 2000),
        ("few", "1.3", 0, 10),
    ] {
        f.deploy("1.0", env, live - 120 * MIN);
        f.traffic("1.0", env, live - 30 * MIN, 2000, 20, 30);
        f.deploy(candidate, env, live);
        f.traffic(
            candidate,
            env,
            live,
            sessions,
            crashed,
            if sessions > 100 { 30 } else { 0 },
        );
        f.settle(candidate, env, sessions);
    }
    f.settle("1.0", "few", 2000);

    let (code, out) = f.check("1.1", "same", &[]);
    assert_eq!(code, 0, "same rates must be healthy: {out}");
    let report: Value = serde_json::from_str(
        out.split('\n')
            .take_while(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
            .as_str(),
    )
    .unwrap_or(Value::Null);
    assert_eq!(report["baseline"], "1.0", "{out}");
    assert_eq!(report["candidate"]["sessions"], 2000, "{out}");
    assert_eq!(report["baselineSample"]["sessions"], 2000, "{out}");

    let (code, out) = f.check("1.2", "worse", &[]);
    assert_eq!(code, 1, "3x the crash rate must be a regression: {out}");
    assert!(out.contains("crash_free_sessions"), "{out}");

    let (code, out) = f.check("1.3", "few", &[]);
    assert_eq!(code, 2, "10 sessions are not enough: {out}");

    let (code, out) = f.check("9.9", "same", &[]);
    assert_eq!(code, 3, "unknown release: {out}");

    let (code, out) = f.check("1.1", "same", &["--baseline", "nope"]);
    assert_eq!(code, 3, "unknown baseline: {out}");

    // Without --json the verdict is explained in words.
    let out = Command::new(BIN)
        .args([
            "release",
            "check",
            "--project",
            "default",
            "--release",
            "1.2",
        ])
        .args([
            "--environment",
            "worse",
            "--url",
            &f.server.base_url,
            "--token",
            &f.token,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("REGRESSED: roll back 1.2"), "{text}");
    assert!(text.contains("crash-free sessions"), "{text}");
}

#[test]
fn bad_arguments_and_unreachable_servers_exit_3() {
    let out = Command::new(BIN)
        .args(["release", "check", "--project", "p", "--release", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "missing --environment");
    let out = Command::new(BIN)
        .args(["release", "check", "--project", "p", "--release", "1"])
        .args([
            "--environment",
            "e",
            "--url",
            "http://127.0.0.1:9",
            "--token",
            "t",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "unreachable server");
}
