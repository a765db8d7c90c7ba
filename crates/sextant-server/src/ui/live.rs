//! The live stream: server-sent events of processed events for one project the viewer
//! may see. Each notice is `{"issue_id": …, "new": …, "regression": …}`; the page script
//! refreshes what it shows. A subscriber that falls behind gets a `lagged` event and
//! simply refreshes.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;

use super::error::UiResult;
use super::viewer::Viewer;
use crate::pipeline::notice::EventNotice;
use crate::state::AppState;

pub async fn stream(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, slug)): Path<(String, String)>,
) -> UiResult<impl IntoResponse> {
    let project = viewer.project(&state, &org, &slug).await?;
    // Subscribe before answering, so nothing processed after the page loaded is missed.
    let rx = state.live.subscribe();
    let first =
        stream::once(async { Ok::<_, Infallible>(Event::default().event("ready").data("{}")) });
    let notices = stream::unfold(rx, move |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(n) if n.project_id == project.id => return Some((Ok(notice_event(&n)), rx)),
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => {
                    return Some((Ok(Event::default().event("lagged").data("{}")), rx));
                }
                Err(RecvError::Closed) => return None,
            }
        }
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
