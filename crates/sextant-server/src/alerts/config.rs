//! Alerting settings: delivery retries, worker pacing, counter retention and email.

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Seconds to wait before each retry of a failed delivery; after the last one the
    /// delivery is marked failed (it can still be redelivered by hand). A list, one
    /// number, or one comma-separated string (the form `SEXTANT_ALERTS__RETRY_SECS`
    /// takes).
    #[serde(deserialize_with = "seconds_list")]
    pub retry_secs: Vec<f64>,
    /// How often idle workers look for work written by other nodes and for retries
    /// that came due, in milliseconds. Work made by this node wakes them at once.
    pub poll_ms: u64,
    /// Deliveries one node sends at once, so a slow receiver holds up only its own.
    pub concurrency: usize,
    /// Days of per-minute counters kept for frequency rules (their longest interval is
    /// 30 days).
    pub counter_days: u64,
    /// A channel that got this many messages for one project within `burst_window_secs`
    /// gets the next ones as one summary per window instead.
    pub burst_threshold: u32,
    pub burst_window_secs: f64,
    /// Messages a channel is sent per minute at most; the rest wait their turn.
    pub channel_per_minute: u32,
    /// How often each metric alert rule is evaluated over its window, in milliseconds
    /// (Sentry: every minute).
    pub metric_eval_ms: u64,
    /// Alert email: the SMTP server and sender.
    pub email: super::email::config::EmailConfig,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            retry_secs: vec![60.0, 300.0, 1800.0, 7200.0, 43200.0],
            poll_ms: 1000,
            concurrency: 16,
            counter_days: 31,
            burst_threshold: 5,
            burst_window_secs: 120.0,
            channel_per_minute: 20,
            metric_eval_ms: 60_000,
            email: super::email::config::EmailConfig::default(),
        }
    }
}

impl AlertsConfig {
    /// When the next attempt is due after `attempts` failed ones, or `None` when the
    /// delivery has used up its retries.
    pub fn retry_delay_ms(&self, attempts: i64) -> Option<i64> {
        let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
        let secs = *self.retry_secs.get(index)?;
        // Non-finite or negative settings retry at once rather than never.
        Some((secs.max(0.0) * 1000.0).min(i64::MAX as f64) as i64)
    }

    /// When a channel's messages collapse into summaries.
    pub fn burst(&self) -> sextant_storage::BurstPolicy {
        sextant_storage::BurstPolicy {
            threshold: i64::from(self.burst_threshold.max(1)),
            window_ms: (self.burst_window_secs.max(0.0) * 1000.0) as i64,
        }
    }
}

/// A list of seconds, one number, or one string of comma-separated numbers.
fn seconds_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        List(Vec<f64>),
        One(f64),
        Joined(String),
    }
    match Form::deserialize(deserializer)? {
        Form::List(secs) => Ok(secs),
        Form::One(secs) => Ok(vec![secs]),
        Form::Joined(text) => text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                part.parse().map_err(|_| {
                    serde::de::Error::custom(format!(
                        "invalid alerts.retry_secs entry {part:?}: not a number of seconds"
                    ))
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_schedule_then_stop() {
        let config = AlertsConfig::default();
        assert_eq!(config.retry_delay_ms(1), Some(60_000));
        assert_eq!(config.retry_delay_ms(5), Some(43_200_000));
        assert_eq!(config.retry_delay_ms(6), None);
        assert_eq!(config.retry_delay_ms(0), None);
    }

    fn retry_secs(json: &str) -> Result<Vec<f64>, String> {
        serde_json::from_str::<AlertsConfig>(&format!("{{\"retry_secs\": {json}}}"))
            .map(|c| c.retry_secs)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn retry_secs_is_a_list_a_number_or_a_comma_separated_string() {
        assert_eq!(retry_secs("[0.5, 2, 60]").unwrap(), [0.5, 2.0, 60.0]);
        assert_eq!(retry_secs("0.05").unwrap(), [0.05]);
        assert_eq!(retry_secs("3").unwrap(), [3.0]);
        assert_eq!(retry_secs(r#""0.05, 1,30,""#).unwrap(), [0.05, 1.0, 30.0]);
        assert_eq!(retry_secs(r#""""#).unwrap(), Vec::<f64>::new());
        let error = retry_secs(r#""1,soon""#).unwrap_err();
        assert!(error.contains("\"soon\""), "{error}");
    }
}
