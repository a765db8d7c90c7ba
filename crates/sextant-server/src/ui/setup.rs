//! First-run setup: the first account, owner of every organization, created while no
//! user exists. Afterwards the page is gone, so it cannot be used to take over an
//! instance.
//!
//! Until then, whoever reaches the page first would own the instance, so it is served
//! only to a browser on this machine unless `allow_remote_setup` is set: the TCP peer
//! must be loopback, the request must not have come through a proxy (which makes
//! every client look local), and its `Host` must be a loopback name or the public
//! URL's host, so a page elsewhere cannot reach it by DNS rebinding either.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::error::{UiError, UiResult};
use super::pages::{LoginPage, render, sign_in};
use super::viewer::{Form, check_origin};
use crate::accounts::normalize_email;
use crate::accounts::password::{check_strength, hash_password};
use crate::config::Config;
use crate::state::AppState;

/// Headers a proxy adds; their presence means the peer address is the proxy's.
const FORWARDING_HEADERS: [&str; 3] = ["x-forwarded-for", "forwarded", "x-real-ip"];

fn already_set_up() -> UiError {
    UiError::Forbidden("Sextant is already set up; sign in.".into())
}

/// Whether this request may run first-run setup (see the module comment).
fn setup_allowed(config: &Config, peer: SocketAddr, headers: &HeaderMap) -> bool {
    if config.allow_remote_setup {
        return true;
    }
    if !peer.ip().is_loopback() || FORWARDING_HEADERS.iter().any(|h| headers.contains_key(*h)) {
        return false;
    }
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    let public_host = config
        .public_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_string));
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        || public_host.is_some_and(|h| h.eq_ignore_ascii_case(name))
}

fn remote_refused() -> UiError {
    UiError::Forbidden(
        "First-run setup is served only to a browser on the server itself (for example \
         through an SSH tunnel to 127.0.0.1). Alternatively create the owner with \
         `sextant user create --owner`, or set allow_remote_setup."
            .into(),
    )
}

pub async fn setup_form(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> UiResult<Response> {
    if state.store.count_users().await? > 0 {
        return Ok(Redirect::to("/login").into_response());
    }
    if !setup_allowed(&state.config, peer, &headers) {
        return Err(remote_refused());
    }
    render(&LoginPage::setup("", ""))
}

/// Creates the owner in one store step that succeeds only while no user exists, so
/// concurrent submissions make exactly one owner; the others are refused.
pub async fn setup(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> UiResult<Response> {
    check_origin(&method, &headers, &state)?;
    if state.store.count_users().await? > 0 {
        return Err(already_set_up());
    }
    if !setup_allowed(&state.config, peer, &headers) {
        return Err(remote_refused());
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn setup_is_for_this_machine_unless_allowed() {
        let config = Config::default();
        let local: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let local6: SocketAddr = "[::1]:50000".parse().unwrap();
        let remote: SocketAddr = "192.0.2.7:50000".parse().unwrap();
        for host in [
            "127.0.0.1:9000",
            "localhost:9000",
            "LOCALHOST",
            "[::1]:9000",
            "127.1.2.3",
        ] {
            let h = headers(&[("host", host)]);
            assert!(setup_allowed(&config, local, &h), "{host}");
            assert!(setup_allowed(&config, local6, &h), "{host}");
            assert!(!setup_allowed(&config, remote, &h), "{host} from afar");
        }
        // A rebound name, a proxy in between, or no Host at all.
        for refused in [
            headers(&[("host", "rebind.example:9000")]),
            headers(&[("host", "127.0.0.1.rebind.example")]),
            headers(&[("host", "127.0.0.1:9000"), ("x-forwarded-for", "192.0.2.7")]),
            headers(&[("host", "127.0.0.1:9000"), ("forwarded", "for=192.0.2.7")]),
            headers(&[("host", "127.0.0.1:9000"), ("x-real-ip", "192.0.2.7")]),
            headers(&[]),
        ] {
            assert!(!setup_allowed(&config, local, &refused), "{refused:?}");
        }
        let public = Config {
            public_url: Some("https://sextant.example.com/".into()),
            ..Config::default()
        };
        let h = headers(&[("host", "sextant.example.com")]);
        assert!(setup_allowed(&public, local, &h));
        assert!(!setup_allowed(&public, remote, &h));

        let open = Config {
            allow_remote_setup: true,
            ..Config::default()
        };
        let h = headers(&[
            ("host", "sextant.example.com"),
            ("x-forwarded-for", "192.0.2.7"),
        ]);
        assert!(setup_allowed(&open, remote, &h));
    }
}
