//! Settings pages: the organization (members, roles, invite links, new projects) and the
//! project (DSN keys with snippets, rate limits, allowed origins). Changes need the admin
//! or owner role.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use sextant_storage::{Organization, Role, StoreError};

use super::error::{UiError, UiResult};
use super::format::ago;
use super::pages::{Nav, project_url, render};
use super::snippets::{Snippets, first_dsn};
use super::viewer::Viewer;
use crate::accounts::token::hash_token;
use crate::accounts::{new_secret, normalize_email};
use crate::state::AppState;
use sextant_protocol::auth::format_dsn as dsn;

/// Invite links work for a week.
const INVITE_LIFETIME_MS: i64 = 7 * 24 * 60 * 60 * 1000;

// --- organization -----------------------------------------------------------------------

pub struct MemberRow {
    pub user_id: i64,
    pub email: String,
    pub role: String,
    pub joined: String,
    pub is_self: bool,
}

pub struct InviteRow {
    pub id: i64,
    pub email: String,
    pub role: String,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "org.html")]
struct OrgPage {
    nav: Option<Nav>,
    title: String,
    org: Organization,
    role: String,
    can_admin: bool,
    members: Vec<MemberRow>,
    invites: Vec<InviteRow>,
    invite_link: String,
    projects: Vec<(String, String)>,
    csrf: String,
    error: String,
}

async fn org_of(state: &AppState, viewer: &Viewer, slug: &str) -> UiResult<(Organization, Role)> {
    let role = viewer.role(slug)?;
    Ok((state.store.get_org(slug).await?, role))
}

async fn org_page(
    state: &AppState,
    viewer: &Viewer,
    slug: &str,
    invite_link: String,
    error: &str,
) -> UiResult<Response> {
    let (org, role) = org_of(state, viewer, slug).await?;
    let now = state.clock.now_ms();
    let members = state
        .store
        .list_members(org.id)
        .await?
        .into_iter()
        .map(|m| MemberRow {
            is_self: m.user_id == viewer.user.id,
            user_id: m.user_id,
            email: m.email,
            role: m.role.as_str().into(),
            joined: ago(m.joined_at, now),
        })
        .collect();
    let invites = if role >= Role::Admin {
        state
            .store
            .list_invites(org.id, now)
            .await?
            .into_iter()
            .map(|i| InviteRow {
                id: i.id,
                email: i.email,
                role: i.role.as_str().into(),
                expires: crate::serialize::format_ms(i.expires_at),
            })
            .collect()
    } else {
        Vec::new()
    };
    let projects = state
        .store
        .list_projects(Some(org.id))
        .await?
        .iter()
        .map(|p| (p.name.clone(), project_url(p)))
        .collect();
    render(&OrgPage {
        nav: Some(Nav::build(state, viewer, None).await?),
        title: format!("{} settings", org.name),
        role: role.as_str().into(),
        can_admin: role >= Role::Admin,
        members,
        invites,
        invite_link,
        projects,
        csrf: viewer.session.csrf_token.clone(),
        error: error.into(),
        org,
    })
}

