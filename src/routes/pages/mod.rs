//! Server-rendered pages for people (askama templates under `templates/pages/`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::paths;
use crate::state::AppState;

/// Mounts the pages and `/static`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::HOME, web::get().to(home)).route(
        &format!("{}/portcullis.css", paths::STATIC),
        web::get().to(stylesheet),
    );
}

#[derive(Template)]
#[template(path = "pages/home.html")]
struct HomePage<'a> {
    issuer: &'a str,
    discovery: &'a str,
}

#[derive(Template)]
#[template(path = "pages/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

fn html(status: StatusCode, body: Result<String, askama::Error>) -> HttpResponse {
    match body {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("internal error")
        }
    }
}

/// An HTML error page.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    html(status, ErrorPage { title, message }.render())
}

/// The landing page: what this server is and where its metadata lives.
async fn home(state: web::Data<AppState>) -> HttpResponse {
    let discovery = state.config.url(paths::OPENID_CONFIGURATION);
    html(
        StatusCode::OK,
        HomePage {
            issuer: state.config.issuer(),
            discovery: &discovery,
        }
        .render(),
    )
}

/// The stylesheet, compiled into the binary so a single file deploys.
async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../../static/portcullis.css"))
}
