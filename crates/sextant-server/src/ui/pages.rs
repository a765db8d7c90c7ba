//! The pages around signing in: the page layout's navigation, the sign-in form (also
//! the first-run setup's), and sign in and out.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use sextant_storage::{Project, User};
use std::net::SocketAddr;

use super::error::{UiError, UiResult};
use super::viewer::{Form, Viewer, check_origin, current, local_path};
use crate::accounts::password::{dummy_hash, verify_password};
use crate::accounts::session::{LIFETIME_MS, clear_cookie, secret_hash, set_cookie};
use crate::accounts::throttle::Attempt;
use crate::accounts::{new_secret, normalize_email};
use crate::client_addr::client_ip;
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
            state.clock.now_ms() + LIFETIME_MS,
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
    let client = client_ip(&state.config, &headers, addr);
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
