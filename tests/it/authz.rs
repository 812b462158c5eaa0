//! The authorization boundary (SPEC §9), tested as the attacks it stops: a third-party app's
//! token at the account routes, an admin user's ordinary token at the admin API, tokens made
//! for other audiences, another door's refresh token, a burst of concurrent guesses, tokens
//! minting lasting credentials, stale sign-ins changing passwords, colliding ids, and bad text.

use std::time::Duration;

use actix_web::test::TestRequest;
use base64::Engine;
use serde_json::{json, Value};
use sha2::Digest;

use crate::browser_helpers::{hidden, location, query, Browser};
use crate::helpers::{jwt_parts, plain_basic, Response, TestApp};

const CB: &str = "https://rp.example/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn open_app() -> TestApp {
    TestApp::builder()
        .config(|c| c.registration = portcullis::config::Registration::Open)
        .build()
}

/// Ada, a verified user with a username.
fn ada(app: &TestApp) -> String {
    app.user_with(
        portcullis::core::users::NewUser {
            email: "ada@example.com".into(),
            username: Some("ada".into()),
            verified: true,
            ..Default::default()
        },
        "ada password",
    )
}

/// A request with a bearer token (or none).
fn with(req: TestRequest, token: Option<&str>) -> TestRequest {
    match token {
        Some(t) => req.insert_header(("Authorization", format!("Bearer {t}"))),
        None => req,
    }
}

/// A Mongoose RPC call with a bearer token.
async fn rpc(app: &TestApp, method: &str, args: Value, token: Option<&str>) -> Response {
    let req = TestRequest::post()
        .uri(&format!("/v1/{method}"))
        .set_json(args);
    app.send(with(req, token)).await
}

/// A third-party (untrusted) app's token for Ada through the code flow: sign-in, consent,
/// exchange.
async fn third_party_token(app: &TestApp, scope: &str) -> Value {
    let (id, secret) = app.client(&[
        "--name",
        "Third party",
        "--redirect-uri",
        CB,
        "--scope",
        "openid profile email address offline_access",
    ]);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(VERIFIER.as_bytes()));
    let url = format!(
        "/authorize?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", "code"),
                ("client_id", id.as_str()),
                ("redirect_uri", CB),
                ("scope", scope),
                ("state", "s"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ])
            .finish()
    );
    let mut b = Browser::new(app);
    let r = b.get(&url).await;
    let return_to = query(&location(&r))["return_to"].clone();
    let r = b.sign_in("ada", "ada password", &return_to).await;
    let r = b.get(&location(&r)).await;
    assert_eq!(r.status, 200, "the consent page");
    let html = r.text();
    let r = b
        .post(
            "/consent",
            &[
                ("csrf", &hidden(&html, "csrf")),
                ("authz", &hidden(&html, "authz")),
                ("decision", "allow"),
            ],
        )
        .await;
    let code = query(&location(&r))["code"].clone();
    let r = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CB),
                ("code_verifier", VERIFIER),
            ],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// A trusted (first-party) app's password-grant token for a user, with `scope`.
async fn first_party_token(app: &TestApp, login: &str, password: &str, scope: &str) -> Value {
    first_party(app, login, password, scope).await.0
}

/// Like `first_party_token`, with the app's id and secret.
async fn first_party(
    app: &TestApp,
    login: &str,
    password: &str,
    scope: &str,
) -> (Value, (String, String)) {
    let (id, secret) = app.client(&[
        "--name",
        "First party",
        "--trusted",
        "--grant",
        "password",
        "--grant",
        "refresh_token",
        "--scope",
        "openid profile email account admin",
    ]);
    let r = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", login),
                ("password", password),
                ("scope", scope),
            ],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    (r.json(), (id, secret))
}

