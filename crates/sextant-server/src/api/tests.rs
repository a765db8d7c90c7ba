//! Router construction tests: every route registers without conflicts, also next to
//! the ingest routes the app merges in.

use axum::Router;
use axum::routing::post;

use super::router;
use crate::state::AppState;

#[test]
fn router_builds() {
    let _ = router();
}

#[test]
fn router_merges_with_ingest_routes() {
    let ingest: Router<AppState> = Router::new()
        .route("/api/{project_id}/envelope/", post(|| async {}))
        .route("/api/{project_id}/store/", post(|| async {}));
    let _ = router().merge(ingest);
}
