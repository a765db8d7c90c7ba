//! Benchmark results: percentile math, the JSON result document (`--json FILE`) and
//! the human summary printed on stdout.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::probe::ProbeSummary;
use super::visible::Visibility;

/// Nearest-rank percentile of sorted values: the smallest value with at least `q`
/// (0..=1) of the values at or below it. No interpolation, so it is always a value
/// that was actually observed.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    pub count: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    pub fn of(mut values: Vec<f64>) -> Option<Latency> {
        values.sort_by(f64::total_cmp);
        let p = |q| percentile(&values, q).map(round3);
        Some(Latency {
            count: values.len(),
            p50: p(0.50)?,
            p90: p(0.90)?,
            p99: p(0.99)?,
            max: round3(*values.last()?),
            mean: round3(values.iter().sum::<f64>() / values.len() as f64),
        })
    }
}

pub fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[derive(Debug, Serialize)]
pub struct Settings {
    pub envelope_url: String,
    pub events: usize,
    pub duration_limit_s: Option<f64>,
    pub concurrency: usize,
    pub templates: usize,
    pub gzip: bool,
    pub seed: u64,
}

#[derive(Debug, Serialize)]
pub struct Payload {
    pub bodies: usize,
    pub avg_body_bytes: f64,
    pub build_s: f64,
}

#[derive(Debug, Serialize)]
pub struct Load {
    pub sent: usize,
    pub accepted: usize,
    pub wall_s: f64,
    /// 200s over send wall time.
    pub accepted_per_s: f64,
    pub requests_per_s: f64,
    pub bytes_sent: u64,
    pub status_counts: BTreeMap<String, usize>,
    /// Milliseconds, over requests that got an HTTP answer.
    pub ack_latency_ms: Option<Latency>,
    /// First response body (or transport error) per non-200 status.
    pub non_200_samples: BTreeMap<String, String>,
    /// Benchmark client CPU per request; if it nears wall time per request × cores,
    /// the client is the bottleneck.
    pub client_cpu_ms_per_request: f64,
}

#[derive(Debug, Serialize)]
pub struct EndToEnd {
    pub source: String,
    pub baseline: u64,
    pub expected: u64,
    pub reached: u64,
    pub timed_out: bool,
    /// First send until the count covered every accepted event.
    pub seconds: f64,
    pub events_per_s: f64,
    /// How long processing lagged behind the last acknowledgement.
    pub lag_after_load_s: f64,
    pub poll_ms: u64,
    pub errors: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct VisibilityReport {
    #[serde(flatten)]
    pub raw: Visibility,
    pub latency_ms: Option<Latency>,
}

#[derive(Debug, Serialize)]
pub struct Server {
    #[serde(flatten)]
    pub probe: ProbeSummary,
    pub cpu_ms_per_accepted_event: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub label: String,
    pub started_at: String,
    pub sextant_version: &'static str,
    pub settings: Settings,
    pub payload: Payload,
    pub load: Load,
    pub end_to_end: Option<EndToEnd>,
    pub visibility: Option<VisibilityReport>,
    pub server: Option<Server>,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn lat(l: &Option<Latency>) -> String {
    match l {
        Some(l) => format!(
            "p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            l.p50, l.p90, l.p99, l.max
        ),
        None => "no samples".into(),
    }
}

impl Report {
    pub fn human(&self) -> String {
        let mut s = String::new();
        let r = self;
        let _ = writeln!(
            s,
            "sextant-bench: {} ({})",
            r.label, r.settings.envelope_url
        );
        let _ = writeln!(
            s,
            "  payload     {} bodies, avg {:.1} KiB on the wire{}, {} templates, built in {:.1} s",
            r.payload.bodies,
            r.payload.avg_body_bytes / 1024.0,
            if r.settings.gzip { " (gzip)" } else { "" },
            r.settings.templates,
            r.payload.build_s
        );
        let l = &r.load;
        let _ = writeln!(
            s,
            "  load        {} sent at concurrency {} in {:.2} s: {:.0} accepted events/s ({:.0} req/s, {:.1} MiB sent)",
            l.sent,
            r.settings.concurrency,
            l.wall_s,
            l.accepted_per_s,
            l.requests_per_s,
            l.bytes_sent as f64 / 1048576.0
        );
        let statuses: Vec<String> = l
            .status_counts
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let _ = writeln!(s, "  statuses    {}", statuses.join(", "));
        for (status, sample) in &l.non_200_samples {
            let _ = writeln!(s, "    first {status}: {sample}");
        }
        let _ = writeln!(s, "  ack latency {}", lat(&l.ack_latency_ms));
        let _ = writeln!(
            s,
            "  client cpu  {:.3} ms/request",
            l.client_cpu_ms_per_request
        );
        match &r.end_to_end {
            Some(e) => {
                let _ = writeln!(
                    s,
                    "  end-to-end  {:.0} events/s: {} of {} queryable after {:.2} s (processing lag after last ack {:.2} s){}",
                    e.events_per_s,
                    e.reached,
                    e.expected,
                    e.seconds,
                    e.lag_after_load_s,
                    if e.timed_out { " — TIMED OUT" } else { "" }
                );
                for err in &e.errors {
                    let _ = writeln!(s, "    error: {err}");
                }
            }
            None => {
                let _ = writeln!(
                    s,
                    "  end-to-end  not measured (give --api-token, --count-url or --count-cmd)"
                );
            }
        }
        if let Some(v) = &r.visibility {
            let _ = writeln!(
                s,
                "  visible     {} ({} samples by {}, poll {} ms{}{})",
                lat(&v.latency_ms),
                v.raw.samples_ms.len(),
                v.raw.method,
                v.raw.poll_ms,
                if v.raw.timed_out > 0 {
                    format!(", {} timed out", v.raw.timed_out)
                } else {
                    String::new()
                },
                if v.raw.rejected > 0 {
                    format!(", {} rejected", v.raw.rejected)
                } else {
                    String::new()
                }
            );
            for err in v.raw.errors.iter().take(3) {
                let _ = writeln!(s, "    error: {err}");
            }
        }
        if let Some(srv) = &r.server {
            let p = &srv.probe;
            let _ = writeln!(
                s,
                "  server      pids {:?}: idle RSS {:.1} MiB, peak {:.1} MiB (sum of VmHWM {:.1} MiB; PSS idle {:.1}, peak {:.1} MiB), CPU {:.0} ms = {} ms/event",
                p.pids,
                mib(p.idle_rss_kib),
                mib(p.peak_rss_kib),
                mib(p.sum_hwm_kib),
                mib(p.idle_pss_kib),
                mib(p.peak_pss_kib),
                p.cpu_ms,
                srv.cpu_ms_per_accepted_event
                    .map_or("-".into(), |v| format!("{v:.3}"))
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.50), Some(50.0));
        assert_eq!(percentile(&v, 0.90), Some(90.0));
        assert_eq!(percentile(&v, 0.99), Some(99.0));
        assert_eq!(percentile(&v, 1.0), Some(100.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0], 0.99), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
        let small = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&small, 0.5), Some(2.0));
        assert_eq!(percentile(&small, 0.51), Some(3.0));
    }

    #[test]
    fn latency_summary_sorts_its_input() {
        let l = Latency::of(vec![5.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!(
            (l.p50, l.p90, l.p99, l.max, l.mean),
            (3.0, 5.0, 5.0, 5.0, 3.0)
        );
        assert_eq!(Latency::of(Vec::new()), None);
    }
}
