//! Account security: invites never lower a role, admins cannot touch owners, an
//! organization always keeps an owner, sign-in redirects stay on this server, sign-in
//! and password changes are throttled per client address, and invite links neither
//! reveal accounts nor take unlimited guesses. First-run setup and origins are in
//! `setup`, live streams in `live`.

mod live;
mod setup;

use sextant_storage::Role;

use crate::support::TestApp;
use crate::support::accounts::Browser;

const PASSWORD: &str = "correct horse battery";

fn role_in_default(app: &TestApp, user_id: i64) -> Option<Role> {
    let org = app.block_on(app.store().get_org("default")).unwrap();
    app.block_on(app.store().list_members(org.id))
        .unwrap()
        .into_iter()
        .find(|m| m.user_id == user_id)
        .map(|m| m.role)
}

/// Creates an invite link to `default` as `by`; returns its path.
fn invite(app: &TestApp, by: &Browser, role: &str, email: &str) -> String {
    let r = app.browser_post(
        by,
        "/orgs/default/invites",
        &[("action", "create"), ("role", role), ("email", email)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let html = r.text();
    let marker = "id=\"invite-link\">";
    let at = html.find(marker).expect("invite link shown") + marker.len();
    let link = &html[at..at + html[at..].find('<').unwrap()];
    link.trim_start_matches(&app.base_url).to_string()
}

// --- roles --------------------------------------------------------------------------

#[test]
fn an_invite_never_lowers_a_members_role() {
    let app = TestApp::spawn();
    let olive = app.create_user(
        "olive@example.com",
        PASSWORD,
        Some(("default", Role::Owner)),
    );
    let adam = app.create_user("adam@example.com", PASSWORD, Some(("default", Role::Admin)));
    let mia = app.create_user("mia@example.com", PASSWORD, Some(("default", Role::Member)));
    let olive_b = app.sign_in("olive@example.com", PASSWORD);
    let adam_b = app.sign_in("adam@example.com", PASSWORD);

    // The only owner follows an admin's member invite: she stays owner.
    let link = invite(&app, &adam_b, "member", "olive@example.com");
    let r = app.browser_post(&olive_b, &link, &[]);
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(role_in_default(&app, olive), Some(Role::Owner));

    // An admin following a member invite stays admin.
    let link = invite(&app, &olive_b, "member", "adam@example.com");
    assert_eq!(app.browser_post(&adam_b, &link, &[]).status, 303);
    assert_eq!(role_in_default(&app, adam), Some(Role::Admin));

    // An invite to a higher role raises it.
    let mia_b = app.sign_in("mia@example.com", PASSWORD);
    let link = invite(&app, &olive_b, "admin", "mia@example.com");
    assert_eq!(app.browser_post(&mia_b, &link, &[]).status, 303);
    assert_eq!(role_in_default(&app, mia), Some(Role::Admin));
}

/// One link, followed by two signed-in users at once: one joins, the other is told the
/// link cannot be used.
#[test]
fn an_invite_link_is_used_up_by_one_redemption() {
    let app = TestApp::spawn();
    app.create_user(
        "olive@example.com",
        PASSWORD,
        Some(("default", Role::Owner)),
    );
    let sam = app.create_user("sam@example.com", PASSWORD, None);
    let tia = app.create_user("tia@example.com", PASSWORD, None);
    let olive_b = app.sign_in("olive@example.com", PASSWORD);
    let sam_b = app.sign_in("sam@example.com", PASSWORD);
    let tia_b = app.sign_in("tia@example.com", PASSWORD);
    let link = invite(&app, &olive_b, "member", "sam@example.com");
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| app.browser_post(&sam_b, &link, &[]).status);
        let b = s.spawn(|| app.browser_post(&tia_b, &link, &[]).status);
        (a.join().unwrap(), b.join().unwrap())
    });
    let mut statuses = [a, b];
    statuses.sort_unstable();
    assert_eq!(statuses, [303, 400], "one joins, one is refused");
    let joined = [sam, tia]
        .into_iter()
        .filter(|u| role_in_default(&app, *u).is_some())
        .count();
    assert_eq!(joined, 1);
}

