//! Mongoose OS `Account` and `Auth` RPC: every method, happy paths and errors, reply frames
//! pinned by snapshots (tokens, ids and times scrubbed), and the doors meeting each other.

use actix_web::test::TestRequest;
use serde_json::{json, Value};

use crate::browser_helpers::{location, Browser};
use crate::helpers::{certificate, plain_basic as basic_header, scrub, Response, TestApp};

enum Auth<'a> {
    None,
    Basic(&'a str, &'a str),
    Bearer(&'a str),
}

async fn call(app: &TestApp, method: &str, args: Value, auth: Auth<'_>) -> Response {
    let frame = json!({ "v": 2, "src": "device_123", "id": 123, "method": format!("/v1/{method}"), "args": args });
    let mut req = TestRequest::post()
        .uri(&format!("/v1/{method}"))
        .set_json(frame);
    req = match auth {
        Auth::None => req,
        Auth::Basic(u, p) => req.insert_header(("Authorization", basic_header(u, p))),
        Auth::Bearer(t) => req.insert_header(("Authorization", format!("Bearer {t}"))),
    };
    app.send(req).await
}

fn setup() -> (TestApp, String) {
    let app = TestApp::builder()
        .config(|c| c.registration = portcullis::config::Registration::Open)
        .build();
    let uid = app.user_with(
        portcullis::core::users::NewUser {
            id: Some("alice".into()),
            email: "alice@example.com".into(),
            username: Some("alice_name".into()),
            verified: true,
            ..Default::default()
        },
        "alice password",
    );
    (app, uid)
}

/// A client-credentials token with the auth.backend scope (the cloud backend).
async fn backend_token(app: &TestApp) -> String {
    let (id, secret) = app.client(&[
        "--name",
        "Backend",
        "--grant",
        "client_credentials",
        "--scope",
        "auth.backend",
    ]);
    app.client_token(&id, &secret).await
}

#[actix_rt::test]
async fn transports_and_frames() {
    let (app, _) = setup();
    let alice = Auth::Basic("alice", "alice password");
    let r = call(
        &app,
        "Account.UserExists",
        json!({"name": "alice_name"}),
        alice,
    )
    .await;
    assert_eq!(r.status, 200);
    insta::assert_json_snapshot!("frame_user_exists", r.json());
    // Bare args, an empty body, GET with a query, /rpc.
    let bare = app
        .send(
            TestRequest::post()
                .uri("/v1/Account.UserExists")
                .insert_header(("Authorization", basic_header("alice", "alice password")))
                .set_json(json!({"id": "alice"})),
        )
        .await;
    assert_eq!(
        bare.json(),
        json!({"v": 2, "src": "//127.0.0.1:8080", "result": {"exists": true}}),
        "no dst or id without them"
    );
    let empty = app
        .send(
            TestRequest::post()
                .uri("/v1/Account.ListTokens")
                .insert_header(("Authorization", basic_header("alice", "alice password"))),
        )
        .await;
    assert_eq!(empty.json()["result"], json!([]));
    let got = app
        .send(
            TestRequest::get()
                .uri("/v1/Account.UserExists?name=nobody")
                .insert_header(("Authorization", basic_header("alice", "alice password"))),
        )
        .await;
    assert_eq!(got.json()["result"], json!({"exists": false}));
    let rpc = app
        .send(
            TestRequest::post()
                .uri("/rpc")
                .insert_header(("Authorization", basic_header("alice", "alice password")))
                .set_json(json!({"v": 2, "src": "app", "id": "x1", "method": "/v1/Account.UserExists", "args": {"id": "alice"}})),
        )
        .await;
    assert_eq!(
        rpc.json(),
        json!({"v": 2, "src": "//127.0.0.1:8080", "dst": "app", "id": "x1", "result": {"exists": true}})
    );
}

