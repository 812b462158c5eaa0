//! Housekeeping (SPEC §7): what can no longer be used is deleted; what can still be used is
//! not; the database of a server under steady load keeps a steady size; nodes may run it
//! together.

use std::time::Duration;

use diesel::prelude::*;
use portcullis::app::housekeeping::{self, Deleted};
use portcullis::db::schema;

use crate::helpers::TestApp;

const DAY: Duration = Duration::from_secs(86_400);

fn count(app: &TestApp, table: &str) -> i64 {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
        .get_result::<Count>(&mut *app.conn())
        .unwrap()
        .n
}

async fn sign_in(app: &TestApp, client: &(String, String), password: &str) -> (u16, String) {
    let r = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", "ada@example.com"),
                ("password", password),
            ],
            (&client.0, &client.1),
        )
        .await;
    let refresh = r.json()["refresh_token"].as_str().unwrap_or("").to_owned();
    (r.status.as_u16(), refresh)
}

async fn refresh(app: &TestApp, client: &(String, String), token: &str) -> (u16, String) {
    let r = app
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
            (&client.0, &client.1),
        )
        .await;
    let next = r.json()["refresh_token"].as_str().unwrap_or("").to_owned();
    (r.status.as_u16(), next)
}

async fn pass(app: &TestApp) -> Deleted {
    let deleted = housekeeping::run(&app.state).await;
    assert!(deleted.failed.is_empty(), "{:?}", deleted.failed);
    deleted
}

#[actix_rt::test]
async fn expired_rows_go_and_live_ones_stay_usable() {
    let app = TestApp::new();
    app.user("ada@example.com", "correct horse");
    let client = app.password_client("openid profile");
    // A grant whose refresh token was rotated five times.
    let (status, mut live) = sign_in(&app, &client, "correct horse").await;
    assert_eq!(status, 200);
    for _ in 0..5 {
        let (status, next) = refresh(&app, &client, &live).await;
        assert_eq!(status, 200);
        live = next;
    }
    // A second grant, revoked; and a failed sign-in (a throttle counter).
    let (_, revoked) = sign_in(&app, &client, "correct horse").await;
    let r = app
        .post_form(
            "/revoke",
            &[("token", revoked.as_str())],
            Some((&client.0, &client.1)),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(sign_in(&app, &client, "wrong horse").await.0, 400);
    assert_eq!(count(&app, "refresh_tokens"), 7);
    assert_eq!(count(&app, "grants"), 2);
    assert!(count(&app, "revocations") >= 1);
    assert!(count(&app, "throttle_counters") >= 1);

    // Now: everything can still be used (a rotated token's reuse must still be detected).
    assert_eq!(pass(&app).await.total(), 0);

    // Two days on: rotated and revoked tokens, the revoked grant, its revocation entry and the
    // throttle counter are gone; the live token still refreshes.
    app.clock.advance(2 * DAY);
    let d = pass(&app).await;
    assert_eq!(d.from("refresh_tokens"), 6, "{d:?}");
    assert_eq!(d.from("grants"), 1, "{d:?}");
    assert!(d.from("revocations") >= 1, "{d:?}");
    assert!(d.from("throttle_counters") >= 1, "{d:?}");
    assert_eq!(count(&app, "refresh_tokens"), 1);
    let (status, next) = refresh(&app, &client, &live).await;
    assert_eq!(status, 200, "the live refresh token survives housekeeping");
    live = next;

    // Past the refresh token's lifetime (and the longest access token's): nothing is left.
    app.clock.advance(32 * DAY);
    let d = pass(&app).await;
    assert!(d.total() > 0);
    for table in [
        "refresh_tokens",
        "grants",
        "revocations",
        "throttle_counters",
    ] {
        assert_eq!(count(&app, table), 0, "{table} after expiry");
    }
    assert_eq!(refresh(&app, &client, &live).await.0, 400);
}

#[actix_rt::test]
async fn a_server_under_steady_load_keeps_a_steady_size() {
    let app = TestApp::new();
    app.user("ada@example.com", "correct horse");
    let client = app.password_client("openid profile");
    let (_, mut live) = sign_in(&app, &client, "correct horse").await;
    let mut sizes = Vec::new();
    for _day in 0..6 {
        for _ in 0..10 {
            let (status, next) = refresh(&app, &client, &live).await;
            assert_eq!(status, 200);
            live = next;
        }
        app.clock.advance(DAY + Duration::from_secs(60));
        pass(&app).await;
        sizes.push(count(&app, "refresh_tokens"));
    }
    // Each day's rotations are gone the next day: the table holds the live token only.
    assert!(sizes.iter().all(|&n| n == 1), "{sizes:?}");
}

#[actix_rt::test]
async fn events_are_kept_for_the_retention_period_or_forever() {
    for (days, kept) in [(90u64, false), (0, true)] {
        let app = TestApp::builder()
            .config(move |c| c.events.retention_days = days)
            .build();
        app.user("ada@example.com", "correct horse");
        let client = app.password_client("openid profile");
        sign_in(&app, &client, "correct horse").await;
        app.state.audit.flush().await.unwrap();
        let before = count(&app, "events");
        assert!(before > 0);
        app.clock.advance(91 * DAY);
        pass(&app).await;
        assert_eq!(count(&app, "events") == before, kept, "retention {days}");
    }
}

#[actix_rt::test]
async fn nodes_may_run_it_at_the_same_time() {
    let app = TestApp::new();
    app.user("ada@example.com", "correct horse");
    let client = app.password_client("openid profile");
    let (_, mut live) = sign_in(&app, &client, "correct horse").await;
    for _ in 0..30 {
        live = refresh(&app, &client, &live).await.1;
    }
    app.clock.advance(2 * DAY);
    let other = app.second_node();
    other.clock.advance(2 * DAY);
    let (a, b) = tokio::join!(housekeeping::run(&app.state), housekeeping::run(&other));
    assert!(a.failed.is_empty() && b.failed.is_empty());
    assert_eq!(a.from("refresh_tokens") + b.from("refresh_tokens"), 30);
    assert_eq!(count(&app, "refresh_tokens"), 1);
}

#[actix_rt::test]
async fn the_cli_runs_a_pass() {
    let app = TestApp::new();
    app.user("ada@example.com", "correct horse");
    let client = app.password_client("openid profile");
    let (_, live) = sign_in(&app, &client, "correct horse").await;
    refresh(&app, &client, &live).await;
    app.clock.advance(2 * DAY);
    let out = app.cli_json(&["housekeeping"]);
    assert_eq!(out["deleted"]["refresh_tokens"], 1, "{out}");
    assert_eq!(
        schema::refresh_tokens::table
            .count()
            .get_result::<i64>(&mut *app.conn())
            .unwrap(),
        1
    );
}

#[actix_rt::test]
async fn a_standing_mongoose_app_grant_stays_until_revoked() {
    let app = TestApp::new();
    app.user("ada@example.com", "password1");
    let rpc = |method: &'static str| {
        let app = &app;
        async move {
            app.send(
                actix_web::test::TestRequest::post()
                    .uri(&format!("/v1/{method}"))
                    .insert_header((
                        "Authorization",
                        crate::helpers::plain_basic("ada@example.com", "password1"),
                    ))
                    .set_json(serde_json::json!({"host": "dash.example.com"})),
            )
            .await
            .status
        }
    };
    assert_eq!(rpc("Auth.GenerateToken").await, 200);
    // Days later, with nothing but the grant itself: GetToken still mints tokens under it.
    app.clock.advance(2 * DAY);
    pass(&app).await;
    assert_eq!(rpc("Auth.GetToken").await, 200);
    assert_eq!(count(&app, "grants"), 1);
    // Revoked, it goes once no token of it can be alive.
    assert_eq!(rpc("Auth.RevokeToken").await, 200);
    app.clock.advance(2 * DAY);
    assert_eq!(pass(&app).await.from("grants"), 1);
    assert_eq!(count(&app, "grants"), 0);
}

