//! The refresh-token and authorization-code grants: rotation, reuse detection, races, PKCE,
//! single use and replay revocation.

use std::time::Duration;

use base64::Engine;
use portcullis::core::tokens::code::{self, NewCode};
use sha2::Digest;

use crate::helpers::{jwt_parts, TestApp};

async fn password_tokens(app: &TestApp, client: (&str, &str)) -> serde_json::Value {
    let r = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", "u@example.com"),
                ("password", "password1"),
                ("scope", "openid profile"),
            ],
            client,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn setup() -> (TestApp, String, String) {
    let app = TestApp::new();
    app.user("u@example.com", "password1");
    let (id, secret) = app.client(&[
        "--trusted",
        "--grant",
        "password",
        "--grant",
        "refresh_token",
        "--scope",
        "openid profile",
    ]);
    (app, id, secret)
}

#[actix_rt::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let (app, id, secret) = setup();
    let first = password_tokens(&app, (&id, &secret)).await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let r = app
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", rt1)],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let second = r.json();
    let rt2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(rt1, rt2, "rotated");
    assert_eq!(second["scope"], "openid profile");
    let (_, c1) = jwt_parts(first["access_token"].as_str().unwrap());
    let (_, c2) = jwt_parts(second["access_token"].as_str().unwrap());
    assert_eq!(c1["gid"], c2["gid"], "same grant");
    assert_eq!(
        app.introspect(second["access_token"].as_str().unwrap())
            .await["active"],
        true
    );

    // Reusing the old token: refused, and the whole family dies with the access tokens.
    let r = app
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", rt1)],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_grant");
    let r = app
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", rt2)],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_grant");
    assert_eq!(
        app.introspect(second["access_token"].as_str().unwrap())
            .await,
        serde_json::json!({"active": false})
    );
    assert_eq!(
        app.introspect(first["access_token"].as_str().unwrap())
            .await["active"],
        false
    );
    assert_eq!(app.introspect(rt2).await["active"], false);
}

#[actix_rt::test]
async fn concurrent_refreshes_give_one_success() {
    let (app, id, secret) = setup();
    let first = password_tokens(&app, (&id, &secret)).await;
    let rt = first["refresh_token"].as_str().unwrap().to_owned();
    let attempts = (0..8).map(|_| {
        let (app, id, secret, rt) = (&app, id.clone(), secret.clone(), rt.clone());
        async move {
            app.token(
                &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
                (&id, &secret),
            )
            .await
        }
    });
    let results = futures_util::future::join_all(attempts).await;
    let ok = results.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        ok,
        1,
        "exactly one refresh wins: {:?}",
        results.iter().map(|r| r.text()).collect::<Vec<_>>()
    );
    for r in results.iter().filter(|r| r.status != 200) {
        assert_eq!(r.json()["error"], "invalid_grant");
    }
}

#[actix_rt::test]
async fn refresh_scope_client_and_expiry_rules() {
    let (app, id, secret) = setup();
    let t = password_tokens(&app, (&id, &secret)).await;
    let rt = t["refresh_token"].as_str().unwrap();
    // Widening is refused; the refused request does not spend the token.
    let r = app
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("scope", "openid profile email"),
            ],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_scope");
    // Another client cannot use it.
    let (other, other_secret) =
        app.client(&["--grant", "refresh_token", "--grant", "client_credentials"]);
    let r = app
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
            (&other, &other_secret),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_grant");
    // Narrowing works.
    let r = app
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("scope", "openid"),
            ],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["scope"], "openid");
    let rt2 = r.json()["refresh_token"].as_str().unwrap().to_owned();
    // Unknown and expired tokens.
    let r = app
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", "nope")],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_grant");
    app.clock
        .advance(Duration::from_secs(app.config.tokens.refresh_token_ttl + 1));
    let r = app
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", &rt2)],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_grant");
    let r = app
        .token(&[("grant_type", "refresh_token")], (&id, &secret))
        .await;
    assert_eq!(r.json()["error"], "invalid_request");
}

