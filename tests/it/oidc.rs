//! The OpenID Provider through its pages: authorize, sign-in, terms, consent, ID tokens,
//! userinfo and logout, with the rules of OIDC Core and the Basic/Config OP test plans.

use std::time::Duration;

use base64::Engine;
use sha2::Digest;

use crate::browser_helpers::{enc, hidden, location, query, Browser};
use crate::helpers::{jwt_parts, TestApp};

const CB: &str = "https://rp.example/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn challenge() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(VERIFIER.as_bytes()))
}

pub(crate) struct Rp {
    pub id: String,
    pub secret: String,
}

pub(crate) fn setup_with(app: &TestApp, extra: &[&str]) -> Rp {
    let mut args = vec![
        "--name",
        "Relying Party",
        "--redirect-uri",
        CB,
        "--post-logout-redirect-uri",
        "https://rp.example/bye",
        "--scope",
        "openid profile email address phone offline_access",
    ];
    args.extend_from_slice(extra);
    let (id, secret) = app.client(&args);
    Rp { id, secret }
}

pub(crate) fn user(app: &TestApp) -> String {
    let id = app.user_with(
        portcullis::core::users::NewUser {
            email: "ada@example.com".into(),
            username: Some("ada".into()),
            display_name: Some("Ada Lovelace".into()),
            verified: true,
            ..Default::default()
        },
        "password1",
    );
    use diesel::prelude::*;
    diesel::update(portcullis::db::schema::users::table.find(&id))
        .set(
            portcullis::db::schema::users::address
                .eq(Some(r#"{"country":"UK","locality":"London"}"#)),
        )
        .execute(&mut app.conn())
        .unwrap();
    id
}

pub(crate) fn authorize_url(rp: &Rp, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("response_type", "code".to_string()),
        ("client_id", rp.id.clone()),
        ("redirect_uri", CB.to_string()),
        ("scope", "openid profile email".to_string()),
        ("state", "st-123".to_string()),
        ("nonce", "n-456".to_string()),
    ];
    for (k, v) in extra {
        params.retain(|(p, _)| p != k);
        if !v.is_empty() {
            params.push((k, v.to_string()));
        }
    }
    format!(
        "/authorize?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
            .finish()
    )
}

/// From `/authorize` through sign-in and consent to the code.
pub(crate) async fn code_via_pages(b: &mut Browser<'_>, url: &str) -> String {
    let r = b.get(url).await;
    let mut next = location(&r);
    if next.starts_with("/signin") {
        let return_to = query(&next)["return_to"].clone();
        let r = b.sign_in("ada", "password1", &return_to).await;
        next = location(&r);
        assert!(next.starts_with("/authorize?"), "{next}");
        let r = b.get(&next).await;
        if r.status == 200 {
            next = consent(b, &r.text(), "allow").await;
        } else {
            next = location(&r);
        }
    } else if !next.starts_with(CB) {
        panic!("unexpected {next}");
    }
    assert!(next.starts_with(CB), "{next}");
    let q = query(&next);
    assert_eq!(q["state"], "st-123");
    q["code"].clone()
}

async fn consent(b: &mut Browser<'_>, html: &str, decision: &str) -> String {
    assert!(html.contains("Allow"), "{html}");
    let csrf = hidden(html, "csrf");
    let authz = hidden(html, "authz");
    let r = b
        .post(
            "/consent",
            &[("csrf", &csrf), ("authz", &authz), ("decision", decision)],
        )
        .await;
    location(&r)
}

pub(crate) async fn exchange(app: &TestApp, rp: &Rp, code: &str) -> serde_json::Value {
    let r = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", CB),
            ],
            (&rp.id, &rp.secret),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[actix_rt::test]
async fn the_code_flow_through_sign_in_and_consent() {
    let app = TestApp::new();
    let uid = user(&app);
    let rp = setup_with(&app, &[]);
    let mut b = Browser::new(&app);
    let url = authorize_url(&rp, &[]);
    let r = b.get(&url).await;
    let signin = location(&r);
    assert!(signin.starts_with("/signin?"), "{signin}");
    // The sign-in page: labelled fields, CSRF, security headers, no caching.
    let page = b.get(&signin).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains(r#"<label for="login">"#) && html.contains(r#"<label for="password">"#));
    assert!(html.contains(r#"name="viewport""#));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    let cookie = page.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );

    let code = code_via_pages(&mut b, &url).await;
    let session = b
        .cookies
        .get("portcullis_session")
        .expect("a session cookie");
    assert!(!session.is_empty());
    let tokens = exchange(&app, &rp, &code).await;
    assert!(tokens["refresh_token"].is_string());
    let id_token = tokens["id_token"].as_str().expect("an ID token");
    let (header, claims) = jwt_parts(id_token);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["iss"], app.config.issuer());
    assert_eq!(claims["sub"], uid.as_str());
    assert_eq!(claims["aud"], rp.id.as_str());
    assert_eq!(claims["azp"], rp.id.as_str());
    assert_eq!(claims["nonce"], "n-456");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert!(claims["sid"].is_string());
    assert!(claims["auth_time"].is_i64());
    for profile in ["email", "name", "preferred_username", "address"] {
        assert!(
            claims.get(profile).is_none(),
            "no `{profile}` in the ID token of the code flow"
        );
    }
    let access = tokens["access_token"].as_str().unwrap();
    let digest = sha2::Sha256::digest(access.as_bytes());
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]);
    assert_eq!(claims["at_hash"], expected.as_str());
    // The ID token verifies with the published keys.
    let jwks = josekit::jwk::JwkSet::from_bytes(&app.get("/jwks").await.body).unwrap();
    let jwk = jwks.get(header["kid"].as_str().unwrap())[0];
    let verifier = josekit::jws::RS256.verifier_from_jwk(jwk).unwrap();
    josekit::jwt::decode_with_verifier(id_token, &verifier).unwrap();

    // Refreshing returns a new ID token without the nonce.
    let r = app
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
            (&rp.id, &rp.secret),
        )
        .await;
    let (_, refreshed) = jwt_parts(r.json()["id_token"].as_str().unwrap());
    assert!(refreshed.get("nonce").is_none());
    assert_eq!(refreshed["sub"], uid.as_str());
}

