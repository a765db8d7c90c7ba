//! Finds the DSN key of an ingest request and checks it against the project in the path.

use axum::http::HeaderMap;
use sextant_protocol::auth::{
    Auth, AuthError, parse_auth_header, parse_auth_query, parse_basic_auth, parse_dsn,
};
use sextant_storage::{ProjectKey, Store};

use super::error::IngestError;

impl From<AuthError> for IngestError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::UnsupportedVersion(v) => IngestError::UnsupportedVersion(v),
            other => IngestError::BadAuth(other.to_string()),
        }
    }
}

/// Collects the request-level auth carriers (headers and query string). More than one
/// is an error, as in Relay; none returns `Ok(None)` so that envelopes may fall back to
/// their header `dsn`.
pub fn request_auth(headers: &HeaderMap, query: Option<&str>) -> Result<Option<Auth>, IngestError> {
    let mut found: Vec<Auth> = Vec::new();
    if let Some(value) = headers.get("x-sentry-auth") {
        let text = value
            .to_str()
            .map_err(|_| IngestError::BadAuth("X-Sentry-Auth is not ASCII".into()))?;
        match parse_auth_header(text)? {
            Some(auth) => found.push(auth),
            None => {
                return Err(IngestError::BadAuth(
                    "X-Sentry-Auth must start with \"Sentry \"".into(),
                ));
            }
        }
    }
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let text = value
            .to_str()
            .map_err(|_| IngestError::BadAuth("Authorization is not ASCII".into()))?;
        if let Some(auth) = parse_auth_header(text)? {
            found.push(auth);
        } else if let Some(auth) = parse_basic_auth(text) {
            found.push(auth);
        }
    }
    if let Some(query) = query
        && let Some(auth) = parse_auth_query(query)?
    {
        found.push(auth);
    }
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(IngestError::MultipleAuth),
    }
}

/// Reads the `dsn` of an envelope header line, for self-authenticating envelopes.
pub fn envelope_dsn_auth(dsn: &str) -> Result<(Auth, u64), IngestError> {
    let dsn = parse_dsn(dsn)
        .map_err(|e| IngestError::BadAuth(format!("bad envelope authentication header: {e}")))?;
    Ok((
        Auth {
            public_key: dsn.public_key.clone(),
            version: 7,
            client: None,
        },
        dsn.project_id,
    ))
}

/// Parses the `{project_id}` path segment.
pub fn parse_project_id(raw: &str) -> Result<i64, IngestError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| IngestError::BadProjectId(raw.to_string()))
}

/// Looks the key up and checks it may send to `project_id`.
pub async fn authorize(
    store: &dyn Store,
    auth: &Auth,
    project_id: i64,
) -> Result<ProjectKey, IngestError> {
    let key = store
        .find_key(&auth.public_key)
        .await
        .map_err(|e| IngestError::Internal(e.to_string()))?
        .ok_or(IngestError::UnknownKey)?;
    if !key.active {
        return Err(IngestError::RevokedKey);
    }
    if key.project_id != project_id {
        return Err(IngestError::WrongProject(project_id.to_string()));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const KEY: &str = "e12d836b15bb49d7bbf99e64295d995b";

    #[test]
    fn finds_each_carrier() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-sentry-auth",
            HeaderValue::from_str(&format!("Sentry sentry_key={KEY}, sentry_version=7")).unwrap(),
        );
        assert_eq!(
            request_auth(&headers, None).unwrap().unwrap().public_key,
            KEY
        );

        let headers = HeaderMap::new();
        let query = format!("sentry_version=7&sentry_key={KEY}");
        assert_eq!(
            request_auth(&headers, Some(&query))
                .unwrap()
                .unwrap()
                .public_key,
            KEY
        );
        assert!(request_auth(&headers, Some("foo=bar")).unwrap().is_none());
    }

    #[test]
    fn rejects_two_carriers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-sentry-auth",
            HeaderValue::from_str(&format!("Sentry sentry_key={KEY}")).unwrap(),
        );
        let query = format!("sentry_key={KEY}");
        assert!(matches!(
            request_auth(&headers, Some(&query)),
            Err(IngestError::MultipleAuth)
        ));
    }

    #[test]
    fn project_ids_must_be_positive_numbers() {
        assert_eq!(parse_project_id("42").unwrap(), 42);
        assert!(parse_project_id("abc").is_err());
        assert!(parse_project_id("0").is_err());
    }
}
