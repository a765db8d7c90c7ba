//! First-run setup: the first account, owner of every organization, created while no
//! user exists. Afterwards the page is gone, so it cannot be used to take over an
//! instance.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};

use super::error::{UiError, UiResult};
use super::pages::{LoginPage, render, sign_in};
use super::viewer::{Form, check_origin};
use crate::accounts::normalize_email;
use crate::accounts::password::{check_strength, hash_password};
use crate::state::AppState;

fn already_set_up() -> UiError {
    UiError::Forbidden("Sextant is already set up; sign in.".into())
}

pub async fn setup_form(State(state): State<AppState>) -> UiResult<Response> {
    if state.store.count_users().await? > 0 {
        return Ok(Redirect::to("/login").into_response());
    }
    render(&LoginPage::setup("", ""))
}

/// Creates the owner in one store step that succeeds only while no user exists, so
/// concurrent submissions make exactly one owner; the others are refused.
pub async fn setup(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> UiResult<Response> {
    check_origin(&method, &headers, &state)?;
    if state.store.count_users().await? > 0 {
        return Err(already_set_up());
    }
    let form = Form::parse(&body);
    let email = normalize_email(form.text("email"));
    let password = form.get("password").unwrap_or("");
    if !email.contains('@') {
        return render(&LoginPage::setup(&email, "Enter a valid email address."));
    }
    if let Err(e) = check_strength(password) {
        return render(&LoginPage::setup(&email, &e.to_string()));
    }
    let hash = hash_password(password).map_err(|e| UiError::Internal(e.to_string()))?;
    state.store.bootstrap_default().await?;
    let user = state
        .store
        .create_first_owner(&email, &hash)
        .await?
        .ok_or_else(already_set_up)?;
    sign_in(&state, &user, "/").await
}
