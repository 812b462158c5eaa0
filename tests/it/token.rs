//! `POST /token`: client credentials, client authentication, request errors and the password
//! grant with its throttling.

use std::time::Duration;

use actix_web::test::TestRequest;
use diesel::prelude::*;
use josekit::jwk::JwkSet;
use josekit::jws::{EdDSA, ES256, RS256};
use serde_json::json;

use crate::helpers::{basic_header, jwt_parts, TestApp};

/// Verifies a JWT against the server's JWKS, as a resource server would.
async fn verify_with_jwks(app: &TestApp, token: &str) -> serde_json::Value {
    let jwks = app.get("/jwks").await.body;
    let set = JwkSet::from_bytes(&jwks).unwrap();
    let (header, _) = jwt_parts(token);
    let kid = header["kid"].as_str().unwrap();
    let jwk = set.get(kid)[0];
    let verifier: Box<dyn josekit::jws::JwsVerifier> = match header["alg"].as_str().unwrap() {
        "RS256" => Box::new(RS256.verifier_from_jwk(jwk).unwrap()),
        "ES256" => Box::new(ES256.verifier_from_jwk(jwk).unwrap()),
        "EdDSA" => Box::new(EdDSA.verifier_from_jwk(jwk).unwrap()),
        other => panic!("unexpected alg {other}"),
    };
    let (payload, _) = josekit::jwt::decode_with_verifier(token, &*verifier).unwrap();
    serde_json::Value::Object(payload.into())
}

fn row_counts(app: &TestApp) -> Vec<i64> {
    use portcullis::db::schema::*;
    let mut c = app.conn();
    vec![
        grants::table.count().get_result(&mut c).unwrap(),
        refresh_tokens::table.count().get_result(&mut c).unwrap(),
        events::table.count().get_result(&mut c).unwrap(),
        revocations::table.count().get_result(&mut c).unwrap(),
        throttle_counters::table.count().get_result(&mut c).unwrap(),
        sessions::table.count().get_result(&mut c).unwrap(),
    ]
}

#[actix_rt::test]
async fn client_credentials_issue_an_rfc9068_jwt_and_write_nothing() {
    let app = TestApp::new();
    let (id, secret) = app.client(&["--scope", "read write", "--grant", "client_credentials"]);
    let before = row_counts(&app);
    let r = app
        .token(&[("grant_type", "client_credentials")], (&id, &secret))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "read write");
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh token for client credentials"
    );
    let token = body["access_token"].as_str().unwrap();
    let (header, _) = jwt_parts(token);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    let claims = verify_with_jwks(&app, token).await;
    assert_eq!(claims["iss"], app.config.issuer());
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["aud"], app.config.issuer());
    assert_eq!(claims["scope"], "read write");
    assert!(claims["jti"].as_str().unwrap().len() >= 16);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert!(claims["iat"].is_i64(), "integer iat");
    assert_eq!(
        row_counts(&app),
        before,
        "issuing an access token wrote to the database"
    );
}

#[actix_rt::test]
async fn scopes_and_resources() {
    let app = TestApp::new();
    let (id, secret) = app.client(&[
        "--scope",
        "read write",
        "--grant",
        "client_credentials",
        "--resource",
        "https://api.example",
    ]);
    let r = app
        .token(
            &[("grant_type", "client_credentials"), ("scope", "read")],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.json()["scope"], "read");
    let r = app
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("scope", "read admin"),
            ],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_scope");
    let r = app
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://api.example"),
            ],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.status, 200);
    let (_, claims) = jwt_parts(r.json()["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], "https://api.example");
    let r = app
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://other.example"),
            ],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_target");
}

