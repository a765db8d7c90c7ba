//! The deploy gate's decision, as a pure function of two samples (candidate release and
//! baseline, over matched windows) and the project's thresholds.
//!
//! Each signal is `regressed`, `ok` or `insufficient_data`. The release is `regressed`
//! when any signal is, `healthy` when none is and the primary signal (crash-free sessions,
//! or the error rate when the project sends no sessions) could conclude, and
//! `inconclusive` otherwise.

use serde::Serialize;

use super::config::GateSettings;
use super::stats::{poisson_rate_greater, two_proportion_greater};

/// What one release did in its window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    pub sessions: i64,
    pub crashed: i64,
    pub errored: i64,
    pub events: i64,
    pub unhandled_events: i64,
    /// Events of issues first seen in this release, and their distinct users.
    pub new_issue_events: i64,
    pub new_issue_users: i64,
    pub new_issues: i64,
    /// Window length in minutes.
    pub minutes: f64,
}

impl Sample {
    pub fn crash_free(&self) -> Option<f64> {
        super::health::crash_free(self.crashed, self.sessions)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Regressed,
    InsufficientData,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Healthy,
    Regressed,
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Healthy => "healthy",
            Verdict::Regressed => "regressed",
            Verdict::Inconclusive => "inconclusive",
        }
    }

    /// The exit code of `sextant release check`.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Healthy => 0,
            Verdict::Regressed => 1,
            Verdict::Inconclusive => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Signal {
    pub name: &'static str,
    pub status: Status,
    pub candidate: Option<f64>,
    pub baseline: Option<f64>,
    /// Candidate minus baseline (crash-free points) or candidate over baseline (rates).
    pub change: Option<f64>,
    pub p_value: Option<f64>,
    /// One sentence with the numbers behind the status.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub signals: Vec<Signal>,
}

fn fmt_ratio(r: f64) -> String {
    if r.is_finite() {
        format!("{r:.2}×")
    } else {
        "from zero".to_string()
    }
}

fn crash_free_signal(c: &Sample, b: &Sample, s: &GateSettings) -> Signal {
    let name = "crash_free_sessions";
    if c.sessions < s.min_sessions || b.sessions < s.min_sessions {
        return Signal {
            name,
            status: Status::InsufficientData,
            candidate: c.crash_free(),
            baseline: b.crash_free(),
            change: None,
            p_value: None,
            reason: format!(
                "{} sessions in the release and {} in the baseline; {} each are needed",
                c.sessions, b.sessions, s.min_sessions
            ),
        };
    }
    let (cf_c, cf_b) = (
        c.crash_free().unwrap_or(100.0),
        b.crash_free().unwrap_or(100.0),
    );
    let drop = cf_b - cf_c;
    let (_, p) = two_proportion_greater(b.crashed, b.sessions, c.crashed, c.sessions);
    let significant = p < 1.0 - s.crash_free_confidence;
    let regressed = significant && drop >= s.crash_free_drop_points;
    Signal {
        name,
        status: if regressed {
            Status::Regressed
        } else {
            Status::Ok
        },
        candidate: Some(cf_c),
        baseline: Some(cf_b),
        change: Some(-drop),
        p_value: Some(p),
        reason: format!(
            "crash-free sessions {cf_c:.2}% vs {cf_b:.2}% ({:+.2} points, p = {p:.4}; \
             regressed at a drop of {} points with {}% confidence)",
            -drop,
            s.crash_free_drop_points,
            s.crash_free_confidence * 100.0
        ),
    }
}

/// A rate signal: `k` events over an exposure (sessions, or minutes without sessions).
struct Rate<'a> {
    name: &'static str,
    what: &'a str,
    k_c: i64,
    k_b: i64,
    ratio: f64,
    p: f64,
}

