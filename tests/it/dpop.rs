//! Issue 19, DPoP (RFC 9449): proofs at the token endpoint bind tokens to a key (`cnf.jkt`),
//! a public client's refresh token too; this server's own protected routes take a bound token
//! only as `Authorization: DPoP` with a proof for that request; and each attack on a proof
//! (replayed, for another URL or method, stale, by another key) is refused. The interop run
//! with Node's openid-client is in `tests/env/`.

use actix_web::test::TestRequest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jws::{JwsHeader, ES256};
use josekit::jwt::{self, JwtPayload};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::helpers::*;

/// A client's DPoP key.
struct DpopKey {
    private: josekit::jwk::Jwk,
    public: Map<String, Value>,
}

impl DpopKey {
    fn new() -> DpopKey {
        let pair = ES256.generate_key_pair().unwrap();
        DpopKey {
            private: pair.to_jwk_private_key(),
            public: pair.to_jwk_public_key().as_ref().clone(),
        }
    }

    /// The RFC 7638 thumbprint, computed here independently of the server.
    fn jkt(&self) -> String {
        let p = &self.public;
        let canonical = format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            p["crv"].as_str().unwrap(),
            p["x"].as_str().unwrap(),
            p["y"].as_str().unwrap()
        );
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    fn sign(&self, claims: Value) -> String {
        let mut header = JwsHeader::new();
        header.set_token_type("dpop+jwt");
        header
            .set_claim("jwk", Some(Value::Object(self.public.clone())))
            .unwrap();
        let payload = JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
        let signer = ES256.signer_from_jwk(&self.private).unwrap();
        jwt::encode_with_signer(&payload, &header, &signer).unwrap()
    }

    /// A fresh proof for `method` and `path` on the app (with the token's hash when given).
    fn proof(&self, app: &TestApp, method: &str, path: &str, token: Option<&str>) -> String {
        let mut claims = json!({
            "jti": uuid::Uuid::new_v4().to_string(),
            "htm": method,
            "htu": app.config.url(path),
            "iat": app.clock.now().timestamp(),
        });
        if let Some(t) = token {
            claims["ath"] = URL_SAFE_NO_PAD.encode(Sha256::digest(t.as_bytes())).into();
        }
        self.sign(claims)
    }
}

async fn token_with(
    app: &TestApp,
    params: &[(&str, &str)],
    basic: Option<(&str, &str)>,
    proof: Option<&str>,
) -> Response {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let mut req = TestRequest::post()
        .uri("/token")
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(body);
    if let Some((id, secret)) = basic {
        req = req.insert_header(("Authorization", basic_header(id, secret)));
    }
    if let Some(p) = proof {
        req = req.insert_header(("DPoP", p));
    }
    app.send(req).await
}

async fn get_with(app: &TestApp, path: &str, authorization: &str, proof: Option<&str>) -> Response {
    let mut req = TestRequest::get()
        .uri(path)
        .insert_header(("Authorization", authorization));
    if let Some(p) = proof {
        req = req.insert_header(("DPoP", p));
    }
    app.send(req).await
}

/// A person's DPoP-bound token (openid and account) from a trusted client's password grant.
async fn bound_user_token(app: &TestApp, key: &DpopKey) -> String {
    app.user("dee@example.com", "correct horse battery");
    let (id, secret) = app.password_client("openid account");
    let proof = key.proof(app, "POST", "/token", None);
    let r = token_with(
        app,
        &[
            ("grant_type", "password"),
            ("username", "dee@example.com"),
            ("password", "correct horse battery"),
            ("scope", "openid account"),
        ],
        Some((&id, &secret)),
        Some(&proof),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["token_type"], "DPoP");
    r.json()["access_token"].as_str().unwrap().to_owned()
}

fn error_of(r: &Response) -> String {
    r.json()["error"].as_str().unwrap_or_default().to_owned()
}

