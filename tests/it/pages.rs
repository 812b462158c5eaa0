//! The pages people see: the configured brand on every page and email, "to continue to
//! <app>", the home page's way to the account page, readable account page, the terms link,
//! Cancel on sign-out, focus on the field at fault, the favicon.

use actix_web::test::TestRequest;

use crate::browser_helpers::{enc, hidden, Browser};
use crate::helpers::TestApp;

const CB: &str = "https://app.example.com/cb";

fn branded() -> TestApp {
    TestApp::builder()
        .config(|c| {
            c.branding.name = "Acme ID".into();
            c.branding.logo_url = Some("https://cdn.acme.test/logo.svg".into());
            c.branding.accent_color = "#ffcc00".into();
            c.terms_version = Some("2026-12".into());
            c.terms_url = Some("https://acme.test/terms".into());
            c.registration = portcullis::config::Registration::Open;
        })
        .build()
}

#[actix_rt::test]
async fn every_page_carries_the_configured_brand() {
    let app = branded();
    for path in [
        "/",
        "/signin",
        "/signup",
        "/forgot-password",
        "/reset-password?token=nope",
    ] {
        let r = app.get(path).await;
        let html = r.text();
        assert!(
            html.contains("<title>") && html.contains("Acme ID</title>"),
            "{path}: {html}"
        );
        assert!(
            !html.contains("Portcullis"),
            "{path} names no other brand: {html}"
        );
        assert!(
            html.contains(r#"<img src="https://cdn.acme.test/logo.svg""#),
            "{path}: {html}"
        );
        // The logo's origin, and only it, may serve images.
        let csp = r.header("content-security-policy").unwrap();
        assert!(
            csp.contains("img-src 'self' https://cdn.acme.test;"),
            "{csp}"
        );
    }
    let css = app.get("/static/portcullis.css").await;
    let text = css.text();
    // A light accent gets dark text on its buttons.
    assert!(
        text.contains("--accent: #ffcc00; --accent-text: #111;"),
        "{text}"
    );
    let plain = TestApp::new();
    assert!(plain
        .get("/static/portcullis.css")
        .await
        .text()
        .contains("--accent: #2f5bd3; --accent-text: #fff;"));
    assert!(plain
        .get("/signin")
        .await
        .text()
        .contains("Portcullis</title>"));
}

#[actix_rt::test]
async fn brand_settings_are_checked() {
    for (set, setting) in [
        ("colour", "branding.accent_color"),
        ("logo", "branding.logo_url"),
        ("name", "branding.name"),
        ("terms", "terms_url"),
    ] {
        let mut c = portcullis::config::Config::default();
        match set {
            "colour" => c.branding.accent_color = "blue".into(),
            "logo" => c.branding.logo_url = Some("javascript:alert(1)".into()),
            "name" => c.branding.name = " ".into(),
            _ => c.terms_url = Some("ftp://acme.test/terms".into()),
        }
        let e = c.finish().unwrap_err().to_string();
        assert!(e.contains(&format!("`{setting}`")), "{e}");
    }
}

#[actix_rt::test]
async fn emails_carry_the_brand_in_unwrapped_paragraphs() {
    let app = branded();
    app.user("ada@example.com", "correct horse");
    let mut b = Browser::new(&app);
    let page = b.get("/forgot-password").await;
    let csrf = hidden(&page.text(), "csrf");
    b.post(
        "/forgot-password",
        &[("csrf", &csrf), ("email", "ada@example.com")],
    )
    .await;
    let message = app.outbox().pop().expect("a reset email");
    // Undo the transfer encoding (quoted-printable soft line breaks are not the text's).
    let message = message
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    assert!(message.contains("Acme ID account"), "{message}");
    assert!(
        message.contains("background:#ffcc00;color:#111"),
        "{message}"
    );
    assert!(message.contains("expires in 1 hour"), "{message}");
    // The plain-text part: each paragraph is one line (mail clients wrap it themselves).
    let text = message
        .split("Content-Type: text/plain")
        .nth(1)
        .expect("a plain-text part");
    let text = text.split("Content-Type: text/html").next().unwrap();
    assert!(
        text.contains(
            "Someone asked to reset the password of your Acme ID account. To choose a new password, open this link:"
        ),
        "{text}"
    );
}

#[actix_rt::test]
async fn sign_in_names_the_app_and_the_home_page_leads_to_the_account() {
    let app = branded();
    app.user("ada@example.com", "correct horse");
    let (client_id, _) = app.client(&["--name", "Dashboard", "--redirect-uri", CB]);
    let authorize = format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid&state=s",
        enc(CB)
    );
    let mut b = Browser::new(&app);
    let page = b
        .get(&format!("/signin?return_to={}", enc(&authorize)))
        .await
        .text();
    assert!(
        page.contains("to continue to <strong>Dashboard</strong>"),
        "{page}"
    );
    // Any other place to return to names no app.
    let page = b.get("/signin?return_to=%2Faccount").await.text();
    assert!(!page.contains("to continue to"), "{page}");
    let page = b
        .get("/signin?return_to=%2Fauthorize%3Fclient_id%3Dnobody")
        .await
        .text();
    assert!(!page.contains("to continue to"), "{page}");

    // Signed out, the home page offers to sign in and (registration open) to sign up.
    let home = b.get("/").await.text();
    assert!(home.contains(r#"href="/signin""#) && home.contains(r#"href="/signup""#));
    b.sign_in("ada@example.com", "correct horse", "/account")
        .await;
    let home = b.get("/").await.text();
    assert!(home.contains(r#"href="/account""#), "{home}");
    assert!(home.contains(r#"href="/logout""#), "{home}");

    // The terms page links the configured terms.
    let terms = b.get("/terms?return_to=%2Faccount").await.text();
    assert!(
        terms.contains(r#"<a href="https://acme.test/terms""#),
        "{terms}"
    );

    // Signing out can be cancelled.
    let logout = b.get("/logout").await.text();
    assert!(
        logout.contains(r#"<a class="button secondary" href="/">Cancel</a>"#),
        "{logout}"
    );
}

#[actix_rt::test]
async fn the_account_page_has_sections_and_dates_for_people() {
    let app = TestApp::new();
    app.user("ada@example.com", "correct horse");
    let mut b = Browser::new(&app);
    b.sign_in("ada@example.com", "correct horse", "/account")
        .await;
    let page = b.get("/account").await.text();
    for section in ["profile", "email", "password", "tokens", "sessions", "apps"] {
        assert!(
            page.contains(&format!(r##"<a href="#{section}">"##)),
            "{section}"
        );
        assert!(page.contains(&format!(r#"id="{section}""#)), "{section}");
    }
    // "since 7 Dec 2026, 14:05 UTC" with the machine form beside it, never a bare RFC 3339.
    let since = page.split("since <time datetime=\"").nth(1).unwrap();
    let (iso, rest) = since.split_once("\">").unwrap();
    assert!(iso.ends_with('Z') && iso.contains('T'), "{iso}");
    let human = rest.split("</time>").next().unwrap();
    assert!(human.ends_with(" UTC") && human != iso, "{human}");
    let words: Vec<&str> = human.split(' ').collect();
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    assert!(
        words.len() == 5
            && words[0].parse::<u32>().is_ok_and(|d| (1..=31).contains(&d))
            && months.contains(&words[1])
            && words[2].trim_end_matches(',').parse::<i32>().is_ok()
            && words[3].len() == 5
            && words[3].as_bytes()[2] == b':',
        "{human}"
    );

    // The phone number: saved in E.164, unverified; a malformed one is refused with the field
    // named.
    let csrf = hidden(&page, "csrf");
    let r = b
        .post(
            "/account/actions/profile",
            &[
                ("csrf", &csrf),
                ("name", "Ada"),
                ("phone_number", "+44 20 7946 0958"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let page = b.get("/account").await.text();
    assert!(page.contains(r#"value="+442079460958""#), "{page}");
    assert!(page.contains("not verified"), "{page}");
    let r = b
        .post(
            "/account/actions/profile",
            &[("csrf", &csrf), ("phone_number", "020 7946 0958")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.text()
            .contains("Phone number must be in international form"),
        "{}",
        r.text()
    );
}

#[actix_rt::test]
async fn a_sign_up_error_puts_the_focus_on_the_field_at_fault() {
    let app = TestApp::builder()
        .config(|c| c.registration = portcullis::config::Registration::Open)
        .build();
    let mut b = Browser::new(&app);
    let page = b.get("/signup").await.text();
    assert!(
        page.contains(r#"autocomplete="email" required autofocus"#),
        "{page}"
    );
    let csrf = hidden(&page, "csrf");
    let r = b
        .post(
            "/signup",
            &[
                ("csrf", &csrf),
                ("email", "new@example.com"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    let html = r.text();
    let password = html.split(r#"<input id="password""#).nth(1).unwrap();
    let password = password.split('>').next().unwrap();
    assert!(
        password.contains("autofocus") && password.contains(r#"aria-invalid="true""#),
        "{password}"
    );
    let email = html.split(r#"<input id="email""#).nth(1).unwrap();
    assert!(
        !email.split('>').next().unwrap().contains("autofocus"),
        "{html}"
    );
}

#[actix_rt::test]
async fn the_favicon_is_an_icon() {
    let app = TestApp::new();
    let r = app.send(TestRequest::get().uri("/favicon.ico")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/x-icon"));
    assert_eq!(&r.body[..4], &[0, 0, 1, 0], "an ICO header");
}