/// Every account route of every door, called with `token`: (what, status).
async fn account_routes(app: &TestApp, uid: &str, token: &str) -> Vec<(String, u16)> {
    let t = Some(token);
    let mut out = Vec::new();
    let plain = [
        (TestRequest::get().uri("/users/me"), "bloq GET /users/me"),
        (
            TestRequest::put()
                .uri("/users/me/password")
                .set_json(json!({"oldPassword": "ada password", "newPassword": "new password 9"})),
            "bloq PUT /users/me/password",
        ),
        (
            TestRequest::post().uri("/users/me/client-keys"),
            "bloq POST /users/me/client-keys",
        ),
        (
            TestRequest::get().uri("/users/me/client-keys"),
            "bloq GET /users/me/client-keys",
        ),
        (
            TestRequest::get().uri("/users/me/events"),
            "bloq GET /users/me/events",
        ),
        (
            TestRequest::get().uri(&format!("/accounts/{uid}")),
            "esalerugs GET /accounts/{id}",
        ),
        (
            TestRequest::put()
                .uri(&format!("/accounts/{uid}"))
                .set_json(json!({"account": {"email": "mallory@example.com", "password": "taken over 1"}})),
            "esalerugs PUT /accounts/{id}",
        ),
        (
            TestRequest::delete().uri("/account/session"),
            "esalerugs DELETE /account/session",
        ),
    ];
    for (req, what) in plain {
        out.push((
            what.to_owned(),
            app.send(with(req, t)).await.status.as_u16(),
        ));
    }
    for (method, args) in [
        ("Account.CreateToken", json!({"description": "stolen"})),
        ("Account.ListTokens", json!({})),
        ("Account.GetInfo", json!({"id": uid})),
        ("Account.UserExists", json!({"id": uid})),
        ("Account.ValidateToken", json!({"token": token})),
        ("Auth.GenerateToken", json!({"host": "evil.example"})),
        ("Auth.ListToken", json!({})),
    ] {
        out.push((
            format!("mongoose {method}"),
            rpc(app, method, args, t).await.status.as_u16(),
        ));
    }
    out
}

#[actix_rt::test]
async fn a_third_party_token_is_refused_at_every_account_route() {
    let app = TestApp::new();
    let uid = ada(&app);
    let t = third_party_token(&app, "openid profile email").await;
    let token = t["access_token"].as_str().unwrap();
    // It is what it was made for: userinfo.
    let r = app
        .send(with(TestRequest::get().uri("/userinfo"), Some(token)))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["email"], "ada@example.com");
    for (what, status) in account_routes(&app, &uid, token).await {
        assert_eq!(status, 403, "{what}");
    }
    // Nothing changed: the takeover of the report failed.
    let user = portcullis::core::users::get(&mut app.conn(), &uid).unwrap();
    assert_eq!(user.email, "ada@example.com");
    assert!(app
        .outbox()
        .iter()
        .all(|m| !m.contains("was created for your")));
}

#[actix_rt::test]
async fn untrusted_clients_never_get_account_or_admin() {
    let app = TestApp::new();
    ada(&app);
    // Registering an untrusted client with `account` is refused.
    let refused = app.cli(&[
        "client",
        "add",
        "--name",
        "X",
        "--grant",
        "client_credentials",
        "--scope",
        "account",
    ]);
    assert!(refused.unwrap_err().contains("account"));
    // An untrusted app cannot even ask for it (or for admin) at /authorize.
    let (id, _) = app.client(&[
        "--name",
        "Third party",
        "--redirect-uri",
        CB,
        "--scope",
        "openid admin",
    ]);
    for scope in ["openid account", "openid admin"] {
        let url = format!(
            "/authorize?response_type=code&client_id={id}&redirect_uri={}&scope={}&state=s",
            crate::browser_helpers::enc(CB),
            crate::browser_helpers::enc(scope)
        );
        let r = app.get(&url).await;
        let to = location(&r);
        assert!(to.starts_with(CB), "{to}");
        assert_eq!(query(&to)["error"], "invalid_scope", "{scope}");
    }
    // A key owned by a user is a user's grant: account only when trusted.
    let owner = portcullis::core::users::find_by_login(&mut app.conn(), "ada")
        .unwrap()
        .unwrap()
        .id;
    let made = app.cli(&[
        "client",
        "add",
        "--name",
        "Key",
        "--owner",
        &owner,
        "--grant",
        "client_credentials",
        "--scope",
        "account",
    ]);
    assert!(made.is_err(), "an untrusted key with account");
}

#[actix_rt::test]
async fn a_trusted_apps_account_token_works_at_every_door() {
    let app = TestApp::new();
    let uid = ada(&app);
    let t = first_party_token(&app, "ada", "ada password", "account").await;
    let token = t["access_token"].as_str().unwrap();
    let (_, claims) = jwt_parts(token);
    assert_eq!(
        claims["aud"],
        app.config.issuer(),
        "account tokens are for this server"
    );
    let r = app
        .send(with(TestRequest::get().uri("/users/me"), Some(token)))
        .await;
    assert_eq!(r.status, 200);
    let r = rpc(&app, "Account.GetInfo", json!({"id": uid}), Some(token)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["result"]["email"], "ada@example.com");
    let r = app
        .send(with(
            TestRequest::get().uri(&format!("/accounts/{uid}")),
            Some(token),
        ))
        .await;
    assert_eq!(r.status, 200);
    // userinfo answers an account token with every claim.
    let r = app
        .send(with(TestRequest::get().uri("/userinfo"), Some(token)))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["email"], "ada@example.com");
}

