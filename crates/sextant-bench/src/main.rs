//! `sextant-bench`: a load generator for any Sentry-compatible server. It sends realistic
//! Django exception events at a fixed concurrency and reports acknowledged throughput and
//! latency, end-to-end throughput (until every accepted event is queryable), idle
//! time-to-visible, and the server's memory and CPU per event.

mod build;
mod corpus;
mod count;
mod null_server;
mod payload;
mod probe;
mod report;
mod send;
mod visible;
mod wire;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use sextant_protocol::auth::parse_dsn;

use count::{Counter, Kind};
use report::{EndToEnd, Latency, Load, Payload, Report, Server, VisibilityReport};

#[derive(Debug, Parser)]
#[command(name = "sextant-bench", version, about)]
pub struct BenchArgs {
    /// DSN of the server under test (any Sentry-compatible server).
    #[arg(long, required_unless_present = "null_server")]
    pub dsn: Option<String>,
    /// Events to send (all are built before timing starts).
    #[arg(long, default_value_t = 10_000)]
    pub events: usize,
    /// Stop sending after this long (e.g. 30s, 2m); --events still caps the count.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Parallel connections, one sending thread each.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Send at most this many events per second in all (paced per connection), to
    /// measure under a steady load rather than at full speed.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Distinct issue templates; each groups into its own issue.
    #[arg(long, default_value_t = 50)]
    pub templates: usize,
    /// Send bodies gzip-compressed (Content-Encoding: gzip).
    #[arg(long)]
    pub gzip: bool,
    /// Seed for the numbers that vary between events of one template.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Sextant API token: count events via the issue list and time-to-visible via the
    /// event endpoint.
    #[arg(long, env = "SEXTANT_BENCH_API_TOKEN", value_name = "TOKEN")]
    pub api_token: Option<String>,
    /// Base URL of the Sextant API [default: the DSN's scheme, host and port].
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    #[arg(long, default_value = "default")]
    pub org: String,
    #[arg(long, default_value = "default")]
    pub project: String,
    /// Generic count source: a URL answering a JSON number or an object holding one.
    #[arg(long, value_name = "URL", conflicts_with_all = ["api_token", "count_cmd"])]
    pub count_url: Option<String>,
    /// JSON pointer to the count in the --count-url answer.
    #[arg(long, default_value = "/count", value_name = "POINTER")]
    pub count_field: String,
    /// Extra request header for --count-url, e.g. "Authorization: Bearer X" (repeatable).
    #[arg(long = "count-header", value_name = "NAME: VALUE")]
    pub count_headers: Vec<String>,
    /// Generic count source: a shell command printing the number of stored events.
    #[arg(long, value_name = "CMD", conflicts_with = "api_token")]
    pub count_cmd: Option<String>,
    /// Count polling interval during the end-to-end phase.
    #[arg(long, default_value_t = 50, value_name = "MS")]
    pub poll_ms: u64,
    /// Give up waiting for accepted events to become queryable after this long.
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    pub e2e_timeout: Duration,
    /// Single events sent one at a time after the load to time ack → visible.
    #[arg(long, default_value_t = 20, value_name = "K")]
    pub visibility_samples: usize,
    /// Polling interval while waiting for one event to become visible.
    #[arg(long, default_value_t = 5, value_name = "MS")]
    pub visibility_poll_ms: u64,
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub visibility_timeout: Duration,

    /// Server process to sample for RSS and CPU (repeatable, e.g. per worker).
    #[arg(long = "server-pid", value_name = "PID")]
    pub server_pids: Vec<u32>,
    /// Also sample every descendant of the --server-pid processes.
    #[arg(long, requires = "server_pids")]
    pub server_pid_tree: bool,

    /// Per-request timeout.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Write the full result as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Name of the setup under test, recorded in the report.
    #[arg(long, default_value = "server")]
    pub label: String,
    /// No progress bar and no progress messages on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Send to a non-loopback host (a load generator should not hit a remote server by
    /// accident).
    #[arg(long)]
    pub allow_remote: bool,
    /// Measure the client alone against a built-in trivial 200 server on 127.0.0.1.
    #[arg(long, conflicts_with = "dsn")]
    pub null_server: bool,
}

