//! Overload: a flood far above what the server may hold in memory gets early 429s with
//! `Retry-After` and `X-Sentry-Rate-Limits`, memory stays bounded, and every event that
//! was acknowledged is stored, exactly once.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{
    ServerProcess, TestDb, agent, create_token, envelope_target, event_envelope, get_json,
    wait_until,
};

const SENDERS: usize = 32;
const EVENTS: usize = 1600;
/// Every event carries this much extra data, so bodies in flight add up.
const PADDING: usize = 64 * 1024;
/// Peak resident memory allowed for the whole run (the load target is 150 MiB).
const MAX_RSS_KIB: u64 = 150 * 1024;

#[derive(Default)]
struct Outcome {
    acked: Vec<String>,
    refused: usize,
}

/// An envelope with one error event padded to about `PADDING` bytes.
fn padded_envelope(event_id: &str) -> Vec<u8> {
    let event = serde_json::json!({
        "event_id": event_id,
        "platform": "python",
        "message": "flood",
        "extra": {"padding": "x".repeat(PADDING)},
    });
    event_envelope(event_id, &event)
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc status")
}

#[test]
fn a_flood_gets_429s_and_loses_nothing_it_acknowledged() {
    let db = TestDb::new();
    // Tight bounds on what may wait for an inbox commit (requests and bytes), and one
    // request per commit, so 32 concurrent senders are well above them.
    let server = ServerProcess::start_with_env(
        &db,
        &[
            ("SEXTANT_PIPELINE__MAX_PENDING", "4"),
            ("SEXTANT_PIPELINE__MAX_PENDING_BYTES", "262144"),
            ("SEXTANT_PIPELINE__COMMIT_BATCH", "1"),
        ],
    );
    let (key, url) = envelope_target(&server.dsn);
    let auth = format!("Sentry sentry_key={key}, sentry_version=7");

    let next = Arc::new(AtomicUsize::new(0));
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (next, outcome, url, auth) =
                (next.clone(), outcome.clone(), url.clone(), auth.clone());
            std::thread::spawn(move || {
                let agent = agent();
                while next.fetch_add(1, Ordering::SeqCst) < EVENTS {
                    let event_id = uuid::Uuid::new_v4().simple().to_string();
                    let body = padded_envelope(&event_id);
                    let response = agent
                        .post(&url)
                        .header("X-Sentry-Auth", &auth)
                        .send(&body[..])
                        .expect("the server stays up under the flood");
                    match response.status().as_u16() {
                        200 => outcome.lock().unwrap().acked.push(event_id),
                        429 => {
                            let header = |name: &str| {
                                response
                                    .headers()
                                    .get(name)
                                    .and_then(|v| v.to_str().ok())
                                    .map(str::to_string)
                            };
                            let retry_after = header("retry-after").expect("Retry-After");
                            assert!(retry_after.parse::<u64>().is_ok(), "{retry_after}");
                            let limits = header("x-sentry-rate-limits").expect("rate limits");
                            assert!(!limits.is_empty());
                            outcome.lock().unwrap().refused += 1;
                        }
                        other => panic!("unexpected status {other}"),
                    }
                }
            })
        })
        .collect();
    for sender in senders {
        sender.join().expect("sender");
    }
    let outcome = Arc::try_unwrap(outcome).ok().unwrap().into_inner().unwrap();
    eprintln!(
        "{} acknowledged, {} refused with 429",
        outcome.acked.len(),
        outcome.refused
    );
    assert!(outcome.refused > 0, "the flood was never refused");
    assert!(!outcome.acked.is_empty(), "nothing was accepted");
    assert_eq!(outcome.acked.len() + outcome.refused, EVENTS);

    let peak = peak_rss_kib(server.pid());
    assert!(
        peak < MAX_RSS_KIB,
        "peak RSS {peak} KiB above {MAX_RSS_KIB} KiB"
    );

    // Every acknowledged event becomes queryable, and is counted once.
    let token = create_token(&db, "read");
    let agent = agent();
    let issues_url = format!(
        "{}/api/0/projects/default/default/issues/?query=&limit=100",
        server.base_url
    );
    let counted = || -> usize {
        let (status, issues) = get_json(&agent, &issues_url, &token);
        assert_eq!(status, 200, "{issues}");
        issues
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["count"].as_str().unwrap().parse::<usize>().unwrap())
            .sum()
    };
    wait_until(
        Duration::from_secs(120),
        "every acknowledged event to be stored",
        || (counted() >= outcome.acked.len()).then_some(()),
    );
    assert_eq!(
        counted(),
        outcome.acked.len(),
        "refused events are not stored"
    );
    for id in &outcome.acked {
        let url = format!(
            "{}/api/0/projects/default/default/events/{id}/",
            server.base_url
        );
        assert_eq!(get_json(&agent, &url, &token).0, 200, "acked event {id}");
    }
}