#[actix_rt::test]
async fn an_admin_users_ordinary_token_is_not_an_admin_credential() {
    let app = TestApp::new();
    app.user_with(
        portcullis::core::users::NewUser {
            email: "root@example.com".into(),
            username: Some("root".into()),
            is_admin: true,
            verified: true,
            ..Default::default()
        },
        "root password",
    );
    let admin_api = |token: String| {
        let app = &app;
        async move {
            app.send(with(TestRequest::get().uri("/admin/users"), Some(&token)))
                .await
                .status
        }
    };
    // A token for the admin user without the admin scope.
    let plain = first_party_token(&app, "root", "root password", "openid account").await;
    assert_eq!(
        admin_api(plain["access_token"].as_str().unwrap().into()).await,
        403
    );
    // A third-party app's token of the admin user.
    let third = third_party_token_for(&app, "root", "root password").await;
    assert_eq!(admin_api(third).await, 403);
    // Asking a trusted app for admin as the admin user: admin, with the issuer in aud.
    let (admin, (id, secret)) = first_party(&app, "root", "root password", "admin").await;
    let token = admin["access_token"].as_str().unwrap();
    assert_eq!(admin_api(token.into()).await, 200);
    assert!(jwt_parts(token).1["aud"]
        .to_string()
        .contains(app.config.issuer()));
    // Asking the same for a plain user: the scope is narrowed, the token is no admin's.
    app.user("plain@example.com", "plain password");
    let narrowed =
        first_party_token(&app, "plain@example.com", "plain password", "openid admin").await;
    assert_eq!(narrowed["scope"], "openid");
    assert_eq!(
        admin_api(narrowed["access_token"].as_str().unwrap().into()).await,
        403
    );
    // admin lasts as long as the flag: once it is gone, a refresh carries no admin.
    let root = portcullis::core::users::find_by_login(&mut app.conn(), "root")
        .unwrap()
        .unwrap()
        .id;
    let r = app
        .send(with(
            TestRequest::patch()
                .uri(&format!("/admin/users/{root}"))
                .set_json(json!({"admin": false})),
            Some(token),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", admin["refresh_token"].as_str().unwrap()),
            ],
            (&id, &secret),
        )
        .await;
    // Nothing but admin was granted: nothing is left to refresh.
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_grant");
}

/// A third-party app's access token for `login` (no admin scope can be asked for).
async fn third_party_token_for(app: &TestApp, login: &str, password: &str) -> String {
    let (id, secret) = app.client(&["--name", "App", "--redirect-uri", CB]);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(VERIFIER.as_bytes()));
    let url = format!(
        "/authorize?response_type=code&client_id={id}&redirect_uri={}&scope=openid&state=s&code_challenge={challenge}&code_challenge_method=S256",
        crate::browser_helpers::enc(CB)
    );
    let mut b = Browser::new(app);
    let r = b.get(&url).await;
    let return_to = query(&location(&r))["return_to"].clone();
    let r = b.sign_in(login, password, &return_to).await;
    let r = b.get(&location(&r)).await;
    let html = r.text();
    let r = b
        .post(
            "/consent",
            &[
                ("csrf", &hidden(&html, "csrf")),
                ("authz", &hidden(&html, "authz")),
                ("decision", "allow"),
            ],
        )
        .await;
    let code = query(&location(&r))["code"].clone();
    let r = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CB),
                ("code_verifier", VERIFIER),
            ],
            (&id, &secret),
        )
        .await;
    r.json()["access_token"].as_str().unwrap().to_owned()
}

