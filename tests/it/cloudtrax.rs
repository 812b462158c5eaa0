//! CloudTrax: signed requests (signatures computed here with OpenSSL's HMAC, independently of
//! the server's implementation), the 13xxx codes, nonce replay, login, embed keys, the service
//! agreement, and account keys at `/token`.

use actix_web::test::TestRequest;
use serde_json::{json, Value};

use crate::helpers::{jwt_parts, scrub, Response, TestApp};

/// HMAC-SHA256 hex with OpenSSL.
fn hmac_hex(secret: &str, data: &str) -> String {
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::sign::Signer;
    let key = PKey::hmac(secret.as_bytes()).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
    signer.update(data.as_bytes()).unwrap();
    hex::encode(signer.sign_to_vec().unwrap())
}

#[test]
fn the_signature_of_a_known_vector() {
    // RFC 4231 test case 2 ("Jefe"), as the scheme uses it: authorization + path + body.
    assert_eq!(
        hmac_hex("Jefe", "what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    let auth = "key=abc,timestamp=1700000000,nonce=n1";
    assert_eq!(
        hmac_hex("secret", &format!("{auth}/account/service_agreement")),
        portcullis::core::secrets::hmac_hex(
            b"secret",
            format!("{auth}/account/service_agreement").as_bytes()
        ),
        "the server computes the same HMAC"
    );
}

struct Signed<'a> {
    key: &'a str,
    secret: &'a str,
}

static NONCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Signed<'_> {
    fn request(&self, app: &TestApp, method: &str, path: &str, body: &str) -> TestRequest {
        let nonce = format!(
            "n{}",
            NONCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        self.request_with(method, path, body, app.clock.now().timestamp(), &nonce)
    }

    fn request_with(
        &self,
        method: &str,
        path: &str,
        body: &str,
        timestamp: i64,
        nonce: &str,
    ) -> TestRequest {
        let authorization = format!("key={},timestamp={timestamp},nonce={nonce}", self.key);
        let signature = hmac_hex(self.secret, &format!("{authorization}{path}{body}"));
        let req = match method {
            "POST" => TestRequest::post(),
            "PUT" => TestRequest::put(),
            "DELETE" => TestRequest::delete(),
            _ => TestRequest::get(),
        };
        req.uri(path)
            .insert_header(("Authorization", authorization))
            .insert_header(("Signature", signature))
            .insert_header(("OpenMesh-API-Version", "1"))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(body.to_owned())
    }
}

fn setup() -> (TestApp, String, String, String) {
    let app = TestApp::builder()
        .config(|c| c.terms_version = Some("2026-05".into()))
        .build();
    let uid = app.user_with(
        portcullis::core::users::NewUser {
            email: "joe@example.com".into(),
            username: Some("joe_blow".into()),
            ..Default::default()
        },
        "my-beloved-dead-dog-rufus",
    );
    let (id, secret) = app.client(&[
        "--name",
        "Dashboard",
        "--kind",
        "cloudtrax_application",
        "--grant",
        "client_credentials",
    ]);
    (app, uid, id, secret)
}

async fn login(app: &TestApp, key: &str, secret: &str) -> Response {
    let body = json!({"username": "joe_blow", "password": "my-beloved-dead-dog-rufus"}).to_string();
    app.send(Signed { key, secret }.request(app, "POST", "/account/login", &body))
        .await
}

fn codes(r: &Response) -> Vec<u64> {
    r.json()["errors"]
        .as_array()
        .map(|a| a.iter().map(|e| e["code"].as_u64().unwrap()).collect())
        .unwrap_or_default()
}

#[actix_rt::test]
async fn time_and_login() {
    let (app, uid, app_key, app_secret) = setup();
    let t = app.get("/time").await.json();
    assert!((t["time"].as_i64().unwrap() - chrono::Utc::now().timestamp()).abs() < 5);
    let r = login(&app, &app_key, &app_secret).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    let mut shape = body.clone();
    shape["key"] = json!("[64 hex]");
    shape["secret"] = json!("[64 hex]");
    shape["expire"] = json!("[unix]");
    insta::assert_json_snapshot!("cloudtrax_login", shape);
    assert_eq!(body["key"].as_str().unwrap().len(), 64);
    assert_eq!(body["secret"].as_str().unwrap().len(), 64);
    assert!(body["expire"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    // The account key's secret is stored sealed and hashed, never in plain text.
    use diesel::prelude::*;
    let (hash, sealed): (Option<String>, Option<String>) = portcullis::db::schema::clients::table
        .find(body["key"].as_str().unwrap())
        .select((
            portcullis::db::schema::clients::secret_hash,
            portcullis::db::schema::clients::secret_sealed,
        ))
        .first(&mut app.conn())
        .unwrap();
    let secret = body["secret"].as_str().unwrap();
    assert!(!hash.unwrap().contains(secret) && !sealed.unwrap().contains(secret));
    // It gets a client-credentials token at /token that acts for its user.
    let r = app
        .token(
            &[("grant_type", "client_credentials")],
            (body["key"].as_str().unwrap(), secret),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        jwt_parts(r.json()["access_token"].as_str().unwrap()).1["sub"],
        uid.as_str()
    );
    // Wrong password and unknown user: one answer, 20003.
    let signed = Signed {
        key: &app_key,
        secret: &app_secret,
    };
    let wrong = app
        .send(signed.request(
            &app,
            "POST",
            "/account/login",
            &json!({"username": "joe_blow", "password": "nope nope"}).to_string(),
        ))
        .await;
    let unknown = app
        .send(signed.request(
            &app,
            "POST",
            "/account/login",
            &json!({"username": "nobody", "password": "nope nope"}).to_string(),
        ))
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(codes(&wrong), vec![20003]);
    assert_eq!(wrong.json(), unknown.json());
    insta::assert_json_snapshot!("cloudtrax_wrong_password", wrong.json());
    let missing = app
        .send(signed.request(&app, "POST", "/account/login", "{}"))
        .await;
    assert_eq!(
        (missing.status.as_u16(), codes(&missing)),
        (400, vec![1006])
    );
    // Too many attempts: 20041, 429.
    for _ in 0..5 {
        app.send(signed.request(
            &app,
            "POST",
            "/account/login",
            &json!({"username": "joe_blow", "password": "nope nope"}).to_string(),
        ))
        .await;
    }
    let r = login(&app, &app_key, &app_secret).await;
    assert_eq!((r.status.as_u16(), codes(&r)), (429, vec![20041]));
    // An account key cannot log in.
    let r = login(&app, body["key"].as_str().unwrap(), secret).await;
    assert_eq!(r.status, 403);
}

#[actix_rt::test]
async fn signing_errors() {
    let (app, _, key, secret) = setup();
    let signed = Signed {
        key: &key,
        secret: &secret,
    };
    let now = app.clock.now().timestamp();
    let body = json!({"username": "joe_blow", "password": "x"}).to_string();
    let cases: Vec<(TestRequest, u64)> = vec![
        (
            TestRequest::post()
                .uri("/account/login")
                .set_payload(body.clone()),
            13001,
        ),
        (
            TestRequest::post()
                .uri("/account/login")
                .insert_header(("Authorization", format!("key={key},timestamp={now}")))
                .insert_header(("Signature", "ab")),
            13001,
        ),
        (
            TestRequest::post().uri("/account/login").insert_header((
                "Authorization",
                format!("key={key},timestamp={now},nonce=x"),
            )),
            13015,
        ),
        (
            TestRequest::post()
                .uri("/account/login")
                .insert_header((
                    "Authorization",
                    format!("key={key},timestamp={now},nonce=x"),
                ))
                .insert_header(("Signature", "")),
            13015,
        ),
        (
            Signed {
                key: "unknown-key",
                secret: "s",
            }
            .request_with("POST", "/account/login", &body, now, "n-a"),
            13011,
        ),
        (
            signed.request_with("POST", "/account/login", &body, now - 16 * 60, "n-b"),
            13002,
        ),
        (
            signed.request_with("POST", "/account/login", &body, now + 16 * 60, "n-c"),
            13002,
        ),
        (
            Signed {
                key: &key,
                secret: "wrong secret",
            }
            .request_with("POST", "/account/login", &body, now, "n-d"),
            13000,
        ),
    ];
    for (req, code) in cases {
        let r = app.send(req).await;
        assert_eq!(r.status, 401, "{code}: {}", r.text());
        assert_eq!(codes(&r), vec![code]);
        assert!(r.json()["errors"][0]["message"].is_string());
    }
    // A tampered body or path breaks the signature.
    let good = signed.request_with("POST", "/account/login", &body, now, "n-e");
    let tampered = good.set_payload(json!({"username": "joe_blow", "password": "y"}).to_string());
    assert_eq!(codes(&app.send(tampered).await), vec![13000]);
    // A nonce is single use (after a correct signature only).
    let first = app
        .send(signed.request_with("POST", "/account/login", &body, now, "same-nonce"))
        .await;
    assert_eq!(
        first.status, 401,
        "wrong password, but the signature was right"
    );
    assert_eq!(codes(&first), vec![20003]);
    let again = app
        .send(signed.request_with("POST", "/account/login", &body, now, "same-nonce"))
        .await;
    assert_eq!(codes(&again), vec![13003]);
    insta::assert_json_snapshot!("cloudtrax_nonce_reused", again.json());
    // An expired key.
    let (short, short_secret) = app.client(&[
        "--name",
        "Old app",
        "--kind",
        "cloudtrax_application",
        "--grant",
        "client_credentials",
        "--expires-in",
        "60",
    ]);
    app.clock.advance(std::time::Duration::from_secs(61));
    let r = app
        .send(
            Signed {
                key: &short,
                secret: &short_secret,
            }
            .request(&app, "POST", "/account/login", &body),
        )
        .await;
    assert_eq!(codes(&r), vec![13007]);
}

#[actix_rt::test]
async fn embed_keys_and_the_service_agreement() {
    let (app, uid, app_key, app_secret) = setup();
    let account = login(&app, &app_key, &app_secret).await.json();
    let key = account["key"].as_str().unwrap().to_owned();
    let secret = account["secret"].as_str().unwrap().to_owned();
    let signed = Signed {
        key: &key,
        secret: &secret,
    };
    // The agreement: not yet accepted; PUT accepts it (1009); the sign-in page agrees.
    let r = app
        .send(signed.request(&app, "GET", "/account/service_agreement", ""))
        .await;
    assert_eq!(r.json(), json!({"valid": false}));
    let r = app
        .send(signed.request(&app, "PUT", "/account/service_agreement", ""))
        .await;
    assert_eq!(r.status, 200);
    insta::assert_json_snapshot!("cloudtrax_agreed", r.json());
    let r = app
        .send(signed.request(&app, "GET", "/account/service_agreement", ""))
        .await;
    assert_eq!(r.json(), json!({"valid": true}));
    use diesel::prelude::*;
    let accepted: i64 = portcullis::db::schema::terms_acceptances::table
        .filter(portcullis::db::schema::terms_acceptances::user_id.eq(&uid))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(accepted, 1);
    // Embed credentials: one key per network, the same on every GET.
    let r = app
        .send(signed.request(&app, "GET", "/account/credential/12989/embed", ""))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let embed = r.json();
    let again = app
        .send(signed.request(&app, "GET", "/account/credential/12989/embed", ""))
        .await
        .json();
    assert_eq!(embed, again);
    // Its tokens: exactly the network's embed scope; refused everywhere but /introspect.
    let ekey = embed["key"].as_str().unwrap();
    let esecret = embed["secret"].as_str().unwrap();
    let t = app
        .token(&[("grant_type", "client_credentials")], (ekey, esecret))
        .await
        .json();
    let access = t["access_token"].as_str().unwrap();
    let info = app.introspect(access).await;
    assert_eq!(info["scope"], "embed network:12989");
    assert_eq!(info["active"], true);
    let r = app
        .send(
            TestRequest::get()
                .uri("/userinfo")
                .insert_header(("Authorization", format!("Bearer {access}"))),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .send(
            TestRequest::get()
                .uri("/users/me")
                .insert_header(("Authorization", format!("Bearer {access}"))),
        )
        .await;
    assert_eq!(r.status, 403);
    // The embed key itself may not call account routes.
    let r = app
        .send(
            Signed {
                key: ekey,
                secret: esecret,
            }
            .request(&app, "GET", "/account/service_agreement", ""),
        )
        .await;
    assert_eq!(r.status, 403);
    // Delete: 14001, then 14002 (404); its tokens die.
    let r = app
        .send(signed.request(&app, "DELETE", "/account/credential/12989/embed", ""))
        .await;
    assert_eq!(r.status, 200);
    insta::assert_json_snapshot!("cloudtrax_deleted", r.json());
    assert_eq!(app.introspect(access).await["active"], false);
    let r = app
        .send(signed.request(&app, "DELETE", "/account/credential/12989/embed", ""))
        .await;
    assert_eq!((r.status.as_u16(), codes(&r)), (404, vec![14002]));
    let r = app
        .send(signed.request(&app, "GET", "/account/credential/not-a-number/embed", ""))
        .await;
    assert_eq!((r.status.as_u16(), codes(&r)), (400, vec![1006]));
    // Requests with user credentials are events.
    app.state.audit.flush().await.unwrap();
    let n: i64 = portcullis::db::schema::events::table
        .filter(portcullis::db::schema::events::user_id.eq(&uid))
        .filter(portcullis::db::schema::events::service.eq("cloudtrax"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert!(n >= 6, "{n}");
    let _: Value = scrub(&json!({}));
}

#[actix_rt::test]
async fn signed_paths_include_the_query() {
    let (app, _, app_key, app_secret) = setup();
    let account = login(&app, &app_key, &app_secret).await.json();
    let signed = Signed {
        key: account["key"].as_str().unwrap(),
        secret: account["secret"].as_str().unwrap(),
    };
    let r = app
        .send(signed.request(&app, "GET", "/account/service_agreement?x=1", ""))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// A person with a second factor cannot sign in with the password alone at CloudTrax's login
/// (it has no place for a code): a 403 in CloudTrax's envelope that says what to use instead.
#[actix_rt::test]
async fn login_refuses_the_password_alone_of_a_person_with_a_second_factor() {
    let (app, uid, key, secret) = setup();
    app.enrol_totp(&uid);
    let r = login(&app, &key, &secret).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(codes(&r), vec![403]);
    assert!(r.text().contains("personal access token"), "{}", r.text());
}
