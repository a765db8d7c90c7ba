//! The account page: password change, personal API tokens (created, listed, revoked; a
//! new token is shown once) and whether alert email is wanted.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use sextant_storage::TokenScope;
use std::net::SocketAddr;

use super::error::{UiError, UiResult};
use super::format::ago;
use super::pages::{Nav, render, sign_in};
use super::viewer::Viewer;
use crate::accounts::password::{check_strength, hash_password, verify_password};
use crate::accounts::throttle::Attempt;
use crate::accounts::token::{generate_token, hash_token};
use crate::alerts::email::options::{EMAIL_OPTION, EmailChoice};
use crate::client_addr::client_ip;
use crate::state::AppState;

pub struct TokenRow {
    pub id: i64,
    pub label: String,
    pub scope: String,
    pub created: String,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    nav: Option<Nav>,
    title: String,
    email: String,
    csrf: String,
    tokens: Vec<TokenRow>,
    alert_email: bool,
    new_token: String,
    message: String,
    error: String,
}

async fn account_page(
    state: &AppState,
    viewer: &Viewer,
    new_token: String,
    message: &str,
    error: &str,
) -> UiResult<Response> {
    let now = state.clock.now_ms();
    let tokens = state
        .store
        .list_user_tokens(viewer.user.id)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            label: t.label,
            scope: t.scope.as_str().into(),
            created: ago(t.created_at, now),
            revoked: t.revoked,
        })
        .collect();
    render(&AccountPage {
        nav: Some(Nav::build(state, viewer, None).await?),
        title: "Account".into(),
        email: viewer.user.email.clone(),
        csrf: viewer.session.csrf_token.clone(),
        tokens,
        alert_email: EmailChoice::of_user(state.store.as_ref(), viewer.user.id).await?
            == EmailChoice::Always,
        new_token,
        message: message.into(),
        error: error.into(),
    })
}

pub async fn account(viewer: Viewer, State(state): State<AppState>) -> UiResult<Response> {
    account_page(&state, &viewer, String::new(), "", "").await
}

/// Changes the password and signs out every session, this one included, then signs
/// this browser in again. Wrong current passwords are throttled like sign-ins, so a
/// stolen session cannot be used to guess the password.
pub async fn change_password(
    viewer: Viewer,
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> UiResult<Response> {
    let form = viewer.form(&body)?;
    let client = client_ip(&state.config, &headers, addr);
    let attempt = Attempt::CurrentPassword {
        user_id: viewer.user.id,
    };
    if let Some(wait) = state.login_throttle.check(attempt, &client) {
        return Err(UiError::TooManyAttempts(wait.as_secs().max(1)));
    }
    if !verify_password(
        form.get("current").unwrap_or(""),
        &viewer.user.password_hash,
    ) {
        state.login_throttle.record_failure(attempt, &client);
        return account_page(
            &state,
            &viewer,
            String::new(),
            "",
            "The current password is wrong.",
        )
        .await;
    }
    state.login_throttle.record_success(attempt, &client);
    let new = form.get("new").unwrap_or("");
    if let Err(e) = check_strength(new) {
        return account_page(&state, &viewer, String::new(), "", &e.to_string()).await;
    }
    let hash = hash_password(new).map_err(|e| UiError::Internal(e.to_string()))?;
    state.store.set_password(viewer.user.id, &hash).await?;
    state.store.delete_user_sessions(viewer.user.id).await?;
    sign_in(&state, &viewer.user, "/account").await
}

/// Creates a personal token and shows it once.
pub async fn create_token(
    viewer: Viewer,
    State(state): State<AppState>,
    body: Bytes,
) -> UiResult<Response> {
    let form = viewer.form(&body)?;
    let scope = TokenScope::parse(form.text("scope"))
        .ok_or_else(|| UiError::BadRequest("scope must be read, write or admin".into()))?;
    let label = match form.text("label") {
        "" => "personal token",
        l => l,
    };
    let token = generate_token();
    state
        .store
        .create_user_token(viewer.user.id, &hash_token(&token), scope, label)
        .await?;
    account_page(
        &state,
        &viewer,
        token,
        "Token created. Copy it now: it is not shown again.",
        "",
    )
    .await
}

/// Turns alert email on or off for this user (an unchecked box is not sent at all).
pub async fn set_alert_email(
    viewer: Viewer,
    State(state): State<AppState>,
    body: Bytes,
) -> UiResult<Response> {
    let form = viewer.form(&body)?;
    let choice = match form.text("alert_email") {
        "on" => EmailChoice::Always,
        _ => EmailChoice::Never,
    };
    let value = serde_json::Value::from(choice.as_str());
    state
        .store
        .set_user_option(viewer.user.id, EMAIL_OPTION, Some(&value))
        .await?;
    account_page(
        &state,
        &viewer,
        String::new(),
        "Alert email settings saved.",
        "",
    )
    .await
}

pub async fn revoke_token(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> UiResult<Response> {
    viewer.form(&body)?;
    state.store.revoke_user_token(viewer.user.id, id).await?;
    Ok(Redirect::to("/account").into_response())
}
