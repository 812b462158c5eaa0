//! Signing keys: the first key, reuse across starts, rotation that publishes before signing,
//! retirement, and encryption at rest under the master key.

use std::time::Duration;

use base64::Engine;
use diesel::prelude::*;
use portcullis::core::keys::KeyState;
use portcullis::db::schema::signing_keys;

use crate::helpers::TestApp;

fn kids(jwks: &serde_json::Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn signing_kid(app: &TestApp) -> String {
    let set = app.state.keys.current().await;
    set.signing_key(app.clock.now_naive()).unwrap().kid.clone()
}

#[actix_rt::test]
async fn first_start_creates_one_rs256_key_and_second_start_reuses_it() {
    let app = TestApp::new();
    let r = app.get("/jwks").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/jwk-set+json"));
    // Cacheable until a key published now could sign, less the 15 s nodes may take to publish it.
    assert_eq!(r.header("cache-control"), Some("public, max-age=285"));
    let jwks = r.json();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    assert_eq!(k["kty"], "RSA");
    assert_eq!(k["alg"], "RS256");
    assert_eq!(k["use"], "sig");
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(k.get(private).is_none(), "JWKS leaks `{private}`");
    }
    // A second start on the same database keeps the key.
    let again = portcullis::server::build_state(app.config.clone(), app.clock.clone()).unwrap();
    let set = again.keys.current().await;
    assert_eq!(set.kids(), vec![k["kid"].as_str().unwrap()]);
}

#[actix_rt::test]
async fn rotation_publishes_the_next_key_before_it_signs() {
    let app = TestApp::new();
    let old = signing_kid(&app).await;
    let rotated = app.cli_json(&["keys", "rotate"]);
    let new = rotated["kid"].as_str().unwrap().to_owned();

    // This node reloads at once after its own rotation; others within KEY_REFRESH_SECS.
    app.state.keys.reload().await.unwrap();
    let published = kids(&app.get("/jwks").await.json());
    assert_eq!(published, vec![new.clone(), old.clone()], "newest first");
    assert_eq!(
        signing_kid(&app).await,
        old,
        "the next key must not sign yet"
    );

    let list = app.cli_json(&["keys", "list"]);
    let state_of = |list: &serde_json::Value, kid: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap()["state"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(state_of(&list, &old), "active");
    assert_eq!(state_of(&list, &new), "next");

    // After the publish-ahead period the new key signs; the old one stays published.
    app.clock
        .advance(Duration::from_secs(app.config.keys.publish_ahead + 1));
    assert_eq!(signing_kid(&app).await, new);
    let published = kids(&app.get("/jwks").await.json());
    assert_eq!(published, vec![new.clone(), old.clone()]);
    let list = app.cli_json(&["keys", "list"]);
    assert_eq!(state_of(&list, &old), "retired");
    assert_eq!(state_of(&list, &new), "active");

    // Once retired longer than keys.retired_ttl it leaves JWKS.
    app.clock
        .advance(Duration::from_secs(app.config.keys.retired_ttl + 1));
    assert_eq!(kids(&app.get("/jwks").await.json()), vec![new.clone()]);
    let list = app.cli_json(&["keys", "list"]);
    assert_eq!(state_of(&list, &old), "expired");
}

#[actix_rt::test]
async fn rotate_now_and_retire() {
    let app = TestApp::new();
    let old = signing_kid(&app).await;
    // The only signing key cannot be retired.
    let e = app.cli(&["keys", "retire", &old]).unwrap_err();
    assert!(e.contains("rotate first"), "{e}");
    let new = app.cli_json(&["keys", "rotate", "--now"]);
    app.state.keys.reload().await.unwrap();
    assert_eq!(signing_kid(&app).await, new["kid"].as_str().unwrap());
    // Retiring the superseded key is allowed and idempotent; unknown kids are errors.
    app.cli(&["keys", "retire", &old]).unwrap();
    app.cli(&["keys", "retire", &old]).unwrap();
    assert!(app
        .cli(&["keys", "retire", "nope"])
        .unwrap_err()
        .contains("not found"));
    assert!(app
        .cli(&["keys", "rotate", "--alg", "HS256"])
        .unwrap_err()
        .contains("HS256"));
}

#[actix_rt::test]
async fn key_ids_are_safe_command_line_arguments() {
    let app = TestApp::new();
    let original = signing_kid(&app).await;
    app.cli_json(&["keys", "rotate", "--now"]);
    for _ in 0..20 {
        let k = app.cli_json(&["keys", "rotate"]);
        let kid = k["kid"].as_str().unwrap();
        assert!(kid.bytes().all(|b| b.is_ascii_hexdigit()), "{kid}");
    }
    // A kid that starts with `-` (made by an older version) can still be retired.
    use diesel::prelude::*;
    diesel::update(signing_keys::table.find(&original))
        .set(signing_keys::kid.eq("-Dold-kid"))
        .execute(&mut app.conn())
        .unwrap();
    app.cli(&["keys", "retire", "-Dold-kid"]).unwrap();
}

#[actix_rt::test]
async fn keys_of_other_algorithms_live_beside_the_configured_one() {
    let app = TestApp::new();
    let rs = signing_kid(&app).await;
    let es = app.cli_json(&["keys", "rotate", "--now", "--alg", "ES256"]);
    let ed = app.cli_json(&["keys", "rotate", "--now", "--alg", "EdDSA"]);
    app.state.keys.reload().await.unwrap();
    // Access tokens keep the configured algorithm (RS256); each algorithm has its active key.
    assert_eq!(signing_kid(&app).await, rs);
    let set = app.state.keys.current().await;
    let now = app.clock.now_naive();
    use portcullis::config::SigningAlg;
    assert_eq!(
        set.signing_key_for(SigningAlg::ES256, now).unwrap().kid,
        es["kid"].as_str().unwrap()
    );
    assert_eq!(
        set.signing_key_for(SigningAlg::EdDSA, now).unwrap().kid,
        ed["kid"].as_str().unwrap()
    );
    let jwks = app.get("/jwks").await.json();
    let keys = jwks["keys"].as_array().unwrap();
    assert!(keys.iter().any(|k| k["kty"] == "EC" && k["crv"] == "P-256"));
    assert!(keys
        .iter()
        .any(|k| k["kty"] == "OKP" && k["crv"] == "Ed25519"));
    let list = app.cli_json(&["keys", "list"]);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|k| k["state"] == "active"),
        "{list}"
    );
}