/// Accepts `250ms`, `30s`, `2m`, `1h` or plain seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("invalid duration unit in {s:?} (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn counter(args: &BenchArgs, api_base: &str) -> anyhow::Result<Option<Counter>> {
    let kind = if let Some(token) = &args.api_token {
        Kind::Sextant {
            base: api_base.trim_end_matches('/').to_owned(),
            org: args.org.clone(),
            project: args.project.clone(),
            token: token.clone(),
        }
    } else if let Some(url) = &args.count_url {
        let headers = args
            .count_headers
            .iter()
            .map(|h| {
                h.split_once(':')
                    .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                    .with_context(|| format!("--count-header {h:?}: expected NAME: VALUE"))
            })
            .collect::<anyhow::Result<_>>()?;
        Kind::Url {
            url: url.clone(),
            pointer: args.count_field.clone(),
            headers,
        }
    } else if let Some(cmd) = &args.count_cmd {
        Kind::Cmd(cmd.clone())
    } else {
        return Ok(None);
    };
    Ok(Some(Counter::new(kind)))
}

fn progress_bar(len: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {pos}/{len} {per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(len).with_style(style)
}

/// Waits until the count source covers `expected` new events (or the timeout passes).
fn end_to_end(
    counter: &Counter,
    baseline: u64,
    expected: u64,
    load: &send::LoadResult,
    args: &BenchArgs,
) -> EndToEnd {
    let poll = Duration::from_millis(args.poll_ms);
    let give_up = Instant::now() + args.e2e_timeout;
    let mut errors = Vec::new();
    let mut reached = 0;
    let (seconds, timed_out) = loop {
        match counter.count() {
            // Taken after the answer, so the query's own time counts against the server.
            Ok(n) => {
                reached = n.saturating_sub(baseline);
                if reached >= expected {
                    break (load.started.elapsed(), false);
                }
            }
            Err(err) if errors.len() < 5 => errors.push(format!("{err:#}")),
            Err(_) => {}
        }
        if Instant::now() >= give_up {
            break (load.started.elapsed(), true);
        }
        std::thread::sleep(poll);
    };
    let secs = seconds.as_secs_f64();
    EndToEnd {
        source: counter.describe(),
        baseline,
        expected,
        reached,
        timed_out,
        seconds: report::round3(secs),
        events_per_s: report::round3(reached.min(expected) as f64 / secs),
        lag_after_load_s: report::round3((seconds.saturating_sub(load.wall)).as_secs_f64()),
        poll_ms: args.poll_ms,
        errors,
    }
}

fn main() -> ExitCode {
    match run(&BenchArgs::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(args.events > 0, "--events must be at least 1");
    let dsn_text = match (&args.dsn, args.null_server) {
        (_, true) => format!("http://{}@{}/1", "0".repeat(32), null_server::start()?),
        (Some(dsn), false) => dsn.clone(),
        (None, false) => bail!("--dsn is required"),
    };
    let dsn = parse_dsn(&dsn_text).map_err(|e| anyhow::anyhow!("invalid DSN: {e}"))?;
    if !args.allow_remote && !is_loopback(&dsn.host) {
        bail!(
            "{} is not a loopback address; pass --allow-remote to load it",
            dsn.host
        );
    }
    let target = send::Target {
        url: dsn.envelope_url(),
        auth: format!(
            "Sentry sentry_key={}, sentry_version=7, sentry_client=sentry.python.django/2.19.2",
            dsn.public_key
        ),
        gzip: args.gzip,
        timeout: args.request_timeout,
    };
    let api_base = args.api_url.clone().unwrap_or_else(|| dsn.base_url());
    let counter = counter(args, &api_base)?;
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let say = |msg: String| {
        if !args.quiet {
            eprintln!("{msg}");
        }
    };

    say(format!(
        "Building {} envelopes from {} templates…",
        args.events, args.templates
    ));
    let build_start = Instant::now();
    let bodies = build::build_all(args.events, args.templates, args.gzip, args.seed);
    let build_s = build_start.elapsed().as_secs_f64();
    let total_bytes: usize = bodies.iter().map(Vec::len).sum();

    // The baseline also proves the count source works before any load is sent.
    let baseline = match &counter {
        Some(c) => Some(
            c.count()
                .with_context(|| format!("count source {}", c.describe()))?,
        ),
        None => None,
    };
    let probe = if args.server_pids.is_empty() {
        None
    } else {
        Some(probe::Probe::start(
            args.server_pids.clone(),
            args.server_pid_tree,
            Duration::from_millis(100),
        )?)
    };

    say(format!(
        "Sending to {} at concurrency {}…",
        target.url, args.concurrency
    ));
    let ticks = probe::clock_ticks();
    let progress = progress_bar(bodies.len() as u64, args.quiet);
    let cpu_before = probe::self_cpu_ms(ticks);
    let pace = args.rate.map(|rate| send::Pace {
        per_connection: Duration::from_secs_f64(args.concurrency as f64 / rate.max(0.001)),
    });
    let load = send::run(
        &target,
        &bodies,
        args.concurrency,
        args.duration,
        pace,
        &progress,
    );
    let client_cpu = probe::self_cpu_ms(ticks) - cpu_before;
    progress.finish_and_clear();
    drop(bodies);

    let mut status_counts: BTreeMap<String, usize> = BTreeMap::new();
    for o in &load.outcomes {
        *status_counts.entry(send::status_key(o.status)).or_default() += 1;
    }
    let accepted = status_counts.get("200").copied().unwrap_or(0);
    let sent = load.outcomes.len();
    let wall = load.wall.as_secs_f64().max(1e-9);
    let latencies: Vec<f64> = load
        .outcomes
        .iter()
        .filter(|o| o.status != 0)
        .map(|o| o.latency.as_secs_f64() * 1000.0)
        .collect();

    let e2e = match (&counter, baseline) {
        (Some(c), Some(base)) if accepted > 0 => {
            say("Waiting until every accepted event is queryable…".into());
            Some(end_to_end(c, base, accepted as u64, &load, args))
        }
        _ => None,
    };
    let server = probe.map(|p| {
        let summary = p.stop();
        Server {
            cpu_ms_per_accepted_event: (accepted > 0)
                .then(|| report::round3(summary.cpu_ms / accepted as f64)),
            probe: summary,
        }
    });

    let visibility = match &counter {
        Some(c) if args.visibility_samples > 0 => {
            say(format!(
                "Timing ack → visible for {} single events…",
                args.visibility_samples
            ));
            let templates = payload::Template::all(args.templates.max(1));
            let settings = visible::Settings {
                samples: args.visibility_samples,
                poll: Duration::from_millis(args.visibility_poll_ms),
                timeout: args.visibility_timeout,
                gap: Duration::from_millis(100),
            };
            let mut rng = payload::Rng::new(args.seed ^ 0x5EED);
            let raw = visible::measure(&target, c, &templates, &settings, &mut rng);
            Some(VisibilityReport {
                latency_ms: Latency::of(raw.samples_ms.clone()),
                raw,
            })
        }
        _ => None,
    };

    let report = Report {
        label: args.label.clone(),
        started_at,
        sextant_version: env!("CARGO_PKG_VERSION"),
        settings: report::Settings {
            envelope_url: target.url.clone(),
            events: args.events,
            duration_limit_s: args.duration.map(|d| d.as_secs_f64()),
            concurrency: args.concurrency,
            templates: args.templates,
            gzip: args.gzip,
            seed: args.seed,
        },
        payload: Payload {
            bodies: args.events,
            avg_body_bytes: report::round3(total_bytes as f64 / args.events as f64),
            build_s: report::round3(build_s),
        },
        load: Load {
            sent,
            accepted,
            wall_s: report::round3(wall),
            accepted_per_s: report::round3(accepted as f64 / wall),
            requests_per_s: report::round3(sent as f64 / wall),
            bytes_sent: load.bytes_sent,
            status_counts,
            ack_latency_ms: Latency::of(latencies),
            non_200_samples: load.samples.clone(),
            client_cpu_ms_per_request: report::round3(client_cpu / sent.max(1) as f64),
        },
        end_to_end: e2e,
        visibility,
        server,
    };
    print!("{}", report.human());
    if let Some(path) = &args.json {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        say(format!("Wrote {}", path.display()));
    }
    let complete = accepted > 0 && report.end_to_end.as_ref().is_none_or(|e| !e.timed_out);
    Ok(if complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_loopback() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(is_loopback("127.0.0.1") && is_loopback("[::1]") && is_loopback("localhost"));
        assert!(!is_loopback("10.0.0.1") && !is_loopback("example.com"));
    }
}