pub async fn org(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> UiResult<Response> {
    org_page(&state, &viewer, &slug, String::new(), "").await
}

/// Changes a member's role or removes them. Owners alone may grant, change or remove the
/// owner role, and the last owner cannot be removed or demoted (the store refuses it, so
/// two owners demoting each other at once cannot both succeed either).
pub async fn member_action(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(slug): Path<String>,
    body: Bytes,
) -> UiResult<Response> {
    let form = viewer.form(&body)?;
    let my_role = viewer.require_admin(&slug)?;
    let org = state.store.get_org(&slug).await?;
    let user_id: i64 = form
        .text("user_id")
        .parse()
        .map_err(|_| UiError::BadRequest("invalid user id".into()))?;
    let members = state.store.list_members(org.id).await?;
    let target = members
        .iter()
        .find(|m| m.user_id == user_id)
        .ok_or(UiError::NotFound)?;
    let new_role = match form.text("action") {
        "remove" => None,
        "role" => Some(
            Role::parse(form.text("role"))
                .ok_or_else(|| UiError::BadRequest("unknown role".into()))?,
        ),
        other => return Err(UiError::BadRequest(format!("unknown action {other:?}"))),
    };
    let touches_owner = target.role == Role::Owner || new_role == Some(Role::Owner);
    if touches_owner && my_role < Role::Owner {
        return Err(UiError::Forbidden("Only owners can change owners.".into()));
    }
    // Applied only while the role is still the one the permission check above saw.
    let refusal = match state
        .store
        .change_member(org.id, user_id, target.role, new_role)
        .await
    {
        Ok(()) => return Ok(Redirect::to(&format!("/orgs/{slug}/settings")).into_response()),
        Err(StoreError::LastOwner) => "An organization needs at least one owner.",
        Err(StoreError::Conflict(_)) => "That member's role changed meanwhile; try again.",
        Err(e) => return Err(e.into()),
    };
    org_page(&state, &viewer, &slug, String::new(), refusal).await
}

/// Creates an invite link (shown once) or revokes a pending one.
pub async fn invite_action(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(slug): Path<String>,
    body: Bytes,
) -> UiResult<Response> {
    let form = viewer.form(&body)?;
    let my_role = viewer.require_admin(&slug)?;
    let org = state.store.get_org(&slug).await?;
    match form.text("action") {
        "create" => {
            let role = Role::parse(form.text("role"))
                .ok_or_else(|| UiError::BadRequest("unknown role".into()))?;
            if role > my_role {
                return Err(UiError::Forbidden(
                    "You cannot invite with a role above your own.".into(),
                ));
            }
            // The invite is for this address only: an account made from the link gets it.
            let email = normalize_email(form.text("email"));
            if !email.contains('@') {
                let error = "Enter the email address of the person you invite.";
                return org_page(&state, &viewer, &slug, String::new(), error).await;
            }
            let token = new_secret();
            state
                .store
                .create_invite(
                    org.id,
                    &hash_token(&token),
                    role,
                    &email,
                    state.clock.now_ms() + INVITE_LIFETIME_MS,
                )
                .await?;
            let link = format!("{}/invite/{token}", state.base_url());
            org_page(&state, &viewer, &slug, link, "").await
        }
        "revoke" => {
            let id: i64 = form
                .text("id")
                .parse()
                .map_err(|_| UiError::BadRequest("invalid invite id".into()))?;
            let ours = state
                .store
                .list_invites(org.id, state.clock.now_ms())
                .await?
                .iter()
                .any(|i| i.id == id);
            if ours {
                state.store.delete_invite(id).await?;
            }
            Ok(Redirect::to(&format!("/orgs/{slug}/settings")).into_response())
        }
        other => Err(UiError::BadRequest(format!("unknown action {other:?}"))),
    }
}

pub async fn create_project(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(slug): Path<String>,
    body: Bytes,
) -> UiResult<Response> {
    let form = viewer.form(&body)?;
    viewer.require_admin(&slug)?;
    let org = state.store.get_org(&slug).await?;
    let name = form.text("name");
    let project_slug = crate::projects::slugify(name.trim());
    if project_slug.is_empty() || project_slug.bytes().all(|b| b.is_ascii_digit()) {
        return org_page(
            &state,
            &viewer,
            &slug,
            String::new(),
            "Give the project a name with letters.",
        )
        .await;
    }
    let platform = Some(form.text("platform")).filter(|p| !p.is_empty());
    let (project, _) = crate::projects::create_with_key(
        state.store.as_ref(),
        org.id,
        &project_slug,
        name,
        platform,
    )
    .await?;
    Ok(Redirect::to(&project_url(&project)).into_response())
}

// --- project ----------------------------------------------------------------------------

pub struct KeyRow {
    pub public_key: String,
    pub label: String,
    pub active: bool,
    pub dsn: String,
    pub rate_count: String,
    pub rate_window: String,
}

#[derive(Template)]
#[template(path = "project_settings.html")]
struct ProjectPage {
    nav: Option<Nav>,
    title: String,
    project_name: String,
    issues_url: String,
    keys: Vec<KeyRow>,
    snippets: Snippets,
    origins: String,
    keys_url: String,
    origins_url: String,
    can_admin: bool,
    csrf: String,
}

pub async fn project(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, slug)): Path<(String, String)>,
) -> UiResult<Response> {
    let project = viewer.project(&state, &org, &slug).await?;
    let base = state.base_url();
    let keys = state
        .store
        .list_keys(project.id)
        .await?
        .into_iter()
        .map(|k| KeyRow {
            dsn: dsn(&base, &k.public_key, project.id),
            rate_count: k
                .rate_limit_count
                .map(|c| c.to_string())
                .unwrap_or_default(),
            rate_window: k
                .rate_limit_window_secs
                .map(|c| c.to_string())
                .unwrap_or_default(),
            public_key: k.public_key,
            label: k.label,
            active: k.active,
        })
        .collect();
    let prefix = format!("/orgs/{}/{}", project.org_slug, project.slug);
    render(&ProjectPage {
        nav: Some(Nav::build(&state, &viewer, Some(&project)).await?),
        title: format!("{} settings", project.name),
        project_name: project.name.clone(),
        issues_url: format!("{prefix}/"),
        keys,
        snippets: Snippets::new(&first_dsn(&state, &project).await?),
        origins: state.store.allowed_origins(project.id).await?.join("\n"),
        keys_url: format!("{prefix}/keys"),
        origins_url: format!("{prefix}/origins"),
        can_admin: viewer.role(&org)? >= Role::Admin,
        csrf: viewer.session.csrf_token.clone(),
    })
}