#[actix_rt::test]
async fn consent_is_remembered_and_asked_again_when_scopes_grow() {
    let app = TestApp::new();
    user(&app);
    let rp = setup_with(&app, &[]);
    let mut b = Browser::new(&app);
    code_via_pages(&mut b, &authorize_url(&rp, &[])).await;
    // Same scopes: straight back with a code.
    let r = b.get(&authorize_url(&rp, &[])).await;
    assert!(location(&r).starts_with(CB));
    // Fewer scopes: still covered.
    let r = b.get(&authorize_url(&rp, &[("scope", "openid")])).await;
    assert!(location(&r).starts_with(CB));
    // More scopes, or prompt=consent: the consent page again.
    let r = b
        .get(&authorize_url(
            &rp,
            &[("scope", "openid profile email address")],
        ))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("postal address"));
    let r = b.get(&authorize_url(&rp, &[("prompt", "consent")])).await;
    assert_eq!(r.status, 200);
    // Denying sends access_denied back.
    let next = consent(&mut b, &r.text(), "deny").await;
    let q = query(&next);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st-123");
    assert_eq!(q["iss"], app.config.issuer());
}

#[actix_rt::test]
async fn trusted_clients_skip_consent() {
    let app = TestApp::new();
    user(&app);
    let rp = setup_with(&app, &["--trusted"]);
    let mut b = Browser::new(&app);
    let r = b.get(&authorize_url(&rp, &[])).await;
    let return_to = query(&location(&r))["return_to"].clone();
    let r = b.sign_in("ada@example.com", "password1", &return_to).await;
    let r = b.get(&location(&r)).await;
    assert!(
        location(&r).starts_with(CB),
        "no consent page for a trusted client"
    );
}

#[actix_rt::test]
async fn invalid_client_or_redirect_uri_shows_a_page_and_never_redirects() {
    let app = TestApp::new();
    let rp = setup_with(&app, &[]);
    let cases = [
        format!(
            "/authorize?response_type=code&client_id=nobody&redirect_uri={}",
            enc(CB)
        ),
        format!(
            "/authorize?response_type=code&client_id={}&redirect_uri={}",
            rp.id,
            enc("https://evil.example/cb")
        ),
        format!(
            "/authorize?response_type=code&client_id={}&redirect_uri={}",
            rp.id,
            enc("https://rp.example/cb/extra")
        ),
        "/authorize?response_type=code".to_string(),
    ];
    for url in cases {
        let r = app.get(&url).await;
        assert_eq!(r.status, 400, "{url}");
        assert!(r.header("location").is_none(), "{url} must not redirect");
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
    }
}

