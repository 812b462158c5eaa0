//! `POST /introspect` and `POST /revoke`, revocation across nodes, the same-second cut-off, and
//! the bearer-token extractor protected routes use.

use std::time::Duration;

use actix_web::test::TestRequest;
use portcullis::core::tokens::pat;

use crate::helpers::{jwt_parts, TestApp};

fn setup() -> (TestApp, String, String, String) {
    let app = TestApp::new();
    let uid = app.user_with(
        portcullis::core::users::NewUser {
            email: "u@example.com".into(),
            username: Some("ursula".into()),
            ..Default::default()
        },
        "password1",
    );
    let (id, secret) = app.client(&[
        "--trusted",
        "--grant",
        "password",
        "--grant",
        "refresh_token",
        "--grant",
        "client_credentials",
        "--scope",
        "openid profile",
    ]);
    (app, uid, id, secret)
}

async fn password_tokens(app: &TestApp, id: &str, secret: &str) -> serde_json::Value {
    let r = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", "ursula"),
                ("password", "password1"),
            ],
            (id, secret),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[actix_rt::test]
async fn introspection_of_each_token_kind() {
    let (app, uid, id, secret) = setup();
    let t = password_tokens(&app, &id, &secret).await;
    let access = t["access_token"].as_str().unwrap();
    let mut info = app.introspect(access).await;
    let (_, claims) = jwt_parts(access);
    assert_eq!(info["jti"], claims["jti"]);
    for k in ["exp", "iat", "jti"] {
        info[k] = serde_json::json!("[redacted]");
    }
    assert_eq!(
        info,
        serde_json::json!({
            "active": true, "sub": uid, "username": "ursula", "scope": "profile",
            "client_id": id, "token_type": "Bearer", "exp": "[redacted]", "iat": "[redacted]",
            "iss": app.config.issuer(), "aud": app.config.issuer(), "jti": "[redacted]",
            "amr": ["pwd"], "acr": "pwd",
        })
    );
    // A client acting for itself has no username.
    let cc = app
        .token(&[("grant_type", "client_credentials")], (&id, &secret))
        .await
        .json();
    let info = app.introspect(cc["access_token"].as_str().unwrap()).await;
    assert_eq!(info["sub"], id.as_str());
    assert!(info.get("username").is_none());
    // Refresh tokens: to the client they were issued to; to any other, inactive (SPEC §9).
    let refresh = t["refresh_token"].as_str().unwrap();
    assert_eq!(
        app.introspect(refresh).await,
        serde_json::json!({"active": false})
    );
    let info = app.introspect_as(refresh, (&id, &secret)).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "refresh_token");
    assert_eq!(info["sub"], uid.as_str());
    assert_eq!(info["client_id"], id.as_str());
    // Every active token has `aud` and `jti` (SPEC §8): this server, and the record's id.
    assert_eq!(info["aud"], app.config.issuer());
    let jti = info["jti"].as_str().unwrap();
    assert!(!jti.is_empty() && jti != refresh);
    // Personal access tokens: username falls back to the email when there is none.
    let (value, _) = pat::create(&mut app.conn(), app.clock.now_naive(), &uid, "CI", None).unwrap();
    let info = app.introspect(&value).await;
    assert_eq!(info["token_type"], "pat");
    assert_eq!(info["sub"], uid.as_str());
    assert_eq!(info["username"], "ursula");
    assert!(info.get("exp").is_none());
    // Garbage, a tampered JWT, an expired token: only {"active": false}.
    let inactive = serde_json::json!({"active": false});
    assert_eq!(app.introspect("garbage").await, inactive);
    assert_eq!(app.introspect("pcat_garbage").await, inactive);
    let mut tampered = access.to_owned();
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    assert_eq!(app.introspect(&tampered).await, inactive);
    app.clock.advance(Duration::from_secs(3601));
    assert_eq!(app.introspect(access).await, inactive);
}

#[actix_rt::test]
async fn only_confidential_clients_may_introspect_or_revoke() {
    let (app, _, id, secret) = setup();
    let t = password_tokens(&app, &id, &secret).await;
    let access = t["access_token"].as_str().unwrap();
    let (public, _) = app.client(&["--public", "--redirect-uri", "https://spa.example/cb"]);
    for path in ["/introspect", "/revoke"] {
        let r = app
            .post_form(path, &[("token", access), ("client_id", &public)], None)
            .await;
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.json()["error"], "invalid_client");
        let r = app.post_form(path, &[("token", access)], None).await;
        assert_eq!(r.status, 401, "{path}");
        let r = app.post_form(path, &[], Some((&id, &secret))).await;
        assert_eq!(
            r.json()["error"],
            "invalid_request",
            "{path}: token is required"
        );
    }
}

