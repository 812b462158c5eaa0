//! The admin REST API: every route, who may call it, validation, and the events it leaves.

use actix_web::test::TestRequest;
use serde_json::{json, Value};

use crate::helpers::{plain_basic, Response, TestApp};

async fn admin_token(app: &TestApp) -> String {
    let (id, secret) = app.client(&[
        "--name",
        "Ops",
        "--grant",
        "client_credentials",
        "--scope",
        "admin",
    ]);
    app.token(&[("grant_type", "client_credentials")], (&id, &secret))
        .await
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
    auth: Option<&str>,
) -> Response {
    let mut req = match method {
        "POST" => TestRequest::post(),
        "PATCH" => TestRequest::patch(),
        "DELETE" => TestRequest::delete(),
        _ => TestRequest::get(),
    }
    .uri(path);
    if let Some(b) = body {
        req = req.set_json(b);
    }
    if let Some(a) = auth {
        req = req.insert_header(("Authorization", a.to_owned()));
    }
    app.send(req).await
}

#[actix_rt::test]
async fn only_admins() {
    let app = TestApp::new();
    app.user("plain@example.com", "plain password");
    app.user_with(
        portcullis::core::users::NewUser {
            email: "root@example.com".into(),
            is_admin: true,
            ..Default::default()
        },
        "root password",
    );
    let r = call(&app, "GET", "/admin/users", None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "unauthorized");
    assert!(r.header("www-authenticate").is_some());
    let r = call(
        &app,
        "GET",
        "/admin/users",
        None,
        Some(&plain_basic("plain@example.com", "plain password")),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"], "forbidden");
    let (svc, svc_secret) = app.client(&["--grant", "client_credentials", "--scope", "read"]);
    let t = app
        .token(&[("grant_type", "client_credentials")], (&svc, &svc_secret))
        .await
        .json();
    let r = call(
        &app,
        "GET",
        "/admin/users",
        None,
        Some(&format!("Bearer {}", t["access_token"].as_str().unwrap())),
    )
    .await;
    assert_eq!(r.status, 403);
    // An admin user's password and an admin-scope token; never an admin's PAT (SPEC §9).
    let r = call(
        &app,
        "GET",
        "/admin/users",
        None,
        Some(&plain_basic("root@example.com", "root password")),
    )
    .await;
    assert_eq!(r.status, 200);
    let root: String = app
        .cli_json(&["user", "list"])
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["admin"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (pat, _) = portcullis::core::tokens::pat::create(
        &mut app.conn(),
        app.clock.now_naive(),
        &root,
        "ops",
        None,
    )
    .unwrap();
    assert_eq!(
        call(
            &app,
            "GET",
            "/admin/keys",
            None,
            Some(&format!("Bearer {pat}"))
        )
        .await
        .status,
        403
    );
    let token = admin_token(&app).await;
    assert_eq!(
        call(
            &app,
            "GET",
            "/admin/clients",
            None,
            Some(&format!("Bearer {token}"))
        )
        .await
        .status,
        200
    );
    let r = call(
        &app,
        "GET",
        "/admin/nothing",
        None,
        Some(&format!("Bearer {token}")),
    )
    .await;
    assert_eq!(r.status, 404);
}

#[actix_rt::test]
async fn users() {
    let app = TestApp::new();
    let auth = format!("Bearer {}", admin_token(&app).await);
    let a = Some(auth.as_str());
    let r = call(&app, "POST", "/admin/users", Some(json!({"email": "ada@example.com", "password": "ada password!", "username": "ada", "name": "Ada"})), a).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let ada = r.json();
    let id = ada["id"].as_str().unwrap().to_owned();
    assert_eq!(ada["email_verified"], false);
    assert!(
        app.outbox()
            .iter()
            .any(|m| m.contains("To: ada@example.com")),
        "a verification email"
    );
    call(
        &app,
        "POST",
        "/admin/users",
        Some(json!({"email": "bob@example.com", "password": "bob password!", "verified": true})),
        a,
    )
    .await;
    // Validation and conflicts.
    for (body, status) in [
        (
            json!({"email": "ada@example.com", "password": "another pass"}),
            409,
        ),
        (json!({"email": "bad", "password": "another pass"}), 400),
        (
            json!({"email": "c@example.com", "password": "password"}),
            400,
        ),
        (json!({"email": "c@example.com"}), 400),
        (
            json!({"email": "c@example.com", "password": "another pass", "colour": "blue"}),
            400,
        ),
    ] {
        let r = call(&app, "POST", "/admin/users", Some(body.clone()), a).await;
        assert_eq!(r.status.as_u16(), status, "{body}: {}", r.text());
        assert!(r.json()["error_description"].is_string());
    }
    let r = app
        .send(
            TestRequest::post()
                .uri("/admin/users")
                .insert_header(("Authorization", auth.clone()))
                .insert_header(("Content-Type", "application/json"))
                .set_payload("{bad"),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_request");
    // List, page, search.
    let r = call(&app, "GET", "/admin/users?limit=1", None, a)
        .await
        .json();
    assert_eq!(r["total"], 2);
    assert_eq!(r["users"].as_array().unwrap().len(), 1);
    let r = call(&app, "GET", "/admin/users?q=BOB", None, a)
        .await
        .json();
    assert_eq!(r["users"][0]["email"], "bob@example.com");
    assert_eq!(
        call(&app, "GET", "/admin/users?limit=0", None, a)
            .await
            .status,
        400
    );
    assert_eq!(
        call(&app, "GET", "/admin/users?limit=abc", None, a)
            .await
            .status,
        400
    );
    // Get, update.
    assert_eq!(
        call(&app, "GET", &format!("/admin/users/{id}"), None, a)
            .await
            .json()["username"],
        "ada"
    );
    assert_eq!(
        call(&app, "GET", "/admin/users/nobody", None, a)
            .await
            .status,
        404
    );
    let r = call(
        &app,
        "PATCH",
        &format!("/admin/users/{id}"),
        Some(json!({"name": "Ada Lovelace", "admin": true, "verified": true})),
        a,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["name"], "Ada Lovelace");
    assert_eq!(r.json()["admin"], true);
    assert_eq!(r.json()["email_verified"], true);
    let r = call(
        &app,
        "PATCH",
        &format!("/admin/users/{id}"),
        Some(json!({"email": "bob@example.com"})),
        a,
    )
    .await;
    assert_eq!(r.status, 409);
    let r = call(
        &app,
        "PATCH",
        &format!("/admin/users/{id}"),
        Some(json!({"username": null})),
        a,
    )
    .await;
    assert!(r.json()["username"].is_null());
    // A new password revokes the user's tokens.
    let (c, s) = app.client(&["--trusted", "--grant", "password"]);
    let t = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", "ada@example.com"),
                ("password", "ada password!"),
            ],
            (&c, &s),
        )
        .await
        .json();
    let r = call(
        &app,
        "PATCH",
        &format!("/admin/users/{id}"),
        Some(json!({"password": "new ada password"})),
        a,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        app.introspect(t["access_token"].as_str().unwrap()).await["active"],
        false
    );
    // Disable, enable, revoke tokens, delete.
    assert_eq!(
        call(&app, "POST", &format!("/admin/users/{id}/disable"), None, a)
            .await
            .json()["disabled"],
        true
    );
    assert_eq!(
        call(&app, "POST", &format!("/admin/users/{id}/enable"), None, a)
            .await
            .json()["disabled"],
        false
    );
    assert_eq!(
        call(
            &app,
            "POST",
            &format!("/admin/users/{id}/revoke-tokens"),
            None,
            a
        )
        .await
        .status,
        204
    );
    assert_eq!(
        call(&app, "DELETE", &format!("/admin/users/{id}"), None, a)
            .await
            .status,
        204
    );
    assert_eq!(
        call(&app, "GET", &format!("/admin/users/{id}"), None, a)
            .await
            .status,
        404
    );
    assert_eq!(
        call(&app, "DELETE", &format!("/admin/users/{id}"), None, a)
            .await
            .status,
        404
    );
}

#[actix_rt::test]
async fn clients() {
    let app = TestApp::new();
    let auth = format!("Bearer {}", admin_token(&app).await);
    let a = Some(auth.as_str());
    let r = call(&app, "POST", "/admin/clients", Some(json!({"name": "Web", "redirect_uris": ["https://app.example/cb"], "scopes": ["openid", "profile"]})), a).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(
        created["client"]["grant_types"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    for (body, status) in [
        (json!({"name": "X", "grant_types": ["password"]}), 400),
        (json!({"name": "X", "redirect_uris": ["not a uri"]}), 400),
        (json!({"name": "X", "client_id": id}), 409),
        (json!({"redirect_uris": []}), 400),
        (json!({"name": "X", "cert_pem": "nope"}), 400),
    ] {
        let r = call(&app, "POST", "/admin/clients", Some(body.clone()), a).await;
        assert_eq!(r.status.as_u16(), status, "{body}: {}", r.text());
    }
    assert_eq!(
        call(&app, "GET", &format!("/admin/clients/{id}"), None, a)
            .await
            .json()["name"],
        "Web"
    );
    assert!(
        call(&app, "GET", "/admin/clients", None, a)
            .await
            .json()
            .as_array()
            .unwrap()
            .len()
            >= 2
    );
    // Update: validated like a new client.
    let r = call(
        &app,
        "PATCH",
        &format!("/admin/clients/{id}"),
        Some(
            json!({"redirect_uris": ["https://app.example/cb2"], "trusted": true, "name": "Web 2"}),
        ),
        a,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["redirect_uris"],
        json!(["https://app.example/cb2"])
    );
    assert_eq!(r.json()["trusted"], true);
    let r = call(
        &app,
        "PATCH",
        &format!("/admin/clients/{id}"),
        Some(json!({"redirect_uris": []})),
        a,
    )
    .await;
    assert_eq!(r.status, 400, "the code grant needs a redirect URI");
    assert_eq!(
        call(
            &app,
            "PATCH",
            "/admin/clients/nobody",
            Some(json!({"name": "x"})),
            a
        )
        .await
        .status,
        404
    );
    // Rotate the secret: the old one stops working.
    let r = call(
        &app,
        "POST",
        &format!("/admin/clients/{id}/rotate-secret"),
        None,
        a,
    )
    .await;
    let new_secret = r.json()["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(
        app.token(&[("grant_type", "client_credentials")], (&id, &secret))
            .await
            .status,
        401
    );
    assert_eq!(
        app.token(&[("grant_type", "client_credentials")], (&id, &new_secret))
            .await
            .status,
        200
    );
    assert_eq!(
        call(&app, "DELETE", &format!("/admin/clients/{id}"), None, a)
            .await
            .status,
        204
    );
    assert_eq!(
        call(&app, "GET", &format!("/admin/clients/{id}"), None, a)
            .await
            .status,
        404
    );
}

#[actix_rt::test]
async fn keys_acl_and_events() {
    let app = TestApp::new();
    let auth = format!("Bearer {}", admin_token(&app).await);
    let a = Some(auth.as_str());
    let keys = call(&app, "GET", "/admin/keys", None, a).await.json();
    let old = keys[0]["kid"].as_str().unwrap().to_owned();
    let r = call(
        &app,
        "POST",
        "/admin/keys/rotate",
        Some(json!({"now": true})),
        a,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["state"], "active");
    assert_eq!(
        call(
            &app,
            "POST",
            "/admin/keys/rotate",
            Some(json!({"alg": "HS256"})),
            a
        )
        .await
        .status,
        400
    );
    assert_eq!(
        call(&app, "POST", &format!("/admin/keys/{old}/retire"), None, a)
            .await
            .status,
        204
    );
    assert_eq!(
        call(&app, "POST", "/admin/keys/nope/retire", None, a)
            .await
            .status,
        404
    );
    let jwks = app.get("/jwks").await.json();
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        2,
        "the retired key stays published"
    );

    let r = call(
        &app,
        "POST",
        "/admin/acl",
        Some(json!({"subject": "u1", "target": "*", "command": "Sys.*"})),
        a,
    )
    .await;
    assert_eq!(r.status, 201);
    let rule = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        call(&app, "GET", "/admin/acl", None, a)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        call(
            &app,
            "POST",
            "/admin/acl",
            Some(json!({"subject": "u1", "target": "*", "command": "rm -rf"})),
            a
        )
        .await
        .status,
        400
    );
    assert_eq!(
        call(&app, "DELETE", &format!("/admin/acl/{rule}"), None, a)
            .await
            .status,
        204
    );
    assert_eq!(
        call(&app, "DELETE", &format!("/admin/acl/{rule}"), None, a)
            .await
            .status,
        404
    );

    // Events: filtered, paged; admin calls are events themselves.
    let r = call(
        &app,
        "GET",
        "/admin/events?kind=admin.call&limit=3",
        None,
        a,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let page = r.json();
    assert_eq!(page.as_array().unwrap().len(), 3);
    assert_eq!(page[0]["service"], "admin");
    assert!(page[0]["client_id"].is_string());
    let before = page[2]["id"].as_str().unwrap();
    let older = call(
        &app,
        "GET",
        &format!("/admin/events?kind=admin.call&before={before}"),
        None,
        a,
    )
    .await
    .json();
    assert!(!older.as_array().unwrap().is_empty());
    let r = call(&app, "GET", "/admin/events?kind=acl.added", None, a)
        .await
        .json();
    assert_eq!(r.as_array().unwrap().len(), 1);
    let r = call(
        &app,
        "GET",
        "/admin/events?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z",
        None,
        a,
    )
    .await
    .json();
    assert_eq!(r, json!([]));
    assert_eq!(
        call(&app, "GET", "/admin/events?since=yesterday", None, a)
            .await
            .status,
        400
    );
    assert_eq!(
        call(&app, "GET", "/admin/events?before=event-nope", None, a)
            .await
            .status,
        404
    );
}

#[actix_rt::test]
async fn patching_a_client_with_an_empty_list_is_fine() {
    let app = TestApp::new();
    let t = admin_token(&app).await;
    let a = format!("Bearer {t}");
    let list = call(&app, "GET", "/admin/clients", None, Some(&a))
        .await
        .json();
    for c in list.as_array().unwrap() {
        let id = c["client_id"].as_str().unwrap();
        for body in [
            json!({"resources": []}),
            json!({"redirect_uris": []}),
            json!({"scopes": []}),
            json!({}),
        ] {
            let r = call(
                &app,
                "PATCH",
                &format!("/admin/clients/{id}"),
                Some(body.clone()),
                Some(&a),
            )
            .await;
            assert!(
                !r.status.is_server_error(),
                "{id} {body}: {} {}",
                r.status,
                r.text()
            );
        }
    }
}

/// A person locked out by wrong passwords is let back in by an administrator: the admin API
/// and the CLI forget the wrong passwords counted against the account.
#[actix_rt::test]
async fn a_locked_out_user_is_unlocked() {
    let app = TestApp::new();
    let uid = app.user("ada@example.com", "correct horse");
    let token = admin_token(&app).await;
    let bearer = format!("Bearer {token}");
    let client = app.password_client("openid");
    let attempt = |password: &'static str| {
        let app = &app;
        let client = &client;
        async move {
            app.token(
                &[
                    ("grant_type", "password"),
                    ("username", "ada@example.com"),
                    ("password", password),
                ],
                (&client.0, &client.1),
            )
            .await
        }
    };
    let lock = || async {
        for _ in 0..5 {
            assert_eq!(attempt("wrong horse").await.status, 400);
        }
        let r = attempt("correct horse").await;
        assert_eq!(r.status, 429, "locked: {}", r.text());
    };
    lock().await;
    let r = call(
        &app,
        "POST",
        &format!("/admin/users/{uid}/unlock"),
        None,
        Some(&bearer),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["wrong_passwords_forgotten"], 5);
    assert_eq!(r.json()["user"]["id"], uid.as_str());
    assert_eq!(attempt("correct horse").await.status, 200);
    // Unlocking an account that is not locked says so; an unknown user is a 404.
    let r = call(
        &app,
        "POST",
        &format!("/admin/users/{uid}/unlock"),
        None,
        Some(&bearer),
    )
    .await;
    assert_eq!(r.json()["wrong_passwords_forgotten"], 0);
    let r = call(
        &app,
        "POST",
        "/admin/users/nobody/unlock",
        None,
        Some(&bearer),
    )
    .await;
    assert_eq!(r.status, 404);
    // Only administrators.
    let r = call(
        &app,
        "POST",
        &format!("/admin/users/{uid}/unlock"),
        None,
        Some(&plain_basic("ada@example.com", "correct horse")),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());

    // The CLI, by email; the event is recorded.
    lock().await;
    let out = app.cli(&["user", "unlock", "ada@example.com"]).unwrap();
    assert!(out.contains("5 wrong password(s) forgotten"), "{out}");
    assert_eq!(attempt("correct horse").await.status, 200);
    let out = app.cli(&["user", "unlock", "ada@example.com"]).unwrap();
    assert!(out.contains("nothing to unlock"), "{out}");
    let events = call(
        &app,
        "GET",
        "/admin/events?kind=user.unlocked",
        None,
        Some(&bearer),
    )
    .await;
    assert!(events.text().contains("user.unlocked"), "{}", events.text());
}

/// Phone numbers through the admin API: normalised to E.164, unverified unless marked, a new
/// number unverified again, `null` removes it.
#[actix_rt::test]
async fn phone_numbers_through_the_admin_api() {
    let app = TestApp::new();
    let token = admin_token(&app).await;
    let bearer = format!("Bearer {token}");
    let r = call(
        &app,
        "POST",
        "/admin/users",
        Some(
            json!({"email": "grace@example.com", "password": "a long password",
                    "phone_number": "+1 425 555 1212", "phone_number_verified": true}),
        ),
        Some(&bearer),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let u = r.json();
    assert_eq!(u["phone_number"], "+14255551212");
    assert_eq!(u["phone_number_verified"], true);
    let id = u["id"].as_str().unwrap().to_owned();
    let path = format!("/admin/users/{id}");
    let r = call(
        &app,
        "PATCH",
        &path,
        Some(json!({"phone_number": "+33 1 23 45 67 89"})),
        Some(&bearer),
    )
    .await;
    assert_eq!(r.json()["phone_number"], "+33123456789");
    assert_eq!(
        r.json()["phone_number_verified"],
        false,
        "a new number is unverified"
    );
    let r = call(
        &app,
        "PATCH",
        &path,
        Some(json!({"phone_number_verified": true})),
        Some(&bearer),
    )
    .await;
    assert_eq!(r.json()["phone_number_verified"], true);
    let r = call(
        &app,
        "PATCH",
        &path,
        Some(json!({"phone_number": "12345"})),
        Some(&bearer),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("phone_number"), "{}", r.text());
    let r = call(
        &app,
        "PATCH",
        &path,
        Some(json!({"phone_number": null})),
        Some(&bearer),
    )
    .await;
    assert_eq!(r.json()["phone_number"], Value::Null);
    assert_eq!(r.json()["phone_number_verified"], false);
    let r = call(
        &app,
        "PATCH",
        &path,
        Some(json!({"phone_number_verified": true})),
        Some(&bearer),
    )
    .await;
    assert_eq!(r.status, 400, "no number to verify: {}", r.text());
}
