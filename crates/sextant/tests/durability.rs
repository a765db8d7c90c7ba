//! Crash durability: every event acknowledged with 200 survives `kill -9` of the server
//! and is stored exactly once after restart.

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{
    ServerProcess, TestDb, agent, create_token, envelope, envelope_target, get_json, wait_until,
};

const ROUNDS: usize = 3;
const EVENTS_PER_ROUND: usize = 2000;
const SENDERS: usize = 8;
/// Kill once this many events of a round are acknowledged, so the kill lands mid-stream.
const KILL_AFTER: usize = 600;

struct Sent {
    attempted: Vec<String>,
    acked: Vec<String>,
}

/// Sends `EVENTS_PER_ROUND` events from several threads and kills the server once
/// `KILL_AFTER` are acknowledged; the senders keep going until their requests fail.
fn round(server: ServerProcess, round: usize) -> Sent {
    let (key, url) = envelope_target(&server.dsn);
    let auth = format!("Sentry sentry_key={key}, sentry_version=7");
    let next = Arc::new(AtomicUsize::new(0));
    let acked_count = Arc::new(AtomicUsize::new(0));
    let dead = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(Mutex::new(Sent {
        attempted: Vec::new(),
        acked: Vec::new(),
    }));
    let mut threads = Vec::new();
    for _ in 0..SENDERS {
        let (next, acked_count, dead, sent) = (
            next.clone(),
            acked_count.clone(),
            dead.clone(),
            sent.clone(),
        );
        let (url, auth) = (url.clone(), auth.clone());
        threads.push(std::thread::spawn(move || {
            let agent = agent();
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= EVENTS_PER_ROUND || dead.load(Ordering::SeqCst) {
                    break;
                }
                let event_id = uuid::Uuid::new_v4().simple().to_string();
                let body = envelope(
                    &event_id,
                    &format!("job {} failed in round {round}", n % 5),
                    "1.0.0",
                );
                sent.lock().unwrap().attempted.push(event_id.clone());
                match agent
                    .post(&url)
                    .header("X-Sentry-Auth", &auth)
                    .send(&body[..])
                {
                    Ok(response) if response.status() == 200 => {
                        sent.lock().unwrap().acked.push(event_id);
                        acked_count.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(response) => panic!("unexpected status {}", response.status()),
                    Err(_) => break,
                }
            }
        }));
    }
    wait_until(Duration::from_secs(120), || {
        (acked_count.load(Ordering::SeqCst) >= KILL_AFTER).then_some(())
    })
    .expect("timed out waiting for acknowledgements before the kill");
    server.kill9();
    dead.store(true, Ordering::SeqCst);
    for thread in threads {
        thread.join().expect("sender thread");
    }
    Arc::try_unwrap(sent)
        .ok()
        .expect("senders finished")
        .into_inner()
        .unwrap()
}

#[test]
fn acked_events_survive_kill_9_exactly_once() {
    let db = TestDb::new();
    let mut attempted = Vec::new();
    let mut acked = Vec::new();
    for r in 0..ROUNDS {
        let sent = round(ServerProcess::start(&db), r);
        assert!(
            sent.acked.len() >= KILL_AFTER,
            "round {r} acked only {}",
            sent.acked.len()
        );
        attempted.extend(sent.attempted);
        acked.extend(sent.acked);
    }

    let server = ServerProcess::start(&db);
    let token = create_token(&db, "read");
    let agent = agent();
    let event_url = |id: &str| {
        format!(
            "{}/api/0/projects/default/default/events/{id}/",
            server.base_url
        )
    };

    // Every acknowledged event becomes queryable once the replayed inbox is processed.
    let mut missing: Vec<&String> = acked.iter().collect();
    wait_until(Duration::from_secs(120), || {
        missing.retain(|id| get_json(&agent, &event_url(id), &token).0 != 200);
        missing.is_empty().then_some(())
    })
    .expect("timed out waiting for all acknowledged events to be queryable");

    // Exactly once: the issues count each stored event one time, no more.
    let stored: HashSet<&String> = attempted
        .iter()
        .filter(|id| get_json(&agent, &event_url(id), &token).0 == 200)
        .collect();
    let (status, issues) = get_json(
        &agent,
        &format!(
            "{}/api/0/projects/default/default/issues/?query=&limit=100",
            server.base_url
        ),
        &token,
    );
    assert_eq!(status, 200, "{issues}");
    let counted: u64 = issues
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["count"].as_str().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(
        counted as usize,
        stored.len(),
        "issue counts must match the distinct stored events"
    );
    assert!(stored.len() >= acked.len());
    let status = server.terminate();
    assert!(status.success(), "clean shutdown after SIGTERM: {status:?}");
}
