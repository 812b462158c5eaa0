//! Every CLI command against the configured database, with `--json` output and errors.

use diesel::prelude::*;
use portcullis::db::schema::{clients, events, users};

use crate::helpers::TestApp;

#[actix_rt::test]
async fn user_add_list_disable_enable() {
    let app = TestApp::new();
    let u = app.cli_json(&[
        "user",
        "add",
        "--email",
        "Ada@Example.com",
        "--password",
        "correct horse",
        "--username",
        "ada",
        "--name",
        "Ada Lovelace",
        "--admin",
        "--verified",
    ]);
    let id = u["id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);
    assert_eq!(u["email"], "Ada@Example.com");
    assert_eq!(u["username"], "ada");
    assert_eq!(u["admin"], true);
    assert_eq!(u["email_verified"], true);
    assert!(u["created_at"].as_str().unwrap().ends_with('Z'));

    // Stored as argon2id, never in plain text.
    let hash: Option<String> = users::table
        .find(id)
        .select(users::password_hash)
        .first(&mut app.conn())
        .unwrap();
    let hash = hash.unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("correct horse"));

    let chosen = app.cli_json(&[
        "user",
        "add",
        "--email",
        "bob@example.com",
        "--password",
        "password123",
        "--id",
        "bob_1",
    ]);
    assert_eq!(chosen["id"], "bob_1");
    assert_eq!(chosen["admin"], false);

    let list = app.cli_json(&["user", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let text = app.cli(&["user", "list"]).unwrap();
    assert!(
        text.contains("ada") && text.contains("admin,verified"),
        "{text}"
    );

    let d = app.cli_json(&["user", "disable", "bob_1"]);
    assert_eq!(d["disabled"], true);
    let cutoff: Option<chrono::NaiveDateTime> = users::table
        .find("bob_1")
        .select(users::tokens_valid_after)
        .first(&mut app.conn())
        .unwrap();
    assert!(cutoff.is_some(), "disabling cuts off tokens");
    let e = app.cli_json(&["user", "enable", "bob_1"]);
    assert_eq!(e["disabled"], false);
    assert!(app
        .cli(&["user", "disable", "nobody"])
        .unwrap_err()
        .contains("not found"));
    // A username or an email names a user too, as at sign-in.
    assert_eq!(app.cli_json(&["user", "disable", "ada"])["disabled"], true);
    assert_eq!(app.cli_json(&["user", "enable", "ada"])["disabled"], false);

    let kinds: Vec<String> = events::table
        .filter(events::user_id.eq("bob_1"))
        .select(events::kind)
        .order(events::created_at.asc())
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(kinds, vec!["user.created", "user.disabled", "user.enabled"]);
}

#[actix_rt::test]
async fn user_add_refuses_bad_input_and_duplicates() {
    let app = TestApp::new();
    app.cli(&[
        "user",
        "add",
        "--email",
        "a@example.com",
        "--password",
        "password1",
        "--username",
        "alice",
    ])
    .unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--email", "not-an-email", "--password", "password1"],
            "email",
        ),
        (
            &["--email", "b@example.com", "--password", "short"],
            "at least 8",
        ),
        (
            &["--email", "A@EXAMPLE.COM", "--password", "password1"],
            "email already exists",
        ),
        (
            &[
                "--email",
                "c@example.com",
                "--password",
                "password1",
                "--username",
                "ALICE",
            ],
            "username is taken",
        ),
        (
            &[
                "--email",
                "d@example.com",
                "--password",
                "password1",
                "--id",
                "bad id!",
            ],
            "id",
        ),
        (
            &[
                "--email",
                "e@example.com",
                "--password",
                "password1",
                "--username",
                "x@y",
            ],
            "username",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["user", "add"];
        all.extend_from_slice(args);
        let e = app.cli(&all).unwrap_err();
        assert!(e.contains(expected), "{args:?}: {e}");
    }
    // An id may not collide with another account's username, or a username with an id.
    let alice: String = users::table
        .filter(users::email_key.eq("a@example.com"))
        .select(users::id)
        .first(&mut app.conn())
        .unwrap();
    let e = app
        .cli(&[
            "user",
            "add",
            "--email",
            "f@example.com",
            "--password",
            "password1",
            "--id",
            "alice",
        ])
        .unwrap_err();
    assert!(e.contains("id already exists"), "{e}");
    let e = app
        .cli(&[
            "user",
            "add",
            "--email",
            "g@example.com",
            "--password",
            "password1",
            "--username",
            &alice,
        ])
        .unwrap_err();
    assert!(e.contains("username is taken"), "{e}");
    assert_eq!(app.cli_json(&["user", "list"]).as_array().unwrap().len(), 1);
}

#[actix_rt::test]
async fn client_add_generates_a_secret_stored_only_as_a_hash() {
    let app = TestApp::new();
    let c = app.cli_json(&[
        "client",
        "add",
        "--name",
        "Web app",
        "--redirect-uri",
        "https://app.example/cb",
        "--post-logout-redirect-uri",
        "https://app.example/bye",
        "--scope",
        "openid profile",
        "--resource",
        "https://api.example",
    ]);
    let id = c["client_id"].as_str().unwrap();
    let secret = c["client_secret"].as_str().unwrap();
    assert_eq!(secret.len(), 43, "256-bit base64url secret");
    assert_eq!(
        c["client"]["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    assert_eq!(
        c["client"]["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(c["client"]["scope"], "openid profile");
    assert_eq!(
        c["client"]["resources"],
        serde_json::json!(["https://api.example"])
    );
    let stored: Option<String> = clients::table
        .find(id)
        .select(clients::secret_hash)
        .first(&mut app.conn())
        .unwrap();
    let stored = stored.unwrap();
    assert!(stored.starts_with("sha256:"));
    assert!(!stored.contains(secret));
    assert!(portcullis::core::crypto::verify_secret_hash(
        secret, &stored
    ));
    let text = app.cli(&["client", "add", "--name", "Svc"]).unwrap();
    assert!(
        text.contains("client_secret:") && text.contains("shown only now"),
        "{text}"
    );
}

#[actix_rt::test]
async fn client_add_options() {
    let app = TestApp::new();
    let owner = app.cli_json(&[
        "user",
        "add",
        "--email",
        "o@example.com",
        "--password",
        "password1",
    ]);
    let owner = owner["id"].as_str().unwrap();
    let public = app.cli_json(&[
        "client",
        "add",
        "--name",
        "SPA",
        "--public",
        "--redirect-uri",
        "http://127.0.0.1:3000/cb",
    ]);
    assert!(public["client_secret"].is_null());
    assert_eq!(public["client"]["token_endpoint_auth_method"], "none");
    assert_eq!(
        public["client"]["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );

    let chosen = app.cli_json(&[
        "client",
        "add",
        "--name",
        "Device",
        "--id",
        "dev-1",
        "--secret",
        "device-psk-1",
        "--kind",
        "device",
        "--owner",
        owner,
        "--auth-method",
        "client_secret_post",
        "--grant",
        "client_credentials",
        "--expires-in",
        "3600",
    ]);
    assert_eq!(chosen["client_id"], "dev-1");
    assert_eq!(chosen["client_secret"], "device-psk-1");
    assert_eq!(chosen["client"]["owner"], owner);
    assert_eq!(chosen["client"]["kind"], "device");
    assert!(chosen["client"]["expires_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));

    let trusted = app.cli_json(&[
        "client",
        "add",
        "--name",
        "First party",
        "--trusted",
        "--grant",
        "password",
        "--grant",
        "refresh_token",
    ]);
    assert_eq!(trusted["client"]["trusted"], true);

    // A device certificate: the SHA-256 thumbprint of its DER is stored.
    let (pem, der) = self_signed_cert();
    let path = app.data_dir().join("device.pem");
    std::fs::write(&path, &pem).unwrap();
    let cert = app.cli_json(&[
        "client",
        "add",
        "--name",
        "Cert device",
        "--kind",
        "device",
        "--cert-file",
        path.to_str().unwrap(),
    ]);
    assert_eq!(
        cert["client"]["cert_thumbprint"],
        portcullis::core::crypto::sha256_hex(&der)
    );

    let list = app.cli_json(&["client", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 4);
    let text = app.cli(&["client", "list"]).unwrap();
    assert!(
        text.contains("dev-1") && text.contains("client_secret_post"),
        "{text}"
    );
}

#[actix_rt::test]
async fn client_add_refuses_what_cannot_work() {
    let app = TestApp::new();
    let bad = std::env::temp_dir().join(format!("not-a-cert-{}.pem", uuid::Uuid::new_v4()));
    std::fs::write(&bad, "hello").unwrap();
    let bad = bad.to_str().unwrap().to_owned();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--redirect-uri", "not a uri"], "redirect_uri"),
        (
            vec!["--redirect-uri", "https://a.example/cb#frag"],
            "fragment",
        ),
        (vec!["--grant", "password"], "trusted"),
        (vec!["--grant", "implicit"], "implicit"),
        (vec!["--grant", "authorization_code"], "redirect URI"),
        (vec!["--public"], "redirect URI"),
        (
            vec![
                "--public",
                "--grant",
                "client_credentials",
                "--redirect-uri",
                "https://a.example/cb",
            ],
            "confidential",
        ),
        (
            vec![
                "--public",
                "--auth-method",
                "client_secret_basic",
                "--redirect-uri",
                "https://a.example/cb",
            ],
            "none",
        ),
        (vec!["--kind", "robot"], "kind"),
        (vec!["--owner", "nobody"], "nobody"),
        (vec!["--auth-method", "tls_client_auth"], "auth_method"),
        (
            vec!["--auth-method", "private_key_jwt"],
            "needs the client's public keys",
        ),
        (
            vec![
                "--auth-method",
                "private_key_jwt",
                "--jwks-uri",
                "https://127.0.0.1/jwks",
            ],
            "private or loopback",
        ),
        (vec!["--scope", "bad\"scope"], "scope"),
        (vec!["--expires-in", "0"], "expires_in"),
        (vec!["--cert-file", "/nonexistent.pem"], "nonexistent.pem"),
        (vec!["--cert-file", &bad], "certificate"),
        (vec!["--secret", "s", "--public"], "cannot be used with"),
    ];
    for (args, expected) in cases {
        let mut all = vec!["client", "add", "--name", "X"];
        all.extend_from_slice(&args);
        let e = app.cli(&all).unwrap_err();
        assert!(e.contains(expected), "{args:?}: {e}");
    }
    app.cli(&["client", "add", "--name", "Dup", "--id", "dup"])
        .unwrap();
    let e = app
        .cli(&["client", "add", "--name", "Dup", "--id", "dup"])
        .unwrap_err();
    assert!(e.contains("already exists"), "{e}");
}

#[actix_rt::test]
async fn client_remove_revokes_its_tokens() {
    let app = TestApp::new();
    let c = app.cli_json(&["client", "add", "--name", "Gone"]);
    let id = c["client_id"].as_str().unwrap();
    let out = app.cli_json(&["client", "remove", id]);
    assert_eq!(out["removed"], id);
    assert_eq!(app.cli_json(&["client", "list"]), serde_json::json!([]));
    use portcullis::db::schema::revocations;
    let kinds: Vec<(String, String)> = revocations::table
        .select((revocations::kind, revocations::subject))
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(kinds, vec![("client".to_string(), id.to_string())]);
    assert!(app
        .cli(&["client", "remove", id])
        .unwrap_err()
        .contains("not found"));
}

#[actix_rt::test]
async fn acl_add_list_remove() {
    let app = TestApp::new();
    let rule = app.cli_json(&[
        "acl",
        "add",
        "--subject",
        "user-1",
        "--target",
        "*",
        "--command",
        "Sys.*",
    ]);
    let id = rule["id"].as_str().unwrap().to_owned();
    let list = app.cli_json(&["acl", "list"]);
    assert_eq!(
        list,
        serde_json::json!([{ "id": id, "subject": "user-1", "target": "*", "command": "Sys.*" }])
    );
    assert!(app
        .cli(&[
            "acl",
            "add",
            "--subject",
            "u",
            "--target",
            "d",
            "--command",
            "rm -rf"
        ])
        .is_err());
    assert!(app
        .cli(&[
            "acl",
            "add",
            "--subject",
            "",
            "--target",
            "d",
            "--command",
            "X"
        ])
        .is_err());
    assert_eq!(app.cli_json(&["acl", "remove", &id])["removed"], id);
    assert_eq!(app.cli_json(&["acl", "list"]), serde_json::json!([]));
    assert!(app
        .cli(&["acl", "remove", &id])
        .unwrap_err()
        .contains("not found"));
}

#[actix_rt::test]
async fn keys_list_and_migrate_have_human_output() {
    let app = TestApp::new();
    let text = app.cli(&["keys", "list"]).unwrap();
    assert!(text.contains("RS256") && text.contains("active"), "{text}");
    assert_eq!(
        app.cli(&["migrate"]).unwrap().trim(),
        "database is up to date"
    );
}

fn self_signed_cert() -> (Vec<u8>, Vec<u8>) {
    use openssl::asn1::Asn1Time;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::{X509NameBuilder, X509};
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "device-1").unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let cert = b.build();
    (cert.to_pem().unwrap(), cert.to_der().unwrap())
}
