//! The discovery documents, pinned by snapshots.

use crate::helpers::TestApp;

#[actix_rt::test]
async fn openid_configuration() {
    let app = TestApp::new();
    let r = app.get("/.well-known/openid-configuration").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    insta::assert_json_snapshot!(r.json());
}

#[actix_rt::test]
async fn oauth_authorization_server_metadata() {
    let app = TestApp::new();
    let r = app.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(r.status, 200);
    insta::assert_json_snapshot!(r.json());
}

#[actix_rt::test]
async fn issuer_and_urls_follow_configuration() {
    let app = TestApp::builder()
        .config(|c| c.issuer = Some("https://id.example.com/tenant".into()))
        .build();
    let doc = app.get("/.well-known/openid-configuration").await.json();
    assert_eq!(doc["issuer"], "https://id.example.com/tenant");
    assert_eq!(doc["jwks_uri"], "https://id.example.com/tenant/jwks");
}
