//! Time-to-visible on an idle server: single events sent one at a time, each polled
//! from its acknowledgement until the server shows it (Sextant: the event endpoint
//! answers 200; other servers: the count source goes up by one).

use std::time::{Duration, Instant};

use serde::Serialize;

use super::build;
use super::count::Counter;
use super::payload::{Rng, Template};
use super::send::{self, Target};

#[derive(Debug, Default, Serialize)]
pub struct Visibility {
    /// `event-lookup` (per-event API) or `count` (count source increments).
    pub method: &'static str,
    pub poll_ms: u64,
    /// Ack → visible, milliseconds, in sending order.
    pub samples_ms: Vec<f64>,
    pub rejected: usize,
    pub timed_out: usize,
    pub errors: Vec<String>,
}

pub struct Settings {
    pub samples: usize,
    pub poll: Duration,
    pub timeout: Duration,
    /// Pause between samples so each one meets an idle server.
    pub gap: Duration,
}

pub fn measure(
    target: &Target,
    counter: &Counter,
    templates: &[Template],
    settings: &Settings,
    rng: &mut Rng,
) -> Visibility {
    let mut client = target.client();
    let mut result = Visibility {
        method: "count",
        poll_ms: settings.poll.as_millis() as u64,
        ..Visibility::default()
    };
    for i in 0..settings.samples {
        std::thread::sleep(settings.gap);
        let template = &templates[i % templates.len()];
        let (event_id, body) = build::body(template, rng, target.gzip);
        let lookup = counter.event_visible(&event_id);
        let by_lookup = matches!(lookup, Ok(Some(_)));
        // For count-based sources, the baseline is taken right before sending.
        let before = if by_lookup {
            0
        } else {
            match counter.count() {
                Ok(n) => n,
                Err(err) => {
                    result.errors.push(format!("{err:#}"));
                    continue;
                }
            }
        };
        if by_lookup {
            result.method = "event-lookup";
        }
        let answer = send::send_one(&mut client, target, &body);
        if answer.outcome.status != 200 {
            result.rejected += 1;
            result.errors.push(format!(
                "HTTP {}: {}",
                send::status_key(answer.outcome.status),
                answer.detail
            ));
            continue;
        }
        let acked = Instant::now();
        loop {
            let seen = if by_lookup {
                counter.event_visible(&event_id).map(|v| v == Some(true))
            } else {
                counter.count().map(|n| n > before)
            };
            match seen {
                Ok(true) => {
                    result
                        .samples_ms
                        .push(acked.elapsed().as_secs_f64() * 1000.0);
                    break;
                }
                Ok(false) => {}
                Err(err) => {
                    result.errors.push(format!("{err:#}"));
                    break;
                }
            }
            if acked.elapsed() >= settings.timeout {
                result.timed_out += 1;
                break;
            }
            std::thread::sleep(settings.poll);
        }
    }
    result.errors.truncate(10);
    result
}
