//! The route table (SPEC §9): who may do what, pinned, so that a change shows in review; and the
//! table is exactly what is served.

use actix_web::http::Method;
use actix_web::test::TestRequest;

use crate::helpers::TestApp;

/// The table as aligned text: one row per route (and per Mongoose method).
fn table_text() -> String {
    let rows = portcullis::routes::table::rows();
    let width = |i: usize| rows.iter().map(|r| r[i].len()).max().unwrap_or(0);
    let (w0, w1, w2) = (width(0), width(1), width(2));
    rows.iter()
        .map(|r| format!("{:w0$}  {:w1$}  {:w2$}  {}", r[0], r[1], r[2], r[3]))
        .map(|line| line.trim_end().to_owned() + "\n")
        .collect()
}

#[test]
fn who_may_do_what_is_pinned() {
    insta::assert_snapshot!("route_table", table_text());
}

#[test]
fn every_route_has_a_known_policy_and_door() {
    let policies = [
        "public",
        "session",
        "session_or_sign_in",
        "client",
        "confidential_client",
        "registrant",
        "registration_token",
        "userinfo",
        "account",
        "account_or_admin",
        "fresh_account_or_admin",
        "admin",
        "backend",
        "backend_or_account",
        "open_registration_or_admin",
        "user_password",
        "cloudtrax_application",
        "cloudtrax_account",
        "rpc",
    ];
    let rows = portcullis::routes::table::rows();
    assert!(rows.len() > 80, "the whole table");
    for r in &rows {
        assert!(policies.contains(&r[3].as_str()), "{r:?}");
    }
    // Each (method, path) once.
    for (i, r) in rows.iter().enumerate() {
        assert!(
            !rows[..i].iter().any(|o| o[0] == r[0] && o[1] == r[1]),
            "{r:?} twice"
        );
    }
    // The admin API is admin-only, whole.
    for r in rows.iter().filter(|r| r[1].starts_with("/admin")) {
        assert_eq!(r[3], "admin", "{r:?}");
    }
}

/// Every route of the table is served (a request reaches it, not the unknown-path answer), and
/// a path that is not in the table is not.
#[actix_rt::test]
async fn the_table_is_what_is_served() {
    let app = TestApp::new();
    for e in portcullis::routes::table::endpoints() {
        let path = e
            .path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let req = TestRequest::default()
            .method(e.method.clone())
            .uri(&path)
            .insert_header(("Accept", "application/json"));
        let r = app.send(req).await;
        let unknown = r.status == 404 && r.text().contains("no route for");
        assert!(
            !unknown,
            "{} {} is in the table but not served",
            e.method, e.path
        );
    }
    let r = app
        .send(
            TestRequest::default()
                .method(Method::GET)
                .uri("/not-a-route"),
        )
        .await;
    assert_eq!(r.status, 404);
}

/// The README's "Who may do what" lists every route with its policy, as the code has it.
#[test]
fn the_readme_shows_the_table() {
    let readme = include_str!("../../README.md");
    for r in portcullis::routes::table::rows() {
        let line = format!("| {} | `{}` | {} | {} |", r[0], r[1], r[2], r[3]);
        assert!(readme.contains(&line), "README lacks: {line}");
    }
}