#[actix_rt::test]
async fn tokens_for_another_audience_are_refused_at_every_door() {
    let app = TestApp::new();
    let uid = ada(&app);
    // A Mongoose app token: its aud is the app's host.
    let r = app
        .send(
            TestRequest::post()
                .uri("/v1/Auth.GenerateToken")
                .insert_header(("Authorization", plain_basic("ada", "ada password")))
                .set_json(json!({"host": "app.example"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let app_token = r.json()["result"]["token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_parts(&app_token).1["aud"], "app.example");
    let r = app
        .send(with(TestRequest::get().uri("/userinfo"), Some(&app_token)))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_token");
    for (what, status) in account_routes(&app, &uid, &app_token).await {
        assert_eq!(status, 401, "{what}");
    }
    let r = app
        .send(with(
            TestRequest::get().uri("/admin/users"),
            Some(&app_token),
        ))
        .await;
    assert_eq!(r.status, 401);
    // Introspection still describes it.
    assert_eq!(app.introspect(&app_token).await["active"], true);
    // A token for another resource only (RFC 8707) is no credential here either.
    let (id, secret) = app.client(&[
        "--trusted",
        "--grant",
        "password",
        "--scope",
        "profile account",
        "--resource",
        "https://api.example",
    ]);
    let r = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", "ada"),
                ("password", "ada password"),
                ("scope", "profile"),
                ("resource", "https://api.example"),
            ],
            (&id, &secret),
        )
        .await;
    let resource_only = r.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_parts(&resource_only).1["aud"], "https://api.example");
    let r = app
        .send(with(
            TestRequest::get().uri("/users/me"),
            Some(&resource_only),
        ))
        .await;
    assert_eq!(r.status, 401);
    // Asked with account, the issuer joins the resource in aud, as an array.
    let r = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", "ada"),
                ("password", "ada password"),
                ("scope", "account"),
                ("resource", "https://api.example"),
            ],
            (&id, &secret),
        )
        .await;
    let both = r.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        jwt_parts(&both).1["aud"],
        json!(["https://api.example", app.config.issuer()])
    );
    let r = app
        .send(with(TestRequest::get().uri("/users/me"), Some(&both)))
        .await;
    assert_eq!(r.status, 200);
}