#[actix_rt::test]
async fn bad_input_gets_error_frames_never_500() {
    let (app, _) = setup();
    let auth = basic_header("alice", "alice password");
    let post = |uri: &str, body: Vec<u8>| {
        TestRequest::post()
            .uri(uri)
            .insert_header(("Authorization", auth.clone()))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(body)
    };
    let cases: Vec<(TestRequest, u16, &str)> = vec![
        (
            post("/v1/Account.UserExists", b"{not json".to_vec()),
            400,
            "malformed JSON",
        ),
        (
            post("/v1/Account.UserExists", b"[1,2]".to_vec()),
            400,
            "JSON object",
        ),
        (
            post("/rpc", br#"{"v":2,"id":1,"args":{}}"#.to_vec()),
            400,
            "no method",
        ),
        (
            post("/rpc", br#"{"v":2,"id":1,"method":7}"#.to_vec()),
            400,
            "method must be a string",
        ),
        (
            post(
                "/v1/Account.UserExists",
                br#"{"method":"/v1/Account.GetInfo","args":{}}"#.to_vec(),
            ),
            400,
            "does not match",
        ),
        (
            post("/v1/Account.RevokeToken", br#"{"id": 42}"#.to_vec()),
            400,
            "invalid arguments",
        ),
        (
            post("/v1/Account.GetInfo", br#"{}"#.to_vec()),
            400,
            "id or name",
        ),
        (
            post("/v1/Account.Nope", br#"{}"#.to_vec()),
            404,
            "unknown method",
        ),
        (
            post("/v1/Bogus.Method", br#"{}"#.to_vec()),
            404,
            "unknown method",
        ),
        (
            post(
                "/rpc",
                br#"{"method":"Auth.Authenticate","args":{"id":"x","credentials":{}}}"#.to_vec(),
            ),
            403,
            "auth.backend",
        ),
        (
            post("/v1/Account.UserExists", vec![b' '; 70 * 1024]),
            413,
            "exceeds",
        ),
        (
            TestRequest::post().uri("/v1/Account.ListTokens"),
            401,
            "authentication required",
        ),
        (
            TestRequest::post()
                .uri("/v1/Account.ListTokens")
                .insert_header(("Authorization", basic_header("alice", "wrong password"))),
            401,
            "invalid credentials",
        ),
        (
            TestRequest::post()
                .uri("/v1/Account.ListTokens")
                .insert_header(("Authorization", "Basic %%%")),
            401,
            "malformed",
        ),
    ];
    for (req, code, message) in cases {
        let r = app.send(req).await;
        let body = r.json();
        assert_eq!(r.status.as_u16(), code, "{message}: {body}");
        assert_eq!(body["error"]["code"], code);
        assert!(
            body["error"]["message"].as_str().unwrap().contains(message),
            "{message}: {body}"
        );
        assert!(body.get("result").is_none());
    }
    let r = app.send(post("/v1/Account.Nope", br#"{}"#.to_vec())).await;
    insta::assert_json_snapshot!("frame_unknown_method", r.json());
}

#[actix_rt::test]
async fn personal_access_tokens_and_the_other_doors() {
    let (app, uid) = setup();
    let r = call(
        &app,
        "Account.CreateToken",
        json!({"description": "CLI"}),
        Auth::Basic("alice@example.com", "alice password"),
    )
    .await;
    insta::assert_json_snapshot!("frame_create_token", scrub(&r.json()));
    let token = r.json()["result"].as_str().unwrap().to_owned();
    // The PAT works as a bearer here, in the query string, at /introspect and at /userinfo.
    let r = call(&app, "Account.ListTokens", json!({}), Auth::Bearer(&token)).await;
    insta::assert_json_snapshot!("frame_list_tokens", scrub(&r.json()));
    let r = app
        .send(
            TestRequest::post()
                .uri(&format!("/v1/Account.ListTokens?access_token={token}"))
                .set_json(json!({})),
        )
        .await;
    assert_eq!(r.status, 200);
    let info = app.introspect(&token).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "pat");
    assert_eq!(info["sub"], uid.as_str());
    let r = app
        .send(
            TestRequest::get()
                .uri("/userinfo")
                .insert_header(("Authorization", format!("Bearer {token}"))),
        )
        .await;
    assert_eq!(r.json()["sub"], uid.as_str());
    // ValidateToken for the PAT and for an access token.
    let r = call(
        &app,
        "Account.ValidateToken",
        json!({"token": token}),
        Auth::Basic("alice", "alice password"),
    )
    .await;
    insta::assert_json_snapshot!("frame_validate_pat", scrub(&r.json()));
    let bob = app.user("bob@example.com", "bob password 1");
    let r = call(
        &app,
        "Account.CreateToken",
        json!({}),
        Auth::Basic("bob@example.com", "bob password 1"),
    )
    .await;
    let bob_token = r.json()["result"].as_str().unwrap().to_owned();
    let id = call(&app, "Account.ListTokens", json!({}), Auth::Bearer(&token))
        .await
        .json()["result"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Someone else's token: 404.
    let r = call(
        &app,
        "Account.RevokeToken",
        json!({"id": id}),
        Auth::Bearer(&bob_token),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = call(
        &app,
        "Account.RevokeToken",
        json!({"id": id}),
        Auth::Bearer(&token),
    )
    .await;
    insta::assert_json_snapshot!("frame_revoke_token", r.json());
    assert_eq!(app.introspect(&token).await["active"], false);
    let r = call(
        &app,
        "Account.ValidateToken",
        json!({"token": token}),
        Auth::Bearer(&bob_token),
    )
    .await;
    assert_eq!(r.status, 401);
    let _ = bob;
}

#[actix_rt::test]
async fn create_user_get_info_and_sign_in_on_the_page() {
    let (app, _) = setup();
    let r = call(
        &app,
        "Account.CreateUser",
        json!({"id": "dev-owner-1", "name": "carol", "email": "carol@example.com", "password": "carol password"}),
        Auth::None,
    )
    .await;
    insta::assert_json_snapshot!("frame_create_user", r.json());
    // Taken id, name or email: 409.
    for args in [
        json!({"id": "dev-owner-1", "name": "x1", "email": "x1@example.com", "password": "carol password"}),
        json!({"id": "x2", "name": "CAROL", "email": "x2@example.com", "password": "carol password"}),
        json!({"id": "x3", "name": "x3", "email": "Carol@Example.com", "password": "carol password"}),
    ] {
        assert_eq!(
            call(&app, "Account.CreateUser", args, Auth::None)
                .await
                .status,
            409
        );
    }
    let r = call(
        &app,
        "Account.CreateUser",
        json!({"email": "y@example.com", "password": "short"}),
        Auth::None,
    )
    .await;
    assert_eq!(r.status, 400);
    // The new user signs in on the sign-in page; a verification email went out.
    let r = Browser::new(&app)
        .sign_in("carol", "carol password", "/account")
        .await;
    assert_eq!(location(&r), "/account");
    assert!(!app.outbox().is_empty());
    // GetInfo: the email only for the user themself (or an admin).
    let own = call(
        &app,
        "Account.GetInfo",
        json!({"name": "carol"}),
        Auth::Basic("carol", "carol password"),
    )
    .await;
    insta::assert_json_snapshot!("frame_get_info_own", scrub(&own.json()));
    let other = call(
        &app,
        "Account.GetInfo",
        json!({"id": "dev-owner-1", "name": "ignored"}),
        Auth::Basic("alice", "alice password"),
    )
    .await;
    assert!(other.json()["result"].get("email").is_none());
    assert_eq!(other.json()["result"]["name"], "carol");
    let r = call(
        &app,
        "Account.GetInfo",
        json!({"id": "nobody"}),
        Auth::Basic("alice", "alice password"),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        call(&app, "Account.UserExists", json!({"id": "x"}), Auth::None)
            .await
            .status,
        401
    );
}

#[actix_rt::test]
async fn create_user_when_registration_is_closed() {
    let app = TestApp::new();
    let args =
        json!({"id": "u1", "name": "u1", "email": "u1@example.com", "password": "u1 password!"});
    assert_eq!(
        call(&app, "Account.CreateUser", args.clone(), Auth::None)
            .await
            .status,
        401
    );
    app.user("plain@example.com", "plain password");
    let r = call(
        &app,
        "Account.CreateUser",
        args.clone(),
        Auth::Basic("plain@example.com", "plain password"),
    )
    .await;
    assert_eq!(r.status, 403);
    let (id, secret) = app.client(&[
        "--name",
        "Admin tool",
        "--grant",
        "client_credentials",
        "--scope",
        "admin",
    ]);
    let admin = app.client_token(&id, &secret).await;
    let r = call(&app, "Account.CreateUser", args, Auth::Bearer(&admin)).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[actix_rt::test]
async fn authenticate_devices_and_users() {
    let (app, uid) = setup();
    let backend = backend_token(&app).await;
    app.client(&[
        "--name",
        "Sensor",
        "--id",
        "device_1",
        "--secret",
        "device-psk-1",
        "--kind",
        "device",
        "--owner",
        &uid,
        "--grant",
        "client_credentials",
    ]);
    let (pem, _) = certificate(-1, 30);
    let path = app.data_dir().join("device2.pem");
    std::fs::write(&path, &pem).unwrap();
    app.client(&[
        "--name",
        "Cert sensor",
        "--id",
        "device_2",
        "--kind",
        "device",
        "--cert-file",
        path.to_str().unwrap(),
        "--grant",
        "client_credentials",
    ]);
    let auth = |args: Value| call(&app, "Auth.Authenticate", args, Auth::Bearer(&backend));
    let r = auth(json!({"id": "device_1", "credentials": {"psk": "device-psk-1"}})).await;
    insta::assert_json_snapshot!("frame_authenticate", r.json());
    assert_eq!(
        auth(json!({"id": "device_1", "credentials": {"psk": "wrong"}}))
            .await
            .json()["result"],
        false
    );
    let pem_text = String::from_utf8(pem).unwrap();
    assert_eq!(
        auth(json!({"id": "device_2", "credentials": {"cert": pem_text}}))
            .await
            .json()["result"],
        true
    );
    let (other_pem, _) = certificate(-1, 30);
    let other = String::from_utf8(other_pem).unwrap();
    assert_eq!(
        auth(json!({"id": "device_2", "credentials": {"cert": other}}))
            .await
            .json()["result"],
        false
    );
    assert_eq!(
        auth(json!({"id": "device_2", "credentials": {"cert": "not a cert"}}))
            .await
            .json()["result"],
        false
    );
    assert_eq!(
        auth(json!({"id": "alice_name", "credentials": {"psk": "alice password"}}))
            .await
            .json()["result"],
        true
    );
    assert_eq!(
        auth(json!({"id": "nobody", "credentials": {"psk": "whatever pw"}}))
            .await
            .json()["result"],
        false
    );
    let r = auth(json!({"id": "device_1", "credentials": {}})).await;
    assert_eq!(r.status, 400);
    let r = auth(json!({"id": "device_1"})).await;
    assert_eq!(r.status, 400);
    // A user without the auth.backend scope may not ask.
    let r = call(
        &app,
        "Auth.Authenticate",
        json!({"id": "device_1", "credentials": {"psk": "x"}}),
        Auth::Basic("alice", "alice password"),
    )
    .await;
    assert_eq!(r.status, 403);
    // Throttled like sign-in: the account locks, and the answer is a 429 frame.
    for _ in 0..5 {
        auth(json!({"id": "alice", "credentials": {"psk": "wrong password"}})).await;
    }
    let r = auth(json!({"id": "alice", "credentials": {"psk": "alice password"}})).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"]["code"], 429);
}

#[actix_rt::test]
async fn expired_certificates_do_not_authenticate() {
    let (app, _) = setup();
    let backend = backend_token(&app).await;
    let (pem, _) = certificate(-30, -1);
    let path = app.data_dir().join("old.pem");
    std::fs::write(&path, &pem).unwrap();
    app.client(&[
        "--name",
        "Old",
        "--id",
        "device_old",
        "--kind",
        "device",
        "--cert-file",
        path.to_str().unwrap(),
        "--grant",
        "client_credentials",
    ]);
    let r = call(
        &app,
        "Auth.Authenticate",
        json!({"id": "device_old", "credentials": {"cert": String::from_utf8(pem).unwrap()}}),
        Auth::Bearer(&backend),
    )
    .await;
    assert_eq!(r.json()["result"], false);
}

#[actix_rt::test]
async fn authorize_command() {
    let (app, uid) = setup();
    let backend = backend_token(&app).await;
    app.client(&[
        "--name",
        "Lamp",
        "--id",
        "lamp_1",
        "--kind",
        "device",
        "--owner",
        &uid,
        "--grant",
        "client_credentials",
    ]);
    app.cli(&[
        "acl",
        "add",
        "--subject",
        "bob",
        "--target",
        "lamp_1",
        "--command",
        "Sys.*",
    ])
    .unwrap();
    app.cli(&[
        "acl",
        "add",
        "--subject",
        "ops",
        "--target",
        "*",
        "--command",
        "Config.Get*",
    ])
    .unwrap();
    let ask = |src: &str, dst: &str, cmd: &str| {
        let args = json!({"src": src, "dst": dst, "cmd": cmd});
        let app = &app;
        let backend = backend.clone();
        async move {
            call(app, "Auth.AuthorizeCommand", args, Auth::Bearer(&backend))
                .await
                .json()["result"]
                .clone()
        }
    };
    assert_eq!(ask("lamp_1", "lamp_1", "Anything").await, true, "itself");
    assert_eq!(ask(&uid, "lamp_1", "Sys.Reboot").await, true, "the owner");
    assert_eq!(
        ask("bob", "lamp_1", "Sys.Reboot").await,
        true,
        "an ACL rule"
    );
    assert_eq!(
        ask("bob", "lamp_1", "Config.Set").await,
        false,
        "not that command"
    );
    assert_eq!(
        ask("ops", "anything", "Config.GetAll").await,
        true,
        "a wildcard target"
    );
    assert_eq!(ask("eve", "lamp_1", "Sys.Reboot").await, false);
    let r = call(
        &app,
        "Auth.AuthorizeCommand",
        json!({"src": "a", "dst": "b", "cmd": "c"}),
        Auth::Bearer(&backend),
    )
    .await;
    insta::assert_json_snapshot!("frame_authorize_command", r.json());
    let r = call(
        &app,
        "Auth.AuthorizeCommand",
        json!({"src": "a", "dst": 1, "cmd": "c"}),
        Auth::Bearer(&backend),
    )
    .await;
    assert_eq!(r.status, 400);
}

#[actix_rt::test]
async fn app_tokens_for_a_host() {
    let (app, uid) = setup();
    let alice = || Auth::Basic("alice", "alice password");
    let r = call(
        &app,
        "Auth.GetToken",
        json!({"host": "dash.example.com"}),
        alice(),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = call(
        &app,
        "Auth.GenerateToken",
        json!({"host": "dash.example.com"}),
        alice(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    insta::assert_json_snapshot!("frame_generate_token", scrub(&r.json()));
    let token = r.json()["result"]["token"].as_str().unwrap().to_owned();
    let (_, claims) = crate::helpers::jwt_parts(&token);
    assert_eq!(claims["aud"], "dash.example.com");
    assert_eq!(claims["sub"], uid.as_str());
    assert_eq!(app.introspect(&token).await["aud"], "dash.example.com");
    let again = call(
        &app,
        "Auth.GetToken",
        json!({"host": "dash.example.com"}),
        alice(),
    )
    .await;
    let second = again.json()["result"]["token"].as_str().unwrap().to_owned();
    assert_eq!(
        crate::helpers::jwt_parts(&second).1["gid"],
        claims["gid"],
        "the same grant"
    );
    call(
        &app,
        "Auth.GenerateToken",
        json!({"host": "other.example.com"}),
        alice(),
    )
    .await;
    let r = call(&app, "Auth.ListToken", json!({}), alice()).await;
    insta::assert_json_snapshot!("frame_list_token", scrub(&r.json()));
    let r = call(
        &app,
        "Auth.RevokeToken",
        json!({"host": "dash.example.com"}),
        alice(),
    )
    .await;
    insta::assert_json_snapshot!("frame_revoke_app_token", r.json());
    assert_eq!(app.introspect(&token).await["active"], false);
    assert_eq!(app.introspect(&second).await["active"], false);
    assert_eq!(
        call(
            &app,
            "Auth.RevokeToken",
            json!({"host": "dash.example.com"}),
            alice()
        )
        .await
        .status,
        404
    );
    assert_eq!(
        call(
            &app,
            "Auth.GenerateToken",
            json!({"host": "bad host!"}),
            alice()
        )
        .await
        .status,
        400
    );
    // App tokens need user credentials.
    let backend = backend_token(&app).await;
    assert_eq!(
        call(
            &app,
            "Auth.GenerateToken",
            json!({"host": "x.example"}),
            Auth::Bearer(&backend)
        )
        .await
        .status,
        403
    );
}

#[actix_rt::test]
async fn calls_with_user_credentials_are_events_without_secrets() {
    use diesel::prelude::*;
    use portcullis::db::schema::events;
    let (app, uid) = setup();
    call(
        &app,
        "Account.CreateToken",
        json!({"description": "CLI"}),
        Auth::Basic("alice", "alice password"),
    )
    .await;
    call(
        &app,
        "Auth.GenerateToken",
        json!({"host": "h.example"}),
        Auth::Basic("alice", "alice password"),
    )
    .await;
    // Calls are queued for the audit writer: write them now.
    app.state.audit.flush().await.unwrap();
    let rows: Vec<(Option<String>, Option<String>, Option<String>)> = events::table
        .filter(events::user_id.eq(&uid))
        .filter(events::kind.eq("api.call"))
        .select((events::service, events::input, events::output))
        .order(events::created_at.asc())
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0.as_deref(), Some("mongoose/Account.CreateToken"));
    let output: Value = serde_json::from_str(rows[0].2.as_deref().unwrap()).unwrap();
    assert_eq!(output["httpStatusCode"], 200);
    assert!(output["bytesOut"].as_u64().unwrap() > 0);
    let backend = backend_token(&app).await;
    call(
        &app,
        "Auth.Authenticate",
        json!({"id": "alice", "credentials": {"psk": "alice password"}}),
        Auth::Bearer(&backend),
    )
    .await;
    let all: Vec<Option<String>> = events::table
        .select(events::input)
        .load(&mut app.conn())
        .unwrap();
    assert!(
        all.iter().flatten().all(|i| !i.contains("alice password")),
        "no secret in any event"
    );
}
