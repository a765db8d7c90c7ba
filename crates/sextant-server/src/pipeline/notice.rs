//! Notices of processed events, broadcast after each committed batch so open consoles can
//! refresh within a second. Best effort by design: a slow subscriber that lags simply
//! refreshes once more; nothing durable depends on these.

use std::collections::HashMap;

use sextant_storage::{EventWriteResult, Store};
use tokio::sync::broadcast;

/// Notices buffered per subscriber before the oldest are dropped for it.
const CAPACITY: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventNotice {
    pub project_id: i64,
    pub issue_id: i64,
    pub new_issue: bool,
    pub regression: bool,
}

pub type LiveSender = broadcast::Sender<EventNotice>;

pub fn live_channel() -> LiveSender {
    broadcast::channel(CAPACITY).0
}

/// Publishes one notice per stored (non-duplicate) event of a committed batch. Skipped
/// entirely while nobody listens, so the pipeline pays nothing without viewers.
pub(super) async fn publish(live: &LiveSender, store: &dyn Store, events: &[EventWriteResult]) {
    if live.receiver_count() == 0 {
        return;
    }
    let mut projects: HashMap<i64, i64> = HashMap::new();
    for event in events.iter().filter(|e| !e.duplicate) {
        let Some(issue_id) = event.issue_id else {
            continue;
        };
        let project_id = match projects.get(&issue_id) {
            Some(p) => *p,
            None => match store.get_issue(issue_id).await {
                Ok(issue) => {
                    projects.insert(issue_id, issue.project_id);
                    issue.project_id
                }
                // Deleted in the meantime: nobody needs to hear about it.
                Err(_) => continue,
            },
        };
        let _ = live.send(EventNotice {
            project_id,
            issue_id,
            new_issue: event.new_issue,
            regression: event.regression,
        });
    }
}
