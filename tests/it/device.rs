//! Issue 19, the device authorization grant (RFC 8628): a device gets a device code and a user
//! code, a person signed in at `/device` approves or denies, and the device's polls get
//! `authorization_pending`, `slow_down`, `access_denied`, `expired_token` or tokens exactly as
//! the RFC says; user codes cannot be guessed. The interop run with Node's openid-client is in
//! `tests/env/`.

use std::time::Duration;

use serde_json::Value;

use crate::browser_helpers::{hidden, location, query, Browser};
use crate::helpers::*;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A public device client (`--kind device`: the device grant and refresh tokens by default).
fn device(app: &TestApp) -> String {
    app.client(&[
        "--kind",
        "device",
        "--public",
        "--name",
        "Living-room TV",
        "--scope",
        "openid profile offline_access",
    ])
    .0
}

async fn start(app: &TestApp, client_id: &str, scope: &str) -> Value {
    let r = app
        .post_form(
            "/device_authorization",
            &[("client_id", client_id), ("scope", scope)],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    r.json()
}

async fn poll(app: &TestApp, client_id: &str, device_code: &str) -> Response {
    app.post_form(
        "/token",
        &[
            ("grant_type", GRANT),
            ("client_id", client_id),
            ("device_code", device_code),
        ],
        None,
    )
    .await
}

fn error_of(r: &Response) -> String {
    r.json()["error"].as_str().unwrap_or_default().to_owned()
}

/// A browser signed in as the person.
async fn person<'a>(app: &'a TestApp, email: &str) -> Browser<'a> {
    app.user(email, "correct horse battery");
    let mut b = Browser::new(app);
    let r = b.sign_in(email, "correct horse battery", "/account").await;
    assert_eq!(r.status, 303, "{}", r.text());
    b
}

