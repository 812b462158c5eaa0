//! Bloq Accounts API: every route, its camelCase wire format, errors, and its tokens at the
//! other doors.

use actix_web::test::TestRequest;
use serde_json::{json, Value};

use crate::helpers::{jwt_parts, plain_basic, scrub, Response, TestApp};

async fn auth(app: &TestApp, login: &str, password: &str) -> Response {
    app.send(
        TestRequest::post()
            .uri("/auth")
            .insert_header(("Authorization", plain_basic(login, password))),
    )
    .await
}

async fn with_token(app: &TestApp, req: TestRequest, token: &str) -> Response {
    app.send(req.insert_header(("Authorization", format!("Bearer {token}"))))
        .await
}

fn setup() -> (TestApp, String) {
    let app = TestApp::new();
    let uid = app.user_with(
        portcullis::core::users::NewUser {
            email: "email@example.com".into(),
            display_name: Some("Example User".into()),
            verified: true,
            ..Default::default()
        },
        "bloq password",
    );
    use diesel::prelude::*;
    diesel::update(portcullis::db::schema::users::table.find(&uid))
        .set((
            portcullis::db::schema::users::address.eq(Some(r#"{"country":"US","postal_code":"12345","street_address":"123 Abc Street","region":"CA"}"#)),
            portcullis::db::schema::users::entity_type.eq(Some("individual")),
        ))
        .execute(&mut app.conn())
        .unwrap();
    (app, uid)
}

async fn account_token(app: &TestApp) -> String {
    let r = auth(app, "email@example.com", "bloq password").await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["accessToken"].as_str().unwrap().to_owned()
}

#[actix_rt::test]
async fn account_tokens_profile_and_userinfo() {
    let (app, uid) = setup();
    let r = auth(&app, &uid, "bloq password").await;
    insta::assert_json_snapshot!("bloq_auth", scrub(&r.json()));
    let token = r.json()["accessToken"].as_str().unwrap().to_owned();
    let (_, claims) = jwt_parts(&token);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        12 * 3600,
        "12 hours"
    );
    let r = with_token(&app, TestRequest::get().uri("/users/me"), &token).await;
    assert_eq!(r.status, 200);
    insta::assert_json_snapshot!("bloq_me", scrub(&r.json()));
    // A Bloq account token works at /userinfo.
    let r = with_token(&app, TestRequest::get().uri("/userinfo"), &token).await;
    assert_eq!(r.json()["sub"], uid.as_str());
    // Wrong or missing credentials.
    let wrong = auth(&app, "email@example.com", "wrong password").await;
    let unknown = auth(&app, "nobody@example.com", "wrong password").await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json(), unknown.json());
    assert_eq!(app.send(TestRequest::post().uri("/auth")).await.status, 401);
    assert_eq!(app.get("/users/me").await.status, 401);
}