#[actix_rt::test]
async fn keys_owned_by_a_user_act_for_the_owner() {
    let app = TestApp::new();
    let owner = app.user("owner@example.com", "password1");
    let (id, secret) = app.client(&[
        "--kind",
        "client_key",
        "--owner",
        &owner,
        "--grant",
        "client_credentials",
    ]);
    let r = app
        .token(&[("grant_type", "client_credentials")], (&id, &secret))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let (_, claims) = jwt_parts(r.json()["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], owner.as_str());
    assert_eq!(claims["client_id"], id.as_str());
    // A disabled owner's keys get nothing.
    app.cli(&["user", "disable", &owner]).unwrap();
    let r = app
        .token(&[("grant_type", "client_credentials")], (&id, &secret))
        .await;
    assert_eq!(r.json()["error"], "invalid_grant");
}

#[actix_rt::test]
async fn client_authentication_methods() {
    let app = TestApp::new();
    // A secret with characters that must be URL-encoded inside Basic (RFC 6749 §2.3.1).
    let (id, secret) = app.client(&["--secret", "a:b+c%d é", "--grant", "client_credentials"]);
    let r = app
        .token(&[("grant_type", "client_credentials")], (&id, &secret))
        .await;
    assert_eq!(r.status, 200, "URL-decoded Basic: {}", r.text());

    let (post_id, post_secret) = app.client(&[
        "--auth-method",
        "client_secret_post",
        "--grant",
        "client_credentials",
    ]);
    let r = app
        .post_form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &post_id),
                ("client_secret", &post_secret),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let invalid = |r: &crate::helpers::Response| {
        assert_eq!(r.status, 401, "{}", r.text());
        assert_eq!(r.json()["error"], "invalid_client");
        assert!(r.header("www-authenticate").unwrap().starts_with("Basic"));
    };
    // The registered method only.
    invalid(
        &app.token(
            &[("grant_type", "client_credentials")],
            (&post_id, &post_secret),
        )
        .await,
    );
    invalid(
        &app.post_form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
            None,
        )
        .await,
    );
    // Wrong secret, unknown client, no credentials, both methods at once.
    invalid(
        &app.token(&[("grant_type", "client_credentials")], (&id, "wrong"))
            .await,
    );
    invalid(
        &app.token(&[("grant_type", "client_credentials")], ("nobody", "x"))
            .await,
    );
    invalid(
        &app.post_form("/token", &[("grant_type", "client_credentials")], None)
            .await,
    );
    invalid(
        &app.post_form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_secret", &secret),
            ],
            Some((&id, &secret)),
        )
        .await,
    );
    // A public client presenting a secret.
    let (public, _) = app.client(&["--public", "--redirect-uri", "https://spa.example/cb"]);
    invalid(
        &app.token(
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
            (&public, "secret"),
        )
        .await,
    );
    // Malformed Basic.
    let r = app
        .send(
            TestRequest::post()
                .uri("/token")
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .insert_header(("Authorization", "Basic !!!not-base64"))
                .set_payload("grant_type=client_credentials"),
        )
        .await;
    invalid(&r);
    // An expired client.
    let (short, short_secret) =
        app.client(&["--grant", "client_credentials", "--expires-in", "60"]);
    app.clock.advance(Duration::from_secs(61));
    invalid(
        &app.token(
            &[("grant_type", "client_credentials")],
            (&short, &short_secret),
        )
        .await,
    );
}

#[actix_rt::test]
async fn grants_the_client_may_not_use() {
    let app = TestApp::new();
    let (id, secret) = app.client(&[
        "--redirect-uri",
        "https://app.example/cb",
        "--grant",
        "authorization_code",
    ]);
    let r = app
        .token(&[("grant_type", "client_credentials")], (&id, &secret))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "unauthorized_client");
    let r = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", "a"),
                ("password", "password1"),
            ],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.json()["error"], "unauthorized_client");
}

#[actix_rt::test]
async fn malformed_requests_get_clear_4xx() {
    let app = TestApp::new();
    let (id, secret) = app.client(&["--grant", "client_credentials"]);
    let r = app.token(&[], (&id, &secret)).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["error"].clone()),
        (400, json!("invalid_request"))
    );
    let r = app
        .token(
            &[(
                "grant_type",
                "urn:ietf:params:oauth:grant-type:saml2-bearer",
            )],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.json()["error"], "unsupported_grant_type");
    // A supported grant the client was not given.
    let r = app
        .token(
            &[("grant_type", "urn:ietf:params:oauth:grant-type:device_code")],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.json()["error"], "unauthorized_client");
    // Repeated parameters (RFC 6749 §3.2).
    let r = app
        .send(
            TestRequest::post()
                .uri("/token")
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .insert_header(("Authorization", basic_header(&id, &secret)))
                .set_payload("grant_type=client_credentials&scope=a&scope=b"),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("repeated"));
    // Wrong content type.
    let r = app
        .send(
            TestRequest::post()
                .uri("/token")
                .insert_header(("Authorization", basic_header(&id, &secret)))
                .set_json(json!({"grant_type": "client_credentials"})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("x-www-form-urlencoded"));
    // Oversize body.
    let big = format!("grant_type=client_credentials&x={}", "a".repeat(70 * 1024));
    let r = app
        .send(
            TestRequest::post()
                .uri("/token")
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .insert_header(("Authorization", basic_header(&id, &secret)))
                .set_payload(big),
        )
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"], "invalid_request");
    // Wrong method.
    assert_eq!(app.get("/token").await.status, 405);
    // Invalid UTF-8 and garbage still answer 4xx.
    let r = app
        .send(
            TestRequest::post()
                .uri("/token")
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .set_payload(vec![0xff, 0xfe, b'=', 0x00]),
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.status);
}

