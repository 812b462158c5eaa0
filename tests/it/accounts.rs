//! Self-service accounts through the pages: sign-up, email verification, forgotten and reset
//! passwords, and every section of the account page, reading the email outbox.

use std::time::Duration;

use diesel::prelude::*;
use portcullis::db::schema::{events, users};

use crate::browser_helpers::{hidden, location, Browser};
use crate::helpers::TestApp;

fn open_app() -> TestApp {
    TestApp::builder()
        .config(|c| c.registration = portcullis::config::Registration::Open)
        .build()
}

async fn sign_up(
    b: &mut Browser<'_>,
    email: &str,
    username: &str,
    password: &str,
) -> crate::helpers::Response {
    let page = b.get("/signup").await;
    assert_eq!(page.status, 200, "{}", page.text());
    let csrf = hidden(&page.text(), "csrf");
    b.post(
        "/signup",
        &[
            ("csrf", &csrf),
            ("email", email),
            ("username", username),
            ("name", "Ada Lovelace"),
            ("password", password),
            ("return_to", "/account"),
        ],
    )
    .await
}

async fn form_post(
    b: &mut Browser<'_>,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> crate::helpers::Response {
    let html = b.get(page).await.text();
    let csrf = hidden(&html, "csrf");
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    b.post(action, &all).await
}

fn kinds(app: &TestApp, user_id: &str) -> Vec<String> {
    events::table
        .filter(events::user_id.eq(user_id))
        .select(events::kind)
        .load(&mut app.conn())
        .unwrap()
}

fn user_id(app: &TestApp, email: &str) -> String {
    users::table
        .filter(users::email_key.eq(email.to_lowercase()))
        .select(users::id)
        .first(&mut app.conn())
        .unwrap()
}

#[actix_rt::test]
async fn sign_up_verify_and_sign_in() {
    let app = open_app();
    let mut b = Browser::new(&app);
    let r = sign_up(&mut b, "ada@example.com", "ada", "correct horse battery").await;
    assert_eq!(location(&r), "/account");
    let page = b.get("/account").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("not verified"));
    // The verification email, as an .eml file with the link.
    let mail = app.outbox();
    assert_eq!(mail.len(), 1);
    assert!(mail[0].contains("To: ada@example.com"));
    assert!(mail[0].contains("Subject: Confirm your email address"));
    assert!(mail[0].contains("text/plain") && mail[0].contains("text/html"));
    let link = app.link_to("ada@example.com", "/verify-email");
    let r = Browser::new(&app).get(&link).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("confirmed"));
    let verified: Option<chrono::NaiveDateTime> = users::table
        .filter(users::email_key.eq("ada@example.com"))
        .select(users::email_verified_at)
        .first(&mut app.conn())
        .unwrap();
    assert!(verified.is_some());
    // Single use.
    assert_eq!(Browser::new(&app).get(&link).await.status, 400);
    // Signing in with the new account.
    let mut other = Browser::new(&app);
    let r = other
        .sign_in("ada", "correct horse battery", "/account")
        .await;
    assert_eq!(location(&r), "/account");
    let uid = user_id(&app, "ada@example.com");
    let k = kinds(&app, &uid);
    for expected in [
        "user.created",
        "user.registered",
        "email.verification_sent",
        "email.verified",
        "signin.succeeded",
    ] {
        assert!(k.iter().any(|x| x == expected), "{expected} in {k:?}");
    }
}

