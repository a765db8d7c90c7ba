//! Accepting an invite link: as the signed-in user, or by creating an account.
//!
//! An invite names the email it was sent to, and an account can be created from it only
//! for that email, so a link cannot be used to ask about other addresses. When the
//! account exists already the answer is a generic one (sign in with it first), and every
//! failed redemption counts against the client address: after a few, redemptions from
//! there wait.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use sextant_storage::{Invite, Organization, StoreError};
use std::net::SocketAddr;

use super::error::{UiError, UiResult};
use super::pages::{Nav, render, sign_in};
use super::viewer::{Form, check_origin, current};
use crate::accounts::normalize_email;
use crate::accounts::password::{check_strength, hash_password};
use crate::accounts::throttle::Attempt;
use crate::accounts::token::hash_token;
use crate::client_addr::client_ip;
use crate::state::AppState;

/// Shown when the account cannot be created because the email is taken. It must read
/// the same whoever asks, and says what the owner of that account should do.
const NOT_CREATED: &str = "No account was created with these details. If you already have \
     a Sextant account, sign in with it first, then open this link again.";

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    nav: Option<Nav>,
    title: String,
    org_name: String,
    role: String,
    /// The email the invite is for; the account form is fixed to it.
    email: String,
    signed_in_as: String,
    csrf: String,
    error: String,
}

impl InvitePage {
    fn new(invite: &Invite, org: Organization, error: &str) -> InvitePage {
        InvitePage {
            nav: None,
            title: "Join organization".into(),
            org_name: org.name,
            role: invite.role.as_str().into(),
            email: normalize_email(&invite.email),
            signed_in_as: String::new(),
            csrf: String::new(),
            error: error.into(),
        }
    }
}

/// What a link that cannot be used says, whatever the reason.
const INVALID: &str = "This invite link is invalid or has expired.";

async fn find_invite(state: &AppState, token: &str) -> UiResult<(Invite, Organization)> {
    let invite = state
        .store
        .find_invite(&hash_token(token), state.clock.now_ms())
        .await?
        .ok_or_else(|| UiError::BadRequest(INVALID.into()))?;
    let org = state
        .store
        .list_orgs()
        .await?
        .into_iter()
        .find(|o| o.id == invite.org_id)
        .ok_or(UiError::NotFound)?;
    Ok((invite, org))
}

pub async fn invite_form(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> UiResult<Response> {
    let (invite, org) = find_invite(&state, &token).await?;
    let viewer = current(&headers, &state).await?;
    let mut page = InvitePage::new(&invite, org, "");
    if let Some(viewer) = viewer {
        page.signed_in_as = viewer.user.email;
        page.csrf = viewer.session.csrf_token;
    }
    render(&page)
}

/// Joins the organization: as the signed-in user (CSRF-checked), or by creating an
/// account from the form. The link is single use.
pub async fn invite_accept(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(token): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> UiResult<Response> {
    check_origin(&method, &headers, &state)?;
    let client = client_ip(&state.config, &headers, addr);
    if let Some(wait) = state.login_throttle.check(Attempt::Invite, &client) {
        return Err(UiError::TooManyAttempts(wait.as_secs().max(1)));
    }
    let outcome = redeem(&state, &token, &headers, &body).await;
    match &outcome {
        Ok(Redeemed::Joined(_)) => state
            .login_throttle
            .record_success(Attempt::Invite, &client),
        Ok(Redeemed::Refused(_)) | Err(UiError::BadRequest(_)) => state
            .login_throttle
            .record_failure(Attempt::Invite, &client),
        _ => {}
    }
    match outcome? {
        Redeemed::Joined(resp) | Redeemed::Refused(resp) => Ok(resp),
    }
}

/// What a redemption came to: joined, or refused with a page that counts as a failure.
enum Redeemed {
    Joined(Response),
    Refused(Response),
}

async fn redeem(
    state: &AppState,
    token: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> UiResult<Redeemed> {
    let (invite, org) = find_invite(state, token).await?;
    let next = format!("/orgs/{}/settings", org.slug);
    if let Some(viewer) = current(headers, state).await? {
        viewer.form(body)?;
        // Used up first, so that of two redemptions at once only one joins.
        if !state.store.delete_invite(invite.id).await? {
            return Err(UiError::BadRequest(INVALID.into()));
        }
        // An invite adds a role, never takes one away: a member with a higher role keeps it.
        state
            .store
            .grant_member(org.id, viewer.user.id, invite.role)
            .await?;
        return Ok(Redeemed::Joined(Redirect::to(&next).into_response()));
    }
    let form = Form::parse(body);
    let email = normalize_email(form.text("email"));
    let password = form.get("password").unwrap_or("");
    let invited = normalize_email(&invite.email);
    if !invited.is_empty() && email != invited {
        let error = "Use the email address this invite was sent to.";
        return Ok(Redeemed::Refused(render(&InvitePage::new(
            &invite, org, error,
        ))?));
    }
    let problem = if !email.contains('@') {
        Some("Enter a valid email address.".to_string())
    } else {
        check_strength(password).err().map(|e| e.to_string())
    };
    if let Some(error) = problem {
        return Ok(Redeemed::Refused(render(&InvitePage::new(
            &invite, org, &error,
        ))?));
    }
    let hash = hash_password(password).map_err(|e| UiError::Internal(e.to_string()))?;
    let user = match state.store.create_user(&email, &hash).await {
        Ok(user) => user,
        Err(StoreError::Conflict(_)) => {
            return Ok(Redeemed::Refused(render(&InvitePage::new(
                &invite,
                org,
                NOT_CREATED,
            ))?));
        }
        Err(e) => return Err(e.into()),
    };
    // The account exists now; the invite still joins only one redemption. (Two at once
    // can only race here for an invite without an email: with one, the second account
    // creation is refused above.)
    if !state.store.delete_invite(invite.id).await? {
        return Err(UiError::BadRequest(INVALID.into()));
    }
    state
        .store
        .grant_member(org.id, user.id, invite.role)
        .await?;
    Ok(Redeemed::Joined(sign_in(state, &user, &next).await?))
}