#[actix_rt::test]
async fn refresh_tokens_stay_with_their_client_and_door() {
    let app = open_app();
    ada(&app);
    // An esalerugs sign-in's refresh token.
    let r = app
        .send(TestRequest::post().uri("/account/session").set_json(
            json!({"account": {"email": "ada@example.com", "password": "ada password", "remember_me": true}}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let esalerugs_refresh = r.json()["refresh_token"].as_str().unwrap().to_owned();
    // ... is refused by Bloq's refresh route, and at /token as the internal client.
    let r = app
        .send(
            TestRequest::post()
                .uri("/auth/token")
                .set_json(json!({"grantType": "refreshToken", "refreshToken": esalerugs_refresh})),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_grant");
    let r = app
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &esalerugs_refresh),
                ("client_id", "esalerugs"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_client");
    // A first-party client's refresh token: not at Bloq, not at esalerugs, not by another client.
    let t = first_party_token(&app, "ada", "ada password", "openid").await;
    let refresh = t["refresh_token"].as_str().unwrap().to_owned();
    let r = app
        .send(
            TestRequest::post()
                .uri("/auth/token")
                .set_json(json!({"grantType": "refreshToken", "refreshToken": refresh})),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_grant");
    let r = app
        .send(
            TestRequest::put()
                .uri("/account/session")
                .set_json(json!({"account": {"refresh_token": refresh, "remember_me": true}})),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_grant");
    let (other, other_secret) = app.client(&[
        "--trusted",
        "--grant",
        "password",
        "--grant",
        "refresh_token",
    ]);
    let r = app
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            (&other, &other_secret),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_grant");
    // Bloq's clientCredentials serves only Bloq client keys (their one-year refresh tokens).
    let (svc, svc_secret) = app.client(&["--grant", "client_credentials"]);
    let r = app
        .send(TestRequest::post().uri("/auth/token").set_json(
            json!({"grantType": "clientCredentials", "clientId": svc, "clientSecret": svc_secret}),
        ))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_client");
    // The esalerugs door still rotates its own.
    let r = app
        .send(TestRequest::put().uri("/account/session").set_json(
            json!({"account": {"refresh_token": esalerugs_refresh, "remember_me": true}}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

async fn password_grant(app: &TestApp, client: &(String, String), password: &str) -> Response {
    app.token(
        &[
            ("grant_type", "password"),
            ("username", "ada"),
            ("password", password),
        ],
        (&client.0, &client.1),
    )
    .await
}

#[actix_rt::test]
async fn a_burst_of_guesses_gets_no_more_checks_than_the_limit() {
    let app = TestApp::new();
    ada(&app);
    let client = app.client(&["--trusted", "--grant", "password"]);
    let burst = (0..30).map(|_| password_grant(&app, &client, "wrong password"));
    let answers = futures_util::future::join_all(burst).await;
    let checked = answers.iter().filter(|r| r.status != 429).count();
    assert_eq!(checked, 5, "exactly the limit was checked");
    for r in answers.iter().filter(|r| r.status == 429) {
        assert!(r.header("retry-after").is_some());
    }
    // The database agrees: 5 checks were made.
    use diesel::prelude::*;
    use portcullis::db::schema::events;
    let events: i64 = events::table
        .filter(events::kind.eq_any(["signin.failed", "signin.succeeded"]))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(events, 5);
    // And the right password, now, is throttled like any guess.
    assert_eq!(
        password_grant(&app, &client, "ada password").await.status,
        429
    );
}

#[actix_rt::test]
async fn concurrent_right_passwords_wait_their_turn_instead_of_failing() {
    let app = TestApp::new();
    ada(&app);
    let client = app.client(&["--trusted", "--grant", "password"]);
    // More at once than the account's limit of 5: a service signing in from many workers.
    let burst = (0..16).map(|_| password_grant(&app, &client, "ada password"));
    for r in futures_util::future::join_all(burst).await {
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

#[actix_rt::test]
async fn tokens_of_keys_cannot_manage_the_account() {
    let app = TestApp::new();
    ada(&app);
    let token = {
        let r = app
            .send(
                TestRequest::post()
                    .uri("/auth")
                    .insert_header(("Authorization", plain_basic("ada", "ada password"))),
            )
            .await;
        r.json()["accessToken"].as_str().unwrap().to_owned()
    };
    let r = app
        .send(with(
            TestRequest::post().uri("/users/me/client-keys"),
            Some(&token),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let (key, key_secret) = (
        r.json()["clientId"].as_str().unwrap().to_owned(),
        r.json()["clientSecret"].as_str().unwrap().to_owned(),
    );
    let r = app
        .send(TestRequest::post().uri("/auth/token").set_json(
            json!({"grantType": "clientCredentials", "clientId": key, "clientSecret": key_secret}),
        ))
        .await;
    let key_token = r.json()["accessToken"].as_str().unwrap().to_owned();
    // The key's token ("Client Access Token") is for other services, not for the account.
    for req in [
        TestRequest::get().uri("/users/me"),
        TestRequest::post().uri("/users/me/client-keys"),
    ] {
        assert_eq!(app.send(with(req, Some(&key_token))).await.status, 403);
    }
    let r = rpc(
        &app,
        "Account.CreateToken",
        json!({"description": "x"}),
        Some(&key_token),
    )
    .await;
    assert_eq!(r.status, 403);
    // Bloq POST /auth trades only a password: a token gets no account token there.
    let r = app
        .send(with(TestRequest::post().uri("/auth"), Some(&token)))
        .await;
    assert_eq!(r.status, 401);
}

#[actix_rt::test]
async fn sensitive_changes_need_a_recent_sign_in() {
    let app = open_app();
    let uid = ada(&app);
    let r = app
        .send(TestRequest::post().uri("/account/session").set_json(
            json!({"account": {"email": "ada@example.com", "password": "ada password", "remember_me": true}}),
        ))
        .await;
    let first = r.json();
    let put = |token: String, body: Value| {
        let (app, uid) = (&app, uid.clone());
        async move {
            app.send(with(
                TestRequest::put()
                    .uri(&format!("/accounts/{uid}"))
                    .set_json(json!({ "account": body })),
                Some(&token),
            ))
            .await
        }
    };
    // Within the window: the change is made; the new token keeps the sign-in's time.
    let r = put(
        first["token"].as_str().unwrap().into(),
        json!({"email": "ada@new.example"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let handed_back = r.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        jwt_parts(&handed_back).1["auth_time"],
        jwt_parts(first["token"].as_str().unwrap()).1["auth_time"]
    );
    // Past security.reauth_window (900 s): login_required, with a refreshed token too.
    app.clock.advance(Duration::from_secs(901));
    let r = app
        .send(TestRequest::put().uri("/account/session").set_json(
            json!({"account": {"refresh_token": first["refresh_token"], "remember_me": true}}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let refreshed = r.json()["token"].as_str().unwrap().to_owned();
    for token in [handed_back, refreshed] {
        let r = put(token, json!({"password": "taken over 12"})).await;
        assert_eq!(r.status, 401);
        assert_eq!(r.json()["error"], "login_required");
    }
    // A fresh sign-in may.
    let r =
        app.send(TestRequest::post().uri("/account/session").set_json(
            json!({"account": {"email": "ada@new.example", "password": "ada password"}}),
        ))
        .await;
    let r = put(
        r.json()["token"].as_str().unwrap().into(),
        json!({"password": "a new password 1"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A PAT never proves a recent sign-in.
    let (pat, _) = portcullis::core::tokens::pat::create(
        &mut app.conn(),
        app.clock.now_naive(),
        &uid,
        "CI",
        None,
    )
    .unwrap();
    let r = put(pat, json!({"email": "mallory@example.com"})).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "login_required");
}

#[actix_rt::test]
async fn the_account_page_asks_for_the_password_before_an_email_change() {
    let app = TestApp::new();
    ada(&app);
    let mut b = Browser::new(&app);
    let r = b.sign_in("ada", "ada password", "/account").await;
    assert_eq!(location(&r), "/account");
    let page = b.get("/account").await.text();
    let csrf = hidden(&page, "csrf");
    let r = b
        .post(
            "/account/actions/email",
            &[("csrf", &csrf), ("email", "mallory@example.com")],
        )
        .await;
    assert_eq!(r.status, 400);
    let r = b
        .post(
            "/account/actions/email",
            &[
                ("csrf", &csrf),
                ("email", "mallory@example.com"),
                ("current_password", "wrong password"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Current password is incorrect"));
    let user = portcullis::core::users::find_by_login(&mut app.conn(), "ada")
        .unwrap()
        .unwrap();
    assert_eq!(user.email, "ada@example.com");
    // With it: changed, and the old address is told.
    let r = b
        .post(
            "/account/actions/email",
            &[
                ("csrf", &csrf),
                ("email", "ada@new.example"),
                ("current_password", "ada password"),
            ],
        )
        .await;
    assert_eq!(location(&r), "/account?notice=email-changed");
    let old = app
        .outbox()
        .into_iter()
        .find(|m| m.contains("To: ada@example.com") && m.contains("email address was changed"))
        .expect("a notice to the old address");
    assert!(old.contains("ada@new.example") && old.contains("/forgot-password"));
    assert!(app
        .outbox()
        .iter()
        .any(|m| m.contains("To: ada@new.example")));
}

#[actix_rt::test]
async fn new_lasting_credentials_are_announced() {
    let app = TestApp::new();
    ada(&app);
    let r = rpc_basic(
        &app,
        "Account.CreateToken",
        json!({"description": "laptop"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let token = {
        let r = app
            .send(
                TestRequest::post()
                    .uri("/auth")
                    .insert_header(("Authorization", plain_basic("ada", "ada password"))),
            )
            .await;
        r.json()["accessToken"].as_str().unwrap().to_owned()
    };
    let r = app
        .send(with(
            TestRequest::post().uri("/users/me/client-keys"),
            Some(&token),
        ))
        .await;
    assert_eq!(r.status, 200);
    let notices: Vec<String> = app
        .outbox()
        .into_iter()
        .filter(|m| m.contains("To: ada@example.com") && m.contains("was created for your"))
        .collect();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(notices.iter().any(|m| m.contains("laptop")));
    assert!(notices.iter().any(|m| m.contains("client key")));
}

async fn rpc_basic(app: &TestApp, method: &str, args: Value) -> Response {
    app.send(
        TestRequest::post()
            .uri(&format!("/v1/{method}"))
            .insert_header(("Authorization", plain_basic("ada", "ada password")))
            .set_json(args),
    )
    .await
}

#[actix_rt::test]
async fn one_id_space_for_users_and_clients() {
    let app = open_app();
    ada(&app);
    let user_first = app.user_with(
        portcullis::core::users::NewUser {
            id: Some("shared-1".into()),
            email: "s1@example.com".into(),
            ..Default::default()
        },
        "password one",
    );
    assert_eq!(user_first, "shared-1");
    let e = app
        .cli(&["client", "add", "--name", "X", "--id", "shared-1"])
        .unwrap_err();
    assert!(e.contains("taken"), "{e}");
    app.client(&["--name", "Y", "--id", "shared-2"]);
    let r = app
        .send(TestRequest::post().uri("/v1/Account.CreateUser").set_json(
            json!({"id": "shared-2", "name": "s2", "email": "s2@example.com", "password": "password two"}),
        ))
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    // The internal clients' ids are taken from the start.
    let r = app
        .send(TestRequest::post().uri("/v1/Account.CreateUser").set_json(
            json!({"id": "esalerugs", "email": "e@example.com", "password": "password two"}),
        ))
        .await;
    assert_eq!(r.status, 409);
}

#[actix_rt::test]
async fn bad_text_is_a_400_at_every_door() {
    let app = open_app();
    ada(&app);
    let basic = plain_basic("ada", "ada password");
    // JSON with an escaped NUL (the report's Mongoose case), at each JSON door.
    let r = app
        .send(
            TestRequest::post()
                .uri("/v1/Account.UserExists")
                .insert_header(("Authorization", basic.clone()))
                .insert_header(("Content-Type", "application/json"))
                .set_payload(r#"{"name": "alice\u0000x"}"#),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], 400);
    let r = app
        .send(
            TestRequest::post()
                .uri("/account/session")
                .insert_header(("Content-Type", "application/json"))
                .set_payload(r#"{"account": {"email": "ada@example.com\u0000", "password": "x"}}"#),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_request");
    // Forms: %00 and invalid UTF-8.
    for body in [
        "grant_type=password&username=ada%00&password=x",
        "grant_type=password&username=%ff&password=x",
    ] {
        let r = app
            .send(
                TestRequest::post()
                    .uri("/token")
                    .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                    .set_payload(body),
            )
            .await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json()["error"], "invalid_request");
    }
    // Paths and queries.
    let r = app
        .send(with(TestRequest::get().uri("/accounts/a%00b"), None))
        .await;
    assert_eq!(r.status, 400);
    let r = app
        .send(
            TestRequest::get()
                .uri("/v1/Account.UserExists?name=a%00b")
                .insert_header(("Authorization", basic.clone())),
        )
        .await;
    assert_eq!(r.status, 400);
    // JSON declared as a form: the JSON doors read it as JSON all the same.
    let r = app
        .send(
            TestRequest::post()
                .uri("/v1/Account.UserExists")
                .insert_header(("Authorization", basic.clone()))
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .set_payload(r#"{"name": "alice\u0000x"}"#),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    // Raw invalid UTF-8 in a JSON body.
    let r = app
        .send(
            TestRequest::post()
                .uri("/accounts")
                .insert_header(("Content-Type", "application/json"))
                .set_payload(&b"{\"account\": {\"email\": \"\xff@example.com\"}}"[..]),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[actix_rt::test]
async fn oversize_bodies_are_413_before_any_credential_check() {
    let app = TestApp::new();
    let big = vec![b'a'; app.config.body_limit + 1];
    for (method, path) in [
        ("POST", "/auth"),
        ("POST", "/users/me/client-keys"),
        ("PUT", "/users/u/token/t"),
        ("POST", "/userinfo"),
        ("POST", "/authorize"),
        ("POST", "/token"),
        ("POST", "/v1/Account.ListTokens"),
        ("POST", "/admin/users"),
        ("POST", "/account/login"),
        ("PUT", "/accounts/x"),
    ] {
        let req = match method {
            "PUT" => TestRequest::put(),
            _ => TestRequest::post(),
        }
        .uri(path)
        .insert_header(("Content-Type", "application/json"))
        .set_payload(big.clone());
        let r = app.send(req).await;
        assert_eq!(r.status, 413, "{method} {path}: {}", r.text());
    }
}

#[actix_rt::test]
async fn emails_the_mailer_would_refuse_create_nothing() {
    let app = open_app();
    for email in ["tom(comment)@example.com", "a@[not-an-ip]"] {
        let r = app
            .send(
                TestRequest::post()
                    .uri("/accounts")
                    .set_json(json!({"account": {"email": email, "password": "rug password 1"}})),
            )
            .await;
        assert_eq!(r.status, 400, "{email}: {}", r.text());
    }
    assert!(app
        .cli_json(&["user", "list"])
        .as_array()
        .unwrap()
        .is_empty());
}

#[actix_rt::test]
async fn every_429_says_when_to_retry() {
    let app = TestApp::builder()
        .config(|c| {
            c.throttle.account_failures = 1;
            c.registration = portcullis::config::Registration::Open;
        })
        .build();
    ada(&app);
    let (id, secret) = app.client(&["--trusted", "--grant", "password"]);
    let wrong = plain_basic("ada", "wrong password");
    // Each door, twice: the second answer is the 429.
    for _ in 0..2 {
        app.send(
            TestRequest::post()
                .uri("/v1/Account.ListTokens")
                .insert_header(("Authorization", wrong.clone())),
        )
        .await;
    }
    let doors: Vec<(&str, Response)> = vec![
        (
            "mongoose",
            app.send(
                TestRequest::post()
                    .uri("/v1/Account.ListTokens")
                    .insert_header(("Authorization", wrong.clone())),
            )
            .await,
        ),
        (
            "bloq",
            app.send(
                TestRequest::post()
                    .uri("/auth")
                    .insert_header(("Authorization", wrong.clone())),
            )
            .await,
        ),
        (
            "esalerugs",
            app.send(
                TestRequest::post()
                    .uri("/account/session")
                    .set_json(json!({"account": {"email": "ada", "password": "wrong password"}})),
            )
            .await,
        ),
        (
            "admin",
            app.send(
                TestRequest::get()
                    .uri("/admin/users")
                    .insert_header(("Authorization", wrong.clone())),
            )
            .await,
        ),
        (
            "token",
            app.token(
                &[
                    ("grant_type", "password"),
                    ("username", "ada"),
                    ("password", "wrong password"),
                ],
                (&id, &secret),
            )
            .await,
        ),
        (
            "pages",
            Browser::new(&app)
                .sign_in("ada", "wrong password", "/account")
                .await,
        ),
    ];
    for (door, r) in doors {
        assert_eq!(r.status, 429, "{door}: {}", r.text());
        let retry: u64 = r
            .header("retry-after")
            .unwrap_or_else(|| panic!("{door}: no Retry-After"))
            .parse()
            .unwrap();
        assert!(retry > 0 && retry <= 900, "{door}");
    }
}

#[actix_rt::test]
async fn the_request_log_masks_token_segments() {
    assert_eq!(
        portcullis::telemetry::masked("/users/u1/token/s3cr3t", "/users/{user_id}/token/{token}"),
        "/users/u1/token/[redacted]"
    );
    let route = portcullis::routes::table::endpoints()
        .into_iter()
        .find(|e| e.path.contains("/token/"))
        .unwrap();
    assert!(
        route.path.ends_with("{token}"),
        "the table names it {{token}}"
    );
}

#[test]
fn a_body_that_trickles_in_is_cut_with_408() {
    use std::io::{Read, Write};
    let (_app, addr, handle) = crate::helpers::served_app_with(|c| c.request_timeout = 1);
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
    )
    .unwrap();
    let started = std::time::Instant::now();
    // A byte every 300 ms: the body would take 30 s.
    let mut answer = String::new();
    for _ in 0..20 {
        if s.write_all(b"a").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
        if started.elapsed() > Duration::from_millis(1500) {
            break;
        }
    }
    let mut buf = [0u8; 4096];
    if let Ok(n) = s.read(&mut buf) {
        answer.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(handle.stop(false));
}

#[test]
fn tokens_from_the_future_are_refused() {
    use portcullis::core::tokens::{check_claims, AccessClaims, Audience};
    let now = chrono::Utc::now().naive_utc();
    let t = now.and_utc().timestamp();
    let claims = |iat: i64, nbf: Option<i64>| AccessClaims {
        iss: "https://id.example".into(),
        sub: "u".into(),
        aud: Audience::One("https://id.example".into()),
        exp: t + 3600,
        iat,
        nbf,
        jti: "j".into(),
        client_id: "c".into(),
        scope: String::new(),
        gid: None,
        auth_time: None,
        amr: None,
        acr: None,
        iat_ms: iat * 1000,
        cnf: None,
        act: None,
    };
    let ok = |c: AccessClaims| check_claims(&c, "https://id.example", now).is_ok();
    assert!(ok(claims(t, None)));
    assert!(ok(claims(t + 30, None)), "clock skew within the leeway");
    assert!(!ok(claims(t + 120, None)), "issued in the future");
    assert!(!ok(claims(t, Some(t + 120))), "not valid yet");
    assert!(ok(claims(t, Some(t + 30))));
}

#[actix_rt::test]
async fn places_of_attempts_that_go_away_are_given_back() {
    use portcullis::core::throttle::Bucket;
    let app = TestApp::new();
    let uid = ada(&app);
    let client = app.client(&["--trusted", "--grant", "password"]);
    // Five attempts take every place of Ada's bucket, then go away unsettled (a client that
    // hung up while its password was being checked).
    let bucket = Bucket::account(&app.config.throttle, &uid);
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(
            portcullis::app::passwords::admit(&app.state, std::slice::from_ref(&bucket))
                .await
                .unwrap(),
        );
    }
    drop(held);
    // Given back at once, not after they expire: Ada signs in without waiting.
    let started = std::time::Instant::now();
    let r = password_grant(&app, &client, "ada password").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[actix_rt::test]
async fn an_unverified_address_can_be_corrected_when_verification_is_required() {
    let app = TestApp::builder()
        .config(|c| c.require_verified_email = true)
        .build();
    app.user_with(
        portcullis::core::users::NewUser {
            email: "ada@example.com".into(),
            username: Some("ada".into()),
            verified: true,
            ..Default::default()
        },
        "ada password",
    );
    let mut b = Browser::new(&app);
    b.sign_in("ada", "ada password", "/account").await;
    let csrf = hidden(&b.get("/account").await.text(), "csrf");
    // A mistyped new address: unverified now.
    let r = b
        .post(
            "/account/actions/email",
            &[
                ("csrf", &csrf),
                ("email", "ada@typo.example"),
                ("current_password", "ada password"),
            ],
        )
        .await;
    assert_eq!(location(&r), "/account?notice=email-changed");
    // Corrected with the same session: the password is right, the address is what changes.
    let r = b
        .post(
            "/account/actions/email",
            &[
                ("csrf", &csrf),
                ("email", "ada@example.org"),
                ("current_password", "ada password"),
            ],
        )
        .await;
    assert_eq!(
        location(&r),
        "/account?notice=email-changed",
        "{}",
        r.text()
    );
}
