//! The admin CLI against a real database, including while the server runs.

mod support;

use std::time::Duration;

use support::{
    ServerProcess, TestDb, agent, create_token, get_json, sextant, stdout_json, wait_until,
};

#[test]
fn project_key_and_token_commands_work_while_the_server_runs() {
    let db = TestDb::new();
    let server = ServerProcess::start(&db);

    let created = stdout_json(&sextant(
        &db,
        &["project", "create", "Checkout API", "--json"],
    ));
    assert_eq!(created["slug"], "checkout-api");
    let dsn = created["dsn"].as_str().unwrap().to_string();
    assert!(dsn.ends_with(&format!("/{}", created["id"])), "{dsn}");

    let listed = stdout_json(&sextant(&db, &["project", "list", "--json"]));
    let slugs: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["default", "checkout-api"]);

    let again = sextant(&db, &["project", "create", "Checkout API"]);
    assert!(!again.status.success(), "a duplicate slug must fail");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let key = stdout_json(&sextant(
        &db,
        &[
            "key",
            "create",
            "--project",
            "checkout-api",
            "--label",
            "ci",
            "--json",
        ],
    ));
    let public_key = key["public_key"].as_str().unwrap().to_string();
    let keys = stdout_json(&sextant(
        &db,
        &["key", "list", "--project", "checkout-api", "--json"],
    ));
    assert_eq!(keys.as_array().unwrap().len(), 2);

    // The new key is live on the running server: a test event goes through.
    let key_dsn = key["dsn"].as_str().unwrap().replace(
        "127.0.0.1:9000",
        server.base_url.trim_start_matches("http://"),
    );
    let sent = sextant(&db, &["send-test-event", "--dsn", &key_dsn, "--json"]);
    let sent_json = stdout_json(&sent);
    assert_eq!(sent_json["ok"], true, "{sent_json}");

    let token = create_token(&db, "read");
    let agent = agent();
    let event_id = sent_json["event_id"].as_str().unwrap();
    let url = format!(
        "{}/api/0/projects/default/checkout-api/events/{event_id}/",
        server.base_url
    );
    let event = wait_until(Duration::from_secs(10), || {
        let (status, body) = get_json(&agent, &url, &token);
        (status == 200).then_some(body)
    })
    .expect("timed out waiting for the test event");
    assert_eq!(
        event["title"].as_str().unwrap().split(':').next(),
        Some("SextantTestError")
    );

    // Revoked keys are refused at once, also by a server that was already running.
    stdout_json(&sextant(
        &db,
        &[
            "key",
            "revoke",
            &public_key,
            "--project",
            "checkout-api",
            "--json",
        ],
    ));
    let refused = sextant(&db, &["send-test-event", "--dsn", &key_dsn, "--json"]);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&refused.stdout).unwrap()["status"],
        401
    );
}

/// Defaults, then `sextant.toml` in the working directory, then `SEXTANT_*` variables
/// (`__` for nested keys, any case), each layer winning over the one before.
#[test]
fn configuration_layers_file_then_environment() {
    let db = TestDb::new();
    std::fs::write(
        db.path().join("sextant.toml"),
        "listen = \"127.0.0.1:9999\"\n[pipeline]\nmax_pending = 11\nbatch_size = 12\n",
    )
    .unwrap();
    let output = std::process::Command::new(support::BIN)
        .args(support::db_args(&db))
        .arg("show-config")
        .env_remove("SEXTANT_DATABASE_URL")
        .env("SEXTANT_PIPELINE__MAX_PENDING", "77")
        .env("SEXTANT_LIMITS__MAX_EVENT_BYTES", "4096")
        .env("SEXTANT_ALLOW_REMOTE_SETUP", "true")
        .env("SEXTANT_OUTBOUND__ALLOW", "127.0.0.0/8,::1")
        .env("SEXTANT_ALERTS__RETRY_SECS", "0.5,30")
        .env("SEXTANT_ALERTS__POLL_MS", "50")
        .current_dir(db.path())
        .output()
        .unwrap();
    let config = stdout_json(&output);
    assert_eq!(config["listen"], "127.0.0.1:9999", "from the file");
    assert_eq!(config["pipeline"]["batch_size"], 12, "from the file");
    assert_eq!(
        config["pipeline"]["max_pending"], 77,
        "the environment wins"
    );
    assert_eq!(
        config["limits"]["max_event_bytes"], 4096,
        "nested key from the environment"
    );
    assert_eq!(config["allow_remote_setup"], true);
    assert_eq!(
        config["outbound"]["allow"],
        serde_json::json!(["127.0.0.0/8", "::1"]),
        "a comma-separated list from the environment"
    );
    assert_eq!(config["outbound"]["timeout_ms"], 10_000, "the default");
    assert_eq!(
        config["alerts"]["retry_secs"],
        serde_json::json!([0.5, 30.0]),
        "a comma-separated list of seconds from the environment"
    );
    assert_eq!(config["alerts"]["poll_ms"], 50);
}

