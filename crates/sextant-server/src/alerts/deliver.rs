//! The delivery worker: claims due deliveries from the outbox, sends each through the
//! outbound client, and records every attempt with what comes next (delivered, a retry
//! after the configured delay, or failed). A slow receiver holds one of
//! `concurrency` slots, never the others.

use std::sync::Arc;
use std::time::Duration;

use sextant_storage::{
    AttemptNext, Delivery, DeliveryAttempt, DeliveryTarget, RecordedAttempt, Store, StoreError,
};
use tokio::sync::{Notify, Semaphore, mpsc, watch};

use super::channels::ChannelConfig;
use super::config::AlertsConfig;
use super::notice::{Notice, NoticeKind};
use super::payload::signature;
use super::storm;
use crate::outbound::{OutboundClient, OutboundError};

/// How long a claim on a delivery lasts beyond twice the outbound client's total
/// timeout: room to load and record the attempt, so only a node that died lets it go,
/// and its deliveries are taken again soon after it did.
const LEASE_SLACK_MS: i64 = 2_000;
const MINUTE_MS: i64 = 60_000;

type Recorder = mpsc::UnboundedSender<RecordedAttempt>;

/// Attempts recorded in one transaction at most, so a burst of deliveries costs a few
/// commits rather than one each.
const RECORD_BATCH: usize = 256;

