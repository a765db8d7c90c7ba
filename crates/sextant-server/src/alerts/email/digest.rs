//! The digest worker: claims due mail digests (one project's notifications for one user),
//! renders each into one mail and commits it as an email delivery in the transaction
//! that consumes the digest's entries. The delivery worker then sends it over SMTP.
//!
//! A digest whose user has gone, left the organization or opted out of alert email since
//! its entries were written is consumed without a mail (and counted).

use std::sync::Arc;
use std::time::Duration;

use sextant_storage::{DeliveryTarget, MailDigest, NewDelivery, Store, StoreError};
use tokio::sync::{Notify, watch};

use super::options::EmailChoice;
use super::render::{Envelope, render};
use crate::alerts::config::AlertsConfig;
use crate::alerts::notice::Notice;
use crate::metrics::Metrics;

/// Digests mailed per round.
const ROUND: u32 = 100;
/// How long a claim on a digest lasts: only a node that died lets it go.
const LEASE_MS: i64 = 60_000;

pub struct DigestWorker {
    pub store: Arc<dyn Store>,
    pub config: AlertsConfig,
    pub base_url: String,
    pub metrics: Metrics,
    /// Rung when email deliveries were written.
    pub deliveries: Arc<Notify>,
}

impl DigestWorker {
    /// Digests fall due by the clock, not by an event: the worker looks every `poll_ms`.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.config.poll_ms.max(10));
        loop {
            match self.round().await {
                Ok(n) if n >= ROUND as usize => continue,
                Ok(_) => {}
                Err(err) => tracing::error!(
                    error = &err as &dyn std::error::Error,
                    "mailing alert digests failed"
                ),
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    /// Mails one round of due digests; returns how many were claimed.
    pub async fn round(&self) -> Result<usize, StoreError> {
        let digests = self.store.claim_digests(ROUND, LEASE_MS).await?;
        let mut wrote = false;
        for digest in &digests {
            let mails = self.mails(digest).await?;
            match self.store.commit_digest(digest, &mails).await {
                Ok(()) => wrote |= !mails.is_empty(),
                // Another node's claim outlived its lease and sent these entries.
                Err(StoreError::Conflict(why)) => {
                    tracing::debug!(digest = digest.id, %why, "digest taken over");
                }
                Err(err) => return Err(err),
            }
        }
        if wrote {
            self.deliveries.notify_one();
        }
        Ok(digests.len())
    }

    /// The email delivery a digest becomes, if any.
    async fn mails(&self, digest: &MailDigest) -> Result<Vec<NewDelivery>, StoreError> {
        let skip = |reason: &'static str| {
            self.metrics
                .alert_email_skipped(reason, digest.entries.len() as u64);
            Ok(Vec::new())
        };
        if !self.config.email.enabled() {
            return skip("no_smtp_host");
        }
        let user = match self.store.get_user(digest.user_id).await {
            Ok(user) => user,
            Err(StoreError::NotFound) => return skip("not_a_member"),
            Err(err) => return Err(err),
        };
        let members = self.store.list_members(digest.org_id).await?;
        if !members.iter().any(|m| m.user_id == user.id) {
            return skip("not_a_member");
        }
        if EmailChoice::of_user(self.store.as_ref(), user.id).await? == EmailChoice::Never {
            return skip("opted_out");
        }
        let project = match self.store.get_project(digest.project_id).await {
            Ok(project) => project,
            Err(StoreError::NotFound) => return Ok(Vec::new()),
            Err(err) => return Err(err),
        };
        let mut notices = Vec::with_capacity(digest.entries.len());
        for entry in &digest.entries {
            match serde_json::from_str::<Notice>(&entry.payload) {
                Ok(notice) => notices.push(notice),
                Err(err) => tracing::warn!(
                    entry = entry.id,
                    error = %err,
                    "skipping a digest entry that cannot be read"
                ),
            }
        }
        let settings_url = format!("{}/account", self.base_url.trim_end_matches('/'));
        let envelope = Envelope {
            to: &user.email,
            subject_prefix: &self.config.email.subject_prefix,
            project: &project.slug,
            settings_url: &settings_url,
        };
        let Some(mail) = render(&envelope, &notices) else {
            return Ok(Vec::new());
        };
        let payload = serde_json::to_string(&mail)
            .map_err(|e| StoreError::Backend(format!("rendering a mail: {e}")))?;
        let same = |pick: fn(&sextant_storage::DigestEntry) -> Option<i64>| {
            let first = digest.entries.first().and_then(pick);
            digest
                .entries
                .iter()
                .all(|e| pick(e) == first)
                .then_some(first)
                .flatten()
        };
        Ok(vec![NewDelivery {
            org_id: digest.org_id,
            project_id: Some(digest.project_id),
            issue_id: same(|e| e.issue_id),
            rule_id: same(|e| e.rule_id),
            target: DeliveryTarget::Email {
                address: user.email.clone(),
            },
            resource: "email".into(),
            action: "digest".into(),
            payload,
        }])
    }
}