#[actix_rt::test]
async fn client_keys_and_their_tokens() {
    let (app, uid) = setup();
    let token = account_token(&app).await;
    let r = with_token(
        &app,
        TestRequest::post().uri("/users/me/client-keys"),
        &token,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let key = r.json();
    let (id, secret) = (
        key["clientId"].as_str().unwrap().to_owned(),
        key["clientSecret"].as_str().unwrap().to_owned(),
    );
    assert_eq!(id.len(), 40);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(secret.len(), 80);
    insta::assert_json_snapshot!(
        "bloq_new_key",
        json!({"clientId": "[40 hex]", "clientSecret": "[80 chars]", "createdAt": scrub(&key["createdAt"])})
    );
    let r = with_token(
        &app,
        TestRequest::get().uri("/users/me/client-keys"),
        &token,
    )
    .await;
    insta::assert_json_snapshot!("bloq_keys", scrub(&r.json()));
    assert_eq!(r.json()[0]["id"], id.as_str());
    // clientCredentials: a pair acting for the owner.
    let r = app
        .send(TestRequest::post().uri("/auth/token").set_json(
            json!({"grantType": "clientCredentials", "clientId": id, "clientSecret": secret}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    insta::assert_json_snapshot!("bloq_client_tokens", scrub(&r.json()));
    let pair = r.json();
    let access = pair["accessToken"].as_str().unwrap().to_owned();
    let (_, claims) = jwt_parts(&access);
    assert_eq!(claims["sub"], uid.as_str());
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    let refresh = pair["refreshToken"].as_str().unwrap().to_owned();
    let info = app.introspect_as(&refresh, (&id, &secret)).await;
    assert!(
        info["exp"].as_i64().unwrap() - info["iat"].as_i64().unwrap() >= 364 * 86400,
        "a year"
    );
    // refreshToken: rotation.
    let r = app
        .send(
            TestRequest::post()
                .uri("/auth/token")
                .set_json(json!({"grantType": "refreshToken", "refreshToken": refresh})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let next = r.json();
    assert_ne!(next["refreshToken"], pair["refreshToken"]);
    let r = app
        .send(
            TestRequest::post()
                .uri("/auth/token")
                .set_json(json!({"grantType": "refreshToken", "refreshToken": refresh})),
        )
        .await;
    assert_eq!(r.status, 401, "reuse");
    // Deleting the key revokes its tokens.
    let fresh = app
        .send(TestRequest::post().uri("/auth/token").set_json(
            json!({"grantType": "clientCredentials", "clientId": id, "clientSecret": secret}),
        ))
        .await
        .json();
    let r = with_token(
        &app,
        TestRequest::delete().uri(&format!("/users/me/client-keys/{id}")),
        &token,
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        app.introspect(fresh["accessToken"].as_str().unwrap()).await["active"],
        false
    );
    assert_eq!(
        with_token(
            &app,
            TestRequest::delete().uri(&format!("/users/me/client-keys/{id}")),
            &token
        )
        .await
        .status,
        404
    );
    let r = app
        .send(TestRequest::post().uri("/auth/token").set_json(
            json!({"grantType": "clientCredentials", "clientId": id, "clientSecret": secret}),
        ))
        .await;
    assert_eq!(r.status, 401);
}

#[actix_rt::test]
async fn token_request_errors() {
    let (app, _) = setup();
    let cases: Vec<(Value, u16)> = vec![
        (json!({"grantType": "password"}), 400),
        (
            json!({"grantType": "clientCredentials", "clientId": "x"}),
            400,
        ),
        (
            json!({"grantType": "clientCredentials", "clientId": "x", "clientSecret": "y"}),
            401,
        ),
        (json!({"grantType": "refreshToken"}), 400),
        (
            json!({"grantType": "refreshToken", "refreshToken": "nope"}),
            401,
        ),
        (json!({"clientId": "x"}), 400),
        (json!({"grantType": 7}), 400),
    ];
    for (body, status) in cases {
        let r = app
            .send(
                TestRequest::post()
                    .uri("/auth/token")
                    .set_json(body.clone()),
            )
            .await;
        assert_eq!(r.status.as_u16(), status, "{body}: {}", r.text());
        assert!(r.json()["error"].is_string());
    }
    let r = app
        .send(
            TestRequest::post()
                .uri("/auth/token")
                .insert_header(("Content-Type", "application/json"))
                .set_payload("not json"),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[actix_rt::test]
async fn password_change_revokes_the_callers_token_too() {
    let (app, _) = setup();
    let token = account_token(&app).await;
    let r = with_token(
        &app,
        TestRequest::put()
            .uri("/users/me/password")
            .set_json(json!({"oldPassword": "wrong one", "newPassword": "new bloq pass"})),
        &token,
    )
    .await;
    assert_eq!(r.status, 400);
    let r = with_token(
        &app,
        TestRequest::put()
            .uri("/users/me/password")
            .set_json(json!({"oldPassword": "bloq password"})),
        &token,
    )
    .await;
    assert_eq!(r.status, 400);
    let r = with_token(
        &app,
        TestRequest::put()
            .uri("/users/me/password")
            .set_json(json!({"oldPassword": "bloq password", "newPassword": "new bloq pass"})),
        &token,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        with_token(&app, TestRequest::get().uri("/users/me"), &token)
            .await
            .status,
        401
    );
    assert_eq!(
        auth(&app, "email@example.com", "new bloq pass")
            .await
            .status,
        200
    );
}

#[actix_rt::test]
async fn events_newest_first_paginated_without_secrets() {
    let (app, _) = setup();
    let token = account_token(&app).await;
    for _ in 0..3 {
        with_token(&app, TestRequest::get().uri("/users/me"), &token).await;
    }
    with_token(
        &app,
        TestRequest::put()
            .uri("/users/me/password")
            .set_json(json!({"oldPassword": "wrong one", "newPassword": "new bloq pass"})),
        &token,
    )
    .await;
    let r = with_token(
        &app,
        TestRequest::get().uri("/users/me/events?limit=3"),
        &token,
    )
    .await;
    assert_eq!(r.status, 200);
    let page = r.json();
    let items = page.as_array().unwrap();
    assert_eq!(items.len(), 3);
    let first = &items[0];
    for key in [
        "id",
        "service",
        "user",
        "input",
        "output",
        "serviceData",
        "createdAt",
    ] {
        assert!(first.get(key).is_some(), "{key} in {first}");
    }
    assert!(first["id"].as_str().unwrap().starts_with("event-"));
    let times: Vec<&str> = items
        .iter()
        .map(|e| e["createdAt"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    let last = items[2]["id"].as_str().unwrap();
    let r = with_token(
        &app,
        TestRequest::get().uri(&format!("/users/me/events?limit=100&before={last}")),
        &token,
    )
    .await;
    let older = r.json();
    assert!(!older.as_array().unwrap().is_empty());
    assert!(older.as_array().unwrap().iter().all(|e| e["id"] != last));
    let all = with_token(
        &app,
        TestRequest::get().uri("/users/me/events?limit=100"),
        &token,
    )
    .await
    .text();
    assert!(
        !all.contains("bloq password") && !all.contains("new bloq pass"),
        "no secrets"
    );
    // Every event, a sign-in as much as an API call, has the document's output shape.
    let everything: Value = serde_json::from_str(&all).unwrap();
    let kinds: Vec<&str> = everything
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["serviceData"]["event"].as_str().unwrap_or("api.call"))
        .collect();
    assert!(kinds.contains(&"signin.succeeded"), "{kinds:?}");
    for e in everything.as_array().unwrap() {
        let out = &e["output"];
        assert!(
            out["startTime"].is_string()
                && out["endTime"].is_string()
                && out["httpStatusCode"].is_u64()
                && out["bytesOut"].is_u64(),
            "document shape: {e}"
        );
    }
    let signin = everything
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["serviceData"]["event"] == "signin.succeeded")
        .unwrap();
    assert_eq!(signin["output"]["httpStatusCode"], 200);
    assert_eq!(signin["output"]["startTime"], signin["output"]["endTime"]);
    let api_call = older
        .as_array()
        .unwrap()
        .iter()
        .chain(items.iter())
        .find(|e| e["output"]["httpStatusCode"] == 200)
        .unwrap();
    assert!(api_call["output"]["bytesOut"].as_u64().unwrap() > 0);
    insta::assert_json_snapshot!("bloq_event", scrub(api_call));
    assert_eq!(
        with_token(
            &app,
            TestRequest::get().uri("/users/me/events?limit=0"),
            &token
        )
        .await
        .status,
        400
    );
    assert_eq!(
        with_token(
            &app,
            TestRequest::get().uri("/users/me/events?before=event-nope"),
            &token
        )
        .await
        .status,
        404
    );
}

#[actix_rt::test]
async fn email_verification_by_token() {
    let app = TestApp::builder()
        .config(|c| c.registration = portcullis::config::Registration::Open)
        .build();
    let created = app
        .send(TestRequest::post().uri("/accounts").set_json(
            json!({"account": {"email": "new@example.com", "password": "verify me 123"}}),
        ))
        .await;
    assert_eq!(created.status, 201);
    let link = app.link_to("new@example.com", "/verify-email");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let uid: String = {
        use diesel::prelude::*;
        portcullis::db::schema::users::table
            .filter(portcullis::db::schema::users::email_key.eq("new@example.com"))
            .select(portcullis::db::schema::users::id)
            .first(&mut app.conn())
            .unwrap()
    };
    assert_eq!(
        app.send(TestRequest::put().uri(&format!("/users/someone-else/token/{token}")))
            .await
            .status,
        400
    );
    let r = app
        .send(TestRequest::put().uri(&format!("/users/{uid}/token/{token}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        app.send(TestRequest::put().uri(&format!("/users/{uid}/token/{token}")))
            .await
            .status,
        400,
        "single use"
    );
}
