//! Alert email settings (`alerts.email`): the SMTP server, the sender, and the digest
//! scale for tests.

use serde::{Deserialize, Serialize};

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain SMTP, for a relay on the same host or network.
    None,
    /// Upgrade with STARTTLS, required (never falls back to plain text).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    /// The SMTP server. Unset, alert email is off: email actions are skipped (and
    /// counted), not failed.
    pub smtp_host: Option<String>,
    /// Defaults to 25 (`none`), 587 (`starttls`) or 465 (`tls`).
    pub smtp_port: Option<u16>,
    pub security: Security,
    pub username: Option<String>,
    /// Shown redacted by `show-config`.
    pub password: Option<String>,
    /// The sender address, optionally with a name: `Sextant <alerts@example.com>`.
    pub from: String,
    /// Put in front of every subject.
    pub subject_prefix: String,
    /// Bound on each SMTP command, connecting included.
    pub timeout_ms: u64,
    /// Multiplies every project's digest delays. For tests and demos only, where waiting
    /// Sentry's minimum of a minute is too long; leave it at 1 in production.
    pub digest_scale: f64,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            smtp_host: None,
            smtp_port: None,
            security: Security::default(),
            username: None,
            password: None,
            from: "Sextant <sextant@localhost>".into(),
            subject_prefix: "[Sextant] ".into(),
            timeout_ms: 10_000,
            digest_scale: 1.0,
        }
    }
}

impl EmailConfig {
    /// Whether an SMTP server is configured.
    pub fn enabled(&self) -> bool {
        self.smtp_host
            .as_deref()
            .is_some_and(|h| !h.trim().is_empty())
    }

    pub fn port(&self) -> u16 {
        self.smtp_port.unwrap_or(match self.security {
            Security::None => 25,
            Security::Starttls => 587,
            Security::Tls => 465,
        })
    }

    /// A delay of the project's, in seconds, as the milliseconds to wait here.
    pub fn scaled_ms(&self, secs: i64) -> i64 {
        let scale = if self.digest_scale.is_finite() && self.digest_scale >= 0.0 {
            self.digest_scale
        } else {
            1.0
        };
        (secs as f64 * 1000.0 * scale).min(i64::MAX as f64) as i64
    }

    /// The settings as `show-config` prints them: the password hidden.
    pub fn redacted(&self) -> EmailConfig {
        EmailConfig {
            password: self.password.as_ref().map(|_| "***".to_string()),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_follow_security_unless_set() {
        let mut c = EmailConfig::default();
        assert!(!c.enabled());
        assert_eq!(c.port(), 587);
        c.security = Security::Tls;
        assert_eq!(c.port(), 465);
        c.smtp_port = Some(2525);
        assert_eq!(c.port(), 2525);
        c.smtp_host = Some(" ".into());
        assert!(!c.enabled(), "a blank host is no host");
    }

    #[test]
    fn scale_and_redaction() {
        let mut c = EmailConfig {
            password: Some("hunter2".into()),
            ..EmailConfig::default()
        };
        assert_eq!(c.scaled_ms(300), 300_000);
        c.digest_scale = 0.01;
        assert_eq!(c.scaled_ms(300), 3_000);
        c.digest_scale = f64::NAN;
        assert_eq!(c.scaled_ms(60), 60_000, "a nonsense scale counts as 1");
        assert_eq!(c.redacted().password.as_deref(), Some("***"));
        assert_eq!(EmailConfig::default().redacted().password, None);
        let json = serde_json::to_value(Security::Starttls).unwrap();
        assert_eq!(json, "starttls");
    }
}