#[test]
fn admins_cannot_change_owners_and_the_last_owner_stays() {
    let app = TestApp::spawn();
    let olive = app.create_user(
        "olive@example.com",
        PASSWORD,
        Some(("default", Role::Owner)),
    );
    let adam = app.create_user("adam@example.com", PASSWORD, Some(("default", Role::Admin)));
    let olive_b = app.sign_in("olive@example.com", PASSWORD);
    let adam_b = app.sign_in("adam@example.com", PASSWORD);
    let olive_id = olive.to_string();
    let adam_id = adam.to_string();

    // An admin can neither demote nor remove an owner, nor make anyone owner.
    for fields in [
        vec![
            ("action", "role"),
            ("role", "member"),
            ("user_id", olive_id.as_str()),
        ],
        vec![
            ("action", "role"),
            ("role", "admin"),
            ("user_id", olive_id.as_str()),
        ],
        vec![("action", "remove"), ("user_id", olive_id.as_str())],
        vec![
            ("action", "role"),
            ("role", "owner"),
            ("user_id", adam_id.as_str()),
        ],
    ] {
        let r = app.browser_post(&adam_b, "/orgs/default/members", &fields);
        assert_eq!(r.status, 403, "{fields:?}: {}", r.text());
    }
    assert_eq!(role_in_default(&app, olive), Some(Role::Owner));
    assert_eq!(role_in_default(&app, adam), Some(Role::Admin));

    // The last owner can neither step down nor leave.
    for fields in [
        vec![
            ("action", "role"),
            ("role", "admin"),
            ("user_id", olive_id.as_str()),
        ],
        vec![("action", "remove"), ("user_id", olive_id.as_str())],
    ] {
        let r = app.browser_post(&olive_b, "/orgs/default/members", &fields);
        assert!(
            r.text().contains("at least one owner"),
            "{fields:?}: {} {}",
            r.status,
            r.text()
        );
        assert_eq!(role_in_default(&app, olive), Some(Role::Owner));
    }

    // With a second owner she may leave.
    let r = app.browser_post(
        &olive_b,
        "/orgs/default/members",
        &[("action", "role"), ("role", "owner"), ("user_id", &adam_id)],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let r = app.browser_post(
        &olive_b,
        "/orgs/default/members",
        &[("action", "remove"), ("user_id", &olive_id)],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(role_in_default(&app, olive), None);
    assert_eq!(role_in_default(&app, adam), Some(Role::Owner));
}

// --- sign-in redirects ----------------------------------------------------------------

/// The `value` of the login form's hidden `next` field.
fn next_field(html: &str) -> String {
    let marker = "name=\"next\" value=\"";
    let at = html.find(marker).expect("next field") + marker.len();
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

#[test]
fn sign_in_redirects_only_to_local_paths() {
    let app = TestApp::spawn();
    app.create_user(
        "nora@example.com",
        PASSWORD,
        Some(("default", Role::Member)),
    );
    let hostile = [
        "/\t/evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "/\r\n/evil.example/",
        "/x\r\nSet-Cookie: a=b",
        "/x\0y",
        "https://evil.example/",
    ];
    for (i, next) in hostile.into_iter().enumerate() {
        let r = app.form_post(
            None,
            "/login",
            &[
                ("email", "nora@example.com"),
                ("password", PASSWORD),
                ("next", next),
            ],
            &[],
        );
        assert_eq!(r.status, 303, "{next:?}: {}", r.text());
        assert_eq!(r.header("location"), Some("/"), "{next:?}");

        let form = app.page("", &format!("/login?next={}", crate::support::encode(next)));
        assert_eq!(form.status, 200, "{next:?}");
        assert_eq!(next_field(&form.text()), "/", "{next:?}");
        // A failed sign-in shows the form again, with the same safe target.
        let r = app.form_post(
            None,
            "/login",
            &[
                ("email", &format!("nobody{i}@example.com")),
                ("password", "wrong password"),
                ("next", next),
            ],
            &[],
        );
        assert_eq!(r.status, 401, "{next:?}");
        assert_eq!(next_field(&r.text()), "/", "{next:?}");
    }

    let r = app.form_post(
        None,
        "/login",
        &[
            ("email", "nora@example.com"),
            ("password", PASSWORD),
            ("next", "/orgs/default/default/?query=is%3Aunresolved"),
        ],
        &[],
    );
    assert_eq!(
        r.header("location"),
        Some("/orgs/default/default/?query=is%3Aunresolved")
    );
}

// --- throttling -------------------------------------------------------------------------

fn sign_in_from(app: &TestApp, forwarded_for: &str, password: &str) -> u16 {
    app.form_post(
        None,
        "/login",
        &[("email", "tess@example.com"), ("password", password)],
        &[("X-Forwarded-For", forwarded_for)],
    )
    .status
}

#[test]
fn sign_in_throttle_follows_the_forwarded_client_address() {
    // Behind a proxy every request comes from the proxy: one client's failures must not
    // lock the account for the others.
    let app = TestApp::spawn_with(|c| c.trust_forwarded_for = true);
    app.create_user(
        "tess@example.com",
        PASSWORD,
        Some(("default", Role::Member)),
    );
    let statuses: Vec<u16> = (0..6)
        .map(|_| sign_in_from(&app, "198.51.100.7", "wrong password"))
        .collect();
    assert_eq!(statuses[0], 401);
    assert_eq!(statuses[5], 429, "{statuses:?}");
    assert_eq!(sign_in_from(&app, "198.51.100.7", PASSWORD), 429);
    assert_eq!(sign_in_from(&app, "203.0.113.9, 10.0.0.1", PASSWORD), 303);

    // Without trust in the header, a client cannot escape by making addresses up.
    let app = TestApp::spawn();
    app.create_user(
        "tess@example.com",
        PASSWORD,
        Some(("default", Role::Member)),
    );
    let statuses: Vec<u16> = (0..6)
        .map(|n| sign_in_from(&app, &format!("198.51.100.{n}"), "wrong password"))
        .collect();
    assert_eq!(statuses[5], 429, "{statuses:?}");
    assert_eq!(sign_in_from(&app, "203.0.113.9", PASSWORD), 429);
}

#[test]
fn wrong_current_passwords_are_throttled() {
    let app = TestApp::spawn();
    app.create_user("pat@example.com", PASSWORD, Some(("default", Role::Member)));
    let b = app.sign_in("pat@example.com", PASSWORD);
    let change = |current: &str| {
        app.browser_post(
            &b,
            "/account/password",
            &[("current", current), ("new", "another long password")],
        )
    };
    let statuses: Vec<u16> = (0..6)
        .map(|n| change(&format!("guess {n}")).status)
        .collect();
    assert_eq!(statuses[0], 200, "the form again, with an error");
    assert_eq!(statuses[5], 429, "{statuses:?}");
    let r = change(PASSWORD);
    assert_eq!(r.status, 429, "throttled even with the right password");
    assert!(r.header("retry-after").is_some());
    // The password is unchanged.
    app.sign_in("pat@example.com", PASSWORD);
}

// --- invites ----------------------------------------------------------------------------

#[test]
fn invite_links_do_not_reveal_existing_accounts() {
    let app = TestApp::spawn();
    app.create_user(
        "olive@example.com",
        PASSWORD,
        Some(("default", Role::Owner)),
    );
    // An account in no organization of this one.
    app.create_user("taken@example.com", PASSWORD, None);
    let olive = app.sign_in("olive@example.com", PASSWORD);
    let users = || app.block_on(app.store().count_users()).unwrap();

    // Only the invited address can make an account from the link.
    let link = invite(&app, &olive, "member", "new@example.com");
    let page = app.page("", &link).text();
    assert!(
        page.contains("value=\"new@example.com\" readonly"),
        "{page}"
    );
    let r = app.form_post(
        None,
        &link,
        &[("email", "taken@example.com"), ("password", PASSWORD)],
        &[],
    );
    assert_eq!(r.status, 200);
    assert!(r.text().contains("this invite was sent to"), "{}", r.text());
    assert!(!r.text().contains("exists"), "{}", r.text());

    // An invite to an address with an account says to sign in, not that it exists.
    let before = users();
    let link = invite(&app, &olive, "member", "taken@example.com");
    let r = app.form_post(
        None,
        &link,
        &[
            ("email", "taken@example.com"),
            ("password", "some other password"),
        ],
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(text.contains("sign in with it first"), "{text}");
    assert!(!text.contains("exists"), "{text}");
    assert_eq!(users(), before);
    // The link still works for its owner once signed in.
    let taken = app.sign_in("taken@example.com", PASSWORD);
    let r = app.browser_post(&taken, &link, &[]);
    assert_eq!(r.status, 303, "{}", r.text());

    // The invited address gets its account.
    let link = invite(&app, &olive, "member", "New@Example.com");
    let r = app.form_post(
        None,
        &link,
        &[("email", "new@example.com"), ("password", PASSWORD)],
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(users(), before + 1);
}

#[test]
fn invite_redemption_is_throttled_per_client_address() {
    let app = TestApp::spawn_with(|c| c.trust_forwarded_for = true);
    app.create_user(
        "olive@example.com",
        PASSWORD,
        Some(("default", Role::Owner)),
    );
    let olive = app.sign_in("olive@example.com", PASSWORD);
    let redeem = |path: &str, client: &str, email: &str| {
        app.form_post(
            None,
            path,
            &[("email", email), ("password", PASSWORD)],
            &[("X-Forwarded-For", client)],
        )
        .status
    };
    let statuses: Vec<u16> = (0..6)
        .map(|n| {
            redeem(
                &format!("/invite/{n:064x}"),
                "198.51.100.7",
                "x@example.com",
            )
        })
        .collect();
    assert_eq!(statuses[0], 400);
    assert_eq!(statuses[5], 429, "{statuses:?}");

    // A real link from that client waits too; another client is not held up.
    let link = invite(&app, &olive, "member", "new@example.com");
    assert_eq!(redeem(&link, "198.51.100.7", "new@example.com"), 429);
    assert_eq!(redeem(&link, "203.0.113.9", "new@example.com"), 303);
}
