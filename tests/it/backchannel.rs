//! Issue 19, OpenID Connect Back-Channel Logout 1.0: when a session ends (RP-initiated logout,
//! sign-out everywhere, expiry), the apps signed in through it get a logout token at their
//! `backchannel_logout_uri`, from a durable queue that retries a receiver that is down. A small
//! receiver here records what it gets and verifies each token with the server's JWKS.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::browser_helpers::{hidden, Browser};
use crate::helpers::*;
use crate::oidc::{code_via_pages, exchange, setup_with, user, Rp};

/// A relying party's back-channel logout endpoint: answers `status` and keeps the tokens.
struct Receiver {
    url: String,
    status: Arc<AtomicU16>,
    tokens: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/backchannel-logout",
            listener.local_addr().unwrap()
        );
        let status = Arc::new(AtomicU16::new(200));
        let tokens = Arc::new(Mutex::new(Vec::new()));
        let (s, t) = (status.clone(), tokens.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0usize;
                let mut line = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let code = s.load(Ordering::SeqCst);
                if code == 200 {
                    let form: Vec<(String, String)> =
                        url::form_urlencoded::parse(&body).into_owned().collect();
                    if let Some((_, token)) = form.iter().find(|(k, _)| k == "logout_token") {
                        t.lock().unwrap().push(token.clone());
                    }
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Receiver {
            url,
            status,
            tokens,
        }
    }

    fn taken(&self) -> Vec<String> {
        std::mem::take(&mut *self.tokens.lock().unwrap())
    }
}

/// Verifies a logout token as a relying party does (OIDC Back-Channel Logout §2.6): the
/// signature with the key the JWKS names, `typ`, `iss`, `aud`, `iat`, the event, no `nonce`.
async fn verify(app: &TestApp, token: &str, client_id: &str) -> Value {
    let jwks = app.get("/jwks").await.json();
    let (header, _) = jwt_parts(token);
    assert_eq!(header["typ"], "logout+jwt");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the JWKS has the token's key");
    let jwk = josekit::jwk::Jwk::from_map(key.as_object().unwrap().clone()).unwrap();
    let verifier = josekit::jws::RS256.verifier_from_jwk(&jwk).unwrap();
    let (payload, _) = josekit::jwt::decode_with_verifier(token, &verifier).expect("it verifies");
    let claims = Value::Object(payload.claims_set().clone());
    assert_eq!(claims["iss"], app.config.issuer());
    assert_eq!(claims["aud"], client_id);
    assert!(claims["iat"].is_i64() && claims["jti"].is_string());
    assert!(claims["events"]
        .get("http://schemas.openid.net/event/backchannel-logout")
        .is_some());
    assert!(claims.get("nonce").is_none());
    claims
}

/// An app with a back-channel logout URI, and a person signed in to it through the pages: the
/// browser, the tokens, and the session id from the ID token.
async fn signed_in<'a>(
    app: &'a TestApp,
    receiver: &Receiver,
    extra: &[&str],
) -> (Browser<'a>, Rp, String) {
    let mut args = vec![
        "--trusted",
        "--backchannel-logout-uri",
        receiver.url.as_str(),
    ];
    args.extend_from_slice(extra);
    let rp = setup_with(app, &args);
    let mut b = Browser::new(app);
    let code = code_via_pages(&mut b, &crate::oidc::authorize_url(&rp, &[])).await;
    let tokens = exchange(app, &rp, &code).await;
    let (_, id_token) = jwt_parts(tokens["id_token"].as_str().unwrap());
    let sid = id_token["sid"]
        .as_str()
        .expect("the ID token has sid")
        .to_owned();
    (b, rp, sid)
}

fn app() -> TestApp {
    TestApp::builder()
        .config(|c| c.allow_private_jwks_uri = true)
        .build()
}

