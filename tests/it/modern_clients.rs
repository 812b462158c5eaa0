//! Issue 18: dynamic registration (RFC 7591/7592), client JWTs (RFC 7523), pushed
//! authorization requests (RFC 9126) and signed request objects (RFC 9101), each with the
//! attacks it must stop. The interop run with Node's openid-client is in `tests/env/`.

use actix_web::test::TestRequest;
use josekit::jws::{JwsHeader, ES256, HS256};
use josekit::jwt::{self, JwtPayload};
use serde_json::{json, Value};

use crate::browser_helpers::{enc, hidden, location, query, Browser};
use crate::helpers::*;

const CB: &str = "https://app.example/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// An ES256 key pair: the private JWK and the public JWK Set to register.
struct Key {
    private: josekit::jwk::Jwk,
    jwks: Value,
}

fn key(kid: &str) -> Key {
    let pair = ES256.generate_key_pair().unwrap();
    let mut private = pair.to_jwk_private_key();
    private.set_key_id(kid);
    let mut public = pair.to_jwk_public_key();
    public.set_key_id(kid);
    public.set_algorithm("ES256");
    Key {
        private,
        jwks: json!({ "keys": [Value::Object(public.into())] }),
    }
}

fn sign(key: &Key, claims: Value, typ: Option<&str>) -> String {
    let mut header = JwsHeader::new();
    header.set_key_id(key.private.key_id().unwrap());
    if let Some(t) = typ {
        header.set_token_type(t);
    }
    let payload = JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
    let signer = ES256.signer_from_jwk(&key.private).unwrap();
    jwt::encode_with_signer(&payload, &header, &signer).unwrap()
}

fn now(app: &TestApp) -> i64 {
    app.clock.now().timestamp()
}

fn assertion(app: &TestApp, key: &Key, client_id: &str, aud: &str, jti: &str) -> String {
    let t = now(app);
    sign(
        key,
        json!({"iss": client_id, "sub": client_id, "aud": aud, "jti": jti, "iat": t, "exp": t + 60}),
        None,
    )
}

fn issuer(app: &TestApp) -> String {
    app.config.issuer().to_owned()
}

async fn with_assertion(app: &TestApp, path: &str, params: &[(&str, &str)], a: &str) -> Response {
    let mut all = params.to_vec();
    all.push((
        "client_assertion_type",
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    ));
    all.push(("client_assertion", a));
    app.post_form(path, &all, None).await
}

async fn post_json(app: &TestApp, path: &str, body: Value, bearer: Option<&str>) -> Response {
    let mut req = TestRequest::post()
        .uri(path)
        .insert_header(("Content-Type", "application/json"))
        .set_payload(body.to_string());
    if let Some(t) = bearer {
        req = req.insert_header(("Authorization", format!("Bearer {t}")));
    }
    app.send(req).await
}

fn initial_token(app: &TestApp, uses: &str) -> String {
    let out = app.cli_json(&["client", "registration-token", "--uses", uses]);
    out["initial_access_token"].as_str().unwrap().to_owned()
}

fn keyed_client(app: &TestApp, key: &Key, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, key.jwks.to_string()).unwrap();
    let mut args = vec![
        "--auth-method",
        "private_key_jwt",
        "--jwks-file",
        path.to_str().unwrap(),
        "--redirect-uri",
        CB,
    ];
    args.extend_from_slice(extra);
    app.client(&args).0
}