#[actix_web::test]
async fn a_proof_binds_the_access_token_to_its_key() {
    let app = TestApp::new();
    let (id, secret) = app.client(&["--grant", "client_credentials"]);
    let key = DpopKey::new();
    let proof = key.proof(&app, "POST", "/token", None);
    let r = token_with(
        &app,
        &[("grant_type", "client_credentials")],
        Some((&id, &secret)),
        Some(&proof),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["token_type"], "DPoP");
    let token = r.json()["access_token"].as_str().unwrap().to_owned();
    let (_, claims) = jwt_parts(&token);
    assert_eq!(claims["cnf"]["jkt"], key.jkt());
    let seen = app.introspect(&token).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["token_type"], "DPoP");
    assert_eq!(seen["cnf"]["jkt"], key.jkt());
    // Without a proof, the same client gets a bearer token with no cnf.
    let plain = app.client_token(&id, &secret).await;
    assert!(jwt_parts(&plain).1.get("cnf").is_none());
    assert_eq!(app.introspect(&plain).await["token_type"], "Bearer");
}

#[actix_web::test]
async fn a_bound_token_is_refused_as_a_bearer_token_and_needs_a_proof_for_each_request() {
    let app = TestApp::new();
    let key = DpopKey::new();
    let token = bound_user_token(&app, &key).await;
    let dpop = format!("DPoP {token}");
    for path in ["/userinfo", "/users/me"] {
        // As a bearer token: refused, at userinfo and at an account route.
        let r = get_with(&app, path, &format!("Bearer {token}"), None).await;
        assert_eq!(r.status, 401, "{path}: {}", r.text());
        // As DPoP without a proof: refused.
        let r = get_with(&app, path, &dpop, None).await;
        assert_eq!(r.status, 401, "{path}: {}", r.text());
        // With a proof for this request: served.
        let proof = key.proof(&app, "GET", path, Some(&token));
        let r = get_with(&app, path, &dpop, Some(&proof)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        // The same proof again: a replay.
        let r = get_with(&app, path, &dpop, Some(&proof)).await;
        assert_eq!(r.status, 401, "{path}: {}", r.text());
        assert!(r.text().contains("already used"), "{}", r.text());
    }
    let r = get_with(
        &app,
        "/userinfo",
        &dpop,
        Some(&key.proof(&app, "GET", "/userinfo", Some(&token))),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["email"], "dee@example.com");
    // The DPoP challenge names the error.
    let r = get_with(&app, "/userinfo", &dpop, None).await;
    let challenge = r.header("WWW-Authenticate").unwrap_or_default().to_owned();
    assert!(
        challenge.starts_with("DPoP") && challenge.contains("invalid_dpop_proof"),
        "{challenge}"
    );
}

#[actix_web::test]
async fn proofs_for_another_request_time_key_or_token_are_refused_at_a_resource() {
    let app = TestApp::new();
    let key = DpopKey::new();
    let token = bound_user_token(&app, &key).await;
    let dpop = format!("DPoP {token}");
    let now = app.clock.now().timestamp();
    let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
    let attacks = [
        (
            "another method",
            key.proof(&app, "POST", "/userinfo", Some(&token)),
        ),
        (
            "another URL",
            key.proof(&app, "GET", "/users/me", Some(&token)),
        ),
        (
            "another host",
            key.sign(
                json!({"jti": "h", "htm": "GET", "htu": "https://evil.example/userinfo",
                "iat": now, "ath": ath}),
            ),
        ),
        (
            "a stale iat",
            key.sign(
                json!({"jti": "s", "htm": "GET", "htu": app.config.url("/userinfo"),
                "iat": now - 600, "ath": ath}),
            ),
        ),
        (
            "an iat in the future",
            key.sign(
                json!({"jti": "f", "htm": "GET", "htu": app.config.url("/userinfo"),
                "iat": now + 600, "ath": ath}),
            ),
        ),
        (
            "another key",
            DpopKey::new().proof(&app, "GET", "/userinfo", Some(&token)),
        ),
        (
            "another token's hash",
            key.proof(&app, "GET", "/userinfo", Some("another token")),
        ),
        ("no token hash", key.proof(&app, "GET", "/userinfo", None)),
    ];
    for (what, proof) in attacks {
        let r = get_with(&app, "/userinfo", &dpop, Some(&proof)).await;
        assert_eq!(r.status, 401, "{what}: {}", r.text());
        assert_eq!(error_of(&r), "invalid_dpop_proof", "{what}: {}", r.text());
    }
    // An unbound token sent as DPoP is refused too.
    let (id, secret) = app.password_client("openid");
    let r = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", "dee@example.com"),
                ("password", "correct horse battery"),
                ("scope", "openid"),
            ],
            (&id, &secret),
        )
        .await;
    let plain = r.json()["access_token"].as_str().unwrap().to_owned();
    let proof = key.proof(&app, "GET", "/userinfo", Some(&plain));
    let r = get_with(&app, "/userinfo", &format!("DPoP {plain}"), Some(&proof)).await;
    assert_eq!(r.status, 401, "{}", r.text());
}

