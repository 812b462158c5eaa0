//! The front doors. Each module has `configure` to mount its routes; this one mounts them all
//! and answers unknown paths.

pub mod admin;
pub mod compat;
pub mod error;
pub mod extract;
pub mod oauth;
pub mod openapi;
pub mod ops;
pub mod pages;

use actix_web::{http::header, web, HttpRequest, HttpResponse};

/// Mounts every door.
pub fn configure(cfg: &mut web::ServiceConfig) {
    oauth::configure(cfg);
    admin::configure(cfg);
    cfg.route("/openapi.json", web::get().to(openapi::serve));
    compat::configure(cfg);
    ops::configure(cfg);
    pages::configure(cfg);
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