#[actix_rt::test]
async fn private_key_jwt_authenticates_once_per_assertion() {
    let app = TestApp::new();
    let k = key("k1");
    let id = keyed_client(&app, &k, &["--grant", "client_credentials"]);
    let a = assertion(&app, &k, &id, &issuer(&app), "jti-1");
    let r = with_assertion(&app, "/token", &[("grant_type", "client_credentials")], &a).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let token = r.json()["access_token"].as_str().unwrap().to_owned();

    // The same assertion again: a replay.
    let r = with_assertion(&app, "/token", &[("grant_type", "client_credentials")], &a).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_client");
    assert!(r.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("already used"));
    // ... on another node too (the jti is in the database).
    let other = app.second_node();
    let a2 = assertion(&app, &k, &id, &issuer(&app), "jti-2");
    let body = format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion={a2}",
        enc("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    let req = || {
        TestRequest::post()
            .uri("/token")
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload(body.clone())
    };
    assert_eq!(send_to(&other, req()).await.status, 200);
    assert_eq!(app.send(req()).await.status, 401);

    // The token endpoint's URL is an accepted audience, another server's is not.
    let token_url = app.config.url("/token");
    let a = assertion(&app, &k, &id, &token_url, "jti-3");
    let r = with_assertion(&app, "/token", &[("grant_type", "client_credentials")], &a).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let a = assertion(&app, &k, &id, "https://other.example", "jti-4");
    let r = with_assertion(&app, "/token", &[("grant_type", "client_credentials")], &a).await;
    assert_eq!(r.json()["error"], "invalid_client");
    assert!(r.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("aud"));

    // Signed by a key the client did not register.
    let stranger = key("k1");
    let a = assertion(&app, &stranger, &id, &issuer(&app), "jti-5");
    let r = with_assertion(&app, "/token", &[("grant_type", "client_credentials")], &a).await;
    assert_eq!(r.json()["error"], "invalid_client");

    // A long-lived assertion, and one without a jti.
    let t = now(&app);
    let long = sign(
        &k,
        json!({"iss": id, "sub": id, "aud": issuer(&app), "jti": "j6", "exp": t + 3600}),
        None,
    );
    let r = with_assertion(
        &app,
        "/token",
        &[("grant_type", "client_credentials")],
        &long,
    )
    .await;
    assert_eq!(r.json()["error"], "invalid_client");
    let no_jti = sign(
        &k,
        json!({"iss": id, "sub": id, "aud": issuer(&app), "exp": t + 60}),
        None,
    );
    let r = with_assertion(
        &app,
        "/token",
        &[("grant_type", "client_credentials")],
        &no_jti,
    )
    .await;
    assert_eq!(r.json()["error"], "invalid_client");

    // A secret is refused for a key-authenticated client; an assertion with a secret too.
    let r = app
        .token(&[("grant_type", "client_credentials")], (&id, "guess"))
        .await;
    assert_eq!(r.json()["error"], "invalid_client");

    // Introspection and revocation take assertions as well, for the issuer (not for their own
    // URLs: the audience-injection advisory of 2025).
    let url = app.config.url("/introspect");
    let a = assertion(&app, &k, &id, &url, "jti-7");
    let r = with_assertion(&app, "/introspect", &[("token", &token)], &a).await;
    assert_eq!(r.json()["error"], "invalid_client");
    let a = assertion(&app, &k, &id, &issuer(&app), "jti-7b");
    let r = with_assertion(&app, "/introspect", &[("token", &token)], &a).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["active"], true);
    let a = assertion(&app, &k, &id, &issuer(&app), "jti-8");
    let r = with_assertion(&app, "/revoke", &[("token", &token)], &a).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[actix_rt::test]