#[actix_web::test]
async fn an_app_is_told_when_the_person_logs_out() {
    let app = app();
    let uid = user(&app);
    let receiver = Receiver::start();
    let (mut b, rp, sid) =
        signed_in(&app, &receiver, &["--backchannel-logout-session-required"]).await;
    // RP-initiated logout, confirmed on the page.
    let r = b.get(&format!("/logout?client_id={}", rp.id)).await;
    let csrf = hidden(&r.text(), "csrf");
    b.post("/logout", &[("csrf", &csrf), ("client_id", &rp.id)])
        .await;
    assert_eq!(app.state.logouts.deliver_due().await.unwrap(), 1);
    let tokens = receiver.taken();
    assert_eq!(tokens.len(), 1);
    let claims = verify(&app, &tokens[0], &rp.id).await;
    assert_eq!(claims["sub"], uid.as_str());
    assert_eq!(claims["sid"], sid.as_str());
    // Delivered once: nothing more is due.
    assert_eq!(app.state.logouts.deliver_due().await.unwrap(), 0);
    let metrics = app.get("/metrics").await.text();
    assert!(
        metrics.contains(r#"portcullis_backchannel_logouts_total{result="delivered"} 1"#),
        "{metrics}"
    );
}

#[actix_web::test]
async fn delivery_resumes_when_a_receiver_that_was_down_comes_back() {
    let app = app();
    user(&app);
    let receiver = Receiver::start();
    let (mut b, rp, _) = signed_in(&app, &receiver, &[]).await;
    receiver.status.store(503, Ordering::SeqCst);
    // Signing out everywhere (the account page) tells every app with a live grant.
    let r = b.get("/account").await;
    let csrf = hidden(&r.text(), "csrf");
    b.post("/account/actions/sessions/end-all", &[("csrf", &csrf)])
        .await;
    assert_eq!(app.state.logouts.deliver_due().await.unwrap(), 0);
    assert!(receiver.taken().is_empty());
    // Down for a while: each retry waits longer (10 s, then 20 s).
    app.clock.advance(Duration::from_secs(11));
    assert_eq!(app.state.logouts.deliver_due().await.unwrap(), 0);
    receiver.status.store(200, Ordering::SeqCst);
    app.clock.advance(Duration::from_secs(5));
    assert_eq!(
        app.state.logouts.deliver_due().await.unwrap(),
        0,
        "not before its backoff"
    );
    app.clock.advance(Duration::from_secs(20));
    assert_eq!(app.state.logouts.deliver_due().await.unwrap(), 1);
    let tokens = receiver.taken();
    assert_eq!(tokens.len(), 1);
    verify(&app, &tokens[0], &rp.id).await;
    let metrics = app.get("/metrics").await.text();
    assert!(
        metrics.contains(r#"portcullis_backchannel_logouts_total{result="failed"} 2"#),
        "{metrics}"
    );
    // The queue keeps the history: two failures, then delivered.
    use diesel::prelude::*;
    use portcullis::db::schema::backchannel_logouts as bl;
    let (attempts, delivered): (i32, Option<chrono::NaiveDateTime>) = bl::table
        .select((bl::attempts, bl::delivered_at))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(attempts, 3);
    assert!(delivered.is_some());
}

#[actix_web::test]
async fn an_expired_session_is_a_logout_too_and_another_node_can_deliver_it() {
    let app = app();
    user(&app);
    let receiver = Receiver::start();
    let (_b, rp, sid) = signed_in(&app, &receiver, &[]).await;
    // The session expires; housekeeping deletes it and queues the logout.
    app.clock
        .advance(Duration::from_secs(app.config.tokens.session_ttl + 60));
    app.cli(&["housekeeping"]).unwrap();
    // Any node works on the shared queue (this one shares the test's moved clock).
    let node = portcullis::server::build_state(app.config.clone(), app.clock.clone()).unwrap();
    assert_eq!(node.logouts.deliver_due().await.unwrap(), 1);
    let tokens = receiver.taken();
    let claims = verify(&app, &tokens[0], &rp.id).await;
    assert_eq!(claims["sid"], sid.as_str());
}

#[actix_web::test]
async fn a_private_backchannel_uri_is_refused_unless_allowed() {
    let app = TestApp::new();
    let out = app.cli(&[
        "client",
        "add",
        "--name",
        "Sneaky",
        "--redirect-uri",
        "https://rp.example/cb",
        "--backchannel-logout-uri",
        "http://169.254.169.254/latest",
    ]);
    assert!(out.is_err(), "{out:?}");
    let meta = app.get("/.well-known/openid-configuration").await.json();
    assert_eq!(meta["backchannel_logout_supported"], true);
    assert_eq!(meta["backchannel_logout_session_supported"], true);
}
