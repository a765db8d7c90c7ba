//! Overload: a flood far above what the server may hold in memory gets early 429s with
//! `Retry-After` and `X-Sentry-Rate-Limits`, memory stays bounded, and every event that
//! was acknowledged is stored, exactly once; a backlog of unprocessed requests over its
//! bound is refused the same way until processing catches up.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{
    ServerProcess, TestDb, agent, create_token, envelope, envelope_target, event_envelope,
    get_json, wait_until,
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
                            retry_after(&response);
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

    assert_stored_once(&db, &server, &outcome.acked);
}

/// Every acknowledged event becomes queryable, and is counted once.
fn assert_stored_once(db: &TestDb, server: &ServerProcess, acked: &[String]) {
    let token = create_token(db, "read");
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
    wait_until(Duration::from_secs(120), || {
        (counted() >= acked.len()).then_some(())
    })
    .expect("timed out waiting for every acknowledged event to be stored");
    assert_eq!(counted(), acked.len(), "refused events are not stored");
    for id in acked {
        let url = format!(
            "{}/api/0/projects/default/default/events/{id}/",
            server.base_url
        );
        assert_eq!(get_json(&agent, &url, &token).0, 200, "acked event {id}");
    }
}

/// The header of a 429, which must carry both `Retry-After` and `X-Sentry-Rate-Limits`.
fn retry_after(response: &ureq::http::Response<ureq::Body>) -> u64 {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let limits = header("x-sentry-rate-limits").expect("X-Sentry-Rate-Limits on a 429");
    assert!(!limits.is_empty());
    let retry_after = header("retry-after").expect("Retry-After on a 429");
    retry_after
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After {retry_after}"))
}

#[test]
fn a_backlog_over_its_bound_is_refused_until_it_drains() {
    let db = TestDb::new();
    // One request per processing transaction keeps processing well behind a flood; a
    // backlog of one accepted request is already over the bound.
    let server = ServerProcess::start_with_env(
        &db,
        &[
            ("SEXTANT_PIPELINE__MAX_BACKLOG", "1"),
            ("SEXTANT_PIPELINE__BATCH_SIZE", "1"),
        ],
    );
    let (key, url) = envelope_target(&server.dsn);
    let auth = format!("Sentry sentry_key={key}, sentry_version=7");
    let send = move |agent: &ureq::Agent, event_id: &str| {
        agent
            .post(&url)
            .header("X-Sentry-Auth", &auth)
            .send(&envelope(event_id, "backlog", "app@1")[..])
            .expect("the server stays up under the flood")
    };

    // Flood until the backlog bound refuses a request (its count is refreshed once a
    // second, so it takes a little while), then stop.
    let refused = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let senders: Vec<_> = (0..8)
        .map(|_| {
            let (refused, acked, send) = (refused.clone(), acked.clone(), send.clone());
            std::thread::spawn(move || {
                let agent = agent();
                let deadline = Instant::now() + Duration::from_secs(120);
                while !refused.load(Ordering::SeqCst) {
                    assert!(Instant::now() < deadline, "the backlog bound never refused");
                    let event_id = uuid::Uuid::new_v4().simple().to_string();
                    let response = send(&agent, &event_id);
                    match response.status().as_u16() {
                        200 => acked.lock().unwrap().push(event_id),
                        429 => {
                            // Longer than a momentary queue's 1 s: the backlog drains at
                            // the processing rate.
                            assert!(retry_after(&response) > 1);
                            refused.store(true, Ordering::SeqCst);
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
    let mut acked = Arc::try_unwrap(acked).unwrap().into_inner().unwrap();
    assert!(!acked.is_empty(), "nothing was accepted before the bound");

    // Once processing catches up, requests are accepted again.
    let agent = agent();
    wait_until(Duration::from_secs(120), || {
        let event_id = uuid::Uuid::new_v4().simple().to_string();
        let response = send(&agent, &event_id);
        match response.status().as_u16() {
            200 => {
                acked.push(event_id);
                Some(())
            }
            429 => None,
            other => panic!("unexpected status {other}"),
        }
    })
    .expect("timed out waiting for ingest to accept again after the backlog drained");
    assert_stored_once(&db, &server, &acked);
}
