//! The threshold state machine of a metric rule, as Sentry's subscription processor runs
//! it: each trigger fires after `thresholdPeriod` consecutive values past its threshold
//! and resolves after as many values back past its resolve threshold; the incident is
//! open while any trigger is active, critical while the critical one is. Pure: one value
//! in, the next state and the change of level out.

use serde::{Deserialize, Serialize};

/// Which side of a threshold is bad (Sentry's `thresholdType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// 0: values above the threshold alert (error counts).
    Above,
    /// 1: values below it alert (crash-free rates).
    Below,
}

impl Direction {
    pub fn as_sentry(self) -> i64 {
        match self {
            Direction::Above => 0,
            Direction::Below => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Direction::Above => "above",
            Direction::Below => "below",
        }
    }

    fn past(self, value: f64, threshold: f64) -> bool {
        match self {
            Direction::Above => value > threshold,
            Direction::Below => value < threshold,
        }
    }

    fn back(self, value: f64, threshold: f64) -> bool {
        match self {
            Direction::Above => value < threshold,
            Direction::Below => value > threshold,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub direction: Direction,
    pub critical: Option<f64>,
    pub warning: Option<f64>,
    pub resolve: Option<f64>,
    /// Consecutive values needed to fire or resolve a trigger, at least 1.
    pub period: u32,
}

impl Thresholds {
    /// Sentry's `calculate_resolve_threshold`: the rule's resolve threshold belongs to its
    /// least severe trigger; otherwise a trigger resolves as soon as the value is no
    /// longer past its own threshold (nudged by a millionth, since the comparison is
    /// strict).
    fn resolve_of(&self, label: Level, alert: f64) -> f64 {
        let least_severe = label == Level::Warning || self.warning.is_none();
        match self.resolve {
            Some(resolve) if least_severe => resolve,
            _ => match self.direction {
                Direction::Above => alert + 1e-6,
                Direction::Below => alert - 1e-6,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Warning,
    Critical,
}

impl Level {
    /// The webhook action and Sentry's incident status.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }

    pub fn status(self) -> i64 {
        match self {
            Level::Warning => sextant_storage::incident_status::WARNING,
            Level::Critical => sextant_storage::incident_status::CRITICAL,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerState {
    /// Consecutive values past the threshold while not active.
    pub alerts: u32,
    /// Consecutive values back past the resolve threshold while active.
    pub resolves: u32,
    pub active: bool,
}

/// What a rule remembers between evaluations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub critical: TriggerState,
    pub warning: TriggerState,
    /// Whether the open incident has been critical: its resolution then goes to every
    /// action, not only the warning trigger's.
    pub was_critical: bool,
}

impl State {
    /// The open incident's level, or `None` when the rule has no open incident.
    pub fn level(&self) -> Option<Level> {
        if self.critical.active {
            Some(Level::Critical)
        } else if self.warning.active {
            Some(Level::Warning)
        } else {
            None
        }
    }
}

/// A change of the incident's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Open(Level),
    Level { from: Level, to: Level },
    Resolve { was_critical: bool },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub state: State,
    pub change: Option<Change>,
}

/// Advances the state by one value; `None` (no sessions to compute a rate from) changes
/// nothing and breaks every run of consecutive values, as Sentry skips such updates.
pub fn step(t: &Thresholds, state: &State, value: Option<f64>) -> Step {
    let before = state.level();
    let mut next = *state;
    let Some(value) = value else {
        for trigger in [&mut next.critical, &mut next.warning] {
            trigger.alerts = 0;
            trigger.resolves = 0;
        }
        return Step {
            state: next,
            change: None,
        };
    };
    let period = t.period.max(1);
    for (label, threshold) in [(Level::Critical, t.critical), (Level::Warning, t.warning)] {
        let trigger = match label {
            Level::Critical => &mut next.critical,
            Level::Warning => &mut next.warning,
        };
        let Some(threshold) = threshold else {
            *trigger = TriggerState::default();
            continue;
        };
        if t.direction.past(value, threshold) && !trigger.active {
            trigger.alerts += 1;
            if trigger.alerts >= period {
                trigger.active = true;
                trigger.alerts = 0;
            }
        } else {
            trigger.alerts = 0;
        }
        if trigger.active && t.direction.back(value, t.resolve_of(label, threshold)) {
            trigger.resolves += 1;
            if trigger.resolves >= period {
                trigger.active = false;
                trigger.resolves = 0;
            }
        } else {
            trigger.resolves = 0;
        }
    }
    let after = next.level();
    let change = match (before, after) {
        (None, Some(level)) => Some(Change::Open(level)),
        (Some(from), Some(to)) if from != to => Some(Change::Level { from, to }),
        (Some(from), None) => Some(Change::Resolve {
            was_critical: state.was_critical || from == Level::Critical,
        }),
        _ => None,
    };
    next.was_critical = match after {
        None => false,
        Some(level) => next.was_critical || level == Level::Critical,
    };
    Step {
        state: next,
        change,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn below(critical: f64, resolve: Option<f64>) -> Thresholds {
        Thresholds {
            direction: Direction::Below,
            critical: Some(critical),
            warning: None,
            resolve,
            period: 1,
        }
    }

    fn above(critical: f64, warning: Option<f64>, resolve: Option<f64>) -> Thresholds {
        Thresholds {
            direction: Direction::Above,
            critical: Some(critical),
            warning,
            resolve,
            period: 1,
        }
    }

    /// Feeds the values in order; returns each step's change and the last state.
    fn run(t: &Thresholds, values: &[Option<f64>]) -> (Vec<Option<Change>>, State) {
        let mut state = State::default();
        let mut changes = Vec::new();
        for value in values {
            let s = step(t, &state, *value);
            changes.push(s.change);
            state = s.state;
        }
        (changes, state)
    }

    #[test]
    fn crash_free_below_the_threshold_opens_and_the_resolve_threshold_closes() {
        let t = below(90.0, Some(95.0));
        let (changes, state) = run(
            &t,
            &[Some(99.0), Some(85.0), Some(92.0), Some(94.9), Some(95.5)],
        );
        assert_eq!(
            changes,
            [
                None,
                Some(Change::Open(Level::Critical)),
                // Between the alert and the resolve threshold: still open.
                None,
                None,
                Some(Change::Resolve { was_critical: true }),
            ]
        );
        assert_eq!(state, State::default());
        // Exactly at a threshold is not past it.
        assert_eq!(run(&t, &[Some(90.0)]).0, [None]);
    }

    #[test]
    fn without_a_resolve_threshold_it_resolves_once_back_on_the_good_side() {
        let t = above(10.0, None, None);
        let (changes, _) = run(&t, &[Some(11.0), Some(10.5), Some(10.0)]);
        assert_eq!(
            changes,
            [
                Some(Change::Open(Level::Critical)),
                None,
                Some(Change::Resolve { was_critical: true }),
            ]
        );
    }

    #[test]
    fn warning_escalates_to_critical_and_back_then_resolves() {
        let t = above(100.0, Some(50.0), None);
        let (changes, _) = run(&t, &[Some(60.0), Some(120.0), Some(70.0), Some(40.0)]);
        assert_eq!(
            changes,
            [
                Some(Change::Open(Level::Warning)),
                Some(Change::Level {
                    from: Level::Warning,
                    to: Level::Critical
                }),
                Some(Change::Level {
                    from: Level::Critical,
                    to: Level::Warning
                }),
                // It was critical on the way: the resolution says so.
                Some(Change::Resolve { was_critical: true }),
            ]
        );
        // A warning that never became critical resolves as such.
        let (changes, _) = run(&t, &[Some(60.0), Some(40.0)]);
        assert_eq!(
            changes[1],
            Some(Change::Resolve {
                was_critical: false
            })
        );
    }

    #[test]
    fn a_jump_past_both_thresholds_opens_critical_and_a_drop_past_both_resolves() {
        let t = above(100.0, Some(50.0), None);
        let (changes, _) = run(&t, &[Some(500.0), Some(0.0)]);
        assert_eq!(
            changes,
            [
                Some(Change::Open(Level::Critical)),
                Some(Change::Resolve { was_critical: true }),
            ]
        );
    }

    #[test]
    fn the_resolve_threshold_belongs_to_the_warning_trigger() {
        let t = above(100.0, Some(50.0), Some(30.0));
        let (changes, _) = run(&t, &[Some(120.0), Some(40.0), Some(35.0), Some(20.0)]);
        assert_eq!(
            changes,
            [
                Some(Change::Open(Level::Critical)),
                // Critical resolves at its own threshold; warning holds until 30.
                Some(Change::Level {
                    from: Level::Critical,
                    to: Level::Warning
                }),
                None,
                Some(Change::Resolve { was_critical: true }),
            ]
        );
    }

    #[test]
    fn threshold_period_needs_consecutive_values_both_ways() {
        let mut t = below(90.0, Some(95.0));
        t.period = 3;
        let bad = Some(80.0);
        let good = Some(99.0);
        let (changes, _) = run(&t, &[bad, bad, good, bad, bad, bad]);
        assert_eq!(
            changes,
            [
                None,
                None,
                // The run of breaches was broken: counting starts over.
                None,
                None,
                None,
                Some(Change::Open(Level::Critical)),
            ]
        );
        let (changes, state) = run(&t, &[bad, bad, bad, good, good, bad, good, good, good]);
        assert_eq!(changes[2], Some(Change::Open(Level::Critical)));
        assert!(changes[3..8].iter().all(Option::is_none), "{changes:?}");
        assert_eq!(changes[8], Some(Change::Resolve { was_critical: true }));
        assert_eq!(state.level(), None);
    }

    #[test]
    fn a_missing_value_changes_nothing_and_breaks_a_run() {
        let mut t = below(90.0, None);
        t.period = 2;
        let (changes, state) = run(&t, &[Some(80.0), None, Some(80.0)]);
        assert_eq!(changes, [None, None, None]);
        assert_eq!(state.critical.alerts, 1);
        let (_, open) = run(&t, &[Some(80.0), Some(80.0)]);
        let s = step(&t, &open, None);
        assert_eq!((s.change, s.state.level()), (None, Some(Level::Critical)));
    }

    #[test]
    fn state_survives_its_stored_form_and_starts_empty() {
        let (_, state) = run(&above(100.0, Some(50.0), None), &[Some(120.0)]);
        let json = serde_json::to_value(state).unwrap();
        assert_eq!(serde_json::from_value::<State>(json).unwrap(), state);
        assert_eq!(
            serde_json::from_value::<State>(serde_json::json!({})).unwrap(),
            State::default()
        );
    }
}
