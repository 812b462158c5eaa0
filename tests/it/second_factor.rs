//! Second factors (issue 17): an authenticator app enrolled on the account page with codes
//! the test computes, the sign-in step, codes used once, wrong codes throttled, recovery
//! codes (and the email their use sends), step-up with `acr_values` through the
//! `openidconnect` crate, the per-app and global policies, the admin reset, and the doors
//! with no place for a code, each refusing in its own shape.

use actix_web::test::TestRequest;
use serde_json::json;

use crate::browser_helpers::{enc, hidden, location, query, Browser};
use crate::helpers::{plain_basic, served_app, TestApp};

const CB: &str = "https://app.example.com/cb";

/// The TOTP of the key a set-up page shows.
fn key_on(html: &str) -> totp_rs::TOTP {
    let key = html
        .split("<code id=\"totp-secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    TestApp::totp_from_key(key)
}

/// Enrols an authenticator app through the account page; the TOTP and the recovery codes.
async fn enrol_on_the_page(app: &TestApp, b: &mut Browser<'_>) -> (totp_rs::TOTP, Vec<String>) {
    let page = b.get("/account").await.text();
    assert!(page.contains("Set up an authenticator app"), "{page}");
    let csrf = hidden(&page, "csrf");
    // The current password is needed, and checked.
    let wrong = b
        .post(
            "/account/actions/totp/start",
            &[("csrf", &csrf), ("current_password", "wrong horse")],
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert!(
        wrong.text().contains("Current password is incorrect"),
        "{}",
        wrong.text()
    );
    let setup = b
        .post(
            "/account/actions/totp/start",
            &[("csrf", &csrf), ("current_password", "correct horse")],
        )
        .await;
    assert_eq!(setup.status, 200);
    let html = setup.text();
    assert!(html.contains("<svg"), "a QR code: {html}");
    // A wrong code does not turn it on.
    let csrf = hidden(&html, "csrf");
    let r = b
        .post(
            "/account/actions/totp/confirm",
            &[("csrf", &csrf), ("code", "000000")],
        )
        .await;
    assert_eq!(r.status, 400);
    let html = r.text();
    // The page shows the same key again with the error (a new key needs the password).
    let totp = key_on(&html);
    let r = b
        .post(
            "/account/actions/totp/confirm",
            &[
                ("csrf", &hidden(&html, "csrf")),
                ("code", &app.totp_code(&totp)),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let html = r.text();
    let codes: Vec<String> = html
        .split("<li><code>")
        .skip(1)
        .map(|c| c.split('<').next().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "{html}");
    app.clock.advance(std::time::Duration::from_secs(30));
    (totp, codes)
}

/// Signs in with the password; the response (a redirect to the second step, or in).
async fn password_step(b: &mut Browser<'_>, return_to: &str) -> crate::helpers::Response {
    b.sign_in("ada@example.com", "correct horse", return_to)
        .await
}

#[actix_rt::test]
async fn an_authenticator_app_from_enrolment_to_sign_in() {
    let app = TestApp::new();
    let uid = app.user("ada@example.com", "correct horse");
    let mut b = Browser::new(&app);
    assert_eq!(
        location(&password_step(&mut b, "/account").await),
        "/account"
    );
    // Nothing being set up: a confirming code shows no key.
    let csrf = hidden(&b.get("/account").await.text(), "csrf");
    let r = b
        .post(
            "/account/actions/totp/confirm",
            &[("csrf", &csrf), ("code", "000000")],
        )
        .await;
    assert_eq!(location(&r), "/account#security");
    let (totp, codes) = enrol_on_the_page(&app, &mut b).await;
    let page = b.get("/account").await.text();
    assert!(page.contains("<p><strong>10</strong> left."), "{page}");

    // Signing in now takes the password, then a code: no session before the code.
    let mut b = Browser::new(&app);
    let r = password_step(&mut b, "/account").await;
    assert_eq!(location(&r), "/signin/second-factor");
    assert!(r.header("set-cookie").unwrap().contains("portcullis_step="));
    assert_eq!(
        location(&b.get("/account").await).split('?').next(),
        Some("/signin")
    );
    let page = b.get("/signin/second-factor").await.text();
    assert!(page.contains("autocomplete=\"one-time-code\""), "{page}");
    let csrf = hidden(&page, "csrf");
    let code = app.totp_code(&totp);
    let r = b
        .post("/signin/second-factor", &[("csrf", &csrf), ("code", &code)])
        .await;
    assert_eq!(location(&r), "/account", "{}", r.text());
    assert_eq!(b.get("/account").await.status, 200);

    // The same code again (another sign-in, same 30 s) is refused: a code works once.
    let mut other = Browser::new(&app);
    password_step(&mut other, "/account").await;
    let page = other.get("/signin/second-factor").await.text();
    let csrf = hidden(&page, "csrf");
    let r = other
        .post("/signin/second-factor", &[("csrf", &csrf), ("code", &code)])
        .await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains("used already"), "{}", r.text());

    // A recovery code works once, and the person is told.
    let r = other
        .post(
            "/signin/second-factor",
            &[("csrf", &csrf), ("recovery_code", &codes[0].to_uppercase())],
        )
        .await;
    assert_eq!(location(&r), "/account");
    let mail = app.outbox().pop().unwrap();
    assert!(mail.contains("A recovery code was used"), "{mail}");
    let mut third = Browser::new(&app);
    password_step(&mut third, "/account").await;
    let page = third.get("/signin/second-factor").await.text();
    let r = third
        .post(
            "/signin/second-factor",
            &[
                ("csrf", &hidden(&page, "csrf")),
                ("recovery_code", &codes[0]),
            ],
        )
        .await;
    assert_eq!(r.status, 401, "a used recovery code");

    // Wrong codes are throttled like wrong passwords (5 per account per window), the right
    // one too once the limit is reached.
    for _ in 0..4 {
        let r = third
            .post(
                "/signin/second-factor",
                &[("csrf", &hidden(&page, "csrf")), ("code", "123456")],
            )
            .await;
        assert_eq!(r.status, 401);
    }
    app.clock.advance(std::time::Duration::from_secs(30));
    let r = third
        .post(
            "/signin/second-factor",
            &[
                ("csrf", &hidden(&page, "csrf")),
                ("code", &app.totp_code(&totp)),
            ],
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("retry-after").is_some());

    // Removing the app (in the session that used it, with the password) takes the recovery
    // codes with it: the last factor is gone.
    let page = b.get("/account").await.text();
    let r = b
        .post(
            "/account/actions/totp/remove",
            &[
                ("csrf", &hidden(&page, "csrf")),
                ("current_password", "correct horse"),
            ],
        )
        .await;
    assert_eq!(location(&r), "/account?notice=totp-removed");
    let left: i64 = {
        use diesel::prelude::*;
        use portcullis::db::schema::recovery_codes;
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(&uid))
            .count()
            .get_result(&mut app.conn())
            .unwrap()
    };
    assert_eq!(left, 0);
    assert_eq!(
        location(&password_step(&mut Browser::new(&app), "/account").await),
        "/account"
    );

    // Every enrolment and use is an event.
    let kinds: Vec<String> = {
        use diesel::prelude::*;
        use portcullis::db::schema::events;
        events::table
            .filter(events::user_id.eq(&uid))
            .select(events::kind)
            .load(&mut app.conn())
            .unwrap()
    };
    for kind in [
        "totp.enrolled",
        "totp.removed",
        "recovery_codes.generated",
        "totp.used",
        "recovery_code.used",
        "second_factor.failed",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

#[actix_rt::test]
async fn a_reset_link_does_not_skip_the_second_factor() {
    let app = TestApp::new();
    let uid = app.user("ada@example.com", "correct horse");
    let totp = app.enrol_totp(&uid);
    let mut b = Browser::new(&app);
    let page = b.get("/forgot-password").await.text();
    b.post(
        "/forgot-password",
        &[
            ("csrf", &hidden(&page, "csrf")),
            ("email", "ada@example.com"),
        ],
    )
    .await;
    let link = app.link_to("ada@example.com", "/reset-password");
    let page = b.get(&link).await.text();
    let r = b
        .post(
            "/reset-password",
            &[
                ("csrf", &hidden(&page, "csrf")),
                ("token", &hidden(&page, "token")),
                ("password", "a new horse 1"),
                ("confirm", "a new horse 1"),
            ],
        )
        .await;
    assert_eq!(location(&r), "/signin/second-factor", "{}", r.text());
    assert_eq!(b.get("/account").await.status, 303, "no session yet");
    let page = b.get("/signin/second-factor").await.text();
    let r = b
        .post(
            "/signin/second-factor",
            &[
                ("csrf", &hidden(&page, "csrf")),
                ("code", &app.totp_code(&totp)),
            ],
        )
        .await;
    assert_eq!(location(&r), "/account?notice=password-reset");
}

#[actix_rt::test]
async fn apps_and_policy_can_require_a_second_factor() {
    let app = TestApp::new();
    let uid = app.user("ada@example.com", "correct horse");
    let (id, _) = app.client(&[
        "--name",
        "Vault",
        "--redirect-uri",
        CB,
        "--trusted",
        "--require-second-factor",
    ]);
    let authorize = format!(
        "/authorize?response_type=code&client_id={id}&redirect_uri={}&scope=openid&state=s",
        enc(CB)
    );
    let mut b = Browser::new(&app);
    password_step(&mut b, "/account").await;
    // No second factor yet: the app is refused with a page that says how to get one.
    let r = b.get(&authorize).await;
    assert_eq!(r.status, 403);
    assert!(
        r.text().contains("Set one up on your account page"),
        "{}",
        r.text()
    );
    // prompt=none cannot ask.
    let r = b.get(&format!("{authorize}&prompt=none")).await;
    assert_eq!(query(&location(&r))["error"], "interaction_required");
    // Posting the consent form directly skips nothing: the request goes back through the
    // authorization endpoint's checks, and no code is issued.
    let csrf = hidden(&b.get("/account").await.text(), "csrf");
    let authz = authorize.trim_start_matches("/authorize?").to_owned();
    let r = b
        .post(
            "/consent",
            &[("csrf", &csrf), ("authz", &authz), ("decision", "allow")],
        )
        .await;
    let back = location(&r);
    assert!(back.starts_with("/authorize?"), "no code: {back}");
    // With one (set up after this session began): step-up, then the code.
    let totp = app.enrol_totp(&uid);
    // Changing factors in this password-only session needs the second factor first.
    let r = b
        .post(
            "/account/actions/recovery/new",
            &[("csrf", &csrf), ("current_password", "correct horse")],
        )
        .await;
    assert_eq!(location(&r), "/signin/second-factor?return_to=%2Faccount");
    // Nor can this session get a new authenticator key through a wrong confirming code.
    let r = b
        .post(
            "/account/actions/totp/confirm",
            &[("csrf", &csrf), ("code", "000000")],
        )
        .await;
    assert_eq!(location(&r), "/signin/second-factor?return_to=%2Faccount");
    assert!(!r.text().contains("totp-secret"));
    let r = b.get(&authorize).await;
    let step = location(&r);
    assert!(
        step.starts_with("/signin/second-factor?return_to="),
        "{step}"
    );
    let page = b.get(&step).await.text();
    assert!(
        page.contains("This app asks for your second factor"),
        "{page}"
    );
    let r = b
        .post(
            "/signin/second-factor",
            &[
                ("csrf", &hidden(&page, "csrf")),
                ("return_to", &hidden(&page, "return_to")),
                ("code", &app.totp_code(&totp)),
            ],
        )
        .await;
    let back = location(&r);
    assert!(back.starts_with("/authorize?"), "{back}");
    let r = b.get(&back).await;
    assert!(location(&r).starts_with(CB), "{}", location(&r));

    // security.second_factor = "everyone": a person without one is sent to set one up.
    let strict = TestApp::builder()
        .config(|c| c.security.second_factor = portcullis::config::SecondFactorPolicy::Everyone)
        .build();
    strict.user("ada@example.com", "correct horse");
    let mut b = Browser::new(&strict);
    let r = b.sign_in("ada@example.com", "correct horse", "/").await;
    assert_eq!(
        location(&r),
        "/account?notice=second-factor-required#security"
    );
    // ... and the doors with no place for a code refuse the password alone meanwhile.
    let client = strict.password_client("openid");
    let r = password_grant(&strict, &client, "correct horse").await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("second factor"), "{}", r.text());
}

async fn password_grant(
    app: &TestApp,
    client: &(String, String),
    password: &str,
) -> crate::helpers::Response {
    app.token(
        &[
            ("grant_type", "password"),
            ("username", "ada@example.com"),
            ("password", password),
        ],
        (&client.0, &client.1),
    )
    .await
}

#[actix_rt::test]
async fn doors_without_a_code_step_refuse_the_password_alone() {
    let app = TestApp::new();
    let uid = app.user("ada@example.com", "correct horse");
    let client = app.password_client("openid");
    assert_eq!(
        password_grant(&app, &client, "correct horse").await.status,
        200
    );
    app.enrol_totp(&uid);
    // OAuth's password grant: invalid_grant, and what to do instead.
    let r = password_grant(&app, &client, "correct horse").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_grant");
    assert!(
        r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("personal access token"),
        "{}",
        r.text()
    );
    // A wrong password is still just a wrong password (nothing said about second factors).
    let wrong = password_grant(&app, &client, "wrong horse").await;
    assert!(!wrong.text().contains("second factor"), "{}", wrong.text());
    // Bloq POST /auth.
    let r = app
        .send(TestRequest::post().uri("/auth").insert_header((
            "Authorization",
            plain_basic("ada@example.com", "correct horse"),
        )))
        .await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains("second factor"), "{}", r.text());
    // esalerugs POST /account/session.
    let r = app
        .send(TestRequest::post().uri("/account/session").set_json(
            json!({"account": {"email": "ada@example.com", "password": "correct horse"}}),
        ))
        .await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains("second factor"), "{}", r.text());
    // Mongoose RPC with HTTP Basic.
    let r = app
        .send(
            TestRequest::post()
                .uri("/v1/Account.ListTokens")
                .insert_header((
                    "Authorization",
                    plain_basic("ada@example.com", "correct horse"),
                ))
                .set_json(json!({})),
        )
        .await;
    assert!(r.text().contains("second factor"), "{}", r.text());
    // The setting lets the password alone through.
    let lax = TestApp::builder()
        .config(|c| c.security.password_only_api_sign_in = true)
        .build();
    let uid = lax.user("ada@example.com", "correct horse");
    lax.enrol_totp(&uid);
    let client = lax.password_client("openid");
    let r = password_grant(&lax, &client, "correct horse").await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[actix_rt::test]
async fn admins_reset_a_lost_second_factor() {
    let app = TestApp::new();
    let uid = app.user("ada@example.com", "correct horse");
    app.enrol_totp(&uid);
    let mut b = Browser::new(&app);
    assert_eq!(
        location(&password_step(&mut b, "/account").await),
        "/signin/second-factor"
    );
    let out = app
        .cli(&["user", "reset-second-factor", "ada@example.com"])
        .unwrap();
    assert!(out.contains("removed the second factors"), "{out}");
    let mut b = Browser::new(&app);
    assert_eq!(
        location(&password_step(&mut b, "/account").await),
        "/account"
    );
    let out = app
        .cli(&["user", "reset-second-factor", "ada@example.com"])
        .unwrap();
    assert!(out.contains("had no second factor"), "{out}");
}

/// Step-up through a real relying party library: the first sign-in is password-only (`acr`
/// `pwd`, `amr` `["pwd"]`); asking with `acr_values=mfa` gets the second factor asked for
/// inside the existing session, and the ID token says `mfa` with `otp` in `amr`.
#[actix_rt::test]
async fn step_up_with_acr_values_through_the_openidconnect_crate() {
    use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
    use openidconnect::{
        AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
        IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope,
        TokenResponse as _,
    };

    let (app, addr, handle) = served_app();
    let uid = app.user("ada@example.com", "correct horse");
    let base = format!("http://{addr}");
    let redirect = format!("{base}/callback");
    let (id, secret) = app.client(&["--name", "RP", "--redirect-uri", &redirect, "--trusted"]);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(base.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let supported: Vec<String> = metadata
        .acr_values_supported()
        .unwrap()
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(supported, ["pwd", "mfa"]);
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(id),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(redirect.clone()).unwrap());
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let absolute = |loc: &str| {
        if loc.starts_with('/') {
            format!("{base}{loc}")
        } else {
            loc.to_owned()
        }
    };
    let location = |r: &reqwest::Response| absolute(r.headers()["location"].to_str().unwrap());

    // A code flow; `step` answers the second-factor page when it comes up.
    let flow = |mfa: bool, totp: Option<totp_rs::TOTP>| {
        let (client, browser, http, app) = (&client, &browser, &http, &app);
        let (base, redirect, location) = (&base, &redirect, &location);
        async move {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            let mut req = client
                .authorize_url(
                    CoreAuthenticationFlow::AuthorizationCode,
                    CsrfToken::new_random,
                    Nonce::new_random,
                )
                .add_scope(Scope::new("email".into()))
                .set_pkce_challenge(challenge);
            if mfa {
                req = req.add_auth_context_value(AuthenticationContextClass::new("mfa".into()));
            }
            let (url, _, nonce) = req.url();
            let mut res = browser.get(url.as_str()).send().await.unwrap();
            loop {
                let next = location(&res);
                if next.starts_with(redirect.as_str()) {
                    res = browser.get(&next).send().await.unwrap_or(res);
                    let _ = &res;
                    let code = url::Url::parse(&next)
                        .unwrap()
                        .query_pairs()
                        .find(|(k, _)| k == "code")
                        .unwrap()
                        .1
                        .into_owned();
                    let tokens = client
                        .exchange_code(AuthorizationCode::new(code))
                        .unwrap()
                        .set_pkce_verifier(verifier)
                        .request_async(http)
                        .await
                        .expect("code exchange");
                    let claims = tokens
                        .id_token()
                        .unwrap()
                        .claims(&client.id_token_verifier(), &nonce)
                        .unwrap()
                        .clone();
                    let access = tokens.access_token().secret().clone();
                    return (claims, access);
                }
                let page = browser.get(&next).send().await.unwrap();
                if page.status() != 200 {
                    res = page;
                    continue;
                }
                let html = page.text().await.unwrap();
                let form: Vec<(String, String)> = if next.contains("/signin/second-factor") {
                    vec![
                        ("csrf".into(), hidden(&html, "csrf")),
                        ("return_to".into(), hidden(&html, "return_to")),
                        ("code".into(), app.totp_code(totp.as_ref().unwrap())),
                    ]
                } else {
                    vec![
                        ("csrf".into(), hidden(&html, "csrf")),
                        ("return_to".into(), hidden(&html, "return_to")),
                        ("login".into(), "ada@example.com".into()),
                        ("password".into(), "correct horse".into()),
                    ]
                };
                let target = if next.contains("/signin/second-factor") {
                    format!("{base}/signin/second-factor")
                } else {
                    format!("{base}/signin")
                };
                res = browser.post(target).form(&form).send().await.unwrap();
            }
        }
    };
    let (claims, access) = flow(false, None).await;
    assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("pwd"));
    let amr: Vec<String> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|m| m.to_string())
        .collect();
    assert_eq!(amr, ["pwd"]);
    assert_eq!(app.introspect(&access).await["acr"], "pwd");

    let totp = app.enrol_totp(&uid);
    let (claims, access) = flow(true, Some(totp)).await;
    assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("mfa"));
    let amr: Vec<String> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|m| m.to_string())
        .collect();
    assert_eq!(amr, ["pwd", "otp", "mfa"]);
    let info = app.introspect(&access).await;
    assert_eq!(info["acr"], "mfa");
    assert_eq!(info["amr"], json!(["pwd", "otp", "mfa"]));
    handle.stop(true).await;
}

