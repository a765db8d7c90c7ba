//! Alert deliveries across crashes and nodes: `kill -9` in the middle of a burst of
//! webhooks loses none of them (what was in flight is sent again, with its
//! `Request-ID`), and two nodes on one PostgreSQL database send each message once.

mod support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};
use support::receiver::{Hook, Receiver};
use support::{
    ServerProcess, TestDb, agent, create_token, envelope_target, event_envelope, post_json,
    wait_until,
};

/// Deliveries one node sends at once: few, so a burst lasts long enough to be cut.
const CONCURRENCY: usize = 4;
/// Settings of every node: the receiver is on loopback, retries come fast, and a short
/// outbound timeout makes a dead node's claims expire within seconds.
const SETTINGS: &[(&str, &str)] = &[
    ("SEXTANT_OUTBOUND__ALLOW", "127.0.0.0/8"),
    ("SEXTANT_OUTBOUND__TIMEOUT_MS", "2000"),
    ("SEXTANT_ALERTS__RETRY_SECS", "0.05,0.05,0.05"),
    ("SEXTANT_ALERTS__POLL_MS", "50"),
    ("SEXTANT_ALERTS__CONCURRENCY", "4"),
];
const WAIT: Duration = Duration::from_secs(60);

fn within<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    wait_until(WAIT, check).unwrap_or_else(|| panic!("timed out waiting for {what}"))
}

/// Subscribes an internal integration to `issue` webhooks sent to `receiver`.
fn subscribe(server: &ServerProcess, token: &str, receiver: &Receiver) {
    let (status, body) = post_json(
        &agent(),
        &format!("{}/api/0/sentry-apps/", server.base_url),
        token,
        &json!({
            "name": "Burst Bridge",
            "organization": "default",
            "isInternal": true,
            "webhookUrl": receiver.url,
            "events": ["issue"],
        }),
    );
    assert_eq!(status, 201, "{body}");
}

/// Sends event `n`, whose exception type and function no other event has, so it makes
/// a new issue of its own.
fn send_new_issue(agent: &ureq::Agent, server: &ServerProcess, n: usize) {
    let (key, url) = envelope_target(&server.dsn);
    let event_id = uuid::Uuid::new_v4().simple().to_string();
    let body = event_envelope(
        &event_id,
        &json!({
            "event_id": event_id,
            "platform": "python",
            "exception": {"values": [{"type": format!("BurstError{n}"), "value": "burst",
                "stacktrace": {"frames": [{"module": "app.burst",
                    "function": format!("step_{n}"), "in_app": true}]}}]}
        }),
    );
    let response = agent
        .post(&url)
        .header(
            "X-Sentry-Auth",
            &format!("Sentry sentry_key={key}, sentry_version=7"),
        )
        .send(&body[..])
        .expect("send event");
    assert_eq!(response.status(), 200, "event {n}");
}

/// Sends `count` events that each make a new issue, from a few threads at once (so
/// the deliveries of the first do not finish while the last are sent), to the servers
/// in turn.
fn send_new_issues(servers: &[&ServerProcess], count: usize) {
    const SENDERS: usize = 8;
    std::thread::scope(|scope| {
        for sender in 0..SENDERS {
            scope.spawn(move || {
                let agent = agent();
                for n in (sender..count).step_by(SENDERS) {
                    send_new_issue(&agent, servers[n % servers.len()], n);
                }
            });
        }
    });
}

/// Every item of a listing, following its `Link: rel="next"` pages.
fn list_all(server: &ServerProcess, token: &str, path: &str) -> Vec<Value> {
    let agent = agent();
    let mut url = format!("{}{path}", server.base_url);
    let mut items = Vec::new();
    loop {
        let mut response = agent
            .get(&url)
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .expect("GET");
        let link = response
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(status, 200, "{url}: {text}");
        let page: Value = serde_json::from_str(&text).expect("JSON");
        items.extend(page.as_array().expect("a list").iter().cloned());
        let Some(next) = link.as_deref().and_then(next_page) else {
            return items;
        };
        let path_only = path.split('?').next().unwrap_or(path);
        url = match next.chars().next() {
            Some('?') => format!("{}{path_only}{next}", server.base_url),
            Some('/') => format!("{}{next}", server.base_url),
            _ => next,
        };
    }
}

/// The target of the `rel="next"` link, when it says more results follow.
fn next_page(link: &str) -> Option<String> {
    link.split(", <")
        .find(|part| part.contains("rel=\"next\"") && part.contains("results=\"true\""))
        .and_then(|part| part.trim_start_matches('<').split_once('>'))
        .map(|(target, _)| target.to_string())
}

fn issue_ids(server: &ServerProcess, token: &str) -> HashSet<String> {
    list_all(
        server,
        token,
        "/api/0/projects/default/default/issues/?query=&limit=100",
    )
    .iter()
    .map(|issue| issue["id"].as_str().expect("issue id").to_string())
    .collect()
}

fn deliveries(server: &ServerProcess, token: &str) -> Vec<Value> {
    list_all(
        server,
        token,
        "/api/0/organizations/default/alert-deliveries/",
    )
}

fn pending_deliveries(server: &ServerProcess, token: &str) -> Vec<Value> {
    let (status, list) = support::get_json(
        &agent(),
        &format!(
            "{}/api/0/organizations/default/alert-deliveries/?state=pending",
            server.base_url
        ),
        token,
    );
    assert_eq!(status, 200, "{list}");
    list.as_array().expect("a list").clone()
}

fn seen_issues(hooks: &[Hook]) -> HashSet<String> {
    hooks.iter().map(|h| h.issue_id.clone()).collect()
}

