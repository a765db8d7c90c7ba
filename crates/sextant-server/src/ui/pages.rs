//! The pages around signing in: the page layout's navigation, the sign-in form (also
//! the first-run setup's), sign in and out, and accepting an invite.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use sextant_storage::{Project, User};
use std::net::SocketAddr;

use super::error::{UiError, UiResult};
use super::viewer::{Form, Viewer, check_origin, current, local_path};
use crate::accounts::password::{check_strength, dummy_hash, hash_password, verify_password};
use crate::accounts::session::{LIFETIME_MS, clear_cookie, secret_hash, set_cookie};
use crate::accounts::throttle::Attempt;
use crate::accounts::{new_secret, normalize_email};
use crate::api::auth::hash_token;
use crate::ingest::{client_ip, now_millis as now_ms};
use crate::state::AppState;

pub struct NavProject {
    pub label: String,
    pub url: String,
    pub current: bool,
}

/// What the layout needs: who is signed in, their projects, and the CSRF token for the
/// sign-out form.
pub struct Nav {
    pub email: String,
    pub csrf: String,
    pub projects: Vec<NavProject>,
    /// Settings links of the organizations the viewer administers.
    pub orgs: Vec<(String, String)>,
    /// `data-live` of the page body: the live stream to follow, if any.
    pub live_url: String,
}

impl Nav {
    pub async fn build(
        state: &AppState,
        viewer: &Viewer,
        current: Option<&Project>,
    ) -> UiResult<Nav> {
        let mut projects = Vec::new();
        let mut orgs = Vec::new();
        for m in viewer.memberships() {
            for p in state.store.list_projects(Some(m.org.id)).await? {
                projects.push(NavProject {
                    label: format!("{} / {}", m.org.slug, p.name),
                    url: project_url(&p),
                    current: current.is_some_and(|c| c.id == p.id),
                });
            }
            orgs.push((m.org.name.clone(), format!("/orgs/{}/settings", m.org.slug)));
        }
        Ok(Nav {
            email: viewer.user.email.clone(),
            csrf: viewer.session.csrf_token.clone(),
            projects,
            orgs,
            live_url: String::new(),
        })
    }
}

pub fn project_url(p: &Project) -> String {
    format!("/orgs/{}/{}/", p.org_slug, p.slug)
}

pub fn render<T: Template>(page: &T) -> UiResult<Response> {
    Ok(Html(page.render()?).into_response())
}

/// `/`: setup on a fresh install, sign-in for strangers, else the first project.
pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> UiResult<Response> {
    if state.store.count_users().await? == 0 {
        return Ok(Redirect::to("/setup").into_response());
    }
    let Some(viewer) = current(&headers, &state).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    for m in viewer.memberships() {
        if let Some(p) = state.store.list_projects(Some(m.org.id)).await?.first() {
            return Ok(Redirect::to(&project_url(p)).into_response());
        }
    }
    Ok(Redirect::to("/account").into_response())
}

#[derive(Template)]
#[template(path = "login.html")]
pub(super) struct LoginPage {
    nav: Option<Nav>,
    title: String,
    heading: String,
    action: String,
    button: String,
    next: String,
    email: String,
    error: String,
    intro: String,
}

impl LoginPage {
    fn login(next: &str, email: &str, error: &str) -> LoginPage {
        LoginPage {
            nav: None,
            title: "Sign in".into(),
            heading: "Sign in to Sextant".into(),
            action: "/login".into(),
            button: "Sign in".into(),
            next: next.into(),
            email: email.into(),
            error: error.into(),
            intro: String::new(),
        }
    }

    pub(super) fn setup(email: &str, error: &str) -> LoginPage {
        LoginPage {
            nav: None,
            title: "Set up Sextant".into(),
            heading: "Welcome to Sextant".into(),
            action: "/setup".into(),
            button: "Create owner account".into(),
            next: "/".into(),
            email: email.into(),
            error: error.into(),
            intro: "Create the first account. It becomes the owner of every organization on \
                    this server; invite your team from the organization settings afterwards."
                .into(),
        }
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Answers with a new session cookie and a redirect.
pub(super) async fn sign_in(state: &AppState, user: &User, next: &str) -> UiResult<Response> {
    let secret = new_secret();
    state
        .store
        .create_session(
            user.id,
            &secret_hash(&secret),
            &new_secret(),
            now_ms() + LIFETIME_MS,
        )
        .await?;
    let secure = state.base_url().starts_with("https://");
    let mut resp = Redirect::to(&local_path(next)).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&secret, secure));
    Ok(resp)
}