async fn client_secret_jwt_signs_with_the_sealed_secret() {
    let app = TestApp::new();
    let (id, secret) = app.client(&[
        "--auth-method",
        "client_secret_jwt",
        "--grant",
        "client_credentials",
    ]);
    let t = now(&app);
    let claims = json!({"iss": id, "sub": id, "aud": issuer(&app), "jti": "a", "exp": t + 60});
    let payload = JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
    let hs = |s: &str| {
        jwt::encode_with_signer(
            &payload,
            &JwsHeader::new(),
            &HS256.signer_from_bytes(s.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    let r = with_assertion(
        &app,
        "/token",
        &[("grant_type", "client_credentials")],
        &hs(&secret),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = with_assertion(
        &app,
        "/token",
        &[("grant_type", "client_credentials")],
        &hs("not-the-secret-not-the-secret-not-the-secret"),
    )
    .await;
    assert_eq!(r.json()["error"], "invalid_client");
    // Basic with the right secret is not how this client registered.
    let r = app
        .token(&[("grant_type", "client_credentials")], (&id, &secret))
        .await;
    assert_eq!(r.json()["error"], "invalid_client");
    // The sealed secret is rotated like the CloudTrax keys'.
    let rotated = app.cli_json(&["client", "list"]);
    assert!(rotated
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["client_id"] == id.as_str()));
}

#[actix_rt::test]
async fn dynamic_registration_with_an_initial_access_token() {
    let app = TestApp::new();
    let body = json!({
        "client_name": "Agent",
        "redirect_uris": [CB, "http://127.0.0.1:4000/cb"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile offline_access",
        "logo_uri": "https://app.example/logo.png",
        "some_extension": {"ignored": true},
    });
    // Without a token: refused (registration is by token by default).
    let r = post_json(&app, "/register", body.clone(), None).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let r = post_json(&app, "/register", body.clone(), Some("made-up")).await;
    assert_eq!(r.status, 401);

    let iat = initial_token(&app, "1");
    let r = post_json(&app, "/register", body.clone(), Some(&iat)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let reg = r.json();
    let id = reg["client_id"].as_str().unwrap().to_owned();
    assert!(reg["client_secret"].as_str().unwrap().len() >= 43);
    assert_eq!(reg["client_secret_expires_at"], 0);
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(reg["response_types"], json!(["code"]));
    assert_eq!(reg["logo_uri"], "https://app.example/logo.png");
    assert!(reg.get("some_extension").is_none());
    let rat = reg["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let uri = reg["registration_client_uri"].as_str().unwrap().to_owned();
    assert_eq!(uri, app.config.url(&format!("/register/{id}")));

    // The token had one use.
    let r = post_json(&app, "/register", body.clone(), Some(&iat)).await;
    assert_eq!(r.status, 401);

    // The client is untrusted, and listed as registered by itself.
    let listed = app.cli_json(&["client", "list"]);
    let c = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(c["dynamic"], true);
    assert_eq!(c["trusted"], false);
    assert!(app.cli(&["client", "list"]).unwrap().contains("itself"));

    // Its secret works at the token endpoint (no grant it did not ask for, though).
    let secret = reg["client_secret"].as_str().unwrap();
    let r = app
        .token(&[("grant_type", "client_credentials")], (&id, secret))
        .await;
    assert_eq!(r.json()["error"], "unauthorized_client", "{}", r.text());

    // RFC 7592: read, update, delete with the registration access token only.
    let path = format!("/register/{id}");
    let get = |token: &str| {
        TestRequest::get()
            .uri(&path)
            .insert_header(("Authorization", format!("Bearer {token}")))
    };
    let r = app.send(get(&rat)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["client_name"], "Agent");
    assert!(r.json().get("client_secret").is_none());
    assert_eq!(r.json()["registration_access_token"], rat.as_str());
    assert_eq!(app.send(get("wrong")).await.status, 401);
    // Another client's token does not manage this one, and an unknown client looks the same.
    let other = post_json(
        &app,
        "/register",
        body.clone(),
        Some(&initial_token(&app, "1")),
    )
    .await;
    let other_rat = other.json()["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.send(get(&other_rat)).await.status, 401);
    let r = app
        .send(
            TestRequest::get()
                .uri("/register/no-such-client")
                .insert_header(("Authorization", format!("Bearer {rat}"))),
        )
        .await;
    assert_eq!(r.status, 401);

    let put = |token: &str, body: Value| {
        TestRequest::put()
            .uri(&path)
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(body.to_string())
    };
    let body = json!({"client_id": id, "client_name": "Agent 2", "redirect_uris": [CB]});
    let r = app.send(put(&rat, body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["client_name"], "Agent 2");
    assert_eq!(r.json()["redirect_uris"], json!([CB]));
    assert!(
        r.json().get("logo_uri").is_none(),
        "PUT replaces the metadata"
    );
    // The update answers a new registration access token; the old one is spent.
    let old = rat.clone();
    let rat = r.json()["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(rat, old);
    assert_eq!(app.send(get(&old)).await.status, 401);
    // An update cannot make it privileged, nor change how it authenticates.
    let body = json!({"client_id": id, "redirect_uris": [CB], "scope": "openid admin"});
    let r = app.send(put(&rat, body)).await;
    assert_eq!(r.json()["error"], "invalid_client_metadata");
    let body =
        json!({"client_id": id, "redirect_uris": [CB], "token_endpoint_auth_method": "none"});
    let r = app.send(put(&rat, body)).await;
    assert_eq!(r.json()["error"], "invalid_client_metadata");
    // Not JSON.
    let r = app
        .send(
            TestRequest::put()
                .uri(&path)
                .insert_header(("Authorization", format!("Bearer {rat}")))
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .set_payload("client_id=x"),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_client_metadata");

    let del = TestRequest::delete()
        .uri(&path)
        .insert_header(("Authorization", format!("Bearer {rat}")));
    assert_eq!(app.send(del).await.status, 204);
    assert_eq!(app.send(get(&rat)).await.status, 401);
}

#[actix_rt::test]
async fn registrations_that_ask_too_much_are_refused() {
    let app = TestApp::new();
    let iat = initial_token(&app, "20");
    let refused = |body: Value, error: &'static str| {
        let (app, iat) = (&app, iat.clone());
        async move {
            let r = post_json(app, "/register", body.clone(), Some(&iat)).await;
            assert_eq!(r.status, 400, "{body}: {}", r.text());
            assert_eq!(r.json()["error"], error, "{body}: {}", r.text());
        }
    };
    refused(
        json!({"redirect_uris": [CB], "scope": "openid admin"}),
        "invalid_client_metadata",
    )
    .await;
    refused(
        json!({"redirect_uris": [CB], "scope": "openid account"}),
        "invalid_client_metadata",
    )
    .await;
    refused(
        json!({"redirect_uris": ["https://app.example/cb#frag"]}),
        "invalid_redirect_uri",
    )
    .await;
    refused(
        json!({"redirect_uris": ["http://app.example/cb"]}),
        "invalid_redirect_uri",
    )
    .await;
    refused(
        json!({"redirect_uris": ["javascript:alert(1)"]}),
        "invalid_redirect_uri",
    )
    .await;
    refused(
        json!({"redirect_uris": [CB], "grant_types": ["password"]}),
        "invalid_client_metadata",
    )
    .await;
    refused(
        json!({"redirect_uris": [CB], "response_types": ["token"]}),
        "invalid_client_metadata",
    )
    .await;
    refused(
        json!({"grant_types": ["authorization_code"]}),
        "invalid_redirect_uri",
    )
    .await;
    refused(json!({"redirect_uris": [CB], "grant_types": ["client_credentials"], "response_types": ["code"]}), "invalid_client_metadata").await;
    refused(
        json!({"redirect_uris": [CB], "trusted": true, "client_id": "mine"}),
        "invalid_client_metadata",
    )
    .await;
    refused(
        json!({"redirect_uris": "https://app.example/cb"}),
        "invalid_client_metadata",
    )
    .await;
    refused(
        json!({"redirect_uris": [CB], "token_endpoint_auth_method": "private_key_jwt"}),
        "invalid_client_metadata",
    )
    .await;
    // A jwks_uri at an internal address is refused (the server would fetch it).
    for uri in [
        "https://127.0.0.1/jwks",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/jwks",
        "https://localhost/jwks",
        "http://keys.example/jwks",
    ] {
        refused(
            json!({"redirect_uris": [CB], "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": uri}),
            "invalid_client_metadata",
        )
        .await;
    }
    // Private keys never belong in a registration.
    let pair = ES256.generate_key_pair().unwrap();
    let private = Value::Object(pair.to_jwk_private_key().into());
    refused(
        json!({"redirect_uris": [CB], "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [private]}}),
        "invalid_client_metadata",
    )
    .await;
    // Not JSON.
    let r = app
        .send(
            TestRequest::post()
                .uri("/register")
                .insert_header(("Authorization", format!("Bearer {iat}")))
                .set_payload("redirect_uris=x"),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_client_metadata");
    // Nothing was made, and the refused registrations did not spend the token's uses.
    let listed = app.cli_json(&["client", "list"]);
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["dynamic"] == false));
    let tokens = app.cli_json(&["client", "registration-tokens"]);
    assert_eq!(tokens[0]["uses_left"], 20);
}

#[actix_rt::test]
async fn open_registration_is_limited_per_ip_and_closed_refuses() {
    let app = TestApp::builder()
        .config(|c| {
            c.client_registration = portcullis::config::ClientRegistration::Open;
            c.throttle.registrations_per_ip = 2;
        })
        .build();
    let body = json!({"redirect_uris": [CB], "token_endpoint_auth_method": "none"});
    for _ in 0..2 {
        let r = post_json(&app, "/register", body.clone(), None).await;
        assert_eq!(r.status, 201, "{}", r.text());
        assert!(r.json().get("client_secret").is_none());
    }
    let r = post_json(&app, "/register", body.clone(), None).await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    let d = app.get("/.well-known/openid-configuration").await.json();
    assert_eq!(d["registration_endpoint"], app.config.url("/register"));

    let closed = TestApp::builder()
        .config(|c| c.client_registration = portcullis::config::ClientRegistration::Closed)
        .build();
    let iat = initial_token(&closed, "1");
    let r = post_json(&closed, "/register", body, Some(&iat)).await;
    assert_eq!(r.status, 403, "{}", r.text());
    let d = closed.get("/.well-known/openid-configuration").await.json();
    assert!(d.get("registration_endpoint").is_none());
}

#[actix_rt::test]
async fn admins_issue_list_and_revoke_initial_access_tokens() {
    let app = TestApp::new();
    let (id, secret) = app.client(&["--grant", "client_credentials", "--scope", "admin"]);
    let admin = app.client_token(&id, &secret).await;
    let r = post_json(
        &app,
        "/admin/registration-tokens",
        json!({"uses": 2, "expires_in": 600, "note": "agents"}),
        Some(&admin),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let iat = r.json()["initial_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let tid = r.json()["token"]["id"].as_str().unwrap().to_owned();
    let r = app
        .send(
            TestRequest::get()
                .uri("/admin/registration-tokens")
                .insert_header(("Authorization", format!("Bearer {admin}"))),
        )
        .await;
    assert_eq!(r.json()[0]["note"], "agents");
    assert!(
        r.text().find(&iat).is_none(),
        "the token is never shown again"
    );
    let body = json!({"redirect_uris": [CB]});
    assert_eq!(
        post_json(&app, "/register", body.clone(), Some(&iat))
            .await
            .status,
        201
    );
    let r = app
        .send(
            TestRequest::delete()
                .uri(&format!("/admin/registration-tokens/{tid}"))
                .insert_header(("Authorization", format!("Bearer {admin}"))),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        post_json(&app, "/register", body.clone(), Some(&iat))
            .await
            .status,
        401
    );
    // It expires, too.
    let iat = initial_token(&app, "5");
    app.clock.advance(std::time::Duration::from_secs(86_401));
    assert_eq!(
        post_json(&app, "/register", body, Some(&iat)).await.status,
        401
    );
}

/// The authorization request's own parameters, for a client and PKCE.
fn request_params(client_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", client_id.to_owned()),
        ("response_type", "code".into()),
        ("redirect_uri", CB.into()),
        ("scope", "openid profile".into()),
        ("state", "st-1".into()),
        ("nonce", "n-1".into()),
        ("code_challenge", s256(VERIFIER)),
        ("code_challenge_method", "S256".into()),
    ]
}

fn s256(v: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(v.as_bytes()))
}

/// From `/authorize?...` through sign-in and consent to the redirect back (its location).
async fn through_pages(b: &mut Browser<'_>, url: &str) -> String {
    let mut r = b.get(url).await;
    if r.status.is_redirection() && location(&r).starts_with("/authorize?") {
        r = b.get(&location(&r)).await;
    }
    let mut next = location(&r);
    if next.starts_with("/signin") {
        let return_to = query(&next)["return_to"].clone();
        let r = b.sign_in("ada", "password1", &return_to).await;
        next = location(&r);
        let r = b.get(&next).await;
        next = if r.status == 200 {
            let html = r.text();
            let (csrf, authz) = (hidden(&html, "csrf"), hidden(&html, "authz"));
            let r = b
                .post(
                    "/consent",
                    &[("csrf", &csrf), ("authz", &authz), ("decision", "allow")],
                )
                .await;
            location(&r)
        } else {
            location(&r)
        };
    }
    next
}

fn ada(app: &TestApp) -> String {
    app.user_with(
        portcullis::core::users::NewUser {
            email: "ada@example.com".into(),
            username: Some("ada".into()),
            ..Default::default()
        },
        "password1",
    )
}

#[actix_rt::test]
async fn pushed_requests_work_once_and_can_be_required() {
    let app = TestApp::new();
    ada(&app);
    let (id, secret) = app.client(&["--redirect-uri", CB, "--require-par"]);
    let params = request_params(&id);
    let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // Required: a plain request goes back to the client with an error.
    let plain = format!(
        "/authorize?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&p)
            .finish()
    );
    let r = app.get(&plain).await;
    let q = query(&location(&r));
    assert_eq!(q["error"], "invalid_request", "{q:?}");

    // Pushing needs the client's authentication.
    assert_eq!(app.post_form("/par", &p, None).await.status, 401);
    let r = app.post_form("/par", &p, Some((&id, &secret))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let uri = r.json()["request_uri"].as_str().unwrap().to_owned();
    assert!(uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert_eq!(r.json()["expires_in"], 90);

    // A bad pushed request is answered at once, as JSON.
    let mut bad = p.clone();
    bad.retain(|(k, _)| *k != "redirect_uri");
    bad.push(("redirect_uri", "https://evil.example/cb"));
    let r = app.post_form("/par", &bad, Some((&id, &secret))).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_request");
    let r = app
        .post_form(
            "/par",
            &[("client_id", &id), ("request_uri", &uri)],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(r.status, 400);

    // The browser goes with the request_uri only; other parameters are ignored.
    let mut b = Browser::new(&app);
    let url = format!(
        "/authorize?client_id={}&request_uri={}&scope=openid+email",
        enc(&id),
        enc(&uri)
    );
    let back = through_pages(&mut b, &url).await;
    assert!(back.starts_with(CB), "{back}");
    let q = query(&back);
    assert_eq!(q["state"], "st-1");
    let r = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &q["code"]),
                ("redirect_uri", CB),
                ("code_verifier", VERIFIER),
            ],
            (&id, &secret),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["scope"], "openid profile");

    // Replayed: the request_uri worked once.
    let r = b.get(&url).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("already used"), "{}", r.text());

    // Another client cannot use it, and one from elsewhere is never fetched.
    let r = app.post_form("/par", &p, Some((&id, &secret))).await;
    let uri = r.json()["request_uri"].as_str().unwrap().to_owned();
    let (other, _) = app.client(&["--redirect-uri", CB]);
    let r = b
        .get(&format!(
            "/authorize?client_id={}&request_uri={}",
            enc(&other),
            enc(&uri)
        ))
        .await;
    assert_eq!(r.status, 400);
    let r = b
        .get(&format!(
            "/authorize?client_id={}&request_uri={}",
            enc(&id),
            enc("https://attacker.example/request.jwt")
        ))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("does not fetch"), "{}", r.text());

    // Unused for longer than its lifetime: expired.
    app.clock.advance(std::time::Duration::from_secs(91));
    let r = b
        .get(&format!(
            "/authorize?client_id={}&request_uri={}",
            enc(&id),
            enc(&uri)
        ))
        .await;
    assert_eq!(r.status, 400);
}

#[actix_rt::test]
async fn a_pushed_prompt_login_is_met_by_the_sign_in_it_asks_for() {
    let app = TestApp::new();
    ada(&app);
    let (id, secret) = app.client(&["--redirect-uri", CB]);
    let mut b = Browser::new(&app);
    // Signed in already.
    let r = b.sign_in("ada", "password1", "/").await;
    assert!(r.status.is_redirection());
    let mut params = request_params(&id);
    params.push(("prompt", "login".into()));
    params.push(("max_age", "0".into()));
    let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let uri = app.post_form("/par", &p, Some((&id, &secret))).await.json()["request_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance(std::time::Duration::from_secs(5));
    let url = format!(
        "/authorize?client_id={}&request_uri={}",
        enc(&id),
        enc(&uri)
    );
    let r = b.get(&url).await;
    assert!(
        location(&r).starts_with("/signin"),
        "prompt=login asks again"
    );
    let back = through_pages(&mut b, &url).await;
    assert!(back.starts_with(CB), "no loop: {back}");
    assert!(query(&back).contains_key("code"));
}

#[actix_rt::test]
async fn signed_request_objects_by_value_and_pushed() {
    let app = TestApp::new();
    ada(&app);
    let k = key("rk");
    let id = keyed_client(&app, &k, &[]);
    let object = |key: &Key, extra: Value| {
        let mut claims = json!({"iss": id, "aud": issuer(&app), "exp": now(&app) + 300});
        for (name, v) in request_params(&id) {
            claims[name] = json!(v);
        }
        for (name, v) in extra.as_object().unwrap() {
            claims[name] = v.clone();
        }
        sign(key, claims, Some("oauth-authz-req+jwt"))
    };

    // By value: the object's parameters, not the query's.
    let jwt = object(&k, json!({}));
    let url = format!(
        "/authorize?client_id={}&request={}&scope=openid+email&redirect_uri={}",
        enc(&id),
        enc(&jwt),
        enc("https://evil.example/cb")
    );
    let mut b = Browser::new(&app);
    let back = through_pages(&mut b, &url).await;
    assert!(back.starts_with(CB), "{back}");
    let code = query(&back)["code"].clone();
    let a = assertion(&app, &k, &id, &issuer(&app), "code-1");
    let r = with_assertion(
        &app,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", VERIFIER),
        ],
        &a,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["scope"], "openid profile");

    // The same object again (a reload, a replay from history) finds the request it made.
    let again = |jwt: &str| {
        let app = &app;
        let url = format!("/authorize?client_id={}&request={}", enc(&id), enc(jwt));
        async move { location(&app.get(&url).await) }
    };
    let jwt = object(&k, json!({"state": "again"}));
    assert_eq!(again(&jwt).await, again(&jwt).await);
    let kept: i64 = {
        use diesel::prelude::*;
        portcullis::db::schema::pushed_requests::table
            .count()
            .get_result(&mut *app.conn())
            .unwrap()
    };
    assert_eq!(kept, 1, "one row per live object");

    // Signed by another key: refused, never followed.
    let forged = object(&key("rk"), json!({}));
    let r = app
        .get(&format!(
            "/authorize?client_id={}&request={}",
            enc(&id),
            enc(&forged)
        ))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    // Unsigned, for another client, or nesting a request_uri: refused.
    let payload = JwtPayload::from_map(
        json!({"iss": id, "aud": issuer(&app), "response_type": "code"})
            .as_object()
            .unwrap()
            .clone(),
    )
    .unwrap();
    let unsigned = jwt::encode_unsecured(&payload, &JwsHeader::new()).unwrap();
    for bad in [
        unsigned,
        object(&k, json!({"client_id": "someone-else"})),
        object(&k, json!({"request_uri": "urn:x"})),
        object(&k, json!({"aud": "https://other.example"})),
        object(&k, json!({"exp": now(&app) - 3600})),
    ] {
        let r = app
            .get(&format!(
                "/authorize?client_id={}&request={}",
                enc(&id),
                enc(&bad)
            ))
            .await;
        assert_eq!(r.status, 400, "{}", r.text());
    }

    // A request object is never a client assertion, even when its claims would pass.
    let lookalike = sign(
        &k,
        json!({"iss": id, "sub": id, "aud": issuer(&app), "jti": "x", "exp": now(&app) + 60,
            "response_type": "code"}),
        Some("oauth-authz-req+jwt"),
    );
    let r = with_assertion(
        &app,
        "/token",
        &[("grant_type", "client_credentials")],
        &lookalike,
    )
    .await;
    assert_eq!(r.json()["error"], "invalid_client");

    // Pushed, with private_key_jwt at /par.
    let jwt = object(&k, json!({}));
    let par_url = issuer(&app);
    let a = assertion(&app, &k, &id, &par_url, "par-1");
    let r = with_assertion(&app, "/par", &[("client_id", &id), ("request", &jwt)], &a).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let uri = r.json()["request_uri"].as_str().unwrap().to_owned();
    let r = b
        .get(&format!(
            "/authorize?client_id={}&request_uri={}",
            enc(&id),
            enc(&uri)
        ))
        .await;
    assert!(
        location(&r).starts_with(CB),
        "consented before: {}",
        location(&r)
    );
    // A forged object at /par is the client's error.
    let a = assertion(&app, &k, &id, &par_url, "par-2");
    let forged = object(&key("rk"), json!({}));
    let r = with_assertion(
        &app,
        "/par",
        &[("client_id", &id), ("request", &forged)],
        &a,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_request_object");
}

#[actix_rt::test]
async fn discovery_advertises_what_is_supported() {
    let app = TestApp::new();
    let d = app.get("/.well-known/openid-configuration").await.json();
    assert_eq!(
        d["token_endpoint_auth_methods_supported"],
        json!([
            "client_secret_basic",
            "client_secret_post",
            "client_secret_jwt",
            "private_key_jwt",
            "none"
        ])
    );
    assert!(d["token_endpoint_auth_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("ES256")));
    assert_eq!(
        d["pushed_authorization_request_endpoint"],
        app.config.url("/par")
    );
    assert_eq!(d["require_pushed_authorization_requests"], false);
    assert_eq!(d["registration_endpoint"], app.config.url("/register"));
    assert_eq!(d["request_parameter_supported"], true);
    assert_eq!(d["request_uri_parameter_supported"], false);
    assert!(!d["request_object_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("none")));
    let required = TestApp::builder()
        .config(|c| c.require_pushed_authorization_requests = true)
        .build();
    let d = required
        .get("/.well-known/oauth-authorization-server")
        .await
        .json();
    assert_eq!(d["require_pushed_authorization_requests"], true);
}

/// A one-file HTTP server on loopback answering every request with `body`; counts requests.
fn serve_jwks(body: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, hits)
}

#[actix_rt::test]
async fn keys_come_from_jwks_uri_cached_and_never_from_internal_addresses() {
    let k = key("u1");
    let (url, hits) = serve_jwks(k.jwks.to_string());
    let app = TestApp::builder()
        .config(|c| c.allow_private_jwks_uri = true)
        .build();
    let id = app
        .client(&[
            "--auth-method",
            "private_key_jwt",
            "--jwks-uri",
            &url,
            "--grant",
            "client_credentials",
        ])
        .0;
    for jti in ["f1", "f2"] {
        let a = assertion(&app, &k, &id, &issuer(&app), jti);
        let r = with_assertion(&app, "/token", &[("grant_type", "client_credentials")], &a).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1, "cached");
    // A key id the cached set lacks refetches once (the client rotated its keys).
    let stranger = key("u2");
    let a = assertion(&app, &stranger, &id, &issuer(&app), "f3");
    let r = with_assertion(&app, "/token", &[("grant_type", "client_credentials")], &a).await;
    assert_eq!(r.json()["error"], "invalid_client");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);
    let a = assertion(&app, &stranger, &id, &issuer(&app), "f4");
    with_assertion(&app, "/token", &[("grant_type", "client_credentials")], &a).await;
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "at most once a minute"
    );

    // Without the development setting, the same URI is never fetched, even for a client
    // whose registration let it through (a host name that resolves inside counts the same).
    let strict = TestApp::new();
    let made = portcullis::core::clients::create(
        &mut strict.conn(),
        strict.clock.now_naive(),
        portcullis::core::clients::NewClient {
            name: "Inside".into(),
            auth_method: Some("private_key_jwt".into()),
            grant_types: vec!["client_credentials".into()],
            metadata: Some(json!({ "jwks_uri": url })),
            allow_private_jwks_uri: true,
            ..Default::default()
        },
    )
    .unwrap();
    let id = made.client.client_id;
    let a = assertion(&strict, &k, &id, &issuer(&strict), "s1");
    let r = with_assertion(
        &strict,
        "/token",
        &[("grant_type", "client_credentials")],
        &a,
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(
        r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("https"),
        "{}",
        r.text()
    );
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "not fetched"
    );
}

#[actix_rt::test]
async fn a_self_registered_client_is_no_redirector_and_no_token_oracle() {
    let app = TestApp::new();
    let iat = initial_token(&app, "1");
    let reg = post_json(
        &app,
        "/register",
        json!({"redirect_uris": ["https://evil.example/landing"],
               "grant_types": ["authorization_code", "client_credentials"]}),
        Some(&iat),
    )
    .await
    .json();
    let (id, secret) = (
        reg["client_id"].as_str().unwrap(),
        reg["client_secret"].as_str().unwrap(),
    );
    // A broken request is shown here, not bounced to the URI it registered.
    let r = app
        .get(&format!(
            "/authorize?client_id={}&response_type=token&redirect_uri={}",
            enc(id),
            enc("https://evil.example/landing")
        ))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.header("location").is_none());
    // Nor does prompt=none bounce a stranger there: nobody is signed in, nobody consented.
    let r = app
        .get(&format!(
            "/authorize?client_id={}&response_type=code&redirect_uri={}&scope=openid&prompt=none&code_challenge={}&code_challenge_method=S256",
            enc(id),
            enc("https://evil.example/landing"),
            s256(VERIFIER)
        ))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.header("location").is_none());
    // It learns nothing about other clients' tokens.
    let (other, other_secret) = app.client(&["--grant", "client_credentials"]);
    let theirs = app.client_token(&other, &other_secret).await;
    let r = app
        .post_form("/introspect", &[("token", &theirs)], Some((id, secret)))
        .await;
    assert_eq!(r.json(), json!({"active": false}));
    // Revoking another client's token is answered as for an unknown one (and does nothing).
    let r = app
        .post_form("/revoke", &[("token", &theirs)], Some((id, secret)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mine = app.client_token(id, secret).await;
    let r = app
        .post_form("/introspect", &[("token", &mine)], Some((id, secret)))
        .await;
    assert_eq!(r.json()["active"], true);
    // An admin-registered client still introspects the other token.
    let (rs, rs_secret) = app.resource_server();
    assert_eq!(
        app.introspect_as(&theirs, (&rs, &rs_secret)).await["active"],
        true
    );
}

#[actix_rt::test]
async fn native_apps_register_their_own_scheme() {
    let app = TestApp::new();
    let iat = initial_token(&app, "3");
    let native =
        json!({"redirect_uris": ["com.example.app:/cb"], "token_endpoint_auth_method": "none"});
    assert_eq!(
        post_json(&app, "/register", native, Some(&iat))
            .await
            .status,
        201
    );
    // Only public (native) clients, and only reverse-domain schemes.
    let web = json!({"redirect_uris": ["com.example.app:/cb"]});
    let r = post_json(&app, "/register", web, Some(&iat)).await;
    assert_eq!(r.json()["error"], "invalid_redirect_uri");
    let bare = json!({"redirect_uris": ["myapp:/cb"], "token_endpoint_auth_method": "none"});
    let r = post_json(&app, "/register", bare, Some(&iat)).await;
    assert_eq!(r.json()["error"], "invalid_redirect_uri");
}

#[actix_rt::test]
async fn admins_replace_a_clients_keys() {
    let app = TestApp::new();
    let (ops, ops_secret) = app.client(&["--grant", "client_credentials", "--scope", "admin"]);
    let admin = app.client_token(&ops, &ops_secret).await;
    let (old, new) = (key("old"), key("new"));
    let id = keyed_client(&app, &old, &["--grant", "client_credentials"]);
    let patch = |body: Value| {
        TestRequest::patch()
            .uri(&format!("/admin/clients/{id}"))
            .insert_header(("Authorization", format!("Bearer {admin}")))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(body.to_string())
    };
    let r = app
        .send(patch(
            json!({"jwks": new.jwks, "require_pushed_authorization_requests": true}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["require_pushed_authorization_requests"], true);
    let grant = [("grant_type", "client_credentials")];
    let a = assertion(&app, &new, &id, &issuer(&app), "n1");
    assert_eq!(with_assertion(&app, "/token", &grant, &a).await.status, 200);
    let a = assertion(&app, &old, &id, &issuer(&app), "o1");
    assert_eq!(with_assertion(&app, "/token", &grant, &a).await.status, 401);
    // A key-authenticated client cannot be left without keys; a private key is refused.
    let r = app.send(patch(json!({"jwks": null}))).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let private = Value::Object(
        ES256
            .generate_key_pair()
            .unwrap()
            .to_jwk_private_key()
            .into(),
    );
    let r = app.send(patch(json!({"jwks": {"keys": [private]}}))).await;
    assert_eq!(r.status, 400, "{}", r.text());
    // Both at once is a mistake, not a choice.
    let r = app
        .send(patch(
            json!({"jwks": new.jwks, "jwks_uri": "https://keys.example/jwks"}),
        ))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    // Other changes leave the keys alone.
    let r = app.send(patch(json!({"name": "Renamed"}))).await;
    assert_eq!(r.json()["jwks"], new.jwks);
}