#[actix_rt::test]
async fn other_errors_go_back_to_the_client_with_state_and_iss() {
    let app = TestApp::new();
    let rp = setup_with(&app, &[]);
    let (public, _) = app.client(&["--public", "--redirect-uri", CB]);
    let public = Rp {
        id: public,
        secret: String::new(),
    };
    let cases: Vec<(String, &str)> = vec![
        (
            authorize_url(&rp, &[("response_type", "")]),
            "invalid_request",
        ),
        (
            authorize_url(&rp, &[("response_type", "token")]),
            "unsupported_response_type",
        ),
        (
            authorize_url(&rp, &[("response_type", "id_token token")]),
            "unsupported_response_type",
        ),
        (
            authorize_url(&rp, &[("scope", "openid admin")]),
            "invalid_scope",
        ),
        (
            authorize_url(&rp, &[("prompt", "none login")]),
            "invalid_request",
        ),
        (
            authorize_url(&rp, &[("max_age", "soon")]),
            "invalid_request",
        ),
        (
            authorize_url(&rp, &[("request", "eyJ...")]),
            "invalid_request_object",
        ),
        (
            authorize_url(&rp, &[("request_uri", "https://rp.example/r")]),
            "invalid_request_uri",
        ),
        (
            authorize_url(&rp, &[("response_mode", "fragment")]),
            "invalid_request",
        ),
        (
            authorize_url(&rp, &[("resource", "https://unregistered.example")]),
            "invalid_target",
        ),
        (
            authorize_url(
                &rp,
                &[
                    ("code_challenge", &challenge()),
                    ("code_challenge_method", "plain"),
                ],
            ),
            "invalid_request",
        ),
        (authorize_url(&public, &[]), "invalid_request"),
        (
            authorize_url(
                &public,
                &[
                    ("code_challenge", &challenge()),
                    ("code_challenge_method", "plain"),
                ],
            ),
            "invalid_request",
        ),
        (
            authorize_url(
                &public,
                &[
                    ("code_challenge", "short"),
                    ("code_challenge_method", "S256"),
                ],
            ),
            "invalid_request",
        ),
        (
            format!("{}&state=again", authorize_url(&rp, &[])),
            "invalid_request",
        ),
        (authorize_url(&rp, &[("prompt", "none")]), "login_required"),
    ];
    for (url, error) in cases {
        let r = app.get(&url).await;
        let loc = location(&r);
        assert!(loc.starts_with(CB), "{url} -> {loc}");
        let q = query(&loc);
        assert_eq!(q["error"], error, "{url}: {q:?}");
        assert_eq!(q["iss"], app.config.issuer());
        assert!(q.contains_key("state"));
        assert!(!q.contains_key("code"));
    }
}

#[actix_rt::test]
async fn parameter_order_unknown_parameters_and_post() {
    let app = TestApp::new();
    user(&app);
    let rp = setup_with(&app, &["--trusted"]);
    let mut b = Browser::new(&app);
    b.sign_in("ada", "password1", "/").await;
    let url = format!(
        "/authorize?nonce=n&x-unknown=1&state=st-123&scope=openid&redirect_uri={}&client_id={}&response_type=code&display=page&ui_locales=fr",
        enc(CB),
        rp.id
    );
    let r = b.get(&url).await;
    assert!(query(&location(&r)).contains_key("code"));
    let r = b
        .post(
            "/authorize",
            &[
                ("response_type", "code"),
                ("client_id", &rp.id),
                ("redirect_uri", CB),
                ("scope", "openid"),
                ("state", "st-123"),
            ],
        )
        .await;
    assert!(query(&location(&r)).contains_key("code"), "POST /authorize");
}

#[actix_rt::test]
async fn prompt_none_and_id_token_hint() {
    let app = TestApp::new();
    user(&app);
    let rp = setup_with(&app, &[]);
    let mut b = Browser::new(&app);
    let code = code_via_pages(&mut b, &authorize_url(&rp, &[])).await;
    let tokens = exchange(&app, &rp, &code).await;
    let hint = tokens["id_token"].as_str().unwrap();
    // Signed in and consented: prompt=none returns a code.
    let r = b
        .get(&authorize_url(
            &rp,
            &[("prompt", "none"), ("id_token_hint", hint)],
        ))
        .await;
    assert!(query(&location(&r)).contains_key("code"));
    // Consent missing for more scopes.
    let r = b
        .get(&authorize_url(
            &rp,
            &[("prompt", "none"), ("scope", "openid address")],
        ))
        .await;
    assert_eq!(query(&location(&r))["error"], "consent_required");
    // A hint for someone else.
    let other = app.user("grace@example.com", "password1");
    let mut b2 = Browser::new(&app);
    let r = b2.sign_in("grace@example.com", "password1", "/").await;
    assert_eq!(location(&r), "/");
    let r = b2
        .get(&authorize_url(
            &rp,
            &[("prompt", "none"), ("id_token_hint", hint)],
        ))
        .await;
    assert_eq!(query(&location(&r))["error"], "login_required");
    let _ = other;
    // A hint that is not ours.
    let r = b
        .get(&authorize_url(
            &rp,
            &[("prompt", "none"), ("id_token_hint", "e30.e30.sig")],
        ))
        .await;
    assert_eq!(query(&location(&r))["error"], "invalid_request");
}