fn optional_number(raw: &str, what: &str) -> UiResult<Option<i64>> {
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .map(Some)
        .ok_or_else(|| UiError::BadRequest(format!("{what} must be a whole number")))
}

pub async fn key_action(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, slug)): Path<(String, String)>,
    body: Bytes,
) -> UiResult<Response> {
    let form = viewer.form(&body)?;
    viewer.require_admin(&org)?;
    let project = viewer.project(&state, &org, &slug).await?;
    let key = form.text("key");
    match form.text("action") {
        "create" => {
            let label = match form.text("label") {
                "" => "Default",
                l => l,
            };
            state.store.create_key(project.id, label).await?;
        }
        "revoke" => {
            state.store.set_key_active(project.id, key, false).await?;
        }
        "enable" => {
            state.store.set_key_active(project.id, key, true).await?;
        }
        "ratelimit" => {
            let count = optional_number(form.text("count"), "the event count")?;
            let window = optional_number(form.text("window"), "the window")?;
            let (count, window) = match (count, window) {
                (Some(c), w) => (Some(c), Some(w.unwrap_or(60).max(1))),
                (None, _) => (None, None),
            };
            state
                .store
                .set_key_rate_limit(project.id, key, count, window)
                .await?;
        }
        other => return Err(UiError::BadRequest(format!("unknown action {other:?}"))),
    }
    Ok(Redirect::to(&format!("/orgs/{org}/{slug}/settings")).into_response())
}

/// Stores the browser origins allowed to send events (one per line, `*` or empty for
/// any); ingest refuses requests from other origins.
pub async fn set_origins(
    viewer: Viewer,
    State(state): State<AppState>,
    Path((org, slug)): Path<(String, String)>,
    body: Bytes,
) -> UiResult<Response> {
    let form = viewer.form(&body)?;
    viewer.require_admin(&org)?;
    let project = viewer.project(&state, &org, &slug).await?;
    let mut origins = Vec::new();
    for line in form
        .text("origins")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        if line != "*" && !(line.starts_with("http://") || line.starts_with("https://")) {
            return Err(UiError::BadRequest(format!(
                "{line:?} is not an origin: use http(s)://host[:port] or *"
            )));
        }
        origins.push(line.trim_end_matches('/').to_string());
    }
    state
        .store
        .set_allowed_origins(project.id, &origins)
        .await?;
    Ok(Redirect::to(&format!("/orgs/{org}/{slug}/settings")).into_response())
}