/// The person opens the complete verification URI and decides.
async fn decide(b: &mut Browser<'_>, user_code: &str, decision: &str) -> Response {
    let r = b
        .get(&format!(
            "/device?user_code={}",
            crate::browser_helpers::enc(user_code)
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let html = r.text();
    assert!(html.contains(user_code), "the page shows the code: {html}");
    let csrf = hidden(&html, "csrf");
    b.post(
        "/device",
        &[
            ("csrf", &csrf),
            ("user_code", user_code),
            ("decision", decision),
        ],
    )
    .await
}

#[actix_web::test]
async fn a_device_signs_a_person_in_after_they_approve() {
    let app = TestApp::new();
    let client_id = device(&app);
    let started = start(&app, &client_id, "openid profile offline_access").await;
    let user_code = started["user_code"].as_str().unwrap().to_owned();
    let device_code = started["device_code"].as_str().unwrap().to_owned();
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert_eq!(started["verification_uri"], app.config.url("/device"));
    assert_eq!(
        started["verification_uri_complete"],
        format!("{}?user_code={user_code}", app.config.url("/device"))
    );
    assert_eq!(started["expires_in"], 600);
    assert_eq!(started["interval"], 5);

    // Polling before the person acts, then too fast.
    let r = poll(&app, &client_id, &device_code).await;
    assert_eq!(r.status, 400);
    assert_eq!(error_of(&r), "authorization_pending", "{}", r.text());
    let r = poll(&app, &client_id, &device_code).await;
    assert_eq!(error_of(&r), "slow_down", "{}", r.text());
    // The interval is now 10 s: 6 s later is still too fast.
    app.clock.advance(Duration::from_secs(6));
    let r = poll(&app, &client_id, &device_code).await;
    assert_eq!(error_of(&r), "slow_down", "{}", r.text());

    // The person types the code (lower case, without the dash) and approves.
    let mut b = person(&app, "tv@example.com").await;
    let r = b.get("/device").await;
    let csrf = hidden(&r.text(), "csrf");
    let typed = user_code.replace('-', " ").to_lowercase();
    let r = b
        .post("/device", &[("csrf", &csrf), ("user_code", &typed)])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("Living-room TV"), "{}", r.text());
    let r = decide(&mut b, &user_code, "allow").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("Device connected"), "{}", r.text());

    app.clock.advance(Duration::from_secs(16));
    let r = poll(&app, &client_id, &device_code).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let tokens = r.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["refresh_token"].is_string());
    let (_, id_token) = jwt_parts(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["aud"], client_id.as_str());
    let info = app
        .send(
            actix_web::test::TestRequest::get()
                .uri("/userinfo")
                .insert_header((
                    "Authorization",
                    format!("Bearer {}", tokens["access_token"].as_str().unwrap()),
                )),
        )
        .await;
    assert_eq!(info.status, 200, "{}", info.text());
    assert_eq!(info.json()["sub"], id_token["sub"]);
    // The device code is spent; the user code names nothing any more.
    app.clock.advance(Duration::from_secs(16));
    let r = poll(&app, &client_id, &device_code).await;
    assert_eq!(error_of(&r), "invalid_grant", "{}", r.text());
    let r = b.get(&format!("/device?user_code={user_code}")).await;
    assert_eq!(r.status, 400);
    // Refreshing works like any refresh token of a public client.
    let r = app
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &client_id),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The decision is an event.
    use diesel::prelude::*;
    use portcullis::db::schema::events;
    let approved: i64 = events::table
        .filter(events::kind.eq("device.approved"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(approved, 1);
}

#[actix_web::test]
async fn a_denied_request_and_an_expired_one() {
    let app = TestApp::new();
    let client_id = device(&app);
    let mut b = person(&app, "no@example.com").await;
    let denied = start(&app, &client_id, "openid").await;
    let r = decide(&mut b, denied["user_code"].as_str().unwrap(), "deny").await;
    assert!(r.text().contains("denied"), "{}", r.text());
    let r = poll(&app, &client_id, denied["device_code"].as_str().unwrap()).await;
    assert_eq!(error_of(&r), "access_denied", "{}", r.text());

    let late = start(&app, &client_id, "openid").await;
    app.clock.advance(Duration::from_secs(601));
    let r = poll(&app, &client_id, late["device_code"].as_str().unwrap()).await;
    assert_eq!(error_of(&r), "expired_token", "{}", r.text());
    // The person is too late too.
    let r = b
        .get(&format!(
            "/device?user_code={}",
            late["user_code"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("not valid"), "{}", r.text());
    // Housekeeping deletes both once expired.
    app.cli(&["housekeeping"]).unwrap();
    let mut conn = app.conn();
    use diesel::prelude::*;
    let left: i64 = portcullis::db::schema::device_codes::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(left, 0);
}

#[actix_web::test]
async fn guessing_user_codes_is_throttled() {
    let app = TestApp::builder()
        .config(|c| c.throttle.ip_failures = 5)
        .build();
    let client_id = device(&app);
    let real = start(&app, &client_id, "openid").await;
    let mut b = person(&app, "guess@example.com").await;
    let page = b.get("/device").await;
    let csrf = hidden(&page.text(), "csrf");
    for guess in [
        "BCDF-GHJK",
        "LMNP-QRST",
        "VWXZ-BCDF",
        "nonsense",
        "GHJK-LMNP",
    ] {
        let r = b
            .post("/device", &[("csrf", &csrf), ("user_code", guess)])
            .await;
        assert_eq!(r.status, 400, "{guess}: {}", r.text());
    }
    // Now even the right code waits.
    let r = b
        .post(
            "/device",
            &[
                ("csrf", &csrf),
                ("user_code", real["user_code"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("Retry-After").is_some());
    // The guesses do not spend the person's (or the IP's) sign-in budget.
    let mut again = Browser::new(&app);
    let r = again
        .sign_in("guess@example.com", "correct horse battery", "/account")
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
}

#[actix_web::test]
async fn signing_out_everywhere_denies_an_approved_device_not_yet_collected() {
    let app = TestApp::new();
    let client_id = device(&app);
    let started = start(&app, &client_id, "openid").await;
    let mut b = person(&app, "out@example.com").await;
    decide(&mut b, started["user_code"].as_str().unwrap(), "allow").await;
    let r = b.get("/account").await;
    let csrf = hidden(&r.text(), "csrf");
    let r = b
        .post("/account/actions/sessions/end-all", &[("csrf", &csrf)])
        .await;
    assert!(r.status.is_redirection(), "{}", r.text());
    let r = poll(&app, &client_id, started["device_code"].as_str().unwrap()).await;
    assert_eq!(error_of(&r), "access_denied", "{}", r.text());
}

#[actix_web::test]
async fn a_device_never_gets_the_account_or_admin_scopes() {
    let app = TestApp::new();
    let (trusted, _) = app.client(&[
        "--kind",
        "device",
        "--public",
        "--trusted",
        "--scope",
        "openid account admin",
    ]);
    for scope in ["openid account", "admin"] {
        let r = app
            .post_form(
                "/device_authorization",
                &[("client_id", &trusted), ("scope", scope)],
                None,
            )
            .await;
        assert_eq!(error_of(&r), "invalid_scope", "{scope}: {}", r.text());
    }
}

#[actix_web::test]
async fn the_page_needs_a_session_a_form_token_and_the_client_the_grant() {
    let app = TestApp::new();
    let client_id = device(&app);
    let started = start(&app, &client_id, "openid").await;
    let user_code = started["user_code"].as_str().unwrap();
    // No session: sign in first, and come back with the code.
    let mut b = Browser::new(&app);
    let r = b.get(&format!("/device?user_code={user_code}")).await;
    assert_eq!(r.status, 303);
    let to = location(&r);
    assert!(to.starts_with("/signin"), "{to}");
    assert_eq!(
        query(&to)["return_to"],
        format!("/device?user_code={user_code}")
    );
    // A decision without the form's token changes nothing.
    let mut b = person(&app, "csrf@example.com").await;
    let r = b
        .post(
            "/device",
            &[("user_code", user_code), ("decision", "allow")],
        )
        .await;
    assert_eq!(r.status, 400);
    let r = poll(&app, &client_id, started["device_code"].as_str().unwrap()).await;
    assert_eq!(error_of(&r), "authorization_pending");
    // Another client's device code is not this client's.
    let other = device(&app);
    app.clock.advance(Duration::from_secs(10));
    let r = poll(&app, &other, started["device_code"].as_str().unwrap()).await;
    assert_eq!(error_of(&r), "invalid_grant", "{}", r.text());
    // A client without the grant cannot start one.
    let (web, secret) = app.client(&["--redirect-uri", "https://app.example/cb"]);
    let r = app
        .post_form(
            "/device_authorization",
            &[("scope", "openid")],
            Some((&web, &secret)),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(error_of(&r), "unauthorized_client");
    // An unknown client is invalid_client; a scope it may not have is invalid_scope.
    let r = app
        .post_form("/device_authorization", &[("client_id", "nobody")], None)
        .await;
    assert_eq!(r.status, 401);
    let r = app
        .post_form(
            "/device_authorization",
            &[("client_id", &client_id), ("scope", "openid admin")],
            None,
        )
        .await;
    assert_eq!(error_of(&r), "invalid_scope", "{}", r.text());
}

#[actix_web::test]
async fn a_device_may_bind_its_tokens_with_dpop() {
    use josekit::jws::{JwsHeader, ES256};
    let app = TestApp::new();
    let client_id = device(&app);
    let started = start(&app, &client_id, "openid").await;
    let mut b = person(&app, "dpop-tv@example.com").await;
    decide(&mut b, started["user_code"].as_str().unwrap(), "allow").await;
    let pair = ES256.generate_key_pair().unwrap();
    let mut header = JwsHeader::new();
    header.set_token_type("dpop+jwt");
    header
        .set_claim(
            "jwk",
            Some(Value::Object(pair.to_jwk_public_key().as_ref().clone())),
        )
        .unwrap();
    let claims = serde_json::json!({"jti": "tv-1", "htm": "POST", "htu": app.config.url("/token"),
        "iat": app.clock.now().timestamp()});
    let proof = josekit::jwt::encode_with_signer(
        &josekit::jwt::JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap(),
        &header,
        &ES256.signer_from_jwk(&pair.to_jwk_private_key()).unwrap(),
    )
    .unwrap();
    let body = format!(
        "grant_type={}&client_id={client_id}&device_code={}",
        crate::browser_helpers::enc(GRANT),
        started["device_code"].as_str().unwrap()
    );
    let r = app
        .send(
            actix_web::test::TestRequest::post()
                .uri("/token")
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .insert_header(("DPoP", proof))
                .set_payload(body),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["token_type"], "DPoP");
}