#[actix_rt::test]
async fn prompt_login_and_max_age_ask_again_with_a_new_auth_time() {
    let app = TestApp::new();
    user(&app);
    let rp = setup_with(&app, &[]);
    let mut b = Browser::new(&app);
    let code = code_via_pages(&mut b, &authorize_url(&rp, &[])).await;
    let first = jwt_parts(
        exchange(&app, &rp, &code).await["id_token"]
            .as_str()
            .unwrap(),
    )
    .1;
    app.clock.advance(Duration::from_secs(120));
    for extra in [vec![("prompt", "login")], vec![("max_age", "60")]] {
        let r = b.get(&authorize_url(&rp, &extra)).await;
        let next = location(&r);
        assert!(next.starts_with("/signin"), "{extra:?}: {next}");
        assert!(!query(&next)["return_to"].contains("prompt=login"));
        let code = code_via_pages(&mut b, &authorize_url(&rp, &extra)).await;
        let claims = jwt_parts(
            exchange(&app, &rp, &code).await["id_token"]
                .as_str()
                .unwrap(),
        )
        .1;
        assert!(
            claims["auth_time"].as_i64() > first["auth_time"].as_i64(),
            "{extra:?}"
        );
        app.clock.advance(Duration::from_secs(120));
    }
    // max_age=0 asks for a sign-in every time, and the sign-in satisfies it.
    let code = code_via_pages(&mut b, &authorize_url(&rp, &[("max_age", "0")])).await;
    assert!(!code.is_empty());
    // A recent enough sign-in satisfies max_age.
    let code = code_via_pages(&mut b, &authorize_url(&rp, &[("max_age", "600")])).await;
    assert!(!code.is_empty());
}

#[actix_rt::test]
async fn the_sign_in_page_never_reveals_accounts_and_needs_csrf() {
    let app = TestApp::new();
    user(&app);
    let mut b = Browser::new(&app);
    let wrong = b.sign_in("ada", "wrong-password", "/").await;
    let unknown = b.sign_in("nobody", "wrong-password", "/").await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert!(wrong.text().contains("Incorrect username or password."));
    assert!(unknown.text().contains("Incorrect username or password."));
    let r = b
        .post("/signin", &[("login", "ada"), ("password", "password1")])
        .await;
    assert_eq!(r.status, 400, "no CSRF token");
    assert!(!b.cookies.contains_key("portcullis_session"));
    // The account locks after five failures, right password or not.
    for _ in 0..4 {
        b.sign_in("ada", "wrong-password", "/").await;
    }
    let r = b.sign_in("ada", "password1", "/").await;
    assert_eq!(r.status, 429);
    assert!(r.text().contains("Too many attempts"));
    // An open redirect through return_to is not possible.
    app.clock.advance(Duration::from_secs(901));
    let r = b.sign_in("ada", "password1", "https://evil.example/").await;
    assert_eq!(location(&r), "/");
    let r = b.sign_in("ada", "password1", "//evil.example/").await;
    assert_eq!(location(&r), "/");
}

#[actix_rt::test]
async fn terms_are_accepted_once_before_sign_in_completes() {
    let app = TestApp::builder()
        .config(|c| c.terms_version = Some("2026-01".into()))
        .build();
    user(&app);
    let rp = setup_with(&app, &["--trusted"]);
    let mut b = Browser::new(&app);
    let r = b.get(&authorize_url(&rp, &[])).await;
    let return_to = query(&location(&r))["return_to"].clone();
    let r = b.sign_in("ada", "password1", &return_to).await;
    let terms = location(&r);
    assert!(terms.starts_with("/terms?"), "{terms}");
    // prompt=none cannot show the terms.
    let r = b.get(&authorize_url(&rp, &[("prompt", "none")])).await;
    assert_eq!(query(&location(&r))["error"], "interaction_required");
    let page = b.get(&terms).await;
    assert!(page.text().contains("2026-01"));
    let csrf = hidden(&page.text(), "csrf");
    let back = hidden(&page.text(), "return_to");
    let r = b
        .post(
            "/terms",
            &[
                ("csrf", &csrf),
                ("return_to", &back),
                ("decision", "accept"),
            ],
        )
        .await;
    let r = b.get(&location(&r)).await;
    assert!(location(&r).starts_with(CB));
    // Next time no terms page.
    let mut b2 = Browser::new(&app);
    let r = b2.sign_in("ada", "password1", "/").await;
    assert_eq!(location(&r), "/");
}

