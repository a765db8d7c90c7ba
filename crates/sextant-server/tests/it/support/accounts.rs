//! Console accounts for the tests: users and memberships made through the store, browser
//! sign-in over HTTP (session cookie plus the page's CSRF token), and form posts.

use sextant_storage::{Role, TokenScope};

use super::{Body, Resp, TestApp, encode};

/// A signed-in browser: its session cookie and the CSRF token its pages carry.
#[derive(Debug, Clone)]
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
}

/// The `value` of the first `name="_csrf"` input in a page.
pub fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"_csrf\" value=\"")?;
    let rest = &html[at + "name=\"_csrf\" value=\"".len()..];
    Some(rest[..rest.find('"')?].to_string())
}

impl TestApp {
    /// Creates a user with this password, member of `org` with `role` when given.
    pub fn create_user(&self, email: &str, password: &str, org: Option<(&str, Role)>) -> i64 {
        let hash = sextant_server::accounts::password::hash_password(password).expect("hash");
        let user = self
            .block_on(self.store().create_user(email, &hash))
            .expect("create user");
        if let Some((slug, role)) = org {
            let org = self.block_on(self.store().get_org(slug)).expect("org");
            self.block_on(self.store().set_member(org.id, user.id, role))
                .expect("membership");
        }
        user.id
    }

    /// A personal API token of the user.
    pub fn user_token(&self, user_id: i64, scope: TokenScope) -> String {
        let token = sextant_server::accounts::token::generate_token();
        self.block_on(self.store().create_user_token(
            user_id,
            &sextant_server::accounts::token::hash_token(&token),
            scope,
            "test",
        ))
        .expect("create user token");
        token
    }

    /// Signs in through the login form; panics unless it succeeds.
    pub fn sign_in(&self, email: &str, password: &str) -> Browser {
        let r = self.form_post(
            None,
            "/login",
            &[
                ("email", email),
                ("password", password),
                ("next", "/account"),
            ],
            &[],
        );
        assert_eq!(r.status, 303, "sign-in failed: {} {}", r.status, r.text());
        let set_cookie = r.header("set-cookie").expect("session cookie");
        let cookie = set_cookie.split(';').next().unwrap_or("").to_string();
        let page = self.page(&cookie, "/account");
        assert_eq!(page.status, 200, "account page: {}", page.text());
        let csrf = csrf_in(&page.text()).expect("csrf token in page");
        Browser { cookie, csrf }
    }

    /// A console GET with the session cookie ("" for none).
    pub fn page(&self, cookie: &str, path: &str) -> Resp {
        let mut headers = vec![("Accept", "text/html")];
        if !cookie.is_empty() {
            headers.push(("Cookie", cookie));
        }
        self.request("GET", path, &headers, Body::None)
    }

    /// A form POST, with the session cookie when given and extra headers (Origin, …).
    pub fn form_post(
        &self,
        cookie: Option<&str>,
        path: &str,
        fields: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> Resp {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
        if let Some(c) = cookie {
            headers.push(("Cookie", c));
        }
        headers.extend_from_slice(extra);
        self.request("POST", path, &headers, Body::Bytes(body.into_bytes()))
    }

    /// A form POST from a signed-in browser, with its CSRF token and same-origin headers.
    pub fn browser_post(&self, b: &Browser, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut all = vec![("_csrf", b.csrf.as_str())];
        all.extend_from_slice(fields);
        let origin = self.base_url.clone();
        self.form_post(
            Some(&b.cookie),
            path,
            &all,
            &[
                ("Origin", origin.as_str()),
                ("Sec-Fetch-Site", "same-origin"),
            ],
        )
    }
}
