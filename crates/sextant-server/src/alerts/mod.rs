//! Alerts: Sentry-compatible issue alert rules, internal integrations and the legacy
//! webhooks plugin, notification channels, and the durable outbox between them.
//!
//! The path of a notification: the batch writer (or an issue update) records a signal in
//! the transaction that changed the issue; the evaluator (`evaluate.rs`) turns signals
//! into deliveries in the transaction that records each rule's firing; the delivery
//! worker (`deliver.rs`) sends them through the outbound client and records every
//! attempt. Email actions take one more step, through per-user digests (`email/`). Each
//! step is claimed with a lease, so `kill -9` anywhere loses nothing.

pub mod api;
pub mod channel_store;
pub mod channels;
pub mod config;
mod deliver;
pub mod email;
pub mod evaluate;
mod issue_rules;
pub mod metric;
pub mod notice;
pub mod payload;
pub mod rule_store;
pub mod rules;
mod storm;
mod verdict;

use std::sync::Arc;

use sextant_storage::Store;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::outbound::OutboundClient;

/// The running alert workers of one node.
pub struct Alerts {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    deliveries: Arc<Notify>,
}

impl Alerts {
    /// Starts the evaluator, woken by `processed` (every committed batch), and the
    /// delivery worker.
    pub fn start(
        store: Arc<dyn Store>,
        config: config::AlertsConfig,
        client: OutboundClient,
        base_url: String,
        processed: Arc<Notify>,
        metrics: crate::metrics::Metrics,
    ) -> Alerts {
        let (stop, stop_rx) = watch::channel(false);
        let deliveries = Arc::new(Notify::new());
        let metric = metric::worker::spawn(&store, &config, &base_url, &deliveries, &stop_rx);
        let evaluator = evaluate::Evaluator {
            store: store.clone(),
            config: config.clone(),
            base_url: base_url.clone(),
            deliveries: deliveries.clone(),
            metrics: metrics.clone(),
        };
        let digests = email::digest::DigestWorker {
            store: store.clone(),
            config: config.clone(),
            base_url: base_url.clone(),
            metrics,
            deliveries: deliveries.clone(),
        };
        let deliverer = Arc::new(deliver::Deliverer {
            store,
            base_url,
            client,
            mailer: email::send::Mailer::start(&config.email),
            config,
        });
        let tasks = vec![
            metric,
            tokio::spawn(evaluator.run(processed, stop_rx.clone())),
            tokio::spawn(digests.run(stop_rx.clone())),
            tokio::spawn(deliverer.run(deliveries.clone(), stop_rx)),
        ];
        Alerts {
            stop,
            tasks,
            deliveries,
        }
    }

    /// Rings the delivery worker, for deliveries written outside the evaluator (tests,
    /// redeliveries).
    pub fn deliveries_waker(&self) -> Arc<Notify> {
        self.deliveries.clone()
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            if let Err(err) = task.await {
                tracing::error!(error = %err, "an alert worker ended abnormally");
            }
        }
    }
}