#[actix_rt::test]
async fn configured_algorithm_is_used_for_the_first_key() {
    let app = TestApp::builder()
        .config(|c| c.keys.algorithm = portcullis::config::SigningAlg::ES256)
        .build();
    let jwks = app.get("/jwks").await.json();
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert!(algs.contains(&"ES256"), "{algs:?}");
    assert!(
        algs.contains(&"RS256"),
        "RS256 is always there for ID tokens: {algs:?}"
    );
    assert_eq!(
        signing_kid(&app).await,
        app.state
            .keys
            .current()
            .await
            .signing_key_for(portcullis::config::SigningAlg::ES256, app.clock.now_naive())
            .unwrap()
            .kid
    );
}

fn master() -> String {
    base64::engine::general_purpose::STANDARD.encode([42u8; 32])
}

#[actix_rt::test]
async fn private_keys_are_encrypted_under_the_master_key() {
    let app = TestApp::builder()
        .config(|c| c.master_key = Some(master()))
        .build();
    let (jwk, encrypted): (String, bool) = signing_keys::table
        .select((signing_keys::private_jwk, signing_keys::encrypted))
        .first(&mut app.conn())
        .unwrap();
    assert!(encrypted);
    assert!(!jwk.contains("\"d\""), "private key stored in plain text");
    assert_eq!(jwk.split('.').count(), 5, "a compact JWE");

    // Without the master key, or with another one, start-up stops with a clear message.
    let mut no_key = app.config.clone();
    no_key.master_key = None;
    let e = portcullis::server::build_state(no_key, app.clock.clone())
        .err()
        .unwrap();
    assert!(format!("{e:#}").contains("PORTCULLIS_MASTER_KEY"), "{e:#}");
    let mut wrong = app.config.clone();
    wrong.master_key = Some(base64::engine::general_purpose::STANDARD.encode([1u8; 32]));
    let e = portcullis::server::build_state(wrong, app.clock.clone())
        .err()
        .unwrap();
    assert!(format!("{e:#}").contains("wrong master key"), "{e:#}");
}

#[actix_rt::test]
async fn plaintext_keys_are_sealed_when_a_master_key_is_added() {
    let app = TestApp::new();
    let before = kids(&app.get("/jwks").await.json());
    let mut with_key = app.config.clone();
    with_key.master_key = Some(master());
    let state = portcullis::server::build_state(with_key, app.clock.clone()).unwrap();
    let encrypted: Vec<bool> = signing_keys::table
        .select(signing_keys::encrypted)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(encrypted, vec![true]);
    let set = state.keys.current().await;
    assert_eq!(
        set.kids(),
        before.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(
        portcullis::core::keys::list(&mut app.conn(), app.clock.now_naive(), 86400).unwrap()[0]
            .state,
        KeyState::Active
    );
}

#[actix_rt::test]
async fn a_key_taken_out_of_the_set_stops_verifying_tokens_already_seen() {
    // Introspection remembers signatures that checked out; removing a key (an operator's
    // answer to a leaked key) must still end its tokens at once, not when the memory expires.
    let app = TestApp::new();
    let (id, secret) = app.client(&["--grant", "client_credentials"]);
    let token = app.client_token(&id, &secret).await;
    let old = signing_kid(&app).await;
    assert_eq!(app.introspect(&token).await["active"], true);
    assert_eq!(app.introspect(&token).await["active"], true);
    app.cli(&["keys", "rotate", "--now"]).unwrap();
    app.state.keys.reload().await.unwrap();
    // A new key beside the old one: the old key's tokens still verify.
    assert_eq!(app.introspect(&token).await["active"], true);
    diesel::delete(signing_keys::table.filter(signing_keys::kid.eq(&old)))
        .execute(&mut app.conn())
        .unwrap();
    app.state.keys.reload().await.unwrap();
    assert_eq!(
        app.introspect(&token).await,
        serde_json::json!({"active": false})
    );
}