#[actix_rt::test]
async fn revocation_of_each_token_kind() {
    let (app, uid, id, secret) = setup();
    let t = password_tokens(&app, &id, &secret).await;
    let access = t["access_token"].as_str().unwrap();
    // Access token: only that token.
    let r = app
        .post_form("/revoke", &[("token", access)], Some((&id, &secret)))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(app.introspect(access).await["active"], false);
    assert_eq!(
        app.introspect_as(t["refresh_token"].as_str().unwrap(), (&id, &secret))
            .await["active"],
        true
    );
    // Refresh token: the grant, with its access tokens.
    let t2 = app
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ],
            (&id, &secret),
        )
        .await
        .json();
    let r = app
        .post_form(
            "/revoke",
            &[
                ("token", t2["refresh_token"].as_str().unwrap()),
                ("token_type_hint", "refresh_token"),
            ],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        app.introspect(t2["access_token"].as_str().unwrap()).await["active"],
        false
    );
    // Unknown tokens are fine.
    assert_eq!(
        app.post_form("/revoke", &[("token", "nothing")], Some((&id, &secret)))
            .await
            .status,
        200
    );
    // Another client's token is refused.
    let (other, other_secret) = app.resource_server();
    let t3 = password_tokens(&app, &id, &secret).await;
    let r = app
        .post_form(
            "/revoke",
            &[("token", t3["access_token"].as_str().unwrap())],
            Some((&other, &other_secret)),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "unauthorized_client");
    assert_eq!(
        app.introspect(t3["access_token"].as_str().unwrap()).await["active"],
        true
    );
    // A person's PAT was issued to no client: no client may revoke it (SPEC §9).
    let (value, _) = pat::create(&mut app.conn(), app.clock.now_naive(), &uid, "CI", None).unwrap();
    let r = app
        .post_form("/revoke", &[("token", &value)], Some((&id, &secret)))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "unauthorized_client");
    assert_eq!(app.introspect(&value).await["active"], true);
}

#[actix_rt::test]
async fn revocations_reach_other_nodes_within_seconds() {
    let (app, uid, id, secret) = setup();
    let node_b = app.second_node();
    let t = password_tokens(&app, &id, &secret).await;
    let access = t["access_token"].as_str().unwrap().to_owned();
    let check_b = |token: String| {
        let b = node_b.clone();
        async move {
            portcullis::app::access_token::verify_access_token(&b, &token)
                .await
                .is_ok()
        }
    };
    assert!(check_b(access.clone()).await);
    // Node A disables the user (through the CLI's database write, as another process would).
    app.cli(&["user", "disable", &uid]).unwrap();
    // Node A's own check happens at once after its poll; B within POLL_SECS.
    node_b.clock.advance(Duration::from_secs(
        portcullis::runtime::revocations::POLL_SECS as u64,
    ));
    assert!(
        !check_b(access.clone()).await,
        "node B must honour the cut-off"
    );
}

#[actix_rt::test]
async fn a_cut_off_spares_tokens_issued_after_it_in_the_same_second() {
    let (app, uid, id, secret) = setup();
    let before = password_tokens(&app, &id, &secret).await;
    let now = app.clock.now_naive();
    portcullis::core::revocation::cut_off_user(&mut app.conn(), now, &uid, 3600, "test").unwrap();
    app.state.revocations.poll().await.unwrap();
    let after = password_tokens(&app, &id, &secret).await;
    let (_, b) = jwt_parts(before["access_token"].as_str().unwrap());
    let (_, a) = jwt_parts(after["access_token"].as_str().unwrap());
    assert!(b["iat_ms"].as_i64() < a["iat_ms"].as_i64());
    assert_eq!(
        app.introspect(before["access_token"].as_str().unwrap())
            .await["active"],
        false
    );
    assert_eq!(
        app.introspect(after["access_token"].as_str().unwrap())
            .await["active"],
        true
    );
}

#[actix_rt::test]
async fn bearer_tokens_at_a_protected_route() {
    let (app, uid, id, secret) = setup();
    let t = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", "ursula"),
                ("password", "password1"),
                ("scope", "openid profile"),
            ],
            (&id, &secret),
        )
        .await
        .json();
    let access = t["access_token"].as_str().unwrap();
    let (pat_value, _) =
        pat::create(&mut app.conn(), app.clock.now_naive(), &uid, "CI", None).unwrap();
    let call = |req: TestRequest| {
        let app = &app;
        async move {
            let r = app.send(req).await;
            let challenge = r.header("www-authenticate").map(str::to_owned);
            (r.status.as_u16(), challenge, r.json())
        }
    };
    for header in [
        format!("Bearer {access}"),
        format!("bearer {access}"),
        format!("Bearer: {access}"),
        format!("Bearer {pat_value}"),
    ] {
        let (status, _, body) = call(
            TestRequest::get()
                .uri("/userinfo")
                .insert_header(("Authorization", header.clone())),
        )
        .await;
        assert_eq!(status, 200, "{header}");
        assert_eq!(body["sub"], uid.as_str());
    }
    let (status, challenge, _) = call(TestRequest::get().uri("/userinfo")).await;
    assert_eq!(status, 401);
    assert_eq!(challenge.as_deref(), Some(r#"Bearer realm="portcullis""#));
    let (status, challenge, body) = call(
        TestRequest::get()
            .uri("/userinfo")
            .insert_header(("Authorization", "Bearer nope.nope.nope")),
    )
    .await;
    assert_eq!(status, 401);
    assert!(challenge.unwrap().contains(r#"error="invalid_token""#));
    assert_eq!(body["error"], "invalid_token");
    // Revoked tokens are refused at once on the revoking node.
    app.post_form("/revoke", &[("token", access)], Some((&id, &secret)))
        .await;
    let (status, _, _) = call(
        TestRequest::get()
            .uri("/userinfo")
            .insert_header(("Authorization", format!("Bearer {access}"))),
    )
    .await;
    assert_eq!(status, 401);
}
