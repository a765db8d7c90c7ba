//! Automatic post-deploy checks: registering a deploy schedules gate runs at the
//! configured delays (`schedule`); this background task runs them when due, stores each
//! verdict on the release (the stored row is also the health event alerting reads), and
//! prunes old session rollups.

use std::sync::Arc;
use std::time::Duration;

use sextant_storage::{DeployRecord, NewCheck, Store, StoreError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::config::ReleasesConfig;
use super::gate::{self, Baseline, CheckRequest};

const DAY_MS: i64 = 86_400_000;
/// Errored-session sets only need to outlive a session's updates.
const SID_RETENTION_MS: i64 = 6 * DAY_MS;
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

pub struct Scheduler {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Scheduler {
    pub fn start(store: Arc<dyn Store>, config: ReleasesConfig) -> Scheduler {
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(store, config, stop_rx));
        Scheduler { stop, task }
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(err) = self.task.await {
            tracing::error!(error = %err, "release check scheduler ended abnormally");
        }
    }
}

/// The checks a new deploy gets, one per configured delay.
pub async fn schedule(
    store: &dyn Store,
    config: &ReleasesConfig,
    deploy: &DeployRecord,
) -> Result<(), StoreError> {
    let checks: Vec<NewCheck> = config
        .check_after_secs
        .iter()
        .map(|delay| NewCheck {
            project_id: deploy.project_id,
            version: deploy.version.clone(),
            environment: deploy.environment.clone(),
            deploy_id: Some(deploy.id),
            due_at: deploy.date_finished + i64::try_from(*delay).unwrap_or(0) * 1000,
        })
        .collect();
    store.schedule_checks(&checks).await
}

async fn run(store: Arc<dyn Store>, config: ReleasesConfig, mut stop: watch::Receiver<bool>) {
    let poll = Duration::from_millis(config.poll_ms.max(10));
    let mut last_prune: Option<std::time::Instant> = None;
    loop {
        if let Err(err) = run_due(store.as_ref(), &config).await {
            tracing::error!(
                error = &err as &dyn std::error::Error,
                "running release checks failed"
            );
        }
        if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(std::time::Instant::now());
            let now = store.clock().now_ms();
            let keep = i64::try_from(config.retention_days).unwrap_or(90) * DAY_MS;
            if let Err(err) = store
                .prune_sessions(now - keep, now - SID_RETENTION_MS)
                .await
            {
                tracing::error!(
                    error = &err as &dyn std::error::Error,
                    "pruning session rollups failed"
                );
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Runs every check due now.
pub async fn run_due(store: &dyn Store, config: &ReleasesConfig) -> Result<usize, StoreError> {
    let now = store.clock().now_ms();
    let due = store.due_checks(now, 50).await?;
    for check in &due {
        let project = match store.get_project(check.project_id).await {
            Ok(p) => p,
            Err(StoreError::NotFound) => continue,
            Err(e) => return Err(e),
        };
        let settings = gate::settings(store, project.id).await?;
        let req = CheckRequest {
            release: check.version.clone(),
            environment: check.environment.clone(),
            baseline: Baseline::Auto,
            window_ms: i64::try_from(config.window_secs).unwrap_or(1800) * 1000,
            now,
        };
        let (verdict, report) = match gate::check(store, &project, &req, &settings).await {
            Ok(report) => (
                report["verdict"].as_str().unwrap_or("error").to_string(),
                report,
            ),
            Err(gate::GateError::Store(e)) => return Err(e),
            Err(e) => (
                "error".to_string(),
                serde_json::json!({ "verdict": "error", "summary": e.to_string() }),
            ),
        };
        tracing::info!(
            project = project.slug,
            release = check.version,
            environment = check.environment,
            verdict,
            "post-deploy check"
        );
        store
            .complete_check(check.id, now, &verdict, &report.to_string())
            .await?;
    }
    Ok(due.len())
}
