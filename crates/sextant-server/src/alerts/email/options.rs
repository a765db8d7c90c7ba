//! The settings alert email reads: a project's digest delays (Sentry's `digestsMinDelay`
//! and `digestsMaxDelay`, kept as project options) and a user's choice to get alert email
//! or not (the `alerts:email` user option, in the spirit of Sentry's notification
//! settings).

use std::collections::HashSet;
use std::ops::RangeInclusive;

use serde_json::{Value, json};
use sextant_storage::{Store, StoreError};

/// Sentry's project option keys for the digest delays, in seconds.
pub const MIN_DELAY_OPTION: &str = "digests:mail:minimum_delay";
pub const MAX_DELAY_OPTION: &str = "digests:mail:maximum_delay";
/// Sentry's defaults.
pub const DEFAULT_MIN_DELAY: i64 = 300;
pub const DEFAULT_MAX_DELAY: i64 = 1800;
/// What the API accepts for either delay, as Sentry's.
pub const DELAY_BOUNDS: RangeInclusive<i64> = 60..=3600;

/// The user option that says whether alert email is wanted.
pub const EMAIL_OPTION: &str = "alerts:email";

/// A project's digest delays, in seconds: a digest is sent `min_secs` after its newest
/// notification, but no later than `max_secs` after its first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestDelays {
    pub min_secs: i64,
    pub max_secs: i64,
}

impl Default for DigestDelays {
    fn default() -> Self {
        DigestDelays {
            min_secs: DEFAULT_MIN_DELAY,
            max_secs: DEFAULT_MAX_DELAY,
        }
    }
}

impl DigestDelays {
    /// The project's delays, the defaults where none were set.
    pub async fn of_project(store: &dyn Store, project_id: i64) -> Result<Self, StoreError> {
        let read = |value: Option<Value>, default: i64| {
            value.as_ref().and_then(Value::as_i64).unwrap_or(default)
        };
        Ok(DigestDelays {
            min_secs: read(
                store.project_option(project_id, MIN_DELAY_OPTION).await?,
                DEFAULT_MIN_DELAY,
            ),
            max_secs: read(
                store.project_option(project_id, MAX_DELAY_OPTION).await?,
                DEFAULT_MAX_DELAY,
            ),
        })
    }

    pub async fn save(self, store: &dyn Store, project_id: i64) -> Result<(), StoreError> {
        store
            .set_project_option(project_id, MIN_DELAY_OPTION, Some(&json!(self.min_secs)))
            .await?;
        store
            .set_project_option(project_id, MAX_DELAY_OPTION, Some(&json!(self.max_secs)))
            .await
    }

    /// Adds the delays to a project's JSON, as Sentry's project details show them.
    pub fn write_json(self, project: &mut Value) {
        if let Some(fields) = project.as_object_mut() {
            fields.insert("digestsMinDelay".into(), json!(self.min_secs));
            fields.insert("digestsMaxDelay".into(), json!(self.max_secs));
        }
    }

    /// These delays with the project update's `digestsMinDelay` and `digestsMaxDelay`
    /// applied, or the field that is wrong and why (Sentry's words).
    pub fn updated(
        self,
        min: Option<&Value>,
        max: Option<&Value>,
    ) -> Result<DigestDelays, (&'static str, String)> {
        let mut out = self;
        if let Some(value) = min {
            out.min_secs = delay("digestsMinDelay", value)?;
        }
        if let Some(value) = max {
            out.max_secs = delay("digestsMaxDelay", value)?;
        }
        if out.max_secs < out.min_secs {
            return Err((
                "digestsMaxDelay",
                "The maximum delay on digests must be higher than the minimum.".into(),
            ));
        }
        Ok(out)
    }
}

/// One delay from the API: an integer (or integer string) within [`DELAY_BOUNDS`].
fn delay(field: &'static str, value: &Value) -> Result<i64, (&'static str, String)> {
    let n = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or((field, "A valid integer is required.".to_string()))?;
    if n < *DELAY_BOUNDS.start() {
        return Err((
            field,
            format!(
                "Ensure this value is greater than or equal to {}.",
                DELAY_BOUNDS.start()
            ),
        ));
    }
    if n > *DELAY_BOUNDS.end() {
        return Err((
            field,
            format!(
                "Ensure this value is less than or equal to {}.",
                DELAY_BOUNDS.end()
            ),
        ));
    }
    Ok(n)
}

/// Whether a user gets alert email: Sentry's `always` and `never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailChoice {
    Always,
    Never,
}

impl EmailChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailChoice::Always => "always",
            EmailChoice::Never => "never",
        }
    }

    pub fn parse(value: &Value) -> Option<EmailChoice> {
        match value.as_str()? {
            "always" => Some(EmailChoice::Always),
            "never" => Some(EmailChoice::Never),
            _ => None,
        }
    }

    /// The user's choice; `always` unless they said otherwise.
    pub async fn of_user(store: &dyn Store, user_id: i64) -> Result<EmailChoice, StoreError> {
        let options = store.user_options(user_id).await?;
        Ok(options
            .iter()
            .find(|(key, _)| key == EMAIL_OPTION)
            .and_then(|(_, value)| EmailChoice::parse(value))
            .unwrap_or(EmailChoice::Always))
    }
}

/// Those of `user_ids` who chose to get no alert email.
pub async fn opted_out(store: &dyn Store, user_ids: &[i64]) -> Result<HashSet<i64>, StoreError> {
    Ok(store
        .user_option_values(EMAIL_OPTION, user_ids)
        .await?
        .into_iter()
        .filter(|(_, value)| EmailChoice::parse(value) == Some(EmailChoice::Never))
        .map(|(id, _)| id)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_bounded_and_ordered() {
        let d = DigestDelays::default();
        assert_eq!(
            d.updated(Some(&json!(60)), Some(&json!("120"))),
            Ok(DigestDelays {
                min_secs: 60,
                max_secs: 120
            })
        );
        let field = |r: Result<DigestDelays, (&'static str, String)>| r.unwrap_err().0;
        assert_eq!(field(d.updated(Some(&json!(59)), None)), "digestsMinDelay");
        assert_eq!(
            field(d.updated(None, Some(&json!(3601)))),
            "digestsMaxDelay"
        );
        assert_eq!(
            field(d.updated(Some(&json!("soon")), None)),
            "digestsMinDelay"
        );
        assert_eq!(field(d.updated(Some(&json!(1.5)), None)), "digestsMinDelay");
        // Only the minimum given: it is checked against the stored maximum (1800).
        let (name, message) = d.updated(Some(&json!(2000)), None).unwrap_err();
        assert_eq!(name, "digestsMaxDelay");
        assert!(message.contains("higher than the minimum"), "{message}");
        assert_eq!(
            d.updated(Some(&json!(600)), Some(&json!(600))).unwrap(),
            DigestDelays {
                min_secs: 600,
                max_secs: 600
            },
            "equal delays are allowed"
        );
    }

    #[test]
    fn choices_parse_sentrys_words_only() {
        assert_eq!(
            EmailChoice::parse(&json!("never")),
            Some(EmailChoice::Never)
        );
        assert_eq!(
            EmailChoice::parse(&json!("always")),
            Some(EmailChoice::Always)
        );
        assert_eq!(EmailChoice::parse(&json!("subscribe_only")), None);
        assert_eq!(EmailChoice::parse(&json!(false)), None);
        assert_eq!(EmailChoice::Never.as_str(), "never");
    }
}