/// The second factors' short-lived rows go once stale: a sign-in step never finished, a
/// passkey ceremony never finished, an authenticator app set up but never confirmed; a
/// confirmed app stays.
#[actix_rt::test]
async fn unfinished_second_factor_rows_go() {
    let app = TestApp::builder()
        .config(|c| c.issuer = Some("http://localhost:8080".into()))
        .build();
    let ada = app.user("ada@example.com", "correct horse");
    let bob = app.user("bob@example.com", "correct horse");
    app.enrol_totp(&ada);
    let now = app.clock.now_naive();
    {
        let mut conn = app.conn();
        let key = portcullis::core::secrets::sealing_key(&mut conn, None).unwrap();
        let user = portcullis::core::users::get(&mut conn, &bob).unwrap();
        portcullis::core::factors::totp_begin(&mut conn, now, &key, &user, "P").unwrap();
        portcullis::core::factors::step_begin(&mut conn, now, &bob, &["pwd".into()], "/").unwrap();
        portcullis::core::passkeys::ceremony_begin(&mut conn, now, None, "authenticate", "{}")
            .unwrap();
    }
    pass(&app).await;
    assert_eq!(count(&app, "totp_credentials"), 2, "nothing is stale yet");
    assert_eq!(count(&app, "sign_in_steps"), 1);
    assert_eq!(count(&app, "webauthn_ceremonies"), 1);
    app.clock.advance(Duration::from_secs(11 * 60));
    pass(&app).await;
    assert_eq!(
        count(&app, "totp_credentials"),
        1,
        "ada's confirmed app stays"
    );
    assert_eq!(count(&app, "sign_in_steps"), 0);
    assert_eq!(count(&app, "webauthn_ceremonies"), 0);
    let enrolled = portcullis::core::factors::enrolled(&mut app.conn(), &ada).unwrap();
    assert!(enrolled.totp);
}
