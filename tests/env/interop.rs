//! Interop with Node's openid-client (panva, `tests/interop/`), the way a third-party app or
//! agent would use this server: it registers itself with an initial access token (RFC 7591),
//! authenticates with private_key_jwt or client_secret_jwt (RFC 7523), signs its
//! authorization request (RFC 9101) and pushes it (RFC 9126), then redeems the code, reads
//! userinfo, introspects, refreshes and revokes. The person's part (sign-in, consent) is done
//! here with a cookie-keeping client. Skipped when Node or the package is missing, unless
//! `REQUIRE_NODE_TESTS=1` (set by `.ci/run`, which runs `npm ci` first).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};

use crate::browser_helpers::{hidden, location, query, Browser};
use crate::helpers::{served_app, served_app_with, TestApp};
use crate::{Outcome, Skip};

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

fn available() -> Result<(), Skip> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Skip::unless_required("REQUIRE_NODE_TESTS", "node is not installed");
    }
    if !interop_dir().join("node_modules/openid-client").exists() {
        return Skip::unless_required(
            "REQUIRE_NODE_TESTS",
            "openid-client is not installed: npm ci --prefix tests/interop",
        );
    }
    Ok(())
}

/// A running scenario of the Node client: JSON lines out, one line in.
struct Scenario {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Scenario {
    fn start(name: &str, issuer: &str, initial_token: &str) -> Scenario {
        Scenario::start_with(name, issuer, initial_token, &[])
    }

    fn start_with(name: &str, issuer: &str, initial_token: &str, env: &[(&str, &str)]) -> Scenario {
        let mut child = Command::new("node")
            .arg(interop_dir().join("openid-client.mjs"))
            .arg(name)
            .env("ISSUER", issuer)
            .env("INITIAL_ACCESS_TOKEN", initial_token)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts");
        let out = BufReader::new(child.stdout.take().unwrap());
        Scenario { child, out }
    }

    /// The next line, which must carry `key` (an `error` line fails the test).
    fn expect(&mut self, key: &str) -> serde_json::Value {
        let mut line = String::new();
        self.out.read_line(&mut line).expect("read from node");
        let v: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("node printed non-JSON ({e}): {line:?}"));
        assert!(v.get("error").is_none(), "openid-client failed: {v}");
        v.get(key)
            .unwrap_or_else(|| panic!("expected {key}, got {v}"))
            .clone()
    }

    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    fn finish(mut self) {
        let status = self.child.wait().unwrap();
        assert!(status.success(), "node exited with {status}");
    }
}

/// The person's part of an authorization URL: sign in as ada, allow, and the redirect back.
async fn person(app: &TestApp, url: &str) -> String {
    let path = url.split_once("://").unwrap().1;
    let path = &path[path.find('/').unwrap()..];
    let mut b = Browser::new(app);
    let r = b.get(path).await;
    let next = location(&r);
    assert!(next.starts_with("/signin"), "{next}");
    let r = b
        .sign_in("ada", "password1", &query(&next)["return_to"])
        .await;
    let r = b.get(&location(&r)).await;
    assert_eq!(r.status, 200, "the consent page: {}", r.text());
    let html = r.text();
    let (csrf, authz) = (hidden(&html, "csrf"), hidden(&html, "authz"));
    let r = b
        .post(
            "/consent",
            &[("csrf", &csrf), ("authz", &authz), ("decision", "allow")],
        )
        .await;
    location(&r)
}

pub async fn openid_client_registers_pushes_signs_and_completes_a_code_flow() -> Outcome {
    available()?;
    let (app, addr, _server) = served_app();
    let ada = app.user_with(
        portcullis::core::users::NewUser {
            email: "ada@example.com".into(),
            username: Some("ada".into()),
            ..Default::default()
        },
        "password1",
    );
    let issuer = format!("http://{addr}");
    let iat = app.cli_json(&["client", "registration-token", "--uses", "2"])
        ["initial_access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // private_key_jwt + a signed, pushed request + the code flow.
    let mut node = Scenario::start("par_jar_private_key_jwt", &issuer, &iat);
    let registered = node.expect("registered");
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let url = node.expect("authorize");
    let url = url.as_str().unwrap();
    assert!(
        url.contains("request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A"),
        "{url}"
    );
    let back = person(&app, url).await;
    assert!(back.starts_with("http://127.0.0.1/cb?"), "{back}");
    node.send(&back);
    let result = node.expect("result");
    node.finish();
    assert_eq!(result["sub"], ada.as_str());
    assert_eq!(result["id_token_claims"]["aud"], client_id.as_str());
    assert_eq!(result["userinfo"]["preferred_username"], "ada");
    assert_eq!(result["introspection"]["active"], true);
    assert_eq!(result["introspection"]["client_id"], client_id.as_str());
    assert_eq!(result["refreshed"], true);
    let listed = app.cli_json(&["client", "list"]);
    let made = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == client_id.as_str())
        .unwrap();
    assert_eq!(made["dynamic"], true);
    assert_eq!(made["token_endpoint_auth_method"], "private_key_jwt");

    // client_secret_jwt with client credentials, on the token's second use.
    let mut node = Scenario::start("client_secret_jwt", &issuer, &iat);
    node.expect("registered");
    let result = node.expect("result");
    node.finish();
    assert_eq!(result["introspection"]["active"], true);
    assert_eq!(result["token_type"], "bearer");
    Ok(())
}

