//! Issue 19, token exchange (RFC 8693): a resource server trades a person's token it received
//! for a token for a downstream audience its policy allows, as itself or as an actor (`act`);
//! exchanges the policy does not allow, escalations and other clients' tokens are refused, and
//! every exchange is an event. The interop run with Node's openid-client is in `tests/env/`.

use diesel::prelude::*;
use serde_json::Value;

use crate::helpers::*;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT: &str = "urn:ietf:params:oauth:token-type:access_token";
const ID: &str = "urn:ietf:params:oauth:token-type:id_token";
const API: &str = "https://api.example";
const BACKEND: &str = "https://backend.example";

struct Setup {
    app: TestApp,
    /// The person's token, issued to `web` for `API`.
    subject: String,
    /// The resource server `API`, allowed to exchange for `BACKEND`.
    api: (String, String),
}

fn exchanger(app: &TestApp, resource: &str, audience: &str) -> (String, String) {
    app.client(&[
        "--grant",
        "client_credentials",
        "--grant",
        GRANT,
        "--resource",
        resource,
        "--exchange-audience",
        audience,
    ])
}

async fn setup() -> Setup {
    let app = TestApp::new();
    app.user("ex@example.com", "correct horse battery");
    let web = app.client(&[
        "--trusted",
        "--grant",
        "password",
        "--grant",
        "refresh_token",
        "--resource",
        API,
        "--scope",
        "openid profile email",
    ]);
    let r = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", "ex@example.com"),
                ("password", "correct horse battery"),
                ("scope", "openid profile email"),
                ("resource", API),
            ],
            (&web.0, &web.1),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let subject = r.json()["access_token"].as_str().unwrap().to_owned();
    let api = exchanger(&app, API, BACKEND);
    Setup { app, subject, api }
}

async fn exchange(app: &TestApp, who: &(String, String), params: &[(&str, &str)]) -> Response {
    let mut all = vec![("grant_type", GRANT)];
    all.extend_from_slice(params);
    app.token(&all, (&who.0, &who.1)).await
}

fn error_of(r: &Response) -> String {
    r.json()["error"].as_str().unwrap_or_default().to_owned()
}

fn events_of(app: &TestApp, kind: &str) -> Vec<Value> {
    use portcullis::db::schema::events;
    events::table
        .filter(events::kind.eq(kind))
        .select(events::detail)
        .load::<Option<String>>(&mut app.conn())
        .unwrap()
        .into_iter()
        .map(|d| serde_json::from_str(&d.unwrap_or_default()).unwrap_or(Value::Null))
        .collect()
}

#[actix_web::test]
async fn a_resource_server_exchanges_a_persons_token_for_a_downstream_audience() {
    let Setup { app, subject, api } = setup().await;
    let r = exchange(
        &app,
        &api,
        &[
            ("subject_token", &subject),
            ("subject_token_type", AT),
            ("audience", BACKEND),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["issued_token_type"], AT);
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("refresh_token").is_none());
    let (_, before) = jwt_parts(&subject);
    let (_, after) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(after["sub"], before["sub"]);
    assert_eq!(after["client_id"], api.0.as_str());
    assert_eq!(after["aud"], BACKEND, "only the downstream audience");
    assert_eq!(after["scope"], "profile email", "openid is not exchanged");
    assert!(after["exp"].as_i64() <= before["exp"].as_i64());
    assert!(after.get("act").is_none());
    let seen = events_of(&app, "token.exchanged");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["audience"][0], BACKEND);

    // Narrower scope on request; never wider.
    let r = exchange(
        &app,
        &api,
        &[
            ("subject_token", &subject),
            ("subject_token_type", AT),
            ("resource", BACKEND),
            ("scope", "email"),
        ],
    )
    .await;
    assert_eq!(r.json()["scope"], "email", "{}", r.text());
    for wider in ["email address", "openid"] {
        let r = exchange(
            &app,
            &api,
            &[
                ("subject_token", &subject),
                ("subject_token_type", AT),
                ("audience", BACKEND),
                ("scope", wider),
            ],
        )
        .await;
        assert_eq!(error_of(&r), "invalid_scope", "{wider}: {}", r.text());
    }

    // Revoking the person's grant revokes what was exchanged from it.
    let exchanged = exchange(
        &app,
        &api,
        &[
            ("subject_token", &subject),
            ("subject_token_type", AT),
            ("audience", BACKEND),
        ],
    )
    .await
    .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let uid = before["sub"].as_str().unwrap().to_owned();
    app.cli(&["user", "disable", &uid]).unwrap();
    // (The CLI is another process: this node learns of the cut-off from the revocation log.)
    app.state.revocations.catch_up().await;
    assert_eq!(app.introspect(&exchanged).await["active"], false);
    let r = exchange(
        &app,
        &api,
        &[
            ("subject_token", &subject),
            ("subject_token_type", AT),
            ("audience", BACKEND),
        ],
    )
    .await;
    assert_eq!(error_of(&r), "invalid_request", "{}", r.text());
}