#[actix_web::test]
async fn a_proof_replayed_at_the_token_endpoint_is_refused_on_every_node() {
    let app = TestApp::new();
    let (id, secret) = app.client(&["--grant", "client_credentials"]);
    let key = DpopKey::new();
    let proof = key.proof(&app, "POST", "/token", None);
    let params = [("grant_type", "client_credentials")];
    let r = token_with(&app, &params, Some((&id, &secret)), Some(&proof)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = token_with(&app, &params, Some((&id, &secret)), Some(&proof)).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(error_of(&r), "invalid_dpop_proof");
    // A second node shares the record.
    let node = app.second_node();
    let body = "grant_type=client_credentials";
    let req = TestRequest::post()
        .uri("/token")
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .insert_header(("Authorization", basic_header(&id, &secret)))
        .insert_header(("DPoP", proof.as_str()))
        .set_payload(body);
    let r = send_to(&node, req).await;
    assert_eq!(r.status, 400, "{}", r.text());
    // Proofs for another URL, method or time, unsigned ones, and two at once.
    let now = app.clock.now().timestamp();
    let token_url = app.config.url("/token");
    let unsigned = {
        let payload = JwtPayload::from_map(
            json!({"jti": "u", "htm": "POST", "htu": token_url, "iat": now})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap();
        let mut header = JwsHeader::new();
        header.set_token_type("dpop+jwt");
        header
            .set_claim("jwk", Some(Value::Object(key.public.clone())))
            .unwrap();
        jwt::encode_unsecured(&payload, &header).unwrap()
    };
    for (what, bad) in [
        ("another URL", key.proof(&app, "POST", "/introspect", None)),
        ("another method", key.proof(&app, "GET", "/token", None)),
        (
            "a stale iat",
            key.sign(json!({"jti": "old", "htm": "POST", "htu": token_url, "iat": now - 3600})),
        ),
        ("unsigned", unsigned),
        ("not a JWT", "garbage".to_owned()),
    ] {
        let r = token_with(&app, &params, Some((&id, &secret)), Some(&bad)).await;
        assert_eq!(r.status, 400, "{what}: {}", r.text());
        assert_eq!(error_of(&r), "invalid_dpop_proof", "{what}");
    }
    let req = TestRequest::post()
        .uri("/token")
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .insert_header(("Authorization", basic_header(&id, &secret)))
        .append_header(("DPoP", key.proof(&app, "POST", "/token", None)))
        .append_header(("DPoP", key.proof(&app, "POST", "/token", None)))
        .set_payload(body);
    let r = app.send(req).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(error_of(&r), "invalid_dpop_proof");
}

#[actix_web::test]
async fn a_client_that_requires_dpop_gets_no_bearer_tokens() {
    let app = TestApp::new();
    let (id, secret) = app.client(&["--grant", "client_credentials", "--require-dpop"]);
    let r = app
        .token(&[("grant_type", "client_credentials")], (&id, &secret))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(error_of(&r), "invalid_dpop_proof");
    let key = DpopKey::new();
    let proof = key.proof(&app, "POST", "/token", None);
    let r = token_with(
        &app,
        &[("grant_type", "client_credentials")],
        Some((&id, &secret)),
        Some(&proof),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["token_type"], "DPoP");
    let row = portcullis::core::clients::get(&mut app.conn(), &id).unwrap();
    assert!(row.meta().dpop_bound_access_tokens);
}

#[actix_web::test]
async fn a_public_clients_refresh_token_is_bound_to_its_key() {
    let app = TestApp::new();
    app.user("pub@example.com", "correct horse battery");
    let (id, _) = app.client(&[
        "--public",
        "--trusted",
        "--grant",
        "password",
        "--grant",
        "refresh_token",
        "--scope",
        "openid",
    ]);
    let key = DpopKey::new();
    let r = token_with(
        &app,
        &[
            ("grant_type", "password"),
            ("client_id", &id),
            ("username", "pub@example.com"),
            ("password", "correct horse battery"),
            ("scope", "openid"),
        ],
        None,
        Some(&key.proof(&app, "POST", "/token", None)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let refresh = r.json()["refresh_token"].as_str().unwrap().to_owned();
    let params = [
        ("grant_type", "refresh_token"),
        ("client_id", id.as_str()),
        ("refresh_token", refresh.as_str()),
    ];
    // Without a proof, or with another key's: refused, and the token stays good.
    let r = token_with(&app, &params, None, None).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(error_of(&r), "invalid_dpop_proof");
    let thief = DpopKey::new();
    let r = token_with(
        &app,
        &params,
        None,
        Some(&thief.proof(&app, "POST", "/token", None)),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(error_of(&r), "invalid_grant");
    // With a proof by its key: rotated, and the successor is bound to the same key.
    let r = token_with(
        &app,
        &params,
        None,
        Some(&key.proof(&app, "POST", "/token", None)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["token_type"], "DPoP");
    let (_, claims) = jwt_parts(r.json()["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["jkt"], key.jkt());
    let next = r.json()["refresh_token"].as_str().unwrap().to_owned();
    let r = token_with(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &id),
            ("refresh_token", &next),
        ],
        None,
        Some(&thief.proof(&app, "POST", "/token", None)),
    )
    .await;
    assert_eq!(error_of(&r), "invalid_grant", "{}", r.text());
}

#[actix_web::test]
async fn the_server_nonce_when_it_asks_for_one() {
    let app = TestApp::builder()
        .config(|c| c.security.dpop_nonce = true)
        .build();
    let (id, secret) = app.client(&["--grant", "client_credentials"]);
    let key = DpopKey::new();
    let params = [("grant_type", "client_credentials")];
    let r = token_with(
        &app,
        &params,
        Some((&id, &secret)),
        Some(&key.proof(&app, "POST", "/token", None)),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(error_of(&r), "use_dpop_nonce");
    let nonce = r.header("DPoP-Nonce").expect("a nonce").to_owned();
    let with_nonce = |nonce: &str| {
        key.sign(
            json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": "POST",
            "htu": app.config.url("/token"), "iat": app.clock.now().timestamp(), "nonce": nonce}),
        )
    };
    let r = token_with(
        &app,
        &params,
        Some((&id, &secret)),
        Some(&with_nonce(&nonce)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("DPoP-Nonce").is_some());
    // A nonce of its own making, or one for a long-gone window, is not the server's.
    for made_up in ["1.AAAAAAAAAAAAAAAAAAAAAAAA", "0.x", "nonce"] {
        let r = token_with(
            &app,
            &params,
            Some((&id, &secret)),
            Some(&with_nonce(made_up)),
        )
        .await;
        assert_eq!(error_of(&r), "use_dpop_nonce", "{made_up}");
    }
    // A second node hands out and accepts the same nonces.
    let node = app.second_node();
    let req = TestRequest::post()
        .uri("/token")
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .insert_header(("Authorization", basic_header(&id, &secret)))
        .insert_header(("DPoP", with_nonce(&nonce)))
        .set_payload("grant_type=client_credentials");
    let r = send_to(&node, req).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[actix_web::test]
async fn discovery_and_registration_know_dpop() {
    let app = TestApp::new();
    let meta = app.get("/.well-known/openid-configuration").await.json();
    let algs = meta["dpop_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algs.iter().any(|a| a == "ES256"));
    assert!(!algs.iter().any(|a| a.as_str().unwrap().starts_with("HS")));
}

#[actix_web::test]
async fn the_mongoose_validate_token_rpc_does_not_pass_a_bound_token() {
    let app = TestApp::new();
    let key = DpopKey::new();
    let token = bound_user_token(&app, &key).await;
    let frame = json!({"v": 2, "src": "backend", "id": 1, "method": "/v1/Account.ValidateToken",
        "args": {"token": token}});
    let r = app
        .send(
            TestRequest::post()
                .uri("/v1/Account.ValidateToken")
                .insert_header((
                    "Authorization",
                    plain_basic("dee@example.com", "correct horse battery"),
                ))
                .set_json(frame),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r.text().contains("not valid"), "{}", r.text());
}

#[actix_web::test]
async fn a_proof_with_control_characters_is_a_401_not_a_500() {
    let app = TestApp::new();
    let key = DpopKey::new();
    let token = bound_user_token(&app, &key).await;
    // A header whose alg carries a newline and a backslash, echoed in the error.
    let header = URL_SAFE_NO_PAD.encode(
        json!({"typ": "dpop+jwt", "alg": "ES256\n\\\u{1}", "jwk": Value::Object(key.public.clone())})
            .to_string(),
    );
    let claims = URL_SAFE_NO_PAD.encode(
        json!({"jti": "x", "htm": "GET", "htu": app.config.url("/userinfo"),
            "iat": app.clock.now().timestamp(),
            "ath": URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))})
        .to_string(),
    );
    let proof = format!("{header}.{claims}.AAAA");
    let r = get_with(&app, "/userinfo", &format!("DPoP {token}"), Some(&proof)).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(error_of(&r), "invalid_dpop_proof");
}

#[actix_web::test]
async fn a_stolen_used_refresh_token_without_the_key_does_not_revoke_the_grant() {
    let app = TestApp::new();
    app.user("pub@example.com", "correct horse battery");
    let (id, _) = app.client(&[
        "--public",
        "--trusted",
        "--grant",
        "password",
        "--grant",
        "refresh_token",
        "--scope",
        "openid",
    ]);
    let key = DpopKey::new();
    let r = token_with(
        &app,
        &[
            ("grant_type", "password"),
            ("client_id", &id),
            ("username", "pub@example.com"),
            ("password", "correct horse battery"),
            ("scope", "openid"),
        ],
        None,
        Some(&key.proof(&app, "POST", "/token", None)),
    )
    .await;
    let first = r.json()["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |rt: String, proof: Option<String>| {
        let app = &app;
        let id = id.clone();
        async move {
            token_with(
                app,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", &id),
                    ("refresh_token", &rt),
                ],
                None,
                proof.as_deref(),
            )
            .await
        }
    };
    let r = refresh(first.clone(), Some(key.proof(&app, "POST", "/token", None))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let second = r.json()["refresh_token"].as_str().unwrap().to_owned();
    // The thief replays the used token with a key of their own: refused, and nothing revoked.
    let thief = DpopKey::new();
    let r = refresh(first, Some(thief.proof(&app, "POST", "/token", None))).await;
    assert_eq!(error_of(&r), "invalid_grant", "{}", r.text());
    let r = refresh(second, Some(key.proof(&app, "POST", "/token", None))).await;
    assert_eq!(r.status, 200, "the grant survived: {}", r.text());
}