#[actix_rt::test]
async fn configured_algorithms_sign_tokens() {
    for (alg, setting) in [
        ("ES256", portcullis::config::SigningAlg::ES256),
        ("EdDSA", portcullis::config::SigningAlg::EdDSA),
    ] {
        let app = TestApp::builder()
            .config(move |c| c.keys.algorithm = setting)
            .build();
        let (id, secret) = app.client(&["--grant", "client_credentials"]);
        let r = app
            .token(&[("grant_type", "client_credentials")], (&id, &secret))
            .await;
        let token = r.json()["access_token"].as_str().unwrap().to_owned();
        assert_eq!(jwt_parts(&token).0["alg"], alg);
        verify_with_jwks(&app, &token).await;
    }
}

#[actix_rt::test]
async fn a_changed_algorithm_takes_over_after_the_publish_ahead_period() {
    let app = TestApp::new();
    let mut es = app.config.clone();
    es.keys.algorithm = portcullis::config::SigningAlg::ES256;
    let node = portcullis::server::build_state(es, app.clock.clone()).unwrap();
    let set = node.keys.current().await;
    assert_eq!(
        set.kids().len(),
        2,
        "the ES256 key is published at once, the RS256 one stays"
    );
    let now = app.clock.now_naive();
    assert_eq!(set.signing_key(now).unwrap().alg.as_str(), "RS256");
    let later = now + chrono::Duration::seconds(app.config.keys.publish_ahead as i64 + 1);
    assert_eq!(set.signing_key(later).unwrap().alg.as_str(), "ES256");
}

#[actix_rt::test]
async fn password_grant_for_trusted_clients() {
    let app = TestApp::new();
    let uid = app.user_with(
        portcullis::core::users::NewUser {
            email: "Ada@Example.com".into(),
            username: Some("ada".into()),
            ..Default::default()
        },
        "correct horse",
    );
    let (id, secret) = app.password_client("openid profile email");
    for login in ["ada", "ADA", "ada@example.com", uid.as_str()] {
        let r = app
            .token(
                &[
                    ("grant_type", "password"),
                    ("username", login),
                    ("password", "correct horse"),
                    ("scope", "openid profile"),
                ],
                (&id, &secret),
            )
            .await;
        assert_eq!(r.status, 200, "{login}: {}", r.text());
        let body = r.json();
        assert!(body["refresh_token"].is_string());
        assert_eq!(body["scope"], "openid profile");
        let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
        assert_eq!(claims["sub"], uid.as_str());
        assert!(claims["auth_time"].is_i64());
        assert!(claims["gid"].is_string());
    }
    // Wrong password and unknown user: one answer.
    let wrong = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", "ada"),
                ("password", "wrong horse"),
            ],
            (&id, &secret),
        )
        .await;
    let unknown = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", "nobody"),
                ("password", "wrong horse"),
            ],
            (&id, &secret),
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.json(), unknown.json());
    assert_eq!(wrong.json()["error"], "invalid_grant");
    let missing = app
        .token(
            &[("grant_type", "password"), ("username", "ada")],
            (&id, &secret),
        )
        .await;
    assert_eq!(missing.json()["error"], "invalid_request");
    // Untrusted clients may not use the grant even when they list it.
    let (other, other_secret) = app.client(&["--grant", "client_credentials"]);
    let r = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", "ada"),
                ("password", "correct horse"),
            ],
            (&other, &other_secret),
        )
        .await;
    assert_eq!(r.json()["error"], "unauthorized_client");
}