/// OpenID's `phone` scope (OIDC Core §5.4): the number and its verified flag, set by the CLI
/// (or the admin API, or the person on the account page).
#[actix_rt::test]
async fn the_phone_scope_releases_the_phone_number() {
    let app = TestApp::new();
    let uid = user(&app);
    let rp = setup_with(&app, &["--trusted"]);
    let mut b = Browser::new(&app);
    let bearer = |t: &str| {
        actix_web::test::TestRequest::get()
            .uri("/userinfo")
            .insert_header(("Authorization", format!("Bearer {t}")))
    };
    // Asked for before there is a number: no phone claims, and the scope is not refused.
    let code = code_via_pages(&mut b, &authorize_url(&rp, &[("scope", "openid phone")])).await;
    let tokens = exchange(&app, &rp, &code).await;
    assert_eq!(tokens["scope"], "openid phone", "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.send(bearer(&access)).await.json(),
        serde_json::json!({ "sub": uid })
    );
    let out = app
        .cli(&["user", "phone", "ada", "+1 (425) 555-1212", "--verified"])
        .unwrap();
    assert!(out.contains("+14255551212 (verified)"), "{out}");
    let info = app.send(bearer(&access)).await.json();
    assert_eq!(info["phone_number"], "+14255551212");
    assert_eq!(info["phone_number_verified"], true);
    // Other scopes do not release it.
    let code = code_via_pages(&mut b, &authorize_url(&rp, &[("scope", "openid email")])).await;
    let narrow = exchange(&app, &rp, &code).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(app
        .send(bearer(&narrow))
        .await
        .json()
        .get("phone_number")
        .is_none());
    // A number that is not international is refused; removing it removes the claims.
    let e = app
        .cli(&["user", "phone", "ada", "425 555 1212"])
        .unwrap_err();
    assert!(
        e.contains("phone_number") && e.contains("international"),
        "{e}"
    );
    app.cli(&["user", "phone", "ada", "--remove"]).unwrap();
    assert!(app
        .send(bearer(&access))
        .await
        .json()
        .get("phone_number")
        .is_none());
}

