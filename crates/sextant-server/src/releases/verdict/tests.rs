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
