//! Several nodes over one database (SPEC §7, "Several nodes"): whatever one node issues works
//! on another, single-use things stay single-use across nodes, throttling counts across nodes,
//! and on PostgreSQL a revocation, a key change or a client change made anywhere reaches every
//! node within a second, through change notices rather than the polling fallback.

use std::time::{Duration, Instant};

use actix_web::test::TestRequest;
use portcullis::state::AppState;

use crate::browser_helpers::{hidden, location, query, Browser};
use crate::helpers::{basic_header, send_to, Response, TestApp};
use crate::{Outcome, Skip};

const CB: &str = "https://rp.example/cb";

fn setup() -> (TestApp, (String, String)) {
    let app = TestApp::new();
    app.user_with(
        portcullis::core::users::NewUser {
            email: "ada@example.com".into(),
            username: Some("ada".into()),
            verified: true,
            ..Default::default()
        },
        "password1",
    );
    let client = app.client(&[
        "--redirect-uri",
        CB,
        "--trusted",
        "--grant",
        "authorization_code",
        "--grant",
        "refresh_token",
        "--grant",
        "password",
        "--scope",
        "openid profile offline_access",
    ]);
    (app, client)
}

fn form(path: &str, params: &[(&str, &str)], client: &(String, String)) -> TestRequest {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    TestRequest::post()
        .uri(path)
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .insert_header(("Authorization", basic_header(&client.0, &client.1)))
        .set_payload(body)
}

async fn token(node: &AppState, client: &(String, String), params: &[(&str, &str)]) -> Response {
    send_to(node, form("/token", params, client)).await
}

async fn password(node: &AppState, client: &(String, String), pw: &str) -> Response {
    token(
        node,
        client,
        &[
            ("grant_type", "password"),
            ("username", "ada@example.com"),
            ("password", pw),
            ("scope", "openid offline_access"),
        ],
    )
    .await
}