fn rate_signal(c: &Sample, b: &Sample, s: &GateSettings, r: Rate<'_>) -> Signal {
    let by_sessions = c.sessions > 0 || b.sessions > 0;
    let (e_c, e_b, unit) = if by_sessions {
        (c.sessions as f64, b.sessions as f64, "session")
    } else {
        (c.minutes, b.minutes, "minute")
    };
    let enough = if by_sessions {
        c.sessions >= s.min_sessions && b.sessions >= s.min_sessions
    } else {
        r.k_c + r.k_b >= s.min_events && c.minutes > 0.0 && b.minutes > 0.0
    };
    let per = |k: i64, e: f64| if e > 0.0 { Some(k as f64 / e) } else { None };
    if !enough {
        return Signal {
            name: r.name,
            status: Status::InsufficientData,
            candidate: per(r.k_c, e_c),
            baseline: per(r.k_b, e_b),
            change: None,
            p_value: None,
            reason: format!(
                "not enough data for {} per {unit} ({} vs {} events)",
                r.what, r.k_c, r.k_b
            ),
        };
    }
    let (ratio, p) = poisson_rate_greater(r.k_b, e_b, r.k_c, e_c);
    let regressed = ratio >= r.ratio && p < r.p;
    Signal {
        name: r.name,
        status: if regressed {
            Status::Regressed
        } else {
            Status::Ok
        },
        candidate: per(r.k_c, e_c),
        baseline: per(r.k_b, e_b),
        change: ratio.is_finite().then_some(ratio),
        p_value: Some(p),
        reason: format!(
            "{} per {unit} {:.4} vs {:.4} ({}, p = {p:.4}; regressed at {:.2}× with p < {})",
            r.what,
            r.k_c as f64 / e_c,
            r.k_b as f64 / e_b,
            fmt_ratio(ratio),
            r.ratio,
            r.p
        ),
    }
}

/// Decides a candidate against its baseline. Without a baseline nothing can conclude.
pub fn decide(c: &Sample, baseline: Option<&Sample>, s: &GateSettings) -> Decision {
    let Some(b) = baseline else {
        return Decision {
            verdict: Verdict::Inconclusive,
            signals: vec![],
        };
    };
    let crash = crash_free_signal(c, b, s);
    let errors = rate_signal(
        c,
        b,
        s,
        Rate {
            name: "error_rate",
            what: "error events",
            k_c: c.events,
            k_b: b.events,
            ratio: s.error_rate_ratio,
            p: s.error_rate_p,
        },
    );
    let unhandled = rate_signal(
        c,
        b,
        s,
        Rate {
            name: "unhandled_errors",
            what: "unhandled error events",
            k_c: c.unhandled_events,
            k_b: b.unhandled_events,
            ratio: s.unhandled_ratio,
            p: s.unhandled_p,
        },
    );
    let mut new_issues = rate_signal(
        c,
        b,
        s,
        Rate {
            name: "new_issues",
            what: "events of new issues",
            k_c: c.new_issue_events,
            k_b: b.new_issue_events,
            ratio: s.new_issue_ratio,
            p: s.new_issue_p,
        },
    );
    // A burst from one user (a bot, a tester) is not a release problem.
    let reach = if c.new_issue_users > 0 {
        c.new_issue_users
    } else {
        c.new_issue_events
    };
    if new_issues.status == Status::Regressed && reach < s.new_issue_min_users {
        new_issues.status = Status::Ok;
        new_issues.reason.push_str(&format!(
            "; only {reach} user(s) affected, below {}",
            s.new_issue_min_users
        ));
    }
    new_issues.reason = format!("{} new issue(s): {}", c.new_issues, new_issues.reason);

    let signals = vec![crash, errors, unhandled, new_issues];
    let primary = if c.sessions > 0 || b.sessions > 0 {
        &signals[0]
    } else {
        &signals[1]
    };
    let verdict = if signals.iter().any(|s| s.status == Status::Regressed) {
        Verdict::Regressed
    } else if primary.status == Status::Ok {
        Verdict::Healthy
    } else {
        Verdict::Inconclusive
    };
    Decision { verdict, signals }
}

#[cfg(test)]
mod tests {
    //! The gate on simulated traffic with known truth: equal rates must not trip it (false
    //! alarms below the configured levels, over many seeds), a 3× crash rate must.

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    const SEEDS: u64 = 400;
    const SESSIONS: i64 = 2000;

    struct Rates {
        crash: f64,
        errors: f64,
        unhandled: f64,
        new_issue: f64,
    }

    const BASE: Rates = Rates {
        crash: 0.02,
        errors: 0.3,
        unhandled: 0.05,
        new_issue: 0.01,
    };

