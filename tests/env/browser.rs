//! Real-browser tests: headless Chromium (Debian's `chromium` and `chromium-driver`) driven over
//! WebDriver. When Chromium is missing they skip with a loud message, unless
//! `REQUIRE_BROWSER_TESTS=1` (set by `.ci/run`), which makes a missing browser a failure.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use fantoccini::{Client, ClientBuilder, Locator};
use sha2::Digest;

use crate::helpers::{served_app, served_app_with};
use crate::{Outcome, Skip};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A running chromedriver, stopped on drop.
struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Chromium and its driver are installed; otherwise the test is skipped (reported ignored),
/// or fails when `REQUIRE_BROWSER_TESTS=1`.
pub fn available() -> Result<(), Skip> {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return Ok(());
    }
    Skip::unless_required(
        "REQUIRE_BROWSER_TESTS",
        format!(
            "{CHROMIUM} or {CHROMEDRIVER} is missing: apt-get install -y chromium chromium-driver"
        ),
    )
}

async fn start() -> (Driver, Client) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let profile = tempfile::tempdir().unwrap();
    let driver = Driver {
        child,
        port,
        _profile: profile,
    };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", driver.port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic",
                format!("--user-data-dir={}", driver._profile.path().display()),
            ],
        }),
    );
    let client = ClientBuilder::native()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session");
    (driver, client)
}

/// Where screenshots go (kept by CI as artifacts).
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(artifacts().join(format!("{name}.png")), png).unwrap();
}

async fn fits_width(client: &Client) -> bool {
    let v = client
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth;",
            vec![],
        )
        .await
        .unwrap();
    v.as_bool().unwrap_or(false)
}

