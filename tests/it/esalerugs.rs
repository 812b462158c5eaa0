//! esalerugs `/accounts` and `/account/session`: every route, its wire format, its errors, and
//! its tokens meeting the other doors.

use actix_web::test::TestRequest;
use serde_json::{json, Value};

use crate::helpers::{scrub, Response, TestApp};

fn open_app() -> TestApp {
    TestApp::builder()
        .config(|c| c.registration = portcullis::config::Registration::Open)
        .build()
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
    bearer: Option<&str>,
) -> Response {
    let mut req = match method {
        "POST" => TestRequest::post(),
        "PUT" => TestRequest::put(),
        "DELETE" => TestRequest::delete(),
        _ => TestRequest::get(),
    }
    .uri(path);
    if let Some(b) = body {
        req = req.set_json(b);
    }
    if let Some(t) = bearer {
        // The document's own header form.
        req = req.insert_header(("Authorization", format!("Bearer: {t}")));
    }
    app.send(req).await
}

async fn sign_up(app: &TestApp, email: &str, remember: bool) -> Value {
    let r = send(app, "POST", "/accounts", Some(json!({"account": {"email": email, "password": "rug password 1", "remember_me": remember}})), None).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

#[actix_rt::test]
async fn sign_up_sign_in_and_account_info() {
    let app = open_app();
    let created = sign_up(&app, "fred@bedrockisp.com", true).await;
    insta::assert_json_snapshot!("esalerugs_created", scrub(&created));
    let without = sign_up(&app, "wilma@bedrockisp.com", false).await;
    assert!(without.get("refresh_token").is_none());
    assert!(
        app.outbox()
            .iter()
            .any(|m| m.contains("To: fred@bedrockisp.com")),
        "a verification email"
    );
    let r = send(
        &app,
        "POST",
        "/account/session",
        Some(json!({"account": {"email": "fred@bedrockisp.com", "password": "rug password 1"}})),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    insta::assert_json_snapshot!("esalerugs_session", scrub(&r.json()));
    let token = r.json()["token"].as_str().unwrap().to_owned();
    let id = app.introspect(&token).await["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = send(&app, "GET", &format!("/accounts/{id}"), None, Some(&token)).await;
    assert_eq!(
        r.json(),
        json!({"data": {"id": id, "email": "fred@bedrockisp.com"}})
    );
    // Another account: 403; unknown: 403 too (only yourself or an admin).
    let wilma = app.introspect(without["token"].as_str().unwrap()).await["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        send(
            &app,
            "GET",
            &format!("/accounts/{wilma}"),
            None,
            Some(&token)
        )
        .await
        .status,
        403
    );
    assert_eq!(
        send(&app, "GET", &format!("/accounts/{id}"), None, None)
            .await
            .status,
        401
    );
}

#[actix_rt::test]
async fn errors_in_the_door_shape() {
    let app = open_app();
    sign_up(&app, "fred@bedrockisp.com", false).await;
    let cases: Vec<(&str, &str, Option<Value>, u16, &str)> = vec![
        (
            "POST",
            "/accounts",
            Some(
                json!({"account": {"email": "fred@bedrockisp.com", "password": "rug password 1"}}),
            ),
            409,
            "conflict",
        ),
        (
            "POST",
            "/accounts",
            Some(json!({"account": {"email": "barney@bedrockisp.com", "password": "password"}})),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/accounts",
            Some(json!({"email": "no-envelope@x.com"})),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/accounts",
            Some(json!({"account": {"email": 5, "password": "rug password 1"}})),
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/account/session",
            Some(
                json!({"account": {"email": "fred@bedrockisp.com", "password": "wrong password"}}),
            ),
            401,
            "invalid_grant",
        ),
        (
            "POST",
            "/account/session",
            Some(
                json!({"account": {"email": "nobody@bedrockisp.com", "password": "wrong password"}}),
            ),
            401,
            "invalid_grant",
        ),
        (
            "PUT",
            "/account/session",
            Some(json!({"account": {"refresh_token": "nope"}})),
            401,
            "invalid_grant",
        ),
        ("DELETE", "/account/session", None, 401, "invalid_token"),
        (
            "PUT",
            "/account/password",
            Some(json!({"account": {"password": "new rug pass", "reset_password_token": "nope"}})),
            400,
            "invalid_request",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let r = send(&app, method, path, body.clone(), None).await;
        assert_eq!(
            r.status.as_u16(),
            status,
            "{method} {path} {body:?}: {}",
            r.text()
        );
        assert_eq!(r.json()["error"], code, "{method} {path}");
        assert!(r.json()["error_description"].is_string());
    }
    let r = app
        .send(
            TestRequest::post()
                .uri("/accounts")
                .insert_header(("Content-Type", "application/json"))
                .set_payload("{oops"),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = app
        .send(
            TestRequest::post()
                .uri("/accounts")
                .insert_header(("Content-Type", "application/json"))
                .set_payload(vec![b' '; 70 * 1024]),
        )
        .await;
    assert_eq!(r.status, 413);
    // The same answer for a wrong password and an unknown email.
    let a = send(
        &app,
        "POST",
        "/account/session",
        Some(json!({"account": {"email": "fred@bedrockisp.com", "password": "wrong password"}})),
        None,
    )
    .await;
    let b = send(
        &app,
        "POST",
        "/account/session",
        Some(json!({"account": {"email": "nobody@bedrockisp.com", "password": "wrong password"}})),
        None,
    )
    .await;
    assert_eq!(a.json(), b.json());
}

#[actix_rt::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let app = open_app();
    let first = sign_up(&app, "fred@bedrockisp.com", true).await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let r = send(
        &app,
        "PUT",
        "/account/session",
        Some(json!({"account": {"refresh_token": rt1, "remember_me": true}})),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let second = r.json();
    let rt2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(rt1, rt2);
    // Reusing the first one: refused, and the family (rt2 and the new access token) dies.
    let r = send(
        &app,
        "PUT",
        "/account/session",
        Some(json!({"account": {"refresh_token": rt1, "remember_me": true}})),
        None,
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(app.introspect(rt2).await["active"], false);
    assert_eq!(
        app.introspect(second["token"].as_str().unwrap()).await["active"],
        false
    );
    // remember_me false on refresh: a token, no new refresh token.
    let t = sign_up(&app, "wilma@bedrockisp.com", true).await;
    let r = send(
        &app,
        "PUT",
        "/account/session",
        Some(json!({"account": {"refresh_token": t["refresh_token"], "remember_me": false}})),
        None,
    )
    .await;
    assert!(r.json().get("refresh_token").is_none());
    assert!(r.json()["token"].is_string());
}

#[actix_rt::test]
async fn sign_out_everywhere_keeps_pats() {
    let app = open_app();
    let t = sign_up(&app, "fred@bedrockisp.com", true).await;
    let token = t["token"].as_str().unwrap();
    let uid = app.introspect(token).await["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let (pat, _) = portcullis::core::tokens::pat::create(
        &mut app.conn(),
        app.clock.now_naive(),
        &uid,
        "CI",
        None,
    )
    .unwrap();
    let r = send(&app, "DELETE", "/account/session", None, Some(token)).await;
    assert_eq!(r.status, 200);
    insta::assert_json_snapshot!("esalerugs_signed_out", scrub(&r.json()));
    assert_eq!(app.introspect(token).await["active"], false);
    assert_eq!(
        app.introspect(t["refresh_token"].as_str().unwrap()).await["active"],
        false
    );
    assert_eq!(app.introspect(&pat).await["active"], true);
}

#[actix_rt::test]
async fn update_email_and_password() {
    let app = open_app();
    let t = sign_up(&app, "fred@bedrockisp.com", true).await;
    let token = t["token"].as_str().unwrap().to_owned();
    let id = app.introspect(&token).await["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    // Email only: not a password change; the old token still works; the new address needs
    // verifying.
    let r = send(
        &app,
        "PUT",
        &format!("/accounts/{id}"),
        Some(json!({"account": {"email": "fred@slate.com"}})),
        Some(&token),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["token"].is_string());
    assert_eq!(app.introspect(&token).await["active"], true);
    assert!(app
        .outbox()
        .iter()
        .any(|m| m.contains("To: fred@slate.com")));
    // A password: every older token dies; the answer carries a fresh one.
    let r = send(
        &app,
        "PUT",
        &format!("/accounts/{id}"),
        Some(json!({"account": {"password": "brand new rugs"}})),
        Some(&token),
    )
    .await;
    let fresh = r.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(app.introspect(&token).await["active"], false);
    assert_eq!(
        app.introspect(t["refresh_token"].as_str().unwrap()).await["active"],
        false
    );
    assert_eq!(app.introspect(&fresh).await["active"], true);
    let r = send(
        &app,
        "POST",
        "/account/session",
        Some(json!({"account": {"email": "fred@slate.com", "password": "brand new rugs"}})),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let r = send(
        &app,
        "PUT",
        &format!("/accounts/{id}"),
        Some(json!({"account": {}})),
        Some(&fresh),
    )
    .await;
    assert_eq!(r.status, 400);
}

#[actix_rt::test]
async fn password_reset_is_enumeration_safe_and_revokes_every_door() {
    let app = open_app();
    let t = sign_up(&app, "fred@bedrockisp.com", true).await;
    let uid = app.introspect(t["token"].as_str().unwrap()).await["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    // Tokens from other doors: the token endpoint (password grant) and a Mongoose PAT... and
    // a Bloq account token.
    let (id, secret) = app.client(&["--trusted", "--grant", "password"]);
    let pw = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", "fred@bedrockisp.com"),
                ("password", "rug password 1"),
            ],
            (&id, &secret),
        )
        .await
        .json();
    let bloq = app
        .send(TestRequest::post().uri("/auth").insert_header((
            "Authorization",
            crate::helpers::plain_basic("fred@bedrockisp.com", "rug password 1"),
        )))
        .await
        .json();
    let known = send(
        &app,
        "POST",
        "/account/password",
        Some(json!({"account": {"email": "fred@bedrockisp.com"}})),
        None,
    )
    .await;
    let unknown = send(
        &app,
        "POST",
        "/account/password",
        Some(json!({"account": {"email": "nobody@bedrockisp.com"}})),
        None,
    )
    .await;
    assert_eq!(known.status, 200);
    assert_eq!(unknown.status, 200);
    // Known addresses get a derived id too, never the account's (SPEC §9), so nothing here
    // tells them apart or can be confirmed elsewhere.
    assert_ne!(known.json()["id"], uid.as_str());
    assert!(uuid::Uuid::parse_str(known.json()["id"].as_str().unwrap()).is_ok());
    let fake = unknown.json()["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&fake).is_ok(), "the same shape");
    let again = send(
        &app,
        "POST",
        "/account/password",
        Some(json!({"account": {"email": "Nobody@bedrockisp.com"}})),
        None,
    )
    .await;
    assert_eq!(again.json()["id"], fake.as_str(), "stable");
    assert_eq!(
        app.outbox()
            .iter()
            .filter(|m| m.contains("Reset your password"))
            .count(),
        1
    );
    let link = app.link_to("fred@bedrockisp.com", "/reset-password");
    let token = link.split("token=").nth(1).unwrap();
    let r = send(&app, "PUT", "/account/password", Some(json!({"account": {"password": "reset rugs 22", "reset_password_token": token, "remember_me": true}})), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    insta::assert_json_snapshot!("esalerugs_reset", scrub(&r.json()));
    for old in [
        t["token"].as_str().unwrap(),
        t["refresh_token"].as_str().unwrap(),
        pw["access_token"].as_str().unwrap(),
        bloq["accessToken"].as_str().unwrap(),
    ] {
        assert_eq!(
            app.introspect(old).await["active"],
            false,
            "tokens of every door are revoked"
        );
    }
    assert_eq!(
        app.introspect(r.json()["token"].as_str().unwrap()).await["active"],
        true
    );
    // Single use.
    let r = send(
        &app,
        "PUT",
        "/account/password",
        Some(json!({"account": {"password": "reset rugs 33", "reset_password_token": token}})),
        None,
    )
    .await;
    assert_eq!(r.status, 400);
}
