//! `Viewer`: the signed-in user of a console request, with their memberships, resolved
//! from the session cookie on every request (no cache: a deleted session stops working
//! at once). Also form parsing with the CSRF check every POST handler goes through.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use sextant_storage::{Membership, Project, Role, Session, User};

use super::error::{UiError, UiResult};
use crate::accounts::Access;
use crate::accounts::session::{cookie_secret, same_origin, secret_hash, tokens_match};
use crate::state::AppState;

pub struct Viewer {
    pub user: User,
    pub session: Session,
    pub session_hash: String,
    pub access: Access,
}

impl Viewer {
    pub fn memberships(&self) -> &[Membership] {
        match &self.access {
            Access::User { memberships, .. } => memberships,
            Access::Instance => &[],
        }
    }

    /// The project in the path, if the viewer may see it; 404 otherwise, so the console
    /// does not tell outsiders which projects exist.
    pub async fn project(&self, state: &AppState, org: &str, slug: &str) -> UiResult<Project> {
        if self.access.role_in_slug(org).is_none() {
            return Err(UiError::NotFound);
        }
        let project = state.store.get_project_by_slug(org, slug).await?;
        if !self.access.sees_project(&project) {
            return Err(UiError::NotFound);
        }
        Ok(project)
    }

    /// The viewer's role in `org`; 404 for non-members.
    pub fn role(&self, org: &str) -> UiResult<Role> {
        self.access.role_in_slug(org).ok_or(UiError::NotFound)
    }

    pub fn require_admin(&self, org: &str) -> UiResult<Role> {
        let role = self.role(org)?;
        if role < Role::Admin {
            return Err(UiError::Forbidden(
                "Only an organization's owners and admins can change its settings.".into(),
            ));
        }
        Ok(role)
    }

    /// Parses a form body and checks its `_csrf` field against the session's token.
    pub fn form(&self, body: &[u8]) -> UiResult<Form> {
        let form = Form::parse(body);
        match form.get("_csrf") {
            Some(token) if tokens_match(token, &self.session.csrf_token) => Ok(form),
            _ => Err(UiError::Csrf),
        }
    }
}

/// Refuses cross-site state-changing requests before anything else looks at them. With
/// a public URL configured, only its origin is accepted.
pub fn check_origin(method: &Method, headers: &HeaderMap, state: &AppState) -> UiResult<()> {
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let host_fallback = state.config.public_url.is_none();
    if !safe && !same_origin(headers, &state.base_url(), host_fallback) {
        return Err(UiError::Csrf);
    }
    Ok(())
}

/// The signed-in user of this request, if any.
pub async fn current(headers: &HeaderMap, state: &AppState) -> UiResult<Option<Viewer>> {
    let Some(secret) = cookie_secret(headers) else {
        return Ok(None);
    };
    let session_hash = secret_hash(&secret);
    let Some((session, user)) = state
        .store
        .find_session(&session_hash, state.clock.now_ms())
        .await?
    else {
        return Ok(None);
    };
    let access = Access::for_user(state.store.as_ref(), user.clone()).await?;
    Ok(Some(Viewer {
        user,
        session,
        session_hash,
        access,
    }))
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> UiResult<Viewer> {
        check_origin(&parts.method, &parts.headers, state)?;
        match current(&parts.headers, state).await? {
            Some(viewer) => Ok(viewer),
            None if parts.method == Method::GET => Err(UiError::SignIn {
                next: parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| "/".into()),
            }),
            None => Err(UiError::Forbidden(
                "Your session has ended; sign in again.".into(),
            )),
        }
    }
}

/// An `application/x-www-form-urlencoded` body: every value of every field.
#[derive(Debug, Default)]
pub struct Form(HashMap<String, Vec<String>>);

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            map.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        Form(map)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.first()).map(String::as_str)
    }

    /// The trimmed value, empty when absent.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).map(str::trim).unwrap_or("")
    }

    pub fn all(&self, name: &str) -> &[String] {
        self.0.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// A redirect target from user input, kept to local console paths (no open redirect):
/// `/` alone or followed by anything but a second slash or a backslash, with no
/// whitespace or control characters anywhere. Browsers drop tabs and newlines from URLs
/// and read a backslash as a slash, so `/<TAB>/evil.example` or `/\evil.example` would
/// lead to another site; anything else falls back to `/`.
pub fn local_path(raw: &str) -> String {
    let mut chars = raw.chars();
    let local = chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && !raw
            .chars()
            .any(|c| c == '\\' || c.is_whitespace() || c.is_control());
    if local {
        raw.to_string()
    } else {
        "/".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_survive_as_redirect_targets() {
        for ok in [
            "/",
            "/account",
            "/orgs/a/b/?query=1&x=%2F%2F",
            "/a//b",
            "/%09/x",
        ] {
            assert_eq!(local_path(ok), ok, "{ok:?} is local");
        }
        let hostile = [
            "",
            "account",
            "//evil.example/",
            "///evil.example/",
            "/\\evil.example/",
            "\\/evil.example/",
            "/\t/evil.example/",
            "/\n/evil.example/",
            "/\r\n/evil.example/",
            "/ /evil.example/",
            "/\u{a0}/evil.example/",
            "/\u{2028}/evil.example/",
            "/x\0y",
            "/x\r\nSet-Cookie: a=b",
            "/x\u{7f}",
            "/a\\b",
            " /account",
            "https://evil.example/",
            "javascript:alert(1)",
        ];
        for bad in hostile {
            assert_eq!(local_path(bad), "/", "{bad:?} must fall back to /");
        }
    }
}
