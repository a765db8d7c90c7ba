//! Prometheus metrics: counters for accepted and discarded items, queue depth, latencies.
//!
//! Kept per application instance rather than in a global recorder, so that several
//! servers in one process (as in the test suite) never share counts.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::outcome::DiscardReason;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

type Labels = Vec<(&'static str, String)>;

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    counters: BTreeMap<(&'static str, Labels), u64>,
    histograms: BTreeMap<&'static str, Histogram>,
}

#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Mutex<Inner>>,
    inbox_depth: Arc<AtomicI64>,
    pending_writes: Arc<AtomicI64>,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    fn add(&self, name: &'static str, labels: Labels, n: u64) {
        let mut inner = self.inner.lock().expect("metrics lock");
        *inner.counters.entry((name, labels)).or_default() += n;
    }

    /// Requests answered by an ingest endpoint, by status code.
    pub fn ingest_request(&self, endpoint: &'static str, status: u16) {
        self.add(
            "sextant_ingest_requests_total",
            vec![
                ("endpoint", endpoint.to_string()),
                ("status", status.to_string()),
            ],
            1,
        );
    }

    /// Items accepted into storage, by item type.
    pub fn accepted(&self, item_type: &str, n: u64) {
        self.add(
            "sextant_items_accepted_total",
            vec![("item_type", item_type.to_string())],
            n,
        );
        if item_type == "event" {
            self.add("sextant_events_accepted_total", Vec::new(), n);
        }
    }

    /// Items dropped, by reason and item type. Every discard passes through here.
    pub fn discarded(&self, reason: DiscardReason, item_type: &str, n: u64) {
        self.add(
            "sextant_items_discarded_total",
            vec![
                ("reason", reason.as_str().to_string()),
                ("item_type", item_type.to_string()),
            ],
            n,
        );
    }

    /// Alert mail not written, by reason: `no_smtp_host`, `opted_out`, `not_a_member`.
    pub fn alert_email_skipped(&self, reason: &'static str, n: u64) {
        self.add(
            "sextant_alert_emails_skipped_total",
            vec![("reason", reason.to_string())],
            n,
        );
    }

    pub fn observe(&self, histogram: &'static str, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut inner = self.inner.lock().expect("metrics lock");
        let h = inner.histograms.entry(histogram).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    pub fn set_inbox_depth(&self, depth: i64) {
        self.inbox_depth.store(depth, Ordering::Relaxed);
    }

    pub fn pending_writes(&self) -> &AtomicI64 {
        &self.pending_writes
    }

    /// The sum of a counter over all label sets (for tests and status pages).
    pub fn counter_total(&self, name: &str) -> u64 {
        let inner = self.inner.lock().expect("metrics lock");
        inner
            .counters
            .iter()
            .filter(|((n, _), _)| *n == name)
            .map(|(_, v)| v)
            .sum()
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        let inner = self.inner.lock().expect("metrics lock");
        let mut out = String::new();
        let mut last_name = "";
        for ((name, labels), value) in &inner.counters {
            if *name != last_name {
                let _ = writeln!(out, "# TYPE {name} counter");
                last_name = name;
            }
            let _ = writeln!(out, "{name}{} {value}", format_labels(labels));
        }
        for (name, gauge) in [
            ("sextant_inbox_depth", &self.inbox_depth),
            ("sextant_ingest_pending_writes", &self.pending_writes),
        ] {
            let _ = writeln!(
                out,
                "# TYPE {name} gauge\n{name} {}",
                gauge.load(Ordering::Relaxed)
            );
        }
        for (name, h) in &inner.histograms {
            let _ = writeln!(out, "# TYPE {name} histogram");
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", h.counts[i]);
            }
            let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "{name}_sum {}", h.sum);
            let _ = writeln!(out, "{name}_count {}", h.count);
        }
        out
    }
}

fn format_labels(labels: &Labels) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}=\"{}\"",
                v.replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n")
            )
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_histograms() {
        let m = Metrics::new();
        m.accepted("event", 2);
        m.discarded(DiscardReason::InvalidJson, "event", 1);
        m.observe("sextant_processing_seconds", Duration::from_millis(3));
        let text = m.render();
        assert!(text.contains("sextant_events_accepted_total 2"), "{text}");
        assert!(
            text.contains(
                "sextant_items_discarded_total{reason=\"invalid_json\",item_type=\"event\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("sextant_processing_seconds_bucket{le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("sextant_processing_seconds_bucket{le=\"0.001\"} 0"),
            "{text}"
        );
        assert_eq!(m.counter_total("sextant_items_accepted_total"), 2);
    }
}
