//! Sending email deliveries over SMTP, for the delivery worker: one attempt per call,
//! recorded like a webhook's (the SMTP reply code stands where an HTTP status would), so
//! retries, the `Request-ID` (as `X-Sextant-Request-ID` and in the `Message-ID`) and the
//! delivery log work alike for both.

use std::time::{Duration, Instant};

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sextant_storage::{AttemptNext, Delivery, DeliveryAttempt, Store};

use super::config::{EmailConfig, Security};
use super::render::Mail;
use crate::alerts::config::AlertsConfig;

/// The header that carries the delivery's request id, stable across retries.
pub const REQUEST_ID_HEADER: &str = "X-Sextant-Request-ID";
/// One attempt may take at most this long, whatever the per-command timeout: it must end
/// well within the delivery worker's lease on the delivery.
const MAX_ATTEMPT: Duration = Duration::from_secs(100);
/// The start of a reply kept in the delivery log.
const MAX_RESPONSE_CHARS: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("alerts.email.from {0:?} is not a mail address: {1}")]
    BadFrom(String, String),
    #[error("alerts.email.smtp_host {0:?}: {1}")]
    BadHost(String, String),
}

/// The SMTP client of one node: a connection pool to the configured server.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

impl Mailer {
    /// The client for the settings, `None` when no SMTP host is configured. Must run
    /// within the tokio runtime (the pool keeps a task).
    pub fn new(config: &EmailConfig) -> Result<Option<Mailer>, MailerError> {
        let Some(host) = config
            .smtp_host
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty())
        else {
            return Ok(None);
        };
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e: lettre::address::AddressError| {
                MailerError::BadFrom(config.from.clone(), e.to_string())
            })?;
        let bad_host = |e: lettre::transport::smtp::Error| {
            MailerError::BadHost(host.to_string(), e.to_string())
        };
        let builder = match config.security {
            Security::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            Security::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(bad_host)?
            }
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(bad_host)?,
        };
        let timeout = Duration::from_millis(config.timeout_ms.max(1));
        let mut builder = builder.port(config.port()).timeout(Some(timeout));
        if let Some(username) = &config.username {
            let password = config.password.clone().unwrap_or_default();
            builder = builder.credentials(Credentials::new(username.clone(), password));
        }
        Ok(Some(Mailer {
            transport: builder.build(),
            from,
            timeout,
        }))
    }

    /// [`Mailer::new`], logging a configuration error (alert mail then fails, visibly, in
    /// the delivery log rather than keeping the server from starting).
    pub fn start(config: &EmailConfig) -> Option<Mailer> {
        match Mailer::new(config) {
            Ok(Some(mailer)) => Some(mailer),
            Ok(None) => {
                tracing::info!("alert email is off: alerts.email.smtp_host is not set");
                None
            }
            Err(err) => {
                tracing::error!(error = %err, "alert email cannot be sent");
                None
            }
        }
    }

    /// The message for a delivery: the rendered mail, from the configured sender, with
    /// the delivery's request id in its headers.
    fn message(&self, delivery: &Delivery, mail: Mail) -> Result<Message, String> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| format!("the recipient {:?} is not a mail address: {e}", mail.to))?;
        let message_id = format!("<{}@{}>", delivery.request_id, self.from.email.domain());
        let mut message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .message_id(Some(message_id))
            .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
            .map_err(|e| format!("the mail cannot be built: {e}"))?;
        message.headers_mut().insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str(REQUEST_ID_HEADER),
            delivery.request_id.clone(),
        ));
        Ok(message)
    }
}

/// Sends an email delivery once and records the attempt with what comes next: delivered,
/// a retry after the configured delay, or failed (a permanent SMTP refusal, a payload or
/// address that can never be sent, or no SMTP server configured).
pub async fn deliver(
    mailer: Option<&Mailer>,
    store: &dyn Store,
    config: &AlertsConfig,
    delivery: &Delivery,
) {
    let started = store.clock().now_ms();
    let clock = Instant::now();
    let (status, response, error, next) = attempt(mailer, config, delivery, started).await;
    let attempt = DeliveryAttempt {
        at: started,
        status,
        duration_ms: i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX),
        response,
        error,
    };
    if let Err(err) = store.record_attempt(delivery.id, &attempt, next).await {
        tracing::error!(
            error = &err as &dyn std::error::Error,
            delivery = delivery.id,
            "recording an email attempt failed"
        );
    }
}

