//! `/api/0/users/me/notification-options/`: the token owner's alert notification
//! settings, in the spirit of Sentry's notification settings: `{"alerts:email":
//! "always"|"never"}`. Needs a personal token; instance tokens belong to no user.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use sextant_storage::User;

use super::super::email::options::{EMAIL_OPTION, EmailChoice};
use crate::api::auth::Auth;
use crate::api::error::{ApiError, ApiResult};
use crate::api::support::parse_body;
use crate::state::AppState;

fn me(auth: &Auth) -> ApiResult<&User> {
    auth.1.user().ok_or_else(|| {
        ApiError::bad_request("this token belongs to no user; use a personal API token")
    })
}

async fn options_json(state: &AppState, user: &User) -> ApiResult<Value> {
    let choice = EmailChoice::of_user(state.store.as_ref(), user.id).await?;
    Ok(json!({ EMAIL_OPTION: choice.as_str() }))
}

pub async fn detail(auth: Auth, State(state): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(options_json(&state, me(&auth)?).await?))
}

/// `PUT`: sets the options given; others stay as they are. A bad key or value answers
/// `{"<key>": ["<message>"]}` and changes nothing.
pub async fn update(auth: Auth, State(state): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let user = me(&auth)?;
    let body: Map<String, Value> = parse_body(&body)?;
    let refused = |key: &str, message: &str| {
        (StatusCode::BAD_REQUEST, Json(json!({ key: [message] }))).into_response()
    };
    let mut email = None;
    for (key, value) in &body {
        if key != EMAIL_OPTION {
            return Ok(refused(key, "Unknown notification option."));
        }
        match EmailChoice::parse(value) {
            Some(choice) => email = Some(choice),
            None => return Ok(refused(key, "Must be \"always\" or \"never\".")),
        }
    }
    if let Some(choice) = email {
        state
            .store
            .set_user_option(user.id, EMAIL_OPTION, Some(&json!(choice.as_str())))
            .await?;
    }
    Ok(Json(options_json(&state, user).await?).into_response())
}
