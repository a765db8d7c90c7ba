//! The value a metric rule compares with its thresholds at one moment: a crash-free rate
//! from the session rollups, computed by release health's own formula, or a count of
//! error events (or of their distinct users) from the store.

use sextant_storage::{EventWindow, SessionTotals, Store, StoreError};

use super::spec::{Aggregate, MetricSpec};
use crate::releases::health::{self, CLOCK_SLACK_MS};

/// Sentry rounds crash-free rates to three decimals before comparing them.
fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// The rule's value over the window ending at `now`; `None` for a crash-free rate without
/// sessions, which leaves the rule as it is.
pub async fn value(
    store: &dyn Store,
    spec: &MetricSpec,
    project_ids: &[i64],
    now: i64,
) -> Result<Option<f64>, StoreError> {
    let from = now - spec.window_ms();
    // Sessions and events may be stamped a little ahead of the server's clock.
    let to = now + CLOCK_SLACK_MS;
    match spec.aggregate {
        Aggregate::CrashFreeSessions | Aggregate::CrashFreeUsers => {
            let mut sum = SessionTotals::default();
            for &project_id in project_ids {
                let scope = health::scope(project_id, None, spec.environment.as_deref(), from, to);
                let t = store.session_totals(&scope).await?;
                sum.total += t.total;
                sum.crashed += t.crashed;
                sum.users += t.users;
                sum.crashed_users += t.crashed_users;
            }
            let rate = if spec.aggregate == Aggregate::CrashFreeSessions {
                health::crash_free(sum.crashed, sum.total)
            } else {
                health::crash_free(sum.crashed_users, sum.users)
            };
            Ok(rate.map(round3))
        }
        Aggregate::Count | Aggregate::UniqueUsers => {
            let stats = store
                .metric_event_stats(&EventWindow {
                    project_ids: project_ids.to_vec(),
                    environment: spec.environment.clone(),
                    event_types: spec.counted_event_types(),
                    conditions: spec.event_query.conditions.clone(),
                    from,
                    to,
                })
                .await?;
            let n = if spec.aggregate == Aggregate::Count {
                stats.events
            } else {
                stats.users
            };
            Ok(Some(n as f64))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_round_to_three_decimals() {
        assert_eq!(round3(100.0 * (1.0 - 1.0 / 3.0)), 66.667);
        assert_eq!(round3(90.0), 90.0);
    }
}
