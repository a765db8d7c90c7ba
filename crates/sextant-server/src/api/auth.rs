//! Bearer-token authentication and scope checks for every `/api/0/` route.
//!
//! Tokens are stored only as SHA-256 hex digests (`accounts::token`, shared with the CLI,
//! which mints tokens offline).

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams};
use axum::http::request::Parts;
use axum::http::{Method, header};
use sextant_storage::{ApiToken, Role, TokenScope};

use super::error::ApiError;
use super::support::resolve_issue;
use crate::accounts::Access;
use crate::accounts::token::hash_token;
use crate::state::AppState;

/// Prefix that makes leaked tokens recognisable to secret scanners.
/// The scope an operation needs: reads need `read`, issue mutations and a user's own
/// settings `write`, and every other mutation (projects, keys) `admin`.
pub fn required_scope(method: &Method, route: &str) -> TokenScope {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        TokenScope::Read
    } else if route.split('/').any(|segment| segment == "issues")
        || route.starts_with("/api/0/users/me/")
    {
        TokenScope::Write
    } else {
        TokenScope::Admin
    }
}

/// The bearer token in an `Authorization` header value, if it is one.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Proof that the request carries a valid token whose scope covers the matched route,
/// and what its owner may see. Every handler takes this as its first argument; it answers
/// 401/403 otherwise, and 404 for a route naming an organization (or an issue of one) the
/// owner is not a member of. Only the two "list everything" routes filter by `.1`.
#[derive(Debug, Clone)]
pub struct Auth(pub ApiToken, pub Access);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header_value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::Unauthorized("Authentication credentials were not provided.".into())
        })?;
        let token = header_value.to_str().ok().and_then(bearer).ok_or_else(|| {
            ApiError::Unauthorized(
                "Invalid authorization header; expected \"Bearer <token>\".".into(),
            )
        })?;
        // Looked up on every request, never cached: revocation takes effect at once.
        let owned = state
            .store
            .find_owned_token(&hash_token(token))
            .await?
            .filter(|t| !t.token.revoked)
            .ok_or_else(|| ApiError::Unauthorized("Invalid token.".into()))?;
        let record = owned.token;
        let access = match owned.user_id {
            None => Access::Instance,
            Some(user_id) => {
                let user = state.store.get_user(user_id).await?;
                Access::for_user(state.store.as_ref(), user).await?
            }
        };

        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map(MatchedPath::as_str)
            .unwrap_or_default();
        let needed = required_scope(&parts.method, route);
        // Scopes are ordered read < write < admin, so a higher scope includes lower ones.
        if record.scope < needed {
            return Err(ApiError::Forbidden(format!(
                "You do not have permission to perform this action (needs {} scope, token has {}).",
                needed.as_str(),
                record.scope.as_str()
            )));
        }
        if let Access::User { .. } = access {
            check_org_access(parts, state, &access, needed).await?;
        }
        Ok(Auth(record, access))
    }
}

/// A user token reaches an organization's data only as a member; the admin scope (keys,
/// projects) also needs the admin or owner role there. Outsiders get 404, as if the
/// organization did not exist.
async fn check_org_access(
    parts: &mut Parts,
    state: &AppState,
    access: &Access,
    needed: TokenScope,
) -> Result<(), ApiError> {
    let params: Vec<(String, String)> = match RawPathParams::from_request_parts(parts, state).await
    {
        Ok(raw) => raw
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        Err(_) => Vec::new(),
    };
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let org_slug = match (get("org"), get("id")) {
        (Some(org), _) => org.to_string(),
        // `/api/0/issues/{id}/…`: the issue decides the organization.
        (None, Some(id)) => resolve_issue(state, None, id).await?.1.org_slug,
        (None, None) => return Ok(()),
    };
    let role = access.role_in_slug(&org_slug).ok_or(ApiError::NotFound)?;
    if needed == TokenScope::Admin && role < Role::Admin {
        return Err(ApiError::Forbidden(
            "You do not have permission to perform this action (needs the admin or owner role)."
                .into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_per_route() {
        let issues = "/api/0/projects/{org}/{project}/issues/";
        let issue = "/api/0/organizations/{org}/issues/{id}/";
        let keys = "/api/0/projects/{org}/{project}/keys/{key_id}/";
        assert_eq!(required_scope(&Method::GET, issues), TokenScope::Read);
        assert_eq!(required_scope(&Method::HEAD, keys), TokenScope::Read);
        assert_eq!(required_scope(&Method::PUT, issues), TokenScope::Write);
        assert_eq!(required_scope(&Method::DELETE, issue), TokenScope::Write);
        assert_eq!(
            required_scope(&Method::PUT, "/api/0/issues/{id}"),
            TokenScope::Write
        );
        assert_eq!(required_scope(&Method::POST, keys), TokenScope::Admin);
        assert_eq!(
            required_scope(&Method::PUT, "/api/0/users/me/notification-options/"),
            TokenScope::Write
        );
        assert_eq!(
            required_scope(&Method::DELETE, "/api/0/projects/{org}/{project}/"),
            TokenScope::Admin
        );
        assert_eq!(
            required_scope(&Method::POST, "/api/0/teams/{org}/{team}/projects/"),
            TokenScope::Admin
        );
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer("Bearer sxt_abc"), Some("sxt_abc"));
        assert_eq!(bearer("bearer  sxt_abc "), Some("sxt_abc"));
        assert_eq!(bearer("Basic Zm9vOmJhcg=="), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("sxt_abc"), None);
    }
}