#[actix_rt::test]
async fn disabling_a_user_kills_their_refresh_tokens() {
    let (app, id, secret) = setup();
    let t = password_tokens(&app, (&id, &secret)).await;
    let uid = jwt_parts(t["access_token"].as_str().unwrap()).1["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    app.cli(&["user", "disable", &uid]).unwrap();
    let r = app
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_grant");
}

fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

const REDIRECT: &str = "https://app.example/cb";

fn issue_code(app: &TestApp, client_id: &str, user_id: &str, challenge: Option<&str>) -> String {
    code::create(
        &mut app.conn(),
        app.clock.now_naive(),
        app.config.tokens.code_ttl,
        NewCode {
            client_id: client_id.into(),
            user_id: user_id.into(),
            redirect_uri: REDIRECT.into(),
            scope: "openid profile".into(),
            code_challenge: challenge.map(str::to_owned),
            code_challenge_method: challenge.map(|_| "S256".into()),
            auth_time: app.clock.now_naive(),
            ..Default::default()
        },
    )
    .unwrap()
}

#[actix_rt::test]
async fn public_clients_exchange_codes_with_pkce() {
    let app = TestApp::new();
    let uid = app.user("u@example.com", "password1");
    let (public, _) = app.client(&["--public", "--redirect-uri", REDIRECT]);
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let exchange = |code: String, verifier: Option<&'static str>| {
        let app = &app;
        let public = public.clone();
        async move {
            let mut p = vec![
                ("grant_type", "authorization_code".to_string()),
                ("code", code),
                ("redirect_uri", REDIRECT.to_string()),
                ("client_id", public),
            ];
            if let Some(v) = verifier {
                p.push(("code_verifier", v.to_string()));
            }
            let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.post_form("/token", &p, None).await
        }
    };
    let code = issue_code(&app, &public, &uid, Some(&s256(verifier)));
    let r = exchange(code, Some(verifier)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert!(body["refresh_token"].is_string());
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], uid.as_str());
    assert_eq!(claims["client_id"], public.as_str());

    let code = issue_code(&app, &public, &uid, Some(&s256(verifier)));
    let r = exchange(code, Some("wrong-verifier-wrong-verifier-wrong-verifier")).await;
    assert_eq!(r.json()["error"], "invalid_grant");
    let code = issue_code(&app, &public, &uid, Some(&s256(verifier)));
    assert_eq!(exchange(code, None).await.json()["error"], "invalid_grant");
    // A public client without a challenge cannot redeem a code.
    let code = issue_code(&app, &public, &uid, None);
    assert_eq!(
        exchange(code, Some(verifier)).await.json()["error"],
        "invalid_grant"
    );
}

#[actix_rt::test]
async fn codes_are_single_use_and_a_replay_revokes_what_they_issued() {
    let app = TestApp::new();
    let uid = app.user("u@example.com", "password1");
    let (id, secret) = app.client(&["--redirect-uri", REDIRECT]);
    let code = issue_code(&app, &id, &uid, None);
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let r = app.token(&params, (&id, &secret)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let first = r.json();
    let r = app.token(&params, (&id, &secret)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_grant");
    assert_eq!(
        app.introspect(first["access_token"].as_str().unwrap())
            .await["active"],
        false
    );
    let r = app
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", first["refresh_token"].as_str().unwrap()),
            ],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_grant");
}

#[actix_rt::test]
async fn code_exchange_checks() {
    let app = TestApp::new();
    let uid = app.user("u@example.com", "password1");
    let (id, secret) = app.client(&[
        "--redirect-uri",
        REDIRECT,
        "--redirect-uri",
        "https://app.example/other",
    ]);
    let (other, other_secret) = app.client(&["--redirect-uri", REDIRECT]);
    let code = issue_code(&app, &id, &uid, None);
    // Another redirect URI, even a registered one.
    let r = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://app.example/other"),
            ],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_grant");
    // Another client.
    let code = issue_code(&app, &id, &uid, None);
    let r = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
            (&other, &other_secret),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_grant");
    // Missing parameters.
    let r = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("redirect_uri", REDIRECT),
            ],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_request");
    let code = issue_code(&app, &id, &uid, None);
    let r = app
        .token(
            &[("grant_type", "authorization_code"), ("code", &code)],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_request");
    // Expired after 60 s.
    let code = issue_code(&app, &id, &uid, None);
    app.clock.advance(Duration::from_secs(61));
    let r = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_grant");
    // A verifier without a challenge.
    let code = issue_code(&app, &id, &uid, None);
    let r = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", "x".repeat(43).as_str()),
            ],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_grant");
}