pub async fn login_form(Query(q): Query<NextQuery>) -> UiResult<Response> {
    let next = local_path(q.next.as_deref().unwrap_or("/"));
    render(&LoginPage::login(&next, "", ""))
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> UiResult<Response> {
    check_origin(&method, &headers, &state)?;
    let form = Form::parse(&body);
    let email = normalize_email(form.text("email"));
    let password = form.get("password").unwrap_or("");
    let next = &local_path(form.text("next"));
    let client = client_ip(&state, &headers, addr);
    let attempt = Attempt::SignIn { email: &email };
    if let Some(wait) = state.login_throttle.check(attempt, &client) {
        return Err(UiError::TooManyAttempts(wait.as_secs().max(1)));
    }
    let user = state.store.find_user_by_email(&email).await?;
    // Verify against a dummy hash for unknown emails: same cost, no account probing.
    let hash = user
        .as_ref()
        .map_or(dummy_hash(), |u| u.password_hash.as_str());
    let ok = verify_password(password, hash) && user.is_some();
    match user {
        Some(user) if ok => {
            state.login_throttle.record_success(attempt, &client);
            sign_in(&state, &user, next).await
        }
        _ => {
            state.login_throttle.record_failure(attempt, &client);
            let page = LoginPage::login(next, &email, "Wrong email or password.");
            Ok((axum::http::StatusCode::UNAUTHORIZED, Html(page.render()?)).into_response())
        }
    }
}

pub async fn logout(
    viewer: Viewer,
    State(state): State<AppState>,
    body: Bytes,
) -> UiResult<Response> {
    viewer.form(&body)?;
    state.store.delete_session(&viewer.session_hash).await?;
    let secure = state.base_url().starts_with("https://");
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, clear_cookie(secure));
    Ok(resp)
}

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    nav: Option<Nav>,
    title: String,
    org_name: String,
    role: String,
    signed_in_as: String,
    csrf: String,
    error: String,
}

async fn find_invite(
    state: &AppState,
    token: &str,
) -> UiResult<(sextant_storage::Invite, sextant_storage::Organization)> {
    let invite = state
        .store
        .find_invite(&hash_token(token), now_ms())
        .await?
        .ok_or_else(|| UiError::BadRequest("This invite link is invalid or has expired.".into()))?;
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
    render(&InvitePage {
        nav: None,
        title: "Join organization".into(),
        org_name: org.name,
        role: invite.role.as_str().into(),
        signed_in_as: viewer
            .as_ref()
            .map(|v| v.user.email.clone())
            .unwrap_or_default(),
        csrf: viewer.map(|v| v.session.csrf_token).unwrap_or_default(),
        error: String::new(),
    })
}

/// Joins the organization: as the signed-in user (CSRF-checked), or by creating an
/// account from the form. The link is single use.
pub async fn invite_accept(
    State(state): State<AppState>,
    Path(token): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> UiResult<Response> {
    check_origin(&method, &headers, &state)?;
    let (invite, org) = find_invite(&state, &token).await?;
    let next = format!("/orgs/{}/settings", org.slug);
    if let Some(viewer) = current(&headers, &state).await? {
        viewer.form(&body)?;
        // An invite adds a role, never takes one away: a member with a higher role keeps it.
        state
            .store
            .grant_member(org.id, viewer.user.id, invite.role)
            .await?;
        state.store.delete_invite(invite.id).await?;
        return Ok(Redirect::to(&next).into_response());
    }
    let form = Form::parse(&body);
    let email = normalize_email(form.text("email"));
    let password = form.get("password").unwrap_or("");
    let problem = if !email.contains('@') {
        Some("Enter a valid email address.".to_string())
    } else {
        check_strength(password).err().map(|e| e.to_string())
    };
    if let Some(error) = problem {
        return render(&InvitePage {
            nav: None,
            title: "Join organization".into(),
            org_name: org.name,
            role: invite.role.as_str().into(),
            signed_in_as: String::new(),
            csrf: String::new(),
            error,
        });
    }
    let hash = hash_password(password).map_err(|e| UiError::Internal(e.to_string()))?;
    let user = state.store.create_user(&email, &hash).await?;
    state
        .store
        .grant_member(org.id, user.id, invite.role)
        .await?;
    state.store.delete_invite(invite.id).await?;
    sign_in(&state, &user, &next).await
}
