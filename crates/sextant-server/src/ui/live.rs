//! The live stream: server-sent events of processed events for one project the viewer
//! may see. Each notice is `{"issue_id": …, "new": …, "regression": …}`; the page script
//! refreshes what it shows. A subscriber that falls behind gets a `lagged` event and
//! simply refreshes.
//!
//! A stream lives no longer than the right to read it: every `RECHECK_INTERVAL` it looks
//! the session and the membership up again and ends once either is gone (sign-out,
//! expiry, password change, removal from the organization).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use sextant_storage::Project;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Interval, MissedTickBehavior};

use super::error::UiResult;
use super::viewer::Viewer;
use crate::accounts::Access;
use crate::pipeline::notice::EventNotice;
use crate::state::AppState;

/// How often an open stream checks that its session and membership still hold; it ends
/// at most this long after either goes.
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(2);

/// What a stream needs to follow one project and to re-check its reader.
struct Follow {
    rx: Receiver<EventNotice>,
    recheck: Interval,
    state: AppState,
    session_hash: String,
    user_id: i64,
    project: Project,
}

impl Follow {
    /// Whether the session is still valid and its user still sees the project. A failed
    /// lookup counts as no: the browser reconnects, and is let in again if allowed.
    async fn still_allowed(&self) -> bool {
        let store = self.state.store.as_ref();
        let user = match store
            .find_session(&self.session_hash, self.state.clock.now_ms())
            .await
        {
            Ok(Some((_, user))) if user.id == self.user_id => user,
            _ => return false,
        };
        Access::for_user(store, user)
            .await
            .is_ok_and(|access| access.sees_project(&self.project))
    }

    /// The next event to send, or `None` when the stream must end.
    async fn next(&mut self) -> Option<Event> {
        loop {
            tokio::select! {
                notice = self.rx.recv() => match notice {
                    Ok(n) if n.project_id == self.project.id => return Some(notice_event(&n)),
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => {
                        return Some(Event::default().event("lagged").data("{}"));
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = self.recheck.tick() => {
                    if !self.still_allowed().await {
                        return None;
                    }
                }
            }
        }
    }
}

pub async fn stream(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, slug)): Path<(String, String)>,
) -> UiResult<impl IntoResponse> {
    let project = viewer.project(&state, &org, &slug).await?;
    // Subscribe before answering, so nothing processed after the page loaded is missed.
    let rx = state.live.subscribe();
    let mut recheck = tokio::time::interval_at(
        tokio::time::Instant::now() + RECHECK_INTERVAL,
        RECHECK_INTERVAL,
    );
    recheck.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let follow = Follow {
        rx,
        recheck,
        state,
        session_hash: viewer.session_hash,
        user_id: viewer.user.id,
        project,
    };
    let first =
        stream::once(async { Ok::<_, Infallible>(Event::default().event("ready").data("{}")) });
    let notices = stream::unfold(follow, |mut follow| async move {
        let event = follow.next().await?;
        Some((Ok(event), follow))
    });
    Ok(Sse::new(combine(first, notices))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn combine<S1, S2>(a: S1, b: S2) -> impl Stream<Item = Result<Event, Infallible>>
where
    S1: Stream<Item = Result<Event, Infallible>>,
    S2: Stream<Item = Result<Event, Infallible>>,
{
    futures_util::StreamExt::chain(a, b)
}

fn notice_event(n: &EventNotice) -> Event {
    Event::default().event("event").data(
        serde_json::json!({
            "issue_id": n.issue_id,
            "new": n.new_issue,
            "regression": n.regression,
        })
        .to_string(),
    )
}
