//! The load phase: pre-built envelope bodies sent by one thread per concurrency slot,
//! each with its own keep-alive connection, recording status and ack latency.
//!
//! Blocking threads rather than an async client: with one connection per slot there is
//! nothing to multiplex, and a plain thread keeps per-request client overhead small and
//! easy to measure (see `--null-server`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;

/// Where and how envelopes are posted.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub auth: String,
    pub gzip: bool,
    pub timeout: Duration,
}

const USER_AGENT: &str = "sentry.python/2.19.2 (sextant-bench)";
const CONTENT_TYPE: &str = "application/x-sentry-envelope";

/// One slot's connection: the lean client for `http://` targets, ureq for the rest.
pub enum Client {
    Wire(super::wire::Connection),
    Ureq(ureq::Agent),
}

impl Target {
    /// The headers every envelope is sent with, whichever client sends it.
    fn headers(&self) -> Vec<(&'static str, &str)> {
        let mut headers = vec![
            ("User-Agent", USER_AGENT),
            ("X-Sentry-Auth", self.auth.as_str()),
            ("Content-Type", CONTENT_TYPE),
        ];
        if self.gzip {
            headers.push(("Content-Encoding", "gzip"));
        }
        headers
    }

    pub fn client(&self) -> Client {
        match super::wire::Connection::new(&self.url, &self.headers(), self.timeout) {
            Ok(conn) => Client::Wire(conn),
            Err(_) => Client::Ureq(
                ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(self.timeout))
                    .build()
                    .into(),
            ),
        }
    }
}

/// One request's result. `status` 0 means a transport error (no HTTP answer).
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub status: u16,
    pub latency: Duration,
}

/// What came back for one request, with the response body kept for diagnosis.
pub struct Answer {
    pub outcome: Outcome,
    pub detail: String,
}

/// Posts one envelope and reads the whole response, so the connection can be reused.
pub fn send_one(client: &mut Client, target: &Target, body: &[u8]) -> Answer {
    let start = Instant::now();
    let (status, detail) = match client {
        Client::Wire(conn) => match conn.post(body) {
            Ok(response) => (
                response.status,
                String::from_utf8_lossy(&response.body).into_owned(),
            ),
            Err(err) => (0, err.to_string()),
        },
        Client::Ureq(agent) => {
            let mut request = agent.post(&target.url);
            for (name, value) in target.headers() {
                request = request.header(name, value);
            }
            match request.send(body) {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let text = response.body_mut().read_to_string().unwrap_or_default();
                    (status, text)
                }
                Err(err) => (0, err.to_string()),
            }
        }
    };
    Answer {
        outcome: Outcome {
            status,
            latency: start.elapsed(),
        },
        detail,
    }
}

pub struct LoadResult {
    pub started: Instant,
    pub outcomes: Vec<Outcome>,
    /// First send to last answer.
    pub wall: Duration,
    pub bytes_sent: u64,
    /// First response body (or error text) per non-200 status, for the report.
    pub samples: BTreeMap<String, String>,
}

/// A steady rate: each connection sends one request per `per_connection` at most.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub per_connection: Duration,
}

/// Sends `bodies` in order over `concurrency` connections until all are sent or
/// `deadline` has passed since the first send, as fast as the server answers or at
/// `pace`.
pub fn run(
    target: &Target,
    bodies: &[Vec<u8>],
    concurrency: usize,
    deadline: Option<Duration>,
    pace: Option<Pace>,
    progress: &ProgressBar,
) -> LoadResult {
    let next = AtomicUsize::new(0);
    let samples = Mutex::new(BTreeMap::new());
    // Clients are made before timing starts.
    let clients: Vec<Client> = (0..concurrency).map(|_| target.client()).collect();
    let start = Instant::now();
    let per_thread: Vec<(Vec<Outcome>, u64, Duration)> = std::thread::scope(|scope| {
        let handles: Vec<_> = clients
            .into_iter()
            .enumerate()
            .map(|(index, mut client)| {
                let (next, samples) = (&next, &samples);
                scope.spawn(move || {
                    let mut outcomes = Vec::with_capacity(bodies.len() / concurrency + 1);
                    let mut bytes = 0u64;
                    let mut last = Duration::ZERO;
                    // Connections are staggered across one slot, not sent together.
                    let mut slot = start
                        + pace.map_or(Duration::ZERO, |p| {
                            p.per_connection.mul_f64(index as f64 / concurrency as f64)
                        });
                    loop {
                        if let Some(pace) = pace {
                            // Absolute slots: a slow answer is caught up, not added.
                            slot += pace.per_connection;
                            if let Some(wait) = slot.checked_duration_since(Instant::now()) {
                                std::thread::sleep(wait);
                            }
                        }
                        if deadline.is_some_and(|d| start.elapsed() >= d) {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(body) = bodies.get(i) else { break };
                        let answer = send_one(&mut client, target, body);
                        last = start.elapsed();
                        bytes += body.len() as u64;
                        if answer.outcome.status != 200 {
                            let key = status_key(answer.outcome.status);
                            let mut samples = samples.lock().unwrap_or_else(|e| e.into_inner());
                            samples
                                .entry(key)
                                .or_insert_with(|| clip(&answer.detail, 300));
                        }
                        outcomes.push(answer.outcome);
                        progress.inc(1);
                    }
                    (outcomes, bytes, last)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let wall = per_thread
        .iter()
        .map(|(_, _, last)| *last)
        .max()
        .unwrap_or_default();
    let bytes_sent = per_thread.iter().map(|(_, b, _)| *b).sum();
    let outcomes = per_thread.into_iter().flat_map(|(o, _, _)| o).collect();
    LoadResult {
        started: start,
        outcomes,
        wall,
        bytes_sent,
        samples: samples.into_inner().unwrap_or_default(),
    }
}

/// The status-count key: the HTTP status, or `error` for a transport failure.
pub fn status_key(status: u16) -> String {
    if status == 0 {
        "error".into()
    } else {
        status.to_string()
    }
}

fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