    /// Knuth's method: fine for the small per-session means used here.
    fn poisson(rng: &mut StdRng, mean: f64) -> i64 {
        let limit = (-mean).exp();
        let mut k = 0;
        let mut p = rng.random::<f64>();
        while p > limit {
            k += 1;
            p *= rng.random::<f64>();
        }
        k
    }

    fn simulate(rng: &mut StdRng, r: &Rates) -> Sample {
        let mut s = Sample {
            sessions: SESSIONS,
            minutes: 30.0,
            ..Sample::default()
        };
        for _ in 0..SESSIONS {
            if rng.random::<f64>() < r.crash {
                s.crashed += 1;
            }
            s.events += poisson(rng, r.errors);
            s.unhandled_events += poisson(rng, r.unhandled);
            s.new_issue_events += poisson(rng, r.new_issue);
        }
        s.errored = s.crashed;
        s.new_issue_users = s.new_issue_events;
        s.new_issues = i64::from(s.new_issue_events > 0);
        s
    }

    #[test]
    fn equal_rates_rarely_trip_the_gate() {
        let settings = GateSettings::default();
        let mut regressed = 0;
        let mut per_signal = [0u32; 4];
        for seed in 0..SEEDS {
            let mut rng = StdRng::seed_from_u64(seed);
            let baseline = simulate(&mut rng, &BASE);
            let candidate = simulate(&mut rng, &BASE);
            let d = decide(&candidate, Some(&baseline), &settings);
            assert_ne!(
                d.verdict,
                Verdict::Inconclusive,
                "2000 sessions each suffice"
            );
            if d.verdict == Verdict::Regressed {
                regressed += 1;
            }
            for (i, s) in d.signals.iter().enumerate() {
                if s.status == Status::Regressed {
                    per_signal[i] += 1;
                }
            }
        }
        let rate = |n: u32| f64::from(n) / SEEDS as f64;
        // Each signal stays below its own level; the verdict below their sum (union bound).
        let levels = [
            1.0 - settings.crash_free_confidence,
            settings.error_rate_p,
            settings.unhandled_p,
            settings.new_issue_p,
        ];
        for (i, level) in levels.iter().enumerate() {
            assert!(
                rate(per_signal[i]) <= *level,
                "signal {i}: false alarms {} > {level}",
                rate(per_signal[i])
            );
        }
        let bound: f64 = levels.iter().sum();
        assert!(
            rate(regressed) <= bound,
            "false-alarm rate {} above {bound}",
            rate(regressed)
        );
    }

    #[test]
    fn triple_crash_rate_trips_the_gate() {
        let settings = GateSettings::default();
        let worse = Rates {
            crash: BASE.crash * 3.0,
            ..BASE
        };
        let mut caught = 0;
        for seed in 0..100 {
            let mut rng = StdRng::seed_from_u64(1000 + seed);
            let baseline = simulate(&mut rng, &BASE);
            let candidate = simulate(&mut rng, &worse);
            let d = decide(&candidate, Some(&baseline), &settings);
            if d.verdict == Verdict::Regressed && d.signals[0].status == Status::Regressed {
                caught += 1;
            }
        }
        assert!(caught >= 99, "caught {caught} of 100");
    }

    #[test]
    fn too_few_sessions_or_no_baseline_is_inconclusive() {
        let settings = GateSettings::default();
        let small = Sample {
            sessions: 10,
            minutes: 30.0,
            ..Sample::default()
        };
        let big = Sample {
            sessions: 5000,
            crashed: 50,
            events: 100,
            minutes: 30.0,
            ..Sample::default()
        };
        assert_eq!(
            decide(&small, Some(&big), &settings).verdict,
            Verdict::Inconclusive
        );
        assert_eq!(decide(&big, None, &settings).verdict, Verdict::Inconclusive);
    }

    #[test]
    fn error_rate_without_sessions_uses_minutes() {
        let settings = GateSettings::default();
        let base = Sample {
            events: 30,
            minutes: 30.0,
            ..Sample::default()
        };
        let bad = Sample {
            events: 120,
            minutes: 30.0,
            ..Sample::default()
        };
        let d = decide(&bad, Some(&base), &settings);
        assert_eq!(d.verdict, Verdict::Regressed);
        assert_eq!(
            decide(&base, Some(&base), &settings).verdict,
            Verdict::Healthy
        );
    }
}
