//! The metric worker: claims the rules that are due (a lease, so each is evaluated by
//! one node at a time across a cluster), evaluates each at the store's clock, and rings
//! the delivery worker when an incident changed.

use std::sync::Arc;
use std::time::Duration;

use sextant_storage::Store;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::super::config::AlertsConfig;
use super::evaluate::{Context, evaluate};

/// Rules evaluated per round.
const ROUND: u32 = 50;
/// How long a claim lasts: only a node that died lets its rules go before evaluating them.
const LEASE_MS: i64 = 120_000;

/// Starts the worker; it stops when `stop` turns true.
pub(in crate::alerts) fn spawn(
    store: &Arc<dyn Store>,
    config: &AlertsConfig,
    base_url: &str,
    deliveries: &Arc<Notify>,
    stop: &watch::Receiver<bool>,
) -> JoinHandle<()> {
    let (store, config, base_url) = (store.clone(), config.clone(), base_url.to_string());
    let (deliveries, mut stop) = (deliveries.clone(), stop.clone());
    tokio::spawn(async move {
        let interval_ms = i64::try_from(config.metric_eval_ms.max(10)).unwrap_or(60_000);
        // Look for due rules at least as often as they come due.
        let poll = Duration::from_millis(config.poll_ms.min(config.metric_eval_ms).max(10));
        let ctx = Context {
            store: store.as_ref(),
            base_url: &base_url,
            interval_ms,
        };
        loop {
            let mut claimed = 0;
            match store.claim_metric_rules(ROUND, LEASE_MS).await {
                Ok(rules) => {
                    claimed = rules.len();
                    for rule in rules {
                        match evaluate(&ctx, &rule, store.clock().now_ms()).await {
                            Ok(Some(_)) => deliveries.notify_one(),
                            Ok(None) => {}
                            Err(err) => tracing::error!(
                                error = &err as &dyn std::error::Error,
                                rule = rule.id,
                                "evaluating a metric alert rule failed"
                            ),
                        }
                    }
                }
                Err(err) => tracing::error!(
                    error = &err as &dyn std::error::Error,
                    "claiming metric alert rules failed"
                ),
            }
            if claimed == ROUND as usize && !*stop.borrow() {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
        }
    })
}
