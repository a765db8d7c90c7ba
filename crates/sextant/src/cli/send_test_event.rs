//! `sextant send-test-event --dsn DSN`: sends a real envelope with an exception and a
//! stack trace, the way an SDK would, and reports what the server answered.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;
use serde_json::json;
use sextant_protocol::auth::parse_dsn;

#[derive(Debug, Args)]
pub struct SendTestEventArgs {
    /// The DSN to send to, e.g. http://KEY@127.0.0.1:9000/1.
    #[arg(long, env = "SENTRY_DSN")]
    pub dsn: String,
    /// Message of the test exception.
    #[arg(
        long,
        default_value = "This is a test event from sextant send-test-event"
    )]
    pub message: String,
    #[arg(long)]
    pub json: bool,
}

fn test_event(event_id: &str, message: &str) -> serde_json::Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let frame = |function: &str, lineno: u32, line: &str| {
        json!({
            "filename": "sextant/cli.rs", "abs_path": "/usr/src/sextant/cli.rs", "function": function,
            "module": "sextant::cli", "lineno": lineno, "in_app": true,
            "pre_context": ["fn main() {", "    // prepare"], "context_line": line, "post_context": ["}"],
            "vars": {"attempt": "1", "dsn_project": "\"test\""}
        })
    };
    json!({
        "event_id": event_id,
        "timestamp": now,
        "platform": "rust",
        "level": "error",
        "logger": "sextant.send-test-event",
        "environment": "test",
        "server_name": hostname(),
        "exception": {"values": [{
            "type": "SextantTestError",
            "value": message,
            "mechanism": {"type": "generic", "handled": true},
            "stacktrace": {"frames": [
                frame("main", 10, "    run_check();"),
                frame("run_check", 42, "    raise_test_error()?;"),
            ]}
        }]},
        "breadcrumbs": {"values": [{"timestamp": now, "category": "sextant", "message": "about to send a test event"}]},
        "tags": {"source": "send-test-event"},
        "sdk": {"name": "sextant.cli", "version": env!("CARGO_PKG_VERSION")}
    })
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

pub fn run(args: &SendTestEventArgs) -> anyhow::Result<ExitCode> {
    let dsn = parse_dsn(&args.dsn).map_err(|e| anyhow::anyhow!("invalid DSN: {e}"))?;
    let event_id = uuid::Uuid::new_v4().simple().to_string();
    let event = serde_json::to_vec(&test_event(&event_id, &args.message))?;
    let mut body = serde_json::to_vec(&json!({"event_id": event_id, "dsn": args.dsn}))?;
    body.push(b'\n');
    body.extend_from_slice(
        format!("{{\"type\":\"event\",\"length\":{}}}\n", event.len()).as_bytes(),
    );
    body.extend_from_slice(&event);
    body.push(b'\n');

    let url = dsn.envelope_url();
    let auth = format!(
        "Sentry sentry_key={}, sentry_version=7, sentry_client=sextant-cli/{}",
        dsn.public_key,
        env!("CARGO_PKG_VERSION")
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .post(&url)
        .header("X-Sentry-Auth", &auth)
        .header("Content-Type", "application/x-sentry-envelope")
        .send(&body[..])
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let ok = status == 200;
    if args.json {
        println!(
            "{}",
            json!({"ok": ok, "status": status, "event_id": event_id, "response": serde_json::from_str::<serde_json::Value>(&text).unwrap_or(json!(text))})
        );
    } else if ok {
        println!("Sent test event {event_id} to {url}: accepted.");
    } else {
        println!("Sending to {url} failed with HTTP {status}: {text}");
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
