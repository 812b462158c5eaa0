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

use crate::interop::{served_app, served_app_with};

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

fn available() -> bool {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present {
        if std::env::var("REQUIRE_BROWSER_TESTS").as_deref() == Ok("1") {
            panic!("REQUIRE_BROWSER_TESTS=1 but {CHROMIUM} or {CHROMEDRIVER} is missing: apt-get install -y chromium chromium-driver");
        }
        eprintln!("\n*** SKIPPING BROWSER TEST: {CHROMIUM} / {CHROMEDRIVER} not installed (apt-get install -y chromium chromium-driver) ***\n");
    }
    present
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

#[actix_rt::test]
async fn sign_in_consent_and_land_on_the_redirect_uri() {
    if !available() {
        return;
    }
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
    shot(&client, "signin-phone").await;
    // A wrong password first: a message, and the form again.
    client
        .find(Locator::Css("#login"))
        .await
        .unwrap()
        .send_keys("ada")
        .await
        .unwrap();
    client
        .find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys("not-the-password")
        .await
        .unwrap();
    client
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let alert = client
        .wait()
        .for_element(Locator::Css("[role=alert]"))
        .await
        .unwrap();
    assert!(alert
        .text()
        .await
        .unwrap()
        .contains("Incorrect username or password"));
    client
        .find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys("password1")
        .await
        .unwrap();
    client
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
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
    shot(&client, "consent-phone").await;
    client.set_window_size(1280, 900).await.unwrap();
    shot(&client, "consent-desktop").await;
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

#[actix_rt::test]
async fn self_service_accounts_in_a_real_browser() {
    if !available() {
        return;
    }
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
    check_layout(&client, "signup").await;
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
    check_layout(&client, "account").await;
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
    check_layout(&client, "reset").await;
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
}