#[actix_rt::test]
async fn password_grant_refuses_disabled_and_unverified_users() {
    let app = TestApp::builder()
        .config(|c| c.require_verified_email = true)
        .build();
    let uid = app.user("u@example.com", "password1");
    let (id, secret) = app.password_client("openid profile email");
    let ask = || {
        app.token(
            &[
                ("grant_type", "password"),
                ("username", "u@example.com"),
                ("password", "password1"),
            ],
            (&id, &secret),
        )
    };
    let r = ask().await;
    assert_eq!(r.json()["error"], "invalid_grant");
    assert!(r.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("not verified"));
    diesel::update(portcullis::db::schema::users::table.find(&uid))
        .set(portcullis::db::schema::users::email_verified_at.eq(Some(app.clock.now_naive())))
        .execute(&mut app.conn())
        .unwrap();
    assert_eq!(ask().await.status, 200);
    app.cli(&["user", "disable", &uid]).unwrap();
    assert!(ask().await.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("disabled"));
}

#[actix_rt::test]
async fn password_checks_are_throttled_per_account_and_ip() {
    let app = TestApp::new();
    app.user("a@example.com", "password1");
    app.user("b@example.com", "password1");
    let (id, secret) = app.password_client("openid profile email");
    let attempt = |user: &'static str, pw: &'static str| {
        let (id, secret) = (id.clone(), secret.clone());
        let app = &app;
        async move {
            app.token(
                &[
                    ("grant_type", "password"),
                    ("username", user),
                    ("password", pw),
                ],
                (&id, &secret),
            )
            .await
        }
    };
    for _ in 0..5 {
        assert_eq!(attempt("a@example.com", "wrong-pass").await.status, 400);
    }
    // Locked: the right password gets the same 429 as a wrong one.
    let right = attempt("a@example.com", "password1").await;
    let wrong = attempt("a@example.com", "wrong-pass").await;
    assert_eq!(right.status, 429);
    assert_eq!(right.json(), wrong.json());
    assert_eq!(right.json()["error"], "temporarily_unavailable");
    assert!(right.header("retry-after").unwrap().parse::<u64>().unwrap() > 0);
    // Unknown accounts lock the same way (no enumeration through throttling).
    for _ in 0..5 {
        attempt("ghost@example.com", "wrong-pass").await;
    }
    assert_eq!(attempt("ghost@example.com", "wrong-pass").await.status, 429);
    // Another account is unaffected; the window passes.
    assert_eq!(attempt("b@example.com", "password1").await.status, 200);
    app.clock.advance(Duration::from_secs(901));
    assert_eq!(attempt("a@example.com", "password1").await.status, 200);
}

#[actix_rt::test]
async fn failed_checks_are_throttled_per_ip() {
    let app = TestApp::builder()
        .config(|c| c.throttle.ip_failures = 3)
        .build();
    app.user("a@example.com", "password1");
    let (id, secret) = app.password_client("openid profile email");
    for user in ["x@example.com", "y@example.com", "z@example.com"] {
        app.token(
            &[
                ("grant_type", "password"),
                ("username", user),
                ("password", "wrong-pass"),
            ],
            (&id, &secret),
        )
        .await;
    }
    let r = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", "a@example.com"),
                ("password", "password1"),
            ],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.status, 429);
    // Client-secret checks from that IP are refused too.
    let r = app
        .token(&[("grant_type", "client_credentials")], (&id, &secret))
        .await;
    assert_eq!(r.status, 429);
}

#[actix_rt::test]
async fn passwords_are_rehashed_when_parameters_change() {
    let app = TestApp::new();
    let uid = app.user("a@example.com", "password1");
    let mut stronger = app.config.clone();
    stronger.argon2.memory_kib = 128;
    let node = portcullis::server::build_state(stronger, app.clock.clone()).unwrap();
    portcullis::app::passwords::check(&node, "a@example.com", "password1", "127.0.0.1", "test")
        .await
        .unwrap();
    let hash: Option<String> = portcullis::db::schema::users::table
        .find(&uid)
        .select(portcullis::db::schema::users::password_hash)
        .first(&mut app.conn())
        .unwrap();
    assert!(
        hash.unwrap().contains("m=128"),
        "rehashed with the new parameters"
    );
}