#[actix_rt::test]
async fn userinfo_by_scope() {
    let app = TestApp::new();
    let uid = user(&app);
    let rp = setup_with(&app, &[]);
    let mut b = Browser::new(&app);
    let code = code_via_pages(
        &mut b,
        &authorize_url(&rp, &[("scope", "openid profile email address")]),
    )
    .await;
    let tokens = exchange(&app, &rp, &code).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let r = app
        .send(
            actix_web::test::TestRequest::get()
                .uri("/userinfo")
                .insert_header(("Authorization", format!("Bearer {access}"))),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let info = r.json();
    assert_eq!(info["sub"], uid.as_str());
    assert_eq!(info["name"], "Ada Lovelace");
    assert_eq!(info["preferred_username"], "ada");
    assert_eq!(info["email"], "ada@example.com");
    assert_eq!(info["email_verified"], true);
    assert_eq!(info["address"]["locality"], "London");
    assert!(info["updated_at"].is_i64());
    // POST with the token in the body.
    let r = app
        .post_form("/userinfo", &[("access_token", &access)], None)
        .await;
    assert_eq!(r.json()["sub"], uid.as_str());
    // Only openid: only sub.
    let code = code_via_pages(&mut b, &authorize_url(&rp, &[("scope", "openid")])).await;
    let narrow = exchange(&app, &rp, &code).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .send(
            actix_web::test::TestRequest::get()
                .uri("/userinfo")
                .insert_header(("Authorization", format!("Bearer {narrow}"))),
        )
        .await;
    assert_eq!(r.json(), serde_json::json!({ "sub": uid }));
    // Errors per RFC 6750.
    let r = app.get("/userinfo").await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="portcullis""#)
    );
    let r = app
        .send(
            actix_web::test::TestRequest::get()
                .uri("/userinfo")
                .insert_header(("Authorization", "Bearer invalid")),
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_token"));
    let (svc, svc_secret) = app.client(&["--grant", "client_credentials", "--scope", "openid"]);
    let cc = app
        .token(
            &[("grant_type", "client_credentials"), ("scope", "openid")],
            (&svc, &svc_secret),
        )
        .await
        .json();
    let r = app
        .send(
            actix_web::test::TestRequest::get()
                .uri("/userinfo")
                .insert_header((
                    "Authorization",
                    format!("Bearer {}", cc["access_token"].as_str().unwrap()),
                )),
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("insufficient_scope"));
    let r = app
        .send(
            actix_web::test::TestRequest::post()
                .uri("/userinfo")
                .insert_header(("Authorization", format!("Bearer {access}")))
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .set_payload(format!("access_token={access}")),
        )
        .await;
    assert_eq!(r.status, 400, "a token in two places");
    // Each call is an event (queued, written within a second; flushed here).
    app.state.audit.flush().await.unwrap();
    use diesel::prelude::*;
    let n: i64 = portcullis::db::schema::events::table
        .filter(portcullis::db::schema::events::kind.eq("api.call"))
        .filter(portcullis::db::schema::events::service.eq("userinfo"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(n, 3);
    // A user disabled behind the token's back (no revocation yet) gets no claims.
    diesel::update(portcullis::db::schema::users::table.find(&uid))
        .set(portcullis::db::schema::users::disabled.eq(true))
        .execute(&mut app.conn())
        .unwrap();
    let r = app
        .post_form("/userinfo", &[("access_token", &access)], None)
        .await;
    assert_eq!(r.status, 401);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_token"));
}

#[actix_rt::test]
async fn rp_initiated_logout() {
    let app = TestApp::new();
    user(&app);
    let rp = setup_with(&app, &[]);
    let mut b = Browser::new(&app);
    let code = code_via_pages(&mut b, &authorize_url(&rp, &[])).await;
    let hint = exchange(&app, &rp, &code).await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = format!(
        "/logout?id_token_hint={hint}&post_logout_redirect_uri={}&state=bye-1",
        enc("https://rp.example/bye")
    );
    let page = b.get(&url).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Sign out?") && page.text().contains("Relying Party"));
    let csrf = hidden(&page.text(), "csrf");
    let r = b
        .post(
            "/logout",
            &[
                ("csrf", &csrf),
                ("post_logout_redirect_uri", "https://rp.example/bye"),
                ("state", "bye-1"),
                ("client_id", &rp.id),
            ],
        )
        .await;
    assert_eq!(location(&r), "https://rp.example/bye?state=bye-1");
    assert!(!b.cookies.contains_key("portcullis_session"));
    let r = b.get(&authorize_url(&rp, &[("prompt", "none")])).await;
    assert_eq!(
        query(&location(&r))["error"],
        "login_required",
        "the session ended"
    );
    // Unregistered redirect URIs are refused with a page.
    let r = b
        .get(&format!(
            "/logout?id_token_hint={hint}&post_logout_redirect_uri={}",
            enc("https://evil.example/")
        ))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.header("location").is_none());
    // Without a session there is nothing to confirm.
    let r = b.get(&url).await;
    assert_eq!(location(&r), "https://rp.example/bye?state=bye-1");
    // Without a redirect URI: the signed-out page.
    let r = b.get("/logout").await;
    assert!(r.text().contains("signed out"));
}

#[actix_rt::test]
async fn a_replayed_code_from_the_flow_revokes_its_tokens() {
    let app = TestApp::new();
    user(&app);
    let rp = setup_with(&app, &[]);
    let mut b = Browser::new(&app);
    let code = code_via_pages(&mut b, &authorize_url(&rp, &[])).await;
    let tokens = exchange(&app, &rp, &code).await;
    let r = app
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CB),
            ],
            (&rp.id, &rp.secret),
        )
        .await;
    assert_eq!(r.json()["error"], "invalid_grant");
    assert_eq!(
        app.introspect(tokens["access_token"].as_str().unwrap())
            .await["active"],
        false
    );
}

#[actix_rt::test]
async fn secure_cookies_under_an_https_issuer() {
    let app = TestApp::builder()
        .config(|c| c.issuer = Some("https://id.example.com".into()))
        .build();
    let r = app.get("/signin").await;
    assert!(r.header("set-cookie").unwrap().contains("Secure"));
}