async fn wait_for_url(client: &Client, prefix: &str) -> url::Url {
    let started = Instant::now();
    loop {
        let url = client.current_url().await.unwrap();
        if url.as_str().starts_with(prefix) {
            return url;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "stuck at {url}"
        );
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn sign_in_consent_and_land_on_the_redirect_uri() -> Outcome {
    available()?;
    let (app, addr, handle) = served_app();
    app.user_with(
        portcullis::core::users::NewUser {
            email: "ada@example.com".into(),
            username: Some("ada".into()),
            ..Default::default()
        },
        "password1",
    );
    let redirect = format!("http://{addr}/callback");
    let (id, _) = app.client(&[
        "--name",
        "Browser App",
        "--public",
        "--redirect-uri",
        &redirect,
    ]);
    let verifier = "browser-test-verifier-0123456789-abcdefghijklmnop";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let auth = format!(
        "http://{addr}/authorize?response_type=code&client_id={id}&redirect_uri={}&scope=openid%20profile&state=s1&nonce=n1&code_challenge={challenge}&code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
    );

    let (_driver, client) = start().await;
    // Phone width first: the sign-in page fits without sideways scrolling.
    client.set_window_size(375, 812).await.unwrap();
    client.goto(&auth).await.unwrap();
    wait_for_url(&client, &format!("http://{addr}/signin")).await;
    assert!(
        fits_width(&client).await,
        "sign-in page overflows a phone-width screen"
    );
    shot(&client, "flow-signin-phone").await;
    // A wrong password first: a message, and the form again.
    fill(&client, "#login", "ada").await;
    fill(&client, "#password", "not-the-password").await;
    submit(&client, "button[type=submit]").await;
    // The form's own error (the page has another, hidden alert for passkeys).
    let alert = client
        .wait()
        .for_element(Locator::Css("#signin-error"))
        .await
        .unwrap();
    assert!(alert
        .text()
        .await
        .unwrap()
        .contains("Incorrect username or password"));
    fill(&client, "#password", "password1").await;
    submit(&client, "button[type=submit]").await;
    // The consent page.
    let allow = client
        .wait()
        .for_element(Locator::Css("button[value=allow]"))
        .await
        .unwrap();
    assert!(
        fits_width(&client).await,
        "consent page overflows a phone-width screen"
    );
    shot(&client, "flow-consent-phone").await;
    client.set_window_size(1280, 900).await.unwrap();
    shot(&client, "flow-consent-desktop").await;
    allow.click().await.unwrap();
    let landed = wait_for_url(&client, &redirect).await;
    let params: std::collections::HashMap<_, _> = landed.query_pairs().into_owned().collect();
    assert_eq!(params["state"], "s1");
    let code = params["code"].clone();
    client.close().await.unwrap();

    let res = reqwest::Client::new()
        .post(format!("http://{addr}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("client_id", &id),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["id_token"].is_string());
    handle.stop(true).await;
    Ok(())
}

async fn fill(client: &Client, css: &str, text: &str) {
    let field = client.wait().for_element(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn submit(client: &Client, css: &str) {
    client
        .wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Both widths: fits a phone without sideways scrolling; screenshots of each.
async fn check_layout(client: &Client, name: &str) {
    client.set_window_size(375, 812).await.unwrap();
    assert!(
        fits_width(client).await,
        "{name} overflows a phone-width screen"
    );
    shot(client, &format!("{name}-phone")).await;
    client.set_window_size(1280, 900).await.unwrap();
    shot(client, &format!("{name}-desktop")).await;
}

async fn sign_in_as(client: &Client, base: &str, login: &str, password: &str) {
    client.goto(&format!("{base}/signin")).await.unwrap();
    fill(client, "#login", login).await;
    fill(client, "#password", password).await;
    submit(client, "button[type=submit]").await;
    wait_for_url(client, &format!("{base}/account")).await;
}

pub async fn self_service_accounts_in_a_real_browser() -> Outcome {
    available()?;
    let (app, addr, handle) =
        served_app_with(|c| c.registration = portcullis::config::Registration::Open);
    let base = format!("http://{addr}");
    let (_driver, client) = start().await;

    // Sign up, follow the verification link, sign in.
    client.goto(&format!("{base}/signup")).await.unwrap();
    client
        .wait()
        .for_element(Locator::Css("#email"))
        .await
        .unwrap();
    check_layout(&client, "flow-signup").await;
    fill(&client, "#email", "grace@example.com").await;
    fill(&client, "#name", "Grace Hopper").await;
    fill(&client, "#username", "grace").await;
    fill(&client, "#password", "cobol forever 1959").await;
    submit(&client, "button[type=submit]").await;
    wait_for_url(&client, &format!("{base}/account")).await;
    let link = app.link_to("grace@example.com", "/verify-email");
    client.goto(&format!("{base}{link}")).await.unwrap();
    let status = client
        .wait()
        .for_element(Locator::Css("[role=status]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(status.contains("confirmed"), "{status}");
    client.delete_all_cookies().await.unwrap();
    sign_in_as(&client, &base, "grace", "cobol forever 1959").await;
    client
        .wait()
        .for_element(Locator::Css("#description"))
        .await
        .unwrap();
    check_layout(&client, "flow-account").await;
    assert!(client.source().await.unwrap().contains("verified"));

    // Create a personal access token, then revoke it.
    fill(&client, "#description", "Build server").await;
    submit(&client, "form[action='/account/actions/tokens'] button").await;
    let token = client
        .wait()
        .for_element(Locator::Css("#token"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(token.starts_with("pcat_"));
    assert_eq!(app.introspect(&token).await["active"], true);
    client.goto(&format!("{base}/account")).await.unwrap();
    client
        .wait()
        .for_element(Locator::Css(
            "form[action='/account/actions/tokens/revoke'] button",
        ))
        .await
        .unwrap();
    submit(
        &client,
        "form[action='/account/actions/tokens/revoke'] button",
    )
    .await;
    wait_for_url(&client, &format!("{base}/account?notice=token-revoked")).await;
    assert_eq!(app.introspect(&token).await["active"], false);

    // Forgot the password: the link, a new password, signed in with it.
    client.delete_all_cookies().await.unwrap();
    client
        .goto(&format!("{base}/forgot-password"))
        .await
        .unwrap();
    fill(&client, "#email", "grace@example.com").await;
    submit(&client, "button[type=submit]").await;
    client
        .wait()
        .for_element(Locator::Css("[role=status]"))
        .await
        .unwrap();
    let link = app.link_to("grace@example.com", "/reset-password");
    client.goto(&format!("{base}{link}")).await.unwrap();
    client
        .wait()
        .for_element(Locator::Css("#confirm"))
        .await
        .unwrap();
    check_layout(&client, "flow-reset").await;
    fill(&client, "#password", "new hopper pass 1").await;
    fill(&client, "#confirm", "new hopper pass 1").await;
    submit(&client, "button[type=submit]").await;
    wait_for_url(&client, &format!("{base}/account?notice=password-reset")).await;
    client.delete_all_cookies().await.unwrap();
    sign_in_as(&client, &base, "grace@example.com", "new hopper pass 1").await;

    // Sign out everywhere: this browser too, and a token made before.
    let (pat, _) = portcullis::core::tokens::pat::create(
        &mut app.conn(),
        app.clock.now_naive(),
        &app.state
            .db
            .run(|c| {
                Ok(portcullis::core::users::find_by_login(c, "grace")?
                    .unwrap()
                    .id)
            })
            .await
            .unwrap(),
        "Old",
        None,
    )
    .unwrap();
    submit(
        &client,
        "form[action='/account/actions/sessions/end-all'] button",
    )
    .await;
    wait_for_url(&client, &format!("{base}/signin")).await;
    client.goto(&format!("{base}/account")).await.unwrap();
    wait_for_url(&client, &format!("{base}/signin")).await;
    assert_eq!(app.introspect(&pat).await["active"], false);
    client.close().await.unwrap();
    handle.stop(true).await;
    Ok(())
}

/// Screenshots of one page as people see it: phone width (which must not scroll sideways),
/// desktop, and desktop in dark mode; the whole page each time.
struct Gallery<'a> {
    client: &'a Client,
    /// chromedriver's `goog/cdp/execute` for this session (dark mode is a CDP emulation).
    cdp: String,
}

impl<'a> Gallery<'a> {
    async fn new(driver: &Driver, client: &'a Client) -> Gallery<'a> {
        let session = client.session_id().await.unwrap().expect("a session");
        Gallery {
            client,
            cdp: format!(
                "http://127.0.0.1:{}/session/{session}/goog/cdp/execute",
                driver.port
            ),
        }
    }

    async fn dark(&self, on: bool) {
        let value = if on { "dark" } else { "light" };
        let r = reqwest::Client::new()
            .post(&self.cdp)
            .json(&serde_json::json!({
                "cmd": "Emulation.setEmulatedMedia",
                "params": { "features": [{ "name": "prefers-color-scheme", "value": value }] },
            }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "CDP: {}", r.text().await.unwrap());
    }

    async fn whole_page(&self, width: u32, name: &str) {
        self.client.set_window_size(width, 800).await.unwrap();
        let height = self
            .client
            .execute("return document.documentElement.scrollHeight;", vec![])
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(800) as u32;
        self.client
            .set_window_size(width, height.clamp(800, 4000))
            .await
            .unwrap();
        shot(self.client, name).await;
    }

    /// The page now shown, as `<name>-phone`, `<name>-desktop` and `<name>-dark`.
    async fn shoot(&self, name: &str) {
        self.client.set_window_size(375, 812).await.unwrap();
        assert!(
            fits_width(self.client).await,
            "{name} overflows a phone-width screen"
        );
        self.whole_page(375, &format!("{name}-phone")).await;
        self.whole_page(1280, &format!("{name}-desktop")).await;
        self.dark(true).await;
        self.whole_page(1280, &format!("{name}-dark")).await;
        self.dark(false).await;
        self.client.set_window_size(1280, 900).await.unwrap();
    }

    /// The contrast ratio (WCAG 2) of the first element matching `css` against the page.
    async fn contrast(&self, css: &str) -> f64 {
        let script = r#"
            const lum = (c) => {
                const [r, g, b] = c.match(/[\d.]+/g).slice(0, 3).map(Number).map((v) => {
                    v /= 255;
                    return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
                });
                return 0.2126 * r + 0.7152 * g + 0.0722 * b;
            };
            const el = document.querySelector(arguments[0]);
            const fg = lum(getComputedStyle(el).color);
            const bg = lum(getComputedStyle(document.body).backgroundColor);
            return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
        "#;
        self.client
            .execute(script, vec![serde_json::json!(css)])
            .await
            .unwrap()
            .as_f64()
            .unwrap()
    }
}

/// Every page, on a phone, a desktop and in dark mode (screenshots kept by CI), with what a
/// person relies on checked in the real browser: the app named at sign-in, the focus on the
/// field at fault, readable muted text in both modes.
pub async fn every_page_on_a_phone_a_desktop_and_in_dark_mode() -> Outcome {
    available()?;
    // A host-name issuer, so the pages offer passkeys as they do in production.
    let (app, addr, handle) = served_app_with(|c| {
        c.issuer = c
            .issuer
            .as_ref()
            .map(|i| i.replace("127.0.0.1", "localhost"));
        c.registration = portcullis::config::Registration::Open;
        c.terms_version = Some("2026-12".into());
        c.terms_url = Some("https://example.com/terms".into());
    });
    let base = format!("http://localhost:{}", addr.port());
    app.user_with(
        portcullis::core::users::NewUser {
            email: "ada@example.com".into(),
            username: Some("ada".into()),
            display_name: Some("Ada Lovelace".into()),
            verified: true,
            ..Default::default()
        },
        "analytical engine",
    );
    let redirect = format!("{base}/callback");
    let (id, _) = app.client(&[
        "--name",
        "Analytical Notes",
        "--public",
        "--redirect-uri",
        &redirect,
    ]);
    let (driver, client) = start().await;
    let g = Gallery::new(&driver, &client).await;
    let open = |path: String, css: &'static str| {
        let client = &client;
        async move {
            client.goto(&path).await.unwrap();
            client.wait().for_element(Locator::Css(css)).await.unwrap();
        }
    };

    open(format!("{base}/"), "h1").await;
    g.shoot("home").await;
    open(format!("{base}/signup"), "#email").await;
    g.shoot("signup").await;
    // A sign-up error puts the focus on the field at fault.
    fill(&client, "#email", "grace@example.com").await;
    fill(&client, "#password", "short").await;
    submit(&client, "button[type=submit]").await;
    client
        .wait()
        .for_element(Locator::Css("#signup-error"))
        .await
        .unwrap();
    let focused = client
        .execute("return document.activeElement.id;", vec![])
        .await
        .unwrap();
    assert_eq!(focused, "password", "the field at fault has the focus");
    g.shoot("signup-error").await;
    open(format!("{base}/forgot-password"), "#email").await;
    g.shoot("forgot").await;
    fill(&client, "#email", "ada@example.com").await;
    submit(&client, "button[type=submit]").await;
    client
        .wait()
        .for_element(Locator::Css("[role=status]"))
        .await
        .unwrap();
    g.shoot("forgot-sent").await;
    let link = app.link_to("ada@example.com", "/reset-password");
    open(format!("{base}{link}"), "#confirm").await;
    g.shoot("reset").await;
    open(format!("{base}/reset-password?token=nope"), "h1").await;
    g.shoot("error").await;

    // Signing in to an app: its name on the sign-in page, then the terms, then consent.
    let auth = format!(
        "{base}/authorize?response_type=code&client_id={id}&redirect_uri={}&scope=openid%20profile%20email&state=s1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
    );
    client.goto(&auth).await.unwrap();
    wait_for_url(&client, &format!("{base}/signin")).await;
    let lead = client
        .wait()
        .for_element(Locator::Css(".lead"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(lead, "to continue to Analytical Notes");
    g.shoot("signin").await;
    // The README's picture (docs/signin.png is a copy of this one).
    client.set_window_size(720, 680).await.unwrap();
    shot(&client, "readme-signin").await;
    client.set_window_size(1280, 900).await.unwrap();
    // Muted text is readable (WCAG AA, 4.5:1) in light and dark mode.
    let light = g.contrast(".muted").await;
    g.dark(true).await;
    let dark = g.contrast(".muted").await;
    g.dark(false).await;
    assert!(
        light >= 4.5 && dark >= 4.5,
        "muted text contrast: light {light:.2}, dark {dark:.2}"
    );
    fill(&client, "#login", "ada").await;
    fill(&client, "#password", "analytical engine").await;
    submit(&client, "button[type=submit]").await;
    wait_for_url(&client, &format!("{base}/terms")).await;
    client
        .wait()
        .for_element(Locator::Css("button[value=accept]"))
        .await
        .unwrap();
    g.shoot("terms").await;
    submit(&client, "button[value=accept]").await;
    client
        .wait()
        .for_element(Locator::Css("button[value=allow]"))
        .await
        .unwrap();
    g.shoot("consent").await;
    submit(&client, "button[value=allow]").await;
    wait_for_url(&client, &redirect).await;

    // Signed in: home, the account page, a new token, sign-out and signed out.
    open(format!("{base}/"), "a[href='/account']").await;
    g.shoot("home-signed-in").await;
    open(format!("{base}/account"), "#description").await;
    g.shoot("account").await;
    fill(&client, "#description", "Build server").await;
    submit(&client, "form[action='/account/actions/tokens'] button").await;
    client
        .wait()
        .for_element(Locator::Css("#token"))
        .await
        .unwrap();
    g.shoot("token-created").await;
    // Second factor: the authenticator app's set-up page (QR code), the recovery codes.
    open(
        format!("{base}/account"),
        "form[action='/account/actions/totp/start'] button",
    )
    .await;
    fill(&client, "#totp_start_password", "analytical engine").await;
    submit(&client, "form[action='/account/actions/totp/start'] button").await;
    let key = client
        .wait()
        .for_element(Locator::Css("#totp-secret"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    g.shoot("totp-setup").await;
    client.set_window_size(720, 1000).await.unwrap();
    shot(&client, "readme-totp-setup").await;
    let totp = crate::helpers::TestApp::totp_from_key(&key);
    fill(&client, "#code", &app.totp_code(&totp)).await;
    submit(
        &client,
        "form[action='/account/actions/totp/confirm'] button",
    )
    .await;
    client
        .wait()
        .for_element(Locator::Css("#recovery-codes"))
        .await
        .unwrap();
    g.shoot("recovery-codes").await;
    app.clock.advance(Duration::from_secs(30));

    open(format!("{base}/logout"), "button[type=submit]").await;
    g.shoot("logout").await;
    submit(&client, "button[type=submit]").await;
    client.wait().for_element(Locator::Css("h1")).await.unwrap();
    g.shoot("signed-out").await;
    // Signing in again takes the code: the second step.
    open(format!("{base}/signin"), "#login").await;
    fill(&client, "#login", "ada").await;
    fill(&client, "#password", "analytical engine").await;
    submit(&client, "button[type=submit]").await;
    wait_for_url(&client, &format!("{base}/signin/second-factor")).await;
    client
        .wait()
        .for_element(Locator::Css("#code"))
        .await
        .unwrap();
    g.shoot("second-factor").await;
    client.set_window_size(720, 640).await.unwrap();
    shot(&client, "readme-second-factor").await;
    fill(&client, "#code", &app.totp_code(&totp)).await;
    submit(&client, "form button[type=submit]").await;
    wait_for_url(&client, &format!("{base}/account")).await;
    open(format!("{base}/favicon.ico"), "img").await;

    client.close().await.unwrap();
    drop(driver);
    handle.stop(true).await;
    Ok(())
}

/// Waits until the element is shown (passkey controls stay hidden until the script runs).
async fn shown(client: &Client, css: &str) -> fantoccini::elements::Element {
    let started = Instant::now();
    loop {
        let el = client.wait().for_element(Locator::Css(css)).await.unwrap();
        if el.is_displayed().await.unwrap_or(false) {
            return el;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{css} never shown"
        );
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
}

fn passkey_count(app: &crate::helpers::TestApp) -> i64 {
    use diesel::prelude::*;
    portcullis::db::schema::passkeys::table
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

/// Passkeys in Chromium with WebDriver's virtual authenticator (a platform authenticator
/// with user verification and discoverable credentials): register one on the account page,
/// sign in with it alone (no username typed), use it as the second step after a password,
/// and remove it.
pub async fn passkeys_register_sign_in_and_second_step() -> Outcome {
    available()?;
    // WebAuthn needs a host name: the issuer is localhost (the server listens on 127.0.0.1).
    let (app, addr, handle) = served_app_with(|c| {
        c.issuer = c
            .issuer
            .as_ref()
            .map(|i| i.replace("127.0.0.1", "localhost"));
    });
    let base = format!("http://localhost:{}", addr.port());
    app.user_with(
        portcullis::core::users::NewUser {
            email: "ada@example.com".into(),
            username: Some("ada".into()),
            display_name: Some("Ada Lovelace".into()),
            verified: true,
            ..Default::default()
        },
        "analytical engine",
    );
    let (driver, client) = start().await;
    let session = client.session_id().await.unwrap().expect("a session");
    let r = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/session/{session}/webauthn/authenticator",
            driver.port
        ))
        .json(&serde_json::json!({
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
            "hasUserVerification": true, "isUserVerified": true,
        }))
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "virtual authenticator: {}",
        r.text().await.unwrap()
    );

    // Register a passkey on the account page.
    sign_in_as(&client, &base, "ada", "analytical engine").await;
    shown(&client, "#passkey-add").await;
    fill(&client, "#passkey_name", "Laptop").await;
    fill(&client, "#passkey_add_password", "analytical engine").await;
    submit(&client, "#passkey-add button").await;
    wait_for_url(&client, &format!("{base}/account?notice=passkey-added")).await;
    assert_eq!(passkey_count(&app), 1);
    assert!(client
        .source()
        .await
        .unwrap()
        .contains("<strong>Laptop</strong>"));

    // Sign in with the passkey alone: no username, no password.
    client.delete_all_cookies().await.unwrap();
    client.goto(&format!("{base}/signin")).await.unwrap();
    shown(&client, "#passkey-use").await.click().await.unwrap();
    wait_for_url(&client, &format!("{base}/account")).await;
    let amr: Vec<String> = {
        use diesel::prelude::*;
        portcullis::db::schema::sessions::table
            .select(portcullis::db::schema::sessions::amr)
            .load(&mut app.conn())
            .unwrap()
    };
    assert!(amr.iter().any(|a| a == r#"["hwk","mfa"]"#), "{amr:?}");

    // A password now needs a second step, and the passkey is one.
    client.delete_all_cookies().await.unwrap();
    client.goto(&format!("{base}/signin")).await.unwrap();
    fill(&client, "#login", "ada").await;
    fill(&client, "#password", "analytical engine").await;
    submit(&client, "form[action='/signin'] button[type=submit]").await;
    wait_for_url(&client, &format!("{base}/signin/second-factor")).await;
    shown(&client, "#passkey-use").await.click().await.unwrap();
    wait_for_url(&client, &format!("{base}/account")).await;

    // Remove it (with the current password; this session used the passkey).
    fill(&client, "#passkey_remove_password", "analytical engine").await;
    submit(
        &client,
        "form[action='/account/actions/passkeys/remove'] button",
    )
    .await;
    wait_for_url(&client, &format!("{base}/account?notice=passkey-removed")).await;
    assert_eq!(passkey_count(&app), 0);
    client.close().await.unwrap();
    drop(driver);
    handle.stop(true).await;
    Ok(())
}

/// Issue 18: a client registers itself with an initial access token an admin issued through
/// the admin API, pushes its authorization request, and a person completes the code flow in
/// Chromium; the client redeems the code with the secret it was given.
pub async fn a_self_registered_client_completes_a_pushed_code_flow() -> Outcome {
    available()?;
    let (app, addr, handle) = served_app();
    app.user_with(
        portcullis::core::users::NewUser {
            email: "ada@example.com".into(),
            username: Some("ada".into()),
            ..Default::default()
        },
        "password1",
    );
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    // An admin's token, then the initial access token through the admin API.
    let (ops, ops_secret) = app.client(&["--grant", "client_credentials", "--scope", "admin"]);
    let admin: serde_json::Value = http
        .post(format!("{base}/token"))
        .basic_auth(&ops, Some(&ops_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin = admin["access_token"].as_str().unwrap();
    let issued: serde_json::Value = http
        .post(format!("{base}/admin/registration-tokens"))
        .bearer_auth(admin)
        .json(&serde_json::json!({"note": "browser test"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let iat = issued["initial_access_token"].as_str().unwrap();
    let redirect = format!("http://{addr}/callback");
    let res = http
        .post(format!("{base}/register"))
        .bearer_auth(iat)
        .json(&serde_json::json!({
            "client_name": "Self-registered App",
            "redirect_uris": [redirect],
            "grant_types": ["authorization_code"],
            "require_pushed_authorization_requests": true,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let reg: serde_json::Value = res.json().await.unwrap();
    let (id, secret) = (
        reg["client_id"].as_str().unwrap(),
        reg["client_secret"].as_str().unwrap(),
    );
    let verifier = "browser-test-verifier-0123456789-abcdefghijklmnop";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let pushed: serde_json::Value = http
        .post(format!("{base}/par"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("response_type", "code"),
            ("redirect_uri", redirect.as_str()),
            ("scope", "openid profile"),
            ("state", "s1"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let request_uri = pushed["request_uri"].as_str().expect("a request_uri");
    let auth = format!(
        "{base}/authorize?client_id={id}&request_uri={}",
        url::form_urlencoded::byte_serialize(request_uri.as_bytes()).collect::<String>()
    );

    let (_driver, client) = start().await;
    client.goto(&auth).await.unwrap();
    wait_for_url(&client, &format!("{base}/signin")).await;
    let page = client.source().await.unwrap();
    assert!(
        page.contains("Self-registered App"),
        "the sign-in names the app"
    );
    fill(&client, "#login", "ada").await;
    fill(&client, "#password", "password1").await;
    submit(&client, "button[type=submit]").await;
    let allow = client
        .wait()
        .for_element(Locator::Css("button[value=allow]"))
        .await
        .unwrap();
    shot(&client, "self-registered-consent").await;
    allow.click().await.unwrap();
    let landed = wait_for_url(&client, &redirect).await;
    let params: std::collections::HashMap<_, _> = landed.query_pairs().into_owned().collect();
    assert_eq!(params["state"], "s1");
    client.close().await.unwrap();

    let res = http
        .post(format!("{base}/token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", params["code"].as_str()),
            ("redirect_uri", redirect.as_str()),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["id_token"].is_string());
    handle.stop(true).await;
    Ok(())
}
