//! Health, readiness, metrics, the unknown-path answers and security headers.

use actix_web::test::TestRequest;

use crate::helpers::TestApp;

#[actix_rt::test]
async fn health_and_readiness() {
    let app = TestApp::new();
    let r = app.get("/healthz").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");
    let r = app.get("/readyz").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ready");
    let backend = if app.db.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(r.json()["database"], backend);
}

#[actix_rt::test]
async fn metrics_count_requests_by_route() {
    let app = TestApp::new();
    app.get("/jwks").await;
    app.get("/no/such/path").await;
    let r = app.get("/metrics").await;
    assert_eq!(r.status, 200);
    let text = r.text();
    assert!(
        text.contains(
            r#"portcullis_http_requests_total{method="GET",route="/jwks",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(text.contains("portcullis_http_request_duration_seconds_bucket"));
    assert!(text.contains("portcullis_db_pool_connections"));
}

#[actix_rt::test]
async fn unknown_paths_get_json_404_and_browsers_a_page() {
    let app = TestApp::new();
    let r = app.get("/api/nothing").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "not_found");
    assert!(r.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("/api/nothing"));
    let r = app
        .send(
            TestRequest::get()
                .uri("/nothing")
                .insert_header(("Accept", "text/html")),
        )
        .await;
    assert_eq!(r.status, 404);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.text().contains("Page not found"));
}

#[actix_rt::test]
async fn wrong_method_on_a_known_path_is_405() {
    let app = TestApp::new();
    let r = app.send(TestRequest::post().uri("/jwks")).await;
    assert_eq!(r.status, 405);
}

#[actix_rt::test]
async fn pages_carry_security_headers() {
    let app = TestApp::new();
    let r = app.get("/").await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains(app.config.issuer()));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert!(r
        .header("content-security-policy")
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let css = app.get("/static/portcullis.css").await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
}