/// The passkey requests refuse what cannot work: an issuer that is an IP address (WebAuthn
/// needs a host name), a missing CSRF token, a ceremony that does not exist or was used, an
/// answer that is no credential; the account page says why passkeys are unavailable.
#[actix_rt::test]
async fn passkey_requests_refuse_what_cannot_work() {
    let app = TestApp::new();
    app.user("ada@example.com", "correct horse");
    let mut b = Browser::new(&app);
    password_step(&mut b, "/account").await;
    let page = b.get("/account").await.text();
    assert!(
        page.contains("passkeys need the issuer to be a host name"),
        "{page}"
    );
    assert!(
        !page.contains("id=\"passkey-add\""),
        "no form that cannot work"
    );
    let csrf = hidden(&page, "csrf");
    let r = b
        .post_json("/webauthn/register/start", json!({ "csrf": csrf }))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"], "unavailable");

    let named = TestApp::builder()
        .config(|c| c.issuer = Some("http://localhost:8080".into()))
        .build();
    named.user("ada@example.com", "correct horse");
    let mut b = Browser::new(&named);
    b.sign_in("ada@example.com", "correct horse", "/account")
        .await;
    let page = b.get("/account").await.text();
    assert!(page.contains("id=\"passkey-add\""), "{page}");
    let csrf = hidden(&page, "csrf");
    // Without the page's CSRF token.
    let r = b
        .post_json("/webauthn/register/start", json!({ "csrf": "forged" }))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "csrf");
    // Options for a discoverable credential with user verification.
    // Without the current password.
    let r = b
        .post_json("/webauthn/register/start", json!({ "csrf": csrf }))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "current_password");
    let r = b
        .post_json(
            "/webauthn/register/start",
            json!({ "csrf": csrf, "current_password": "correct horse" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let start = r.json();
    let selection = &start["options"]["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required");
    assert_eq!(selection["userVerification"], "required");
    assert_eq!(start["options"]["publicKey"]["rp"]["id"], "localhost");
    // A made-up answer is refused, and the ceremony is gone after one try.
    let bogus = json!({ "csrf": csrf, "ceremony": start["ceremony"], "name": "x",
                        "credential": { "id": "AAAA", "rawId": "AAAA", "type": "public-key",
                                        "response": { "attestationObject": "AAAA", "clientDataJSON": "AAAA" } } });
    let r = b
        .post_json("/webauthn/register/finish", bogus.clone())
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = b.post_json("/webauthn/register/finish", bogus).await;
    assert!(r.text().contains("expired"), "single use: {}", r.text());
    // Sign-in: an unknown ceremony, and an answer that is no credential.
    let mut stranger = Browser::new(&named);
    let page = stranger.get("/signin").await.text();
    let csrf = hidden(&page, "csrf");
    let r = stranger
        .post_json(
            "/webauthn/authenticate/finish",
            json!({ "csrf": csrf, "ceremony": "nope", "credential": {} }),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "not_accepted");
    let r = stranger
        .post_json("/webauthn/authenticate/start", json!({ "csrf": csrf }))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["options"]["publicKey"]["userVerification"],
        "required"
    );
}

/// Wrong codes are also counted per day, and a right code does not reset that count: past 20
/// a day, even the right code waits (or an administrator unlocks the account).
#[actix_rt::test]
async fn wrong_codes_are_limited_per_day_too() {
    let app = TestApp::new();
    let uid = app.user("ada@example.com", "correct horse");
    let totp = app.enrol_totp(&uid);
    let mut b = Browser::new(&app);
    password_step(&mut b, "/account").await;
    let page = b.get("/signin/second-factor").await.text();
    let csrf = hidden(&page, "csrf");
    for _ in 0..4 {
        for _ in 0..5 {
            let r = b
                .post(
                    "/signin/second-factor",
                    &[("csrf", &csrf), ("code", "123456")],
                )
                .await;
            assert_eq!(r.status, 401);
        }
        // The 15-minute window passes; the day's count stays.
        app.clock.advance(std::time::Duration::from_secs(16 * 60));
        password_step(&mut b, "/account").await;
    }
    let r = b
        .post(
            "/signin/second-factor",
            &[("csrf", &csrf), ("code", &app.totp_code(&totp))],
        )
        .await;
    assert_eq!(r.status, 429, "20 wrong codes today: {}", r.text());
    app.cli(&["user", "unlock", "ada@example.com"]).unwrap();
    let r = b
        .post(
            "/signin/second-factor",
            &[("csrf", &csrf), ("code", &app.totp_code(&totp))],
        )
        .await;
    assert_eq!(location(&r), "/account", "{}", r.text());
}