/// Writes attempts as they come, all that wait at once; ends with the last sender.
async fn record(store: Arc<dyn Store>, mut records: mpsc::UnboundedReceiver<RecordedAttempt>) {
    while let Some(first) = records.recv().await {
        let mut batch = vec![first];
        while batch.len() < RECORD_BATCH {
            match records.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        if let Err(err) = store.record_attempts(&batch).await {
            // Their claims expire and they are sent again, with their Request-IDs.
            tracing::error!(
                error = &err as &dyn std::error::Error,
                attempts = batch.len(),
                "recording delivery attempts failed"
            );
        }
    }
}

/// What one delivery sends.
struct Request {
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Why a delivery could not even be attempted; recorded as a failed attempt.
#[derive(Debug, thiserror::Error)]
enum Unsendable {
    #[error("the integration no longer exists")]
    AppGone,
    #[error("the integration has no webhook URL")]
    NoWebhookUrl,
    #[error("the channel no longer exists")]
    ChannelGone,
    #[error("the channel's settings cannot be read: {0}")]
    BadChannel(String),
    #[error("the stored notice cannot be read: {0}")]
    BadNotice(String),
    #[error("not an HTTP delivery")]
    NotHttp,
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

pub(super) struct Deliverer {
    pub store: Arc<dyn Store>,
    /// For the links of storm summaries.
    pub base_url: String,
    pub client: OutboundClient,
    pub config: AlertsConfig,
    /// `None` when alert email is off.
    pub mailer: Option<super::email::send::Mailer>,
}

impl Deliverer {
    pub(super) async fn run(self: Arc<Self>, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let poll = Duration::from_millis(self.config.poll_ms.max(10));
        let timeout = i64::try_from(self.client.total_timeout().as_millis()).unwrap_or(i64::MAX);
        let lease_ms = timeout.saturating_mul(2).saturating_add(LEASE_SLACK_MS);
        let (recorder, records) = mpsc::unbounded_channel();
        tokio::spawn(record(self.store.clone(), records));
        loop {
            let free = slots.available_permits();
            let mut claimed = 0;
            if free > 0 {
                match self
                    .store
                    .claim_deliveries(u32::try_from(free).unwrap_or(u32::MAX), lease_ms)
                    .await
                {
                    Ok(due) => {
                        claimed = due.len();
                        for delivery in due {
                            let Ok(permit) = slots.clone().acquire_owned().await else {
                                return;
                            };
                            let (this, recorder) = (self.clone(), recorder.clone());
                            tokio::spawn(async move {
                                this.deliver(delivery, &recorder).await;
                                drop(permit);
                            });
                        }
                    }
                    Err(err) => tracing::error!(
                        error = &err as &dyn std::error::Error,
                        "claiming deliveries failed"
                    ),
                }
            }
            // Full hands: look again as soon as a slot frees up or new work arrives.
            if claimed > 0 && claimed == free {
                continue;
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
                // Every slot busy: claim again when one frees, not at the next poll.
                _ = slots.acquire(), if slots.available_permits() == 0 => {}
            }
            if *stop.borrow() {
                // In-flight sends finish on their own; their claims would expire anyway.
                return;
            }
        }
    }

    async fn deliver(&self, delivery: Delivery, recorder: &Recorder) {
        if let DeliveryTarget::Email { .. } = &delivery.target {
            let (mailer, store) = (self.mailer.as_ref(), self.store.as_ref());
            return super::email::send::deliver(mailer, store, &self.config, &delivery).await;
        }
        let started = self.store.clock().now_ms();
        if let DeliveryTarget::Channel { channel_id } = delivery.target {
            match self.over_rate(channel_id, started).await {
                Ok(Some(next_at)) => {
                    if let Err(err) = self.store.postpone_delivery(delivery.id, next_at).await {
                        tracing::error!(
                            error = &err as &dyn std::error::Error,
                            "postponing a delivery failed"
                        );
                    }
                    return;
                }
                Ok(None) => {}
                Err(err) => tracing::error!(
                    error = &err as &dyn std::error::Error,
                    "reading a channel's rate failed"
                ),
            }
        }
        let (attempt, next) = match self.request(&delivery).await {
            Ok(None) => (
                DeliveryAttempt {
                    at: started,
                    status: None,
                    duration_ms: 0,
                    response: None,
                    error: Some("the channel has nothing to say for this notice".into()),
                },
                AttemptNext::Delivered,
            ),
            Ok(Some(request)) => self.send(&delivery, request, started).await,
            Err(err) => (
                DeliveryAttempt {
                    at: started,
                    status: None,
                    duration_ms: 0,
                    response: None,
                    error: Some(err.to_string()),
                },
                AttemptNext::Failed,
            ),
        };
        // The claim holds until the attempt is recorded, so it is not sent again meanwhile.
        let _ = recorder.send((delivery.id, attempt, next));
    }

    async fn send(
        &self,
        delivery: &Delivery,
        request: Request,
        started: i64,
    ) -> (DeliveryAttempt, AttemptNext) {
        let result = self
            .client
            .post(&request.url, &request.headers, request.body)
            .await;
        let now = self.store.clock().now_ms();
        let retry = |attempts: i64| match self.config.retry_delay_ms(attempts) {
            Some(delay) => AttemptNext::RetryAt(now + delay),
            None => AttemptNext::Failed,
        };
        let attempts = delivery.attempts + 1;
        match result {
            Ok(response) => {
                let ok = (200..300).contains(&response.status);
                (
                    DeliveryAttempt {
                        at: started,
                        status: Some(i64::from(response.status)),
                        duration_ms: now - started,
                        response: Some(response.excerpt),
                        error: None,
                    },
                    if ok {
                        AttemptNext::Delivered
                    } else {
                        retry(attempts)
                    },
                )
            }
            Err(err) => {
                // The policy will refuse the same address again; retrying changes nothing.
                let next = if matches!(err, OutboundError::Refused { .. }) {
                    AttemptNext::Failed
                } else {
                    retry(attempts)
                };
                (
                    DeliveryAttempt {
                        at: started,
                        status: None,
                        duration_ms: now - started,
                        response: None,
                        error: Some(err.to_string()),
                    },
                    next,
                )
            }
        }
    }

    /// When a channel over its rate may be sent to next, or `None` when it may now.
    async fn over_rate(&self, channel_id: i64, now: i64) -> Result<Option<i64>, StoreError> {
        let per_minute = i64::from(self.config.channel_per_minute.max(1));
        let sent = self
            .store
            .channel_sent_since(channel_id, now - MINUTE_MS)
            .await?;
        Ok((sent >= per_minute).then_some(now + MINUTE_MS / per_minute))
    }

    /// A summary's notice, filled with the messages held for it.
    async fn summary(&self, delivery: &Delivery) -> Result<String, StoreError> {
        let Some(project_id) = delivery.project_id else {
            return Ok(delivery.payload.clone());
        };
        let project = self.store.get_project(project_id).await?;
        let deploy = self
            .store
            .list_deploys(project_id, None, None)
            .await?
            .into_iter()
            .filter(|d| d.date_finished <= delivery.created_at)
            .max_by_key(|d| d.date_finished);
        let issues_url = format!(
            "{}/orgs/{}/{}/?sort=new",
            self.base_url, project.org_slug, project.slug
        );
        let context = storm::Context {
            project: &project.slug,
            issues_url: &issues_url,
            deploy: deploy.as_ref(),
        };
        self.store
            .fill_summary(delivery.id, &|previous, held| {
                storm::summarize(previous, held, &context)
            })
            .await
    }

    /// The request a delivery makes now: signed with the integration's current secret,
    /// or rendered with the channel's current settings. `None`: nothing to send.
    async fn request(&self, delivery: &Delivery) -> Result<Option<Request>, Unsendable> {
        let mut headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            ("Request-ID".to_string(), delivery.request_id.clone()),
        ];
        match &delivery.target {
            DeliveryTarget::SentryApp { app_id } => {
                let app = match self.store.get_sentry_app_by_id(*app_id).await {
                    Err(StoreError::NotFound) => return Err(Unsendable::AppGone),
                    other => other?,
                };
                let url = app.webhook_url.clone().ok_or(Unsendable::NoWebhookUrl)?;
                let body = delivery.payload.clone().into_bytes();
                let now_secs = self.store.clock().now_ms() / 1000;
                headers.extend([
                    (
                        "Sentry-Hook-Resource".to_string(),
                        delivery.resource.clone(),
                    ),
                    ("Sentry-Hook-Timestamp".to_string(), now_secs.to_string()),
                    (
                        "Sentry-Hook-Signature".to_string(),
                        signature(&app.client_secret, &body),
                    ),
                ]);
                Ok(Some(Request { url, headers, body }))
            }
            DeliveryTarget::Email { .. } | DeliveryTarget::Digest { .. } => {
                Err(Unsendable::NotHttp)
            }
            DeliveryTarget::Webhook { url } => Ok(Some(Request {
                url: url.clone(),
                headers,
                body: delivery.payload.clone().into_bytes(),
            })),
            DeliveryTarget::Channel { channel_id } => {
                let channel = match self.store.get_channel(*channel_id).await {
                    Err(StoreError::NotFound) => return Err(Unsendable::ChannelGone),
                    other => other?,
                };
                let config: ChannelConfig = serde_json::from_str(&channel.config)
                    .map_err(|e| Unsendable::BadChannel(e.to_string()))?;
                let payload = if delivery.resource == "summary" {
                    self.summary(delivery).await?
                } else {
                    delivery.payload.clone()
                };
                let notice: Notice = serde_json::from_str(&payload)
                    .map_err(|e| Unsendable::BadNotice(e.to_string()))?;
                if notice.kind == NoticeKind::Summary && notice.items.is_empty() {
                    // Another summary took this burst's messages first.
                    return Ok(None);
                }
                let rendered = config
                    .render(&notice)
                    .map_err(|e| Unsendable::BadChannel(e.to_string()))?;
                Ok(rendered.map(|r| {
                    let mut headers = r.headers;
                    if !headers
                        .iter()
                        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                    {
                        headers.push(("Content-Type".into(), "application/json".into()));
                    }
                    headers.push(("Request-ID".into(), delivery.request_id.clone()));
                    Request {
                        url: r.url,
                        headers,
                        body: r.body,
                    }
                }))
            }
        }
    }
}