/// Checks the receiver's requests against the issues and the delivery log: one
/// `issue.created` message per issue, each with one `Request-ID` however often it was
/// sent, and every message delivered. Returns how many requests repeated an earlier one.
fn assert_one_message_per_issue(hooks: &[Hook], issues: &HashSet<String>, log: &[Value]) -> usize {
    let mut request_ids: HashMap<&str, HashSet<&str>> = HashMap::new();
    for hook in hooks {
        assert_eq!(hook.action, "created", "{hook:?}");
        assert!(issues.contains(&hook.issue_id), "unknown issue: {hook:?}");
        request_ids
            .entry(&hook.issue_id)
            .or_default()
            .insert(&hook.request_id);
    }
    assert_eq!(
        request_ids.len(),
        issues.len(),
        "an issue was never delivered"
    );
    for (issue, ids) in &request_ids {
        assert_eq!(ids.len(), 1, "issue {issue} got distinct messages: {ids:?}");
    }

    assert_eq!(log.len(), issues.len(), "one delivery per issue: {log:#?}");
    for delivery in log {
        assert_eq!(delivery["state"], "delivered", "{delivery}");
        let issue = delivery["issueId"].as_str().expect("issueId");
        let sent = request_ids.get(issue).expect("a delivery of a known issue");
        assert!(
            sent.contains(delivery["requestId"].as_str().unwrap_or_default()),
            "the log's Request-ID is the one received: {delivery}"
        );
    }
    hooks.len() - issues.len()
}

#[test]
fn kill_9_during_a_burst_of_deliveries_loses_none() {
    const ISSUES: usize = 200;
    let db = TestDb::new();
    // Slow answers while the events go in, so the deliveries do not all finish before
    // the last is sent (well within the outbound timeout, so none is retried).
    let receiver = Receiver::start(Duration::from_millis(300));
    let server = ServerProcess::start_with_env(&db, SETTINGS);
    let token = create_token(&db, "admin");
    subscribe(&server, &token, &receiver);
    send_new_issues(&[&server], ISSUES);
    // The kill comes once every issue has its delivery in the outbox, so it cuts the
    // burst of deliveries, not the evaluation (whose claims outlive a dead node by a
    // minute, too long for this test).
    within("a delivery per issue in the outbox", || {
        (deliveries(&server, &token).len() == ISSUES).then_some(())
    });
    // 50 ms per answer and 4 at a time: the rest of the burst takes a few seconds.
    receiver.set_delay(Duration::from_millis(50));
    within("the first deliveries", || {
        (seen_issues(&receiver.hooks()).len() >= 10).then_some(())
    });
    // The kill lands with requests certainly unanswered: the receiver holds them.
    receiver.hold();
    within("a request in flight", || {
        (!receiver.held().is_empty()).then_some(())
    });
    server.kill9();
    let in_flight = receiver.held();
    receiver.release();
    let before_kill = seen_issues(&receiver.hooks()).len();
    assert!(
        before_kill < ISSUES,
        "nothing was left to deliver after the kill"
    );

    let server = ServerProcess::start_with_env(&db, SETTINGS);
    let issues = issue_ids(&server, &token);
    assert_eq!(issues.len(), ISSUES, "one issue per event");
    within("every issue delivered after the restart", || {
        seen_issues(&receiver.hooks())
            .is_superset(&issues)
            .then_some(())
    });
    within("the outbox to drain", || {
        pending_deliveries(&server, &token).is_empty().then_some(())
    });

    let hooks = receiver.hooks();
    let repeats = assert_one_message_per_issue(&hooks, &issues, &deliveries(&server, &token));
    for cut in &in_flight {
        let sent = hooks
            .iter()
            .filter(|h| h.request_id == cut.request_id)
            .count();
        assert!(
            sent >= 2,
            "unanswered at the kill, never sent again: {cut:?}"
        );
    }
    // Only what was in flight at the kill is sent again: at most one per slot.
    assert!(
        (in_flight.len()..=CONCURRENCY).contains(&repeats),
        "{repeats} repeated requests; {} were in flight at the kill, of {CONCURRENCY} slots",
        in_flight.len()
    );
    eprintln!(
        "{before_kill} issues seen before the kill, {} in flight, {repeats} requests repeated",
        in_flight.len()
    );
}

#[test]
fn two_nodes_on_postgres_deliver_each_message_once() {
    const ISSUES: usize = 100;
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let receiver = Receiver::start(Duration::from_millis(10));
    let nodes = [
        ServerProcess::start_with_env(&db, SETTINGS),
        ServerProcess::start_with_env(&db, SETTINGS),
    ];
    let token = create_token(&db, "admin");
    subscribe(&nodes[0], &token, &receiver);
    send_new_issues(&[&nodes[0], &nodes[1]], ISSUES);

    let issues = within("every issue stored", || {
        let ids = issue_ids(&nodes[1], &token);
        (ids.len() == ISSUES).then_some(ids)
    });
    within("every issue delivered", || {
        seen_issues(&receiver.hooks())
            .is_superset(&issues)
            .then_some(())
    });
    within("the outbox to drain", || {
        pending_deliveries(&nodes[0], &token)
            .is_empty()
            .then_some(())
    });

    let log = deliveries(&nodes[1], &token);
    let repeats = assert_one_message_per_issue(&receiver.hooks(), &issues, &log);
    assert_eq!(repeats, 0, "a message was sent twice");
    for delivery in &log {
        assert_eq!(delivery["attempts"], 1, "{delivery}");
    }
}
