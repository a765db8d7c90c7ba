//! Waiting on the pipeline: [`TestApp::drain`] waits on the processor's own progress,
//! and the helpers that read events and issues back drain first, so a test waits exactly
//! as long as processing takes and then checks what the API serves.

use serde_json::Value;

use super::{TestApp, WAIT, encode, envelope};

impl TestApp {
    /// Sends an error event built from `event` (see `envelope::event_envelope`) and
    /// waits until the API serves it. Returns the stored event JSON.
    pub fn ingest_event(&self, event: Value) -> Value {
        let (id, body) = envelope::event_envelope(event);
        assert_eq!(self.send_ok(body), id);
        self.wait_for_event(&id)
    }

    pub fn event_path(&self, event_id: &str) -> String {
        format!("/api/0/projects/default/default/events/{event_id}/")
    }

    /// Waits until the pipeline has processed every request accepted so far, on the
    /// processor's own progress rather than through the API; panics after `WAIT`.
    pub fn drain(&self) {
        let drained =
            self.block_on(async { tokio::time::timeout(WAIT, self.progress.drained()).await });
        assert!(
            drained.is_ok(),
            "the pipeline did not process what it accepted within {WAIT:?}"
        );
    }

    /// Drains the pipeline, then returns the event as the API serves it; panics unless
    /// it is served by then.
    pub fn wait_for_event(&self, event_id: &str) -> Value {
        self.drain();
        let (status, body) = self.get(&self.event_path(event_id));
        assert_eq!(
            status, 200,
            "event {event_id} not served once the pipeline had processed everything: {body}"
        );
        body
    }

    /// Issues of the default project for `query` (URL-encoded here), first page.
    pub fn issues(&self, query: &str) -> Vec<Value> {
        let path = format!(
            "/api/0/projects/default/default/issues/?query={}",
            encode(query)
        );
        let (status, body) = self.get(&path);
        assert_eq!(status, 200, "GET {path}: {body}");
        body.as_array()
            .cloned()
            .unwrap_or_else(|| panic!("issue list is not an array: {body}"))
    }

    /// Drains the pipeline, then checks that `query` lists exactly `n` issues; returns
    /// them.
    pub fn wait_for_issues(&self, query: &str, n: usize) -> Vec<Value> {
        self.drain();
        let issues = self.issues(query);
        assert_eq!(
            issues.len(),
            n,
            "expected {n} issues for {query:?} once the pipeline had processed everything: \
             {issues:#?}"
        );
        issues
    }

    pub fn issue(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/api/0/organizations/default/issues/{id}/"));
        assert_eq!(status, 200, "GET issue {id}: {body}");
        body
    }

    /// Number of stored events of the default project, from the store.
    pub fn event_count(&self) -> i64 {
        self.block_on(self.store().count_events(self.project_id))
            .expect("count_events")
    }

    /// Sends a valid event and waits for it: everything accepted before it has been
    /// processed too (the inbox is processed in order).
    pub fn barrier(&self) -> Value {
        self.ingest_event(serde_json::json!({
            "message": format!("barrier {}", uuid::Uuid::new_v4().simple()),
            "level": "info",
            "fingerprint": ["e2e-barrier"],
        }))
    }
}