/// DPoP (RFC 9449) the way openid-client does it, against a server that asks for nonces: a
/// public client that registered `dpop_bound_access_tokens` redeems its code, reads userinfo
/// and refreshes, each with a proof; its bound token as a bearer token and its refresh token
/// with another key are refused.
pub async fn openid_client_binds_tokens_with_dpop() -> Outcome {
    available()?;
    let (app, addr, _server) = served_app_with(|c| c.security.dpop_nonce = true);
    let ada = app.user_with(
        portcullis::core::users::NewUser {
            email: "ada@example.com".into(),
            username: Some("ada".into()),
            ..Default::default()
        },
        "password1",
    );
    let issuer = format!("http://{addr}");
    let iat = app.cli_json(&["client", "registration-token"])["initial_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut node = Scenario::start("dpop_public_client", &issuer, &iat);
    let client_id = node.expect("registered")["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = node.expect("authorize");
    let back = person(&app, url.as_str().unwrap()).await;
    node.send(&back);
    let result = node.expect("result");
    node.finish();
    assert_eq!(result["sub"], ada.as_str());
    assert_eq!(result["token_type"], "dpop", "{result}");
    assert_eq!(result["refreshed_token_type"], "dpop", "{result}");
    assert_eq!(result["userinfo"]["preferred_username"], "ada");
    assert_eq!(result["bearer"]["refused"], true, "{result}");
    assert_eq!(result["bearer"]["status"], 401, "{result}");
    assert_eq!(result["stolen"]["refused"], true, "{result}");
    assert_eq!(result["stolen"]["code"], "invalid_grant", "{result}");
    let row = portcullis::core::clients::get(&mut app.conn(), &client_id).unwrap();
    assert!(row.meta().dpop_bound_access_tokens);
    Ok(())
}

/// The device authorization grant (RFC 8628) the way openid-client does it: a public device
/// client registers, starts a device authorization, and polls (through
/// `authorization_pending`) while the person, signed in here, enters the code at `/device` and
/// approves; then it reads userinfo and refreshes.
pub async fn openid_client_completes_a_device_authorization() -> Outcome {
    available()?;
    let (app, addr, _server) = served_app();
    let ada = app.user_with(
        portcullis::core::users::NewUser {
            email: "ada@example.com".into(),
            username: Some("ada".into()),
            ..Default::default()
        },
        "password1",
    );
    let issuer = format!("http://{addr}");
    let iat = app.cli_json(&["client", "registration-token"])["initial_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut node = Scenario::start("device_grant", &issuer, &iat);
    node.expect("registered");
    let device = node.expect("device");
    assert_eq!(device["verification_uri"], format!("{issuer}/device"));
    let user_code = device["user_code"].as_str().unwrap().to_owned();
    // The person types the code on another screen, after signing in.
    let mut b = Browser::new(&app);
    let r = b.sign_in("ada", "password1", "/device").await;
    assert_eq!(location(&r), "/device");
    let r = b.get("/device").await;
    let csrf = hidden(&r.text(), "csrf");
    let r = b
        .post("/device", &[("csrf", &csrf), ("user_code", &user_code)])
        .await;
    assert!(r.text().contains("openid-client device"), "{}", r.text());
    let r = b
        .post(
            "/device",
            &[
                ("csrf", &csrf),
                ("user_code", &user_code),
                ("decision", "allow"),
            ],
        )
        .await;
    assert!(r.text().contains("Device connected"), "{}", r.text());
    let result = node.expect("result");
    node.finish();
    assert_eq!(result["sub"], ada.as_str());
    assert_eq!(result["userinfo"]["preferred_username"], "ada");
    assert_eq!(result["refreshed"], true);
    Ok(())
}

/// Token exchange (RFC 8693) through openid-client's `genericGrantRequest`: a resource server
/// exchanges a person's token it received for a downstream audience, as an actor.
pub async fn openid_client_exchanges_a_token() -> Outcome {
    available()?;
    let (app, addr, _server) = served_app();
    app.user("ada@example.com", "password1");
    let grant = "urn:ietf:params:oauth:grant-type:token-exchange";
    let web = app.client(&[
        "--trusted",
        "--grant",
        "password",
        "--resource",
        "https://api.example",
        "--scope",
        "profile email",
    ]);
    let r = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", "ada@example.com"),
                ("password", "password1"),
                ("resource", "https://api.example"),
            ],
            (&web.0, &web.1),
        )
        .await;
    let subject = r.json()["access_token"].as_str().unwrap().to_owned();
    let api = app.client(&[
        "--grant",
        "client_credentials",
        "--grant",
        grant,
        "--resource",
        "https://api.example",
        "--exchange-audience",
        "https://backend.example",
    ]);
    let actor = app.client_token(&api.0, &api.1).await;
    let issuer = format!("http://{addr}");
    let mut node = Scenario::start_with(
        "token_exchange",
        &issuer,
        "unused",
        &[
            ("CLIENT_ID", &api.0),
            ("CLIENT_SECRET", &api.1),
            ("SUBJECT_TOKEN", &subject),
            ("ACTOR_TOKEN", &actor),
            ("AUDIENCE", "https://backend.example"),
        ],
    );
    let result = node.expect("result");
    node.finish();
    assert_eq!(
        result["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    let token = result["access_token"].as_str().unwrap();
    let seen = app.introspect(token).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["aud"], "https://backend.example");
    assert_eq!(seen["act"]["sub"], api.0.as_str());
    assert_eq!(seen["username"], "ada@example.com");
    Ok(())
}