#[test]
fn alert_email_settings_come_from_the_environment_with_the_password_hidden() {
    let db = TestDb::new();
    let output = std::process::Command::new(support::BIN)
        .args(support::db_args(&db))
        .arg("show-config")
        .env("SEXTANT_ALERTS__EMAIL__SMTP_HOST", "mail.example.com")
        .env("SEXTANT_ALERTS__EMAIL__SECURITY", "tls")
        .env("SEXTANT_ALERTS__EMAIL__USERNAME", "sextant")
        .env("SEXTANT_ALERTS__EMAIL__PASSWORD", "hunter2")
        .current_dir(db.path())
        .output()
        .unwrap();
    let config = stdout_json(&output);
    let email = &config["alerts"]["email"];
    assert_eq!(email["smtp_host"], "mail.example.com");
    assert_eq!(email["security"], "tls");
    assert_eq!(email["username"], "sextant");
    assert_eq!(email["password"], "***");
    assert_eq!(email["subject_prefix"], "[Sextant] ", "the default");
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("hunter2"),
        "show-config leaked the SMTP password"
    );
}

#[test]
fn a_bad_outbound_allow_entry_is_a_configuration_error() {
    let db = TestDb::new();
    let output = std::process::Command::new(support::BIN)
        .args(support::db_args(&db))
        .arg("show-config")
        .env("SEXTANT_OUTBOUND__ALLOW", "hooks.example,10.1.2.3/8")
        .current_dir(db.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid outbound.allow entry \"10.1.2.3/8\""),
        "{stderr}"
    );
}

#[test]
fn help_lists_every_command() {
    let db = TestDb::new();
    let help = sextant(&db, &["--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    for command in ["serve", "project", "key", "token", "send-test-event"] {
        assert!(text.contains(command), "--help lacks {command}: {text}");
    }
    let serve_help =
        String::from_utf8_lossy(&sextant(&db, &["serve", "--help"]).stdout).to_string();
    for flag in ["--listen", "--data-dir", "--database-url"] {
        assert!(serve_help.contains(flag), "serve --help lacks {flag}");
    }
}

#[test]
fn first_start_creates_the_default_project_and_prints_its_dsn() {
    let db = TestDb::new();
    let server = ServerProcess::start(&db);
    assert!(
        server.dsn.starts_with("http://") && server.dsn.ends_with("/1"),
        "{}",
        server.dsn
    );
    let token = stdout_json(&sextant(&db, &["token", "create", "--json"]))["token"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, projects) = get_json(
        &agent(),
        &format!("{}/api/0/projects/", server.base_url),
        &token,
    );
    assert_eq!(status, 200);
    assert_eq!(projects[0]["slug"], "default");
}

/// A database password never reaches the terminal or the logs, whether it sits in the
/// URL's user info or in a query parameter, and whether the URL comes from a flag or the
/// environment.
#[test]
fn database_passwords_are_redacted_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    // An invalid port and an unknown scheme fail before any connection attempt; a port
    // where nothing listens fails on the first one, naming why.
    let urls = [
        "postgres://u:hunter2@127.0.0.1:99999/db?password=hunter3",
        "postgress://u:hunter2@127.0.0.1/db?sslmode=disable&password=hunter3",
        "postgres://u:hunter2@127.0.0.1:1/db?password=hunter3",
    ];
    let commands: [&[&str]; 3] = [
        &["serve", "--listen", "127.0.0.1:0"],
        &["project", "list"],
        &[
            "user",
            "create",
            "--email",
            "a@example.com",
            "--password",
            "longenough",
        ],
    ];
    let run = |args: &[&str], env: Option<&str>| {
        let mut cmd = std::process::Command::new(support::BIN);
        cmd.args(args)
            .current_dir(dir.path())
            .env_remove("SEXTANT_DATABASE_URL")
            .env("RUST_LOG", "debug");
        if let Some(url) = env {
            cmd.env("SEXTANT_DATABASE_URL", url);
        }
        cmd.output().expect("run sextant")
    };
    for url in urls {
        for command in commands {
            let flagged = [&["--database-url", url][..], command].concat();
            for output in [run(&flagged, None), run(command, Some(url))] {
                assert!(!output.status.success(), "{command:?} with {url}");
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
                assert!(!text.contains("hunter"), "{command:?} leaked: {text}");
                assert!(text.contains("u:***@127.0.0.1"), "{command:?}: {text}");
                assert!(text.contains("password=***"), "{command:?}: {text}");
                if url.contains(":1/") {
                    assert!(text.contains("Connection refused"), "{command:?}: {text}");
                }
            }
        }
        let shown = run(&["show-config"], Some(url));
        let text = String::from_utf8_lossy(&shown.stdout);
        assert!(shown.status.success());
        assert!(!text.contains("hunter"), "show-config leaked: {text}");
        assert!(text.contains("u:***@127.0.0.1"), "{text}");
    }
}
