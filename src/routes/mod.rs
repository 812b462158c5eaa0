//! The front doors. Every route is in one table (`table`), mounted behind the authorization
//! boundary (`auth`); unknown paths are answered here.

pub mod admin;
pub mod auth;
pub mod compat;
pub mod error;
pub mod extract;
pub mod oauth;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod table;

use actix_web::{http::header, web, HttpRequest, HttpResponse};

/// Mounts every route of the table (`table`), each behind the authorization boundary.
pub fn configure(cfg: &mut web::ServiceConfig) {
    auth::mount(cfg, table::endpoints());
}

/// Unknown paths: a JSON 404 for API clients, an HTML page for browsers.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        return pages::error_page(
            actix_web::http::StatusCode::NOT_FOUND,
            "Page not found",
            "There is nothing at this address.",
        );
    }
    error::json_error(
        actix_web::http::StatusCode::NOT_FOUND,
        "not_found",
        &format!("no route for {} {}", req.method(), req.path()),
    )
}
