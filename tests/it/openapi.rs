//! `/openapi.json`: an OpenAPI 3.1 document of every JSON API, pinned by a snapshot so it
//! changes only on purpose.

use crate::helpers::TestApp;

#[actix_rt::test]
async fn the_document_covers_every_json_api() {
    let app = TestApp::new();
    let r = app.get("/openapi.json").await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/token",
        "/introspect",
        "/revoke",
        "/userinfo",
        "/jwks",
        "/.well-known/openid-configuration",
        "/admin/users",
        "/admin/users/{id}",
        "/admin/clients",
        "/admin/keys/rotate",
        "/admin/acl",
        "/admin/events",
        "/v1/{method}",
        "/rpc",
        "/account/login",
        "/auth",
        "/auth/token",
        "/users/me",
        "/accounts",
        "/account/session",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    insta::assert_json_snapshot!("openapi", doc);
}
