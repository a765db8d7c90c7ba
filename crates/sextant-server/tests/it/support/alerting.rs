//! Shared steps of the alerting tests: a server allowed to reach the local receiver, an
//! internal integration, events that make issues, and waiting on what the receiver got.

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::envelope::{event_envelope, exception_event, frame};
use super::receiver::{Received, Receiver};
use super::{TestApp, WAIT, wait_until};

pub const FIRST_SEEN: &str = "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition";
pub const FREQUENCY: &str = "sentry.rules.conditions.event_frequency.EventFrequencyCondition";
pub const APP_ACTION: &str =
    "sentry.rules.actions.notify_event_sentry_app.NotifyEventSentryAppAction";
pub const SERVICE_ACTION: &str =
    "sentry.rules.actions.notify_event_service.NotifyEventServiceAction";
pub const CHANNEL_ACTION: &str = "sextant.rules.actions.notify_channel.NotifyChannelAction";
pub const VERDICT: &str = "sextant.rules.conditions.release_verdict.ReleaseVerdictCondition";

/// A server that may reach the local receiver, retrying fast.
pub fn app() -> TestApp {
    app_with(|_| {})
}

/// [`app`], with more settings changed by `adjust`.
pub fn app_with(adjust: impl FnOnce(&mut sextant_server::config::Config)) -> TestApp {
    TestApp::spawn_with(|c| {
        c.outbound.allow = vec!["127.0.0.0/8".parse().unwrap()];
        c.alerts.retry_secs = vec![0.05, 0.05, 0.05];
        c.alerts.poll_ms = 50;
        adjust(c);
    })
}

/// Creates an internal integration; returns (slug, client secret, installation uuid).
pub fn integration(
    app: &TestApp,
    receiver: &Receiver,
    events: &[&str],
) -> (String, String, String) {
    let (status, created) = app.post(
        "/api/0/sentry-apps/",
        json!({
            "name": "Pager Bridge",
            "organization": "default",
            "isInternal": true,
            "webhookUrl": format!("{}/hook", receiver.url),
            "events": events,
            "isAlertable": true,
            "scopes": ["event:read"],
        }),
    );
    assert_eq!(status, 201, "{created}");
    let secret = created["clientSecret"]
        .as_str()
        .expect("secret")
        .to_string();
    assert_eq!(secret.len(), 64, "{created}");
    let (status, installs) = app.get("/api/0/organizations/default/sentry-app-installations/");
    assert_eq!(status, 200);
    let install = installs
        .as_array()
        .and_then(|a| a.iter().find(|i| i["app"]["slug"] == created["slug"]))
        .expect("installation")["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    (
        created["slug"].as_str().unwrap().to_string(),
        secret,
        install,
    )
}

pub fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

pub fn within<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    wait_until(WAIT, check).unwrap_or_else(|| panic!("timed out waiting for {what}"))
}

pub fn wait_for(receiver: &Receiver, what: &str, pred: impl Fn(&Received) -> bool) -> Received {
    within(what, || receiver.received().into_iter().find(&pred))
}

pub fn send_error(app: &TestApp, value: &str) -> String {
    let event = exception_event(
        "CheckoutError",
        value,
        vec![frame(
            "shop.cart",
            "checkout",
            "raise CheckoutError()",
            12,
            true,
        )],
    );
    let (_, body) = event_envelope(event);
    app.send_ok(body)
}