async fn active(node: &AppState, client: &(String, String), t: &str) -> bool {
    let r = send_to(node, form("/introspect", &[("token", t)], client)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["active"] == true
}

pub async fn a_token_a_session_and_a_code_made_on_one_node_work_on_another() -> Outcome {
    let (app, client) = setup();
    let a = app.state.clone();
    let b = app.second_node();
    // A token from A, introspected and used at userinfo on B.
    let t = password(&a, &client, "password1").await.json();
    let access = t["access_token"].as_str().unwrap();
    assert!(active(&b, &client, access).await);
    let r = send_to(
        &b,
        TestRequest::get()
            .uri("/userinfo")
            .insert_header(("Authorization", format!("Bearer {access}"))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A session made on A is recognised on B, which issues the code; A exchanges it.
    let mut browser = Browser::new(&app);
    let r = browser.sign_in("ada", "password1", "/account").await;
    assert_eq!(location(&r), "/account");
    browser.switch_to(&b);
    let url = format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s1",
        client.0,
        crate::browser_helpers::enc(CB)
    );
    let r = browser.get(&url).await;
    let to = location(&r);
    assert!(
        to.starts_with(CB),
        "B knew the session and the trusted client: {to}"
    );
    let code = query(&to)["code"].clone();
    let r = token(
        &a,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The code was single-use everywhere: B refuses it now.
    let again = token(
        &b,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
        ],
    )
    .await;
    assert_eq!(again.status, 400);
    assert_eq!(again.json()["error"], "invalid_grant");
    // Signing out on B ends the session for A too.
    let cookies = browser.cookies.clone();
    let page = browser.get("/logout").await;
    assert_eq!(page.status, 200, "{}", page.text());
    let csrf = hidden(&page.text(), "csrf");
    browser.post("/logout", &[("csrf", &csrf)]).await;
    browser.cookies = cookies;
    browser.node = None;
    let r = browser.get("/account").await;
    assert!(
        location(&r).starts_with("/signin"),
        "the session is over on A"
    );
    Ok(())
}

pub async fn a_refresh_token_replayed_on_another_node_revokes_the_family() -> Outcome {
    let (app, client) = setup();
    let a = app.state.clone();
    let b = app.second_node();
    let first = password(&a, &client, "password1").await.json();
    let old = first["refresh_token"].as_str().unwrap().to_owned();
    let rotated = token(
        &a,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", &old)],
    )
    .await
    .json();
    let new = rotated["refresh_token"].as_str().unwrap().to_owned();
    // The old one replayed on B: refused, and the family is dead on both nodes.
    let replay = token(
        &b,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", &old)],
    )
    .await;
    assert_eq!(replay.status, 400);
    assert_eq!(replay.json()["error"], "invalid_grant");
    let r = token(
        &a,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", &new)],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let access = rotated["access_token"].as_str().unwrap();
    assert!(!active(&a, &client, access).await);
    assert!(!active(&b, &client, access).await);
    Ok(())
}

pub async fn failed_passwords_count_across_nodes() -> Outcome {
    let (app, client) = setup();
    let limit = app.config.throttle.account_failures;
    let nodes = [app.state.clone(), app.second_node(), app.second_node()];
    for i in 0..limit as usize {
        let r = password(&nodes[i % 3], &client, "wrong password").await;
        assert_eq!(r.status, 400, "{}", r.text());
    }
    for node in &nodes {
        let r = password(node, &client, "password1").await;
        assert_eq!(r.status, 429, "the lock holds on every node: {}", r.text());
    }
    Ok(())
}

/// Waits until `done` holds, at most `limit`; returns how long it took.
async fn within<F, Fut>(limit: Duration, mut done: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if done().await {
            return Some(start.elapsed());
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

pub async fn changes_reach_the_other_node_within_a_second() -> Outcome {
    let (app, client) = setup();
    if !app.db.is_postgres() {
        // One SQLite file serves one node; other processes (the CLI) are seen by polling.
        return Err(Skip::new(
            "change notices are PostgreSQL's: set TEST_DATABASE_URL",
        ));
    }
    let b = app.second_node();
    let _feed = b.watch_changes();
    // Let the listener connect before changing anything.
    let kids = |node: &AppState| {
        let node = node.clone();
        async move {
            let r = send_to(&node, TestRequest::get().uri("/jwks")).await;
            r.json()["keys"].as_array().unwrap().len()
        }
    };
    let before = kids(&b).await;
    let listening = within(Duration::from_secs(5), || {
        let up = _feed.listening();
        async move { up }
    })
    .await;
    assert!(listening.is_some(), "B's listener did not connect");

    // A key rotated by the CLI (another process) is published by B at once, not after the
    // 10-second poll.
    app.cli(&["keys", "rotate"]).unwrap();
    let took = within(Duration::from_secs(1), || {
        let b = b.clone();
        async move { kids(&b).await > before }
    })
    .await;
    assert!(
        took.is_some(),
        "B did not publish the new key within a second"
    );

    // A token revoked on A is refused by B.
    let t = password(&app.state, &client, "password1").await.json();
    let access = t["access_token"].as_str().unwrap().to_owned();
    assert!(active(&b, &client, &access).await);
    // B has just read the log: only a notice can make it read again within the second.
    b.revocations.poll().await.unwrap();
    let r = send_to(&app.state, form("/revoke", &[("token", &access)], &client)).await;
    assert_eq!(r.status, 200);
    let took = within(Duration::from_secs(1), || {
        let (b, client, access) = (b.clone(), client.clone(), access.clone());
        async move { !active(&b, &client, &access).await }
    })
    .await;
    assert!(took.is_some(), "B honoured the revocation late");

    // A client changed by an admin on A: B's cached copy goes at once (it would otherwise
    // live 5 s), so B stops allowing the grant the admin took away.
    let (admin, admin_secret) = app.client(&["--grant", "client_credentials", "--scope", "admin"]);
    let admin_token = token(
        &app.state,
        &(admin, admin_secret),
        &[("grant_type", "client_credentials")],
    )
    .await
    .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(password(&b, &client, "password1").await.status, 200);
    let r = send_to(
        &app.state,
        TestRequest::patch()
            .uri(&format!("/admin/clients/{}", client.0))
            .insert_header(("Authorization", format!("Bearer {admin_token}")))
            .set_json(serde_json::json!({"grant_types": ["authorization_code", "refresh_token"]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let took = within(Duration::from_secs(1), || {
        let (b, client) = (b.clone(), client.clone());
        async move { password(&b, &client, "password1").await.status == 400 }
    })
    .await;
    assert!(took.is_some(), "B kept the old client");
    Ok(())
}