type Outcome = (Option<i64>, Option<String>, Option<String>, AttemptNext);

async fn attempt(
    mailer: Option<&Mailer>,
    config: &AlertsConfig,
    delivery: &Delivery,
    started: i64,
) -> Outcome {
    let failed = |error: String| (None, None, Some(error), AttemptNext::Failed);
    let Some(mailer) = mailer else {
        return failed("alert email is off or misconfigured (alerts.email)".into());
    };
    let mail: Mail = match serde_json::from_str(&delivery.payload) {
        Ok(mail) => mail,
        Err(e) => return failed(format!("the stored mail cannot be read: {e}")),
    };
    let message = match mailer.message(delivery, mail) {
        Ok(message) => message,
        Err(e) => return failed(e),
    };
    let retry = || match config.retry_delay_ms(delivery.attempts + 1) {
        Some(delay) => AttemptNext::RetryAt(started + delay),
        None => AttemptNext::Failed,
    };
    let bound = (mailer.timeout * 4).min(MAX_ATTEMPT);
    match tokio::time::timeout(bound, mailer.transport.send(message)).await {
        Ok(Ok(reply)) => {
            let text: Vec<&str> = reply.message().collect();
            let response = format!("{} {}", reply.code(), text.join(" "));
            (
                Some(i64::from(u16::from(reply.code()))),
                Some(response.chars().take(MAX_RESPONSE_CHARS).collect()),
                None,
                AttemptNext::Delivered,
            )
        }
        Ok(Err(err)) => {
            let status = err.status().map(|code| i64::from(u16::from(code)));
            // A permanent refusal (5xx) says the same on every try.
            let next = if err.is_permanent() {
                AttemptNext::Failed
            } else {
                retry()
            };
            (status, None, Some(format!("SMTP: {err}")), next)
        }
        Err(_) => (
            None,
            None,
            Some(format!("SMTP: no answer within {} ms", bound.as_millis())),
            retry(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn settings_make_a_mailer_or_say_what_is_wrong() {
        assert!(Mailer::new(&EmailConfig::default()).unwrap().is_none());
        let mut config = EmailConfig {
            smtp_host: Some("127.0.0.1".into()),
            security: Security::None,
            ..EmailConfig::default()
        };
        assert!(Mailer::new(&config).unwrap().is_some());
        config.from = "not an address".into();
        let err = Mailer::new(&config).err().expect("a bad sender");
        assert!(err.to_string().contains("alerts.email.from"), "{err}");
    }

    #[tokio::test]
    async fn messages_carry_the_request_id_and_both_bodies() {
        let config = EmailConfig {
            smtp_host: Some("127.0.0.1".into()),
            security: Security::None,
            from: "Sextant <alerts@sextant.example>".into(),
            ..EmailConfig::default()
        };
        let mailer = Mailer::new(&config).unwrap().unwrap();
        let delivery = Delivery {
            id: 1,
            request_id: "0123456789abcdef0123456789abcdef".into(),
            org_id: 1,
            project_id: Some(1),
            issue_id: None,
            rule_id: None,
            target: sextant_storage::DeliveryTarget::Email {
                address: "ann@example.com".into(),
            },
            resource: "email".into(),
            action: "digest".into(),
            payload: String::new(),
            state: sextant_storage::DeliveryState::Pending,
            attempts: 0,
            next_at: 0,
            created_at: 0,
            finished_at: None,
        };
        let mail = Mail {
            to: "ann@example.com".into(),
            subject: "[Sextant] New issue: x".into(),
            text: "plain".into(),
            html: "<p>rich</p>".into(),
        };
        let raw = String::from_utf8(mailer.message(&delivery, mail.clone()).unwrap().formatted())
            .unwrap();
        assert!(
            raw.contains("X-Sextant-Request-ID: 0123456789abcdef0123456789abcdef\r\n"),
            "{raw}"
        );
        assert!(
            raw.contains("Message-ID: <0123456789abcdef0123456789abcdef@sextant.example>"),
            "{raw}"
        );
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(
            raw.contains("text/plain") && raw.contains("text/html"),
            "{raw}"
        );
        let bad = Mail {
            to: "nobody".into(),
            ..mail
        };
        assert!(mailer.message(&delivery, bad).is_err());
    }
}