#[actix_rt::test]
async fn sign_up_refusals() {
    let app = TestApp::builder()
        .config(|c| {
            c.registration = portcullis::config::Registration::Open;
            c.throttle.signups_per_ip = 2;
        })
        .build();
    let mut b = Browser::new(&app);
    assert_eq!(
        location(&sign_up(&mut b, "a@example.com", "alice", "correct horse battery").await),
        "/account"
    );
    let cases = [
        (
            "A@EXAMPLE.COM",
            "",
            "correct horse battery",
            409,
            "already exists",
        ),
        (
            "b@example.com",
            "ALICE",
            "correct horse battery",
            409,
            "username is taken",
        ),
        ("b@example.com", "", "password123", 400, "common"),
        ("b@example.com", "", "short", 400, "at least 8"),
        ("not-an-email", "", "correct horse battery", 400, "Email"),
        (
            "b@example.com",
            "bad name!",
            "correct horse battery",
            400,
            "Username",
        ),
    ];
    for (email, username, password, status, message) in cases {
        let r = sign_up(&mut Browser::new(&app), email, username, password).await;
        assert_eq!(r.status.as_u16(), status, "{email}/{username}/{password}");
        assert!(r.text().contains(message), "{message}: {}", r.text());
        assert!(
            r.text().contains(r#"value="b@example.com""#) || email != "b@example.com",
            "the form keeps what was typed"
        );
    }
    // No CSRF token.
    let r = Browser::new(&app)
        .post(
            "/signup",
            &[
                ("email", "c@example.com"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    // Throttled per IP: two sign-ups per window here.
    assert_eq!(
        location(
            &sign_up(
                &mut Browser::new(&app),
                "c@example.com",
                "",
                "correct horse battery"
            )
            .await
        ),
        "/account"
    );
    let r = sign_up(
        &mut Browser::new(&app),
        "d@example.com",
        "",
        "correct horse battery",
    )
    .await;
    assert_eq!(r.status, 429);
    // Closed registration.
    let closed = TestApp::new();
    assert_eq!(closed.get("/signup").await.status, 404);
}

#[actix_rt::test]
async fn required_verification_blocks_sign_in_and_offers_a_new_link() {
    let app = TestApp::builder()
        .config(|c| {
            c.registration = portcullis::config::Registration::Open;
            c.require_verified_email = true;
        })
        .build();
    let mut b = Browser::new(&app);
    let r = sign_up(&mut b, "ada@example.com", "", "correct horse battery").await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("Check your email"));
    assert!(!b.cookies.contains_key("portcullis_session"));
    let r = b
        .sign_in("ada@example.com", "correct horse battery", "/account")
        .await;
    assert_eq!(r.status, 403);
    assert!(r.text().contains("Confirm your email address first"));
    let csrf = hidden(&r.text(), "csrf");
    let r = b
        .post(
            "/verify-email/resend",
            &[("csrf", &csrf), ("login", "ada@example.com")],
        )
        .await;
    assert!(r.text().contains("Check your email"));
    assert_eq!(app.outbox().len(), 2);
    let link = app.link_to("ada@example.com", "/verify-email");
    assert_eq!(b.get(&link).await.status, 200);
    let r = b
        .sign_in("ada@example.com", "correct horse battery", "/account")
        .await;
    assert_eq!(location(&r), "/account");
}

#[actix_rt::test]
async fn forgot_and_reset_password_revokes_everything_but_pats() {
    let app = TestApp::new();
    let uid = app.user("ada@example.com", "old password 1");
    let (id, secret) = app.client(&[
        "--trusted",
        "--grant",
        "password",
        "--grant",
        "refresh_token",
    ]);
    let tokens = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", "ada@example.com"),
                ("password", "old password 1"),
            ],
            (&id, &secret),
        )
        .await
        .json();
    let (pat_value, _) = portcullis::core::tokens::pat::create(
        &mut app.conn(),
        app.clock.now_naive(),
        &uid,
        "CI",
        None,
    )
    .unwrap();
    let mut old_browser = Browser::new(&app);
    old_browser
        .sign_in("ada@example.com", "old password 1", "/account")
        .await;
    assert_eq!(old_browser.get("/account").await.status, 200);

    // The same answer whether or not the account exists; only a real account gets mail.
    let mut b = Browser::new(&app);
    let known = form_post(
        &mut b,
        "/forgot-password",
        "/forgot-password",
        &[("email", "ada@example.com")],
    )
    .await;
    let unknown = form_post(
        &mut b,
        "/forgot-password",
        "/forgot-password",
        &[("email", "nobody@example.com")],
    )
    .await;
    assert_eq!(known.status, unknown.status);
    assert_eq!(known.text(), unknown.text());
    assert_eq!(app.outbox().len(), 1);
    let link = app.link_to("ada@example.com", "/reset-password");

    let page = b.get(&link).await;
    assert_eq!(page.status, 200);
    let token = hidden(&page.text(), "token");
    let csrf = hidden(&page.text(), "csrf");
    let r = b
        .post(
            "/reset-password",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("password", "new password 1"),
                ("confirm", "other"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    let r = b
        .post(
            "/reset-password",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("password", "password123"),
                ("confirm", "password123"),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "common passwords are refused");
    let r = b
        .post(
            "/reset-password",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("password", "new password 1"),
                ("confirm", "new password 1"),
            ],
        )
        .await;
    assert_eq!(location(&r), "/account?notice=password-reset");
    // Signed in afresh here; signed out elsewhere; tokens revoked; PATs stay.
    assert_eq!(b.get("/account").await.status, 200);
    assert_eq!(
        location(&old_browser.get("/account").await),
        "/signin?return_to=%2Faccount"
    );
    assert_eq!(
        app.introspect(tokens["access_token"].as_str().unwrap())
            .await["active"],
        false
    );
    assert_eq!(
        app.introspect(tokens["refresh_token"].as_str().unwrap())
            .await["active"],
        false
    );
    assert_eq!(app.introspect(&pat_value).await["active"], true);
    // The link is spent; the new password works, the old one not.
    assert_eq!(Browser::new(&app).get(&link).await.status, 400);
    assert_eq!(
        location(
            &Browser::new(&app)
                .sign_in("ada@example.com", "new password 1", "/")
                .await
        ),
        "/"
    );
    assert_eq!(
        Browser::new(&app)
            .sign_in("ada@example.com", "old password 1", "/")
            .await
            .status,
        401
    );
    // Links expire after an hour.
    form_post(
        &mut b,
        "/forgot-password",
        "/forgot-password",
        &[("email", "ada@example.com")],
    )
    .await;
    let link = app.link_to("ada@example.com", "/reset-password");
    app.clock.advance(Duration::from_secs(3601));
    assert_eq!(Browser::new(&app).get(&link).await.status, 400);
    assert!(kinds(&app, &uid).iter().any(|k| k == "password.reset"));
}

async fn signed_in(app: &TestApp) -> (Browser<'_>, String) {
    let uid = app.user("ada@example.com", "password one");
    let mut b = Browser::new(app);
    let r = b
        .sign_in("ada@example.com", "password one", "/account")
        .await;
    assert_eq!(location(&r), "/account");
    (b, uid)
}

#[actix_rt::test]
async fn the_account_page_needs_a_session() {
    let app = TestApp::new();
    let mut b = Browser::new(&app);
    assert_eq!(
        location(&b.get("/account").await),
        "/signin?return_to=%2Faccount"
    );
    let r = b.post("/account/actions/profile", &[("name", "X")]).await;
    assert!(location(&r).starts_with("/signin"));
}

#[actix_rt::test]
async fn profile_and_email() {
    let app = TestApp::new();
    app.user("taken@example.com", "password one");
    let (mut b, uid) = signed_in(&app).await;
    let r = form_post(
        &mut b,
        "/account",
        "/account/actions/profile",
        &[
            ("name", "Ada Lovelace"),
            ("locality", "London"),
            ("country", "UK"),
        ],
    )
    .await;
    assert_eq!(location(&r), "/account?notice=profile-saved");
    let page = b.get("/account?notice=profile-saved").await.text();
    assert!(page.contains("Your profile is saved.") && page.contains(r#"value="London""#));
    let (name, address): (Option<String>, Option<String>) = users::table
        .find(&uid)
        .select((users::display_name, users::address))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&address.unwrap()).unwrap(),
        serde_json::json!({"locality": "London", "country": "UK"})
    );
    // Email change: unverified until the new address confirms it.
    let r = form_post(
        &mut b,
        "/account",
        "/account/actions/email",
        &[
            ("email", "taken@example.com"),
            ("current_password", "password one"),
        ],
    )
    .await;
    assert_eq!(r.status, 409);
    let r = form_post(
        &mut b,
        "/account",
        "/account/actions/email",
        &[
            ("email", "ada@new.example"),
            ("current_password", "password one"),
        ],
    )
    .await;
    assert_eq!(location(&r), "/account?notice=email-changed");
    let link = app.link_to("ada@new.example", "/verify-email");
    let r = form_post(&mut b, "/account", "/account/actions/verify", &[]).await;
    assert_eq!(location(&r), "/account?notice=verification-sent");
    let newest = app.link_to("ada@new.example", "/verify-email");
    assert_ne!(link, newest);
    assert_eq!(b.get(&newest).await.status, 200);
    assert!(b.get("/account").await.text().contains("verified"));
    let k = kinds(&app, &uid);
    assert!(k.iter().any(|x| x == "profile.updated") && k.iter().any(|x| x == "email.changed"));
}

#[actix_rt::test]
async fn change_password_needs_the_current_one_and_signs_out_elsewhere() {
    let app = TestApp::new();
    let (mut b, _) = signed_in(&app).await;
    let mut elsewhere = Browser::new(&app);
    elsewhere
        .sign_in("ada@example.com", "password one", "/account")
        .await;
    let r = form_post(
        &mut b,
        "/account",
        "/account/actions/password",
        &[
            ("current_password", "wrong one!"),
            ("new_password", "password two"),
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Current password is incorrect"));
    let r = form_post(
        &mut b,
        "/account",
        "/account/actions/password",
        &[
            ("current_password", "password one"),
            ("new_password", "password"),
        ],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = form_post(
        &mut b,
        "/account",
        "/account/actions/password",
        &[
            ("current_password", "password one"),
            ("new_password", "password two"),
        ],
    )
    .await;
    assert_eq!(location(&r), "/account?notice=password-changed");
    assert_eq!(
        b.get("/account").await.status,
        200,
        "this browser stays signed in"
    );
    assert!(
        elsewhere.get("/account").await.status.is_redirection(),
        "others are signed out"
    );
    assert_eq!(
        location(
            &Browser::new(&app)
                .sign_in("ada@example.com", "password two", "/")
                .await
        ),
        "/"
    );
}

#[actix_rt::test]
async fn personal_access_tokens() {
    let app = TestApp::new();
    let (mut b, _) = signed_in(&app).await;
    let r = form_post(
        &mut b,
        "/account",
        "/account/actions/tokens",
        &[("description", "Laptop CLI")],
    )
    .await;
    assert_eq!(r.status, 200);
    let token = r
        .text()
        .split("value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert!(token.starts_with("pcat_"));
    assert_eq!(app.introspect(&token).await["active"], true);
    let page = b.get("/account").await.text();
    assert!(page.contains("Laptop CLI"));
    assert!(!page.contains(&token), "the value is shown only once");
    let id = hidden(
        &page[page.find("/account/actions/tokens/revoke").unwrap()..],
        "id",
    );
    let r = form_post(
        &mut b,
        "/account",
        "/account/actions/tokens/revoke",
        &[("id", &id)],
    )
    .await;
    assert_eq!(location(&r), "/account?notice=token-revoked");
    assert_eq!(app.introspect(&token).await["active"], false);
    let r = form_post(
        &mut b,
        "/account",
        "/account/actions/tokens",
        &[("description", "")],
    )
    .await;
    assert_eq!(r.status, 400);
}

#[actix_rt::test]
async fn sessions_one_or_everywhere() {
    let app = TestApp::new();
    let (mut b, uid) = signed_in(&app).await;
    let mut phone = Browser::new(&app);
    phone
        .sign_in("ada@example.com", "password one", "/account")
        .await;
    let page = b.get("/account").await.text();
    assert!(page.contains("This browser"));
    let sid = hidden(
        &page[page.find("/account/actions/sessions/end\"").unwrap()..],
        "sid",
    );
    let r = form_post(
        &mut b,
        "/account",
        "/account/actions/sessions/end",
        &[("sid", &sid)],
    )
    .await;
    assert_eq!(location(&r), "/account?notice=session-ended");
    assert!(phone.get("/account").await.status.is_redirection());
    // Everywhere: every session, token and PAT.
    let (pat_value, _) = portcullis::core::tokens::pat::create(
        &mut app.conn(),
        app.clock.now_naive(),
        &uid,
        "CI",
        None,
    )
    .unwrap();
    let r = form_post(&mut b, "/account", "/account/actions/sessions/end-all", &[]).await;
    assert_eq!(location(&r), "/signin");
    assert!(b.get("/account").await.status.is_redirection());
    assert_eq!(app.introspect(&pat_value).await["active"], false);
}

#[actix_rt::test]
async fn authorized_apps_can_be_removed() {
    let app = TestApp::new();
    let (mut b, _) = signed_in(&app).await;
    let (id, secret) = app.client(&[
        "--name",
        "Photo App",
        "--redirect-uri",
        "https://photos.example/cb",
    ]);
    let url = format!("/authorize?response_type=code&client_id={id}&redirect_uri=https%3A%2F%2Fphotos.example%2Fcb&scope=openid%20profile&state=s");
    let consent = b.get(&url).await.text();
    let r = b
        .post(
            "/consent",
            &[
                ("csrf", &hidden(&consent, "csrf")),
                ("authz", &hidden(&consent, "authz")),
                ("decision", "allow"),
            ],
        )
        .await;
    let code = crate::browser_helpers::query(&location(&r))["code"].clone();
    let tokens = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://photos.example/cb"),
            ],
            (&id, &secret),
        )
        .await
        .json();
    let page = b.get("/account").await.text();
    assert!(page.contains("Photo App"));
    let r = form_post(
        &mut b,
        "/account",
        "/account/actions/apps/revoke",
        &[("client_id", &id)],
    )
    .await;
    assert_eq!(location(&r), "/account?notice=app-revoked");
    assert_eq!(
        app.introspect(tokens["access_token"].as_str().unwrap())
            .await["active"],
        false
    );
    assert_eq!(
        app.introspect(tokens["refresh_token"].as_str().unwrap())
            .await["active"],
        false
    );
    assert_eq!(b.get(&url).await.status, 200, "consent is asked again");
    assert!(!b.get("/account").await.text().contains("Photo App"));
}

#[actix_rt::test]
async fn forms_need_csrf_tokens() {
    let app = TestApp::new();
    let (mut b, _) = signed_in(&app).await;
    for action in [
        "/account/actions/profile",
        "/account/actions/password",
        "/account/actions/sessions/end-all",
        "/account/actions/tokens",
    ] {
        let r = b.post(action, &[("name", "x"), ("description", "x")]).await;
        assert_eq!(r.status, 400, "{action}");
    }
    assert_eq!(b.get("/account").await.status, 200, "still signed in");
}