#[actix_web::test]
async fn delegation_names_the_actor() {
    let Setup { app, subject, api } = setup().await;
    let actor = app.client_token(&api.0, &api.1).await;
    let r = exchange(
        &app,
        &api,
        &[
            ("subject_token", &subject),
            ("subject_token_type", AT),
            ("actor_token", &actor),
            ("actor_token_type", AT),
            ("audience", BACKEND),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let token = r.json()["access_token"].as_str().unwrap().to_owned();
    let (_, claims) = jwt_parts(&token);
    assert_eq!(claims["act"]["sub"], api.0.as_str());
    assert_eq!(claims["act"]["client_id"], api.0.as_str());
    let seen = app.introspect(&token).await;
    assert_eq!(seen["act"]["sub"], api.0.as_str(), "{seen}");
    // Another client's token as the actor: refused.
    let other = app.client(&["--grant", "client_credentials"]);
    let foreign = app.client_token(&other.0, &other.1).await;
    let r = exchange(
        &app,
        &api,
        &[
            ("subject_token", &subject),
            ("subject_token_type", AT),
            ("actor_token", &foreign),
            ("actor_token_type", AT),
            ("audience", BACKEND),
        ],
    )
    .await;
    assert_eq!(error_of(&r), "invalid_request", "{}", r.text());
}

#[actix_web::test]
async fn exchanges_the_policy_does_not_allow_are_refused_and_recorded() {
    let Setup { app, subject, api } = setup().await;
    let base = [
        ("subject_token", subject.as_str()),
        ("subject_token_type", AT),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut p = base.to_vec();
        p.extend_from_slice(extra);
        p
    };
    // An audience outside its policy; none at all.
    let r = exchange(
        &app,
        &api,
        &with(&[("audience", "https://payroll.example")]),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(error_of(&r), "invalid_target", "{}", r.text());
    let r = exchange(&app, &api, &with(&[])).await;
    assert_eq!(error_of(&r), "invalid_request", "{}", r.text());
    // A client with the grant but for another resource: the token is not its to exchange.
    let stranger = exchanger(&app, "https://other-api.example", BACKEND);
    let r = exchange(&app, &stranger, &with(&[("audience", BACKEND)])).await;
    assert_eq!(error_of(&r), "invalid_request", "{}", r.text());
    // A client without a policy.
    let plain = app.client(&[
        "--grant",
        "client_credentials",
        "--grant",
        GRANT,
        "--resource",
        API,
    ]);
    let r = exchange(&app, &plain, &with(&[("audience", BACKEND)])).await;
    assert_eq!(error_of(&r), "unauthorized_client", "{}", r.text());
    // A client without the grant.
    let r = exchange(
        &app,
        &app.client(&["--grant", "client_credentials"]),
        &with(&[("audience", BACKEND)]),
    )
    .await;
    assert_eq!(error_of(&r), "unauthorized_client", "{}", r.text());
    // Unsupported token types, a garbage token, a client's own token as the subject.
    let r = exchange(
        &app,
        &api,
        &[
            ("subject_token", &subject),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:saml2",
            ),
            ("audience", BACKEND),
        ],
    )
    .await;
    assert_eq!(error_of(&r), "invalid_request");
    let r = exchange(
        &app,
        &api,
        &[
            ("subject_token", "not-a-token"),
            ("subject_token_type", AT),
            ("audience", BACKEND),
        ],
    )
    .await;
    assert_eq!(error_of(&r), "invalid_request");
    let own = app.client_token(&api.0, &api.1).await;
    let r = exchange(
        &app,
        &api,
        &[
            ("subject_token", &own),
            ("subject_token_type", AT),
            ("audience", BACKEND),
        ],
    )
    .await;
    assert_eq!(error_of(&r), "invalid_request", "{}", r.text());
    // Refusals by the policy are events too.
    let refused = events_of(&app, "token.exchange_refused");
    assert!(refused.len() >= 3, "{refused:?}");
    assert_eq!(events_of(&app, "token.exchanged").len(), 0);
    // Dynamic registration cannot give itself a policy.
    let iat = app.cli_json(&["client", "registration-token"])["initial_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .send(
            actix_web::test::TestRequest::post()
                .uri("/register")
                .insert_header(("Authorization", format!("Bearer {iat}")))
                .set_json(serde_json::json!({"grant_types": ["client_credentials"],
                    "token_exchange_audiences": [BACKEND]})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
}

#[actix_web::test]
async fn an_id_token_issued_to_the_client_can_be_exchanged() {
    let app = TestApp::new();
    app.user("id@example.com", "correct horse battery");
    let bff = app.client(&[
        "--trusted",
        "--grant",
        "password",
        "--grant",
        "refresh_token",
        "--grant",
        GRANT,
        "--scope",
        "openid profile",
        "--exchange-audience",
        BACKEND,
    ]);
    let r = app
        .token(
            &[
                ("grant_type", "password"),
                ("username", "id@example.com"),
                ("password", "correct horse battery"),
                ("scope", "openid profile"),
            ],
            (&bff.0, &bff.1),
        )
        .await;
    let refresh = r.json()["refresh_token"].as_str().unwrap().to_owned();
    let r = app
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            (&bff.0, &bff.1),
        )
        .await;
    let id_token = r.json()["id_token"]
        .as_str()
        .expect("an ID token")
        .to_owned();
    let r = exchange(
        &app,
        &bff,
        &[
            ("subject_token", &id_token),
            ("subject_token_type", ID),
            ("audience", BACKEND),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let (_, claims) = jwt_parts(r.json()["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], jwt_parts(&id_token).1["sub"]);
    assert_eq!(claims["aud"], BACKEND);
    // Another client cannot exchange that ID token.
    let other = exchanger(&app, API, BACKEND);
    let r = exchange(
        &app,
        &other,
        &[
            ("subject_token", &id_token),
            ("subject_token_type", ID),
            ("audience", BACKEND),
        ],
    )
    .await;
    assert_eq!(error_of(&r), "invalid_request", "{}", r.text());
    // After a cut-off (disabled, then enabled again) the old ID token is not exchanged: ID
    // tokens are in no revocation log, the person's cut-off time decides.
    let sub = jwt_parts(&id_token).1["sub"].as_str().unwrap().to_owned();
    app.cli(&["user", "disable", &sub]).unwrap();
    app.cli(&["user", "enable", &sub]).unwrap();
    let r = exchange(
        &app,
        &bff,
        &[
            ("subject_token", &id_token),
            ("subject_token_type", ID),
            ("audience", BACKEND),
        ],
    )
    .await;
    assert_eq!(error_of(&r), "invalid_request", "{}", r.text());
    // An access token passed off as an ID token is not one.
    let at = app.client_token(&other.0, &other.1).await;
    let r = exchange(
        &app,
        &other,
        &[
            ("subject_token", &at),
            ("subject_token_type", ID),
            ("audience", BACKEND),
        ],
    )
    .await;
    assert_eq!(error_of(&r), "invalid_request", "{}", r.text());
}
