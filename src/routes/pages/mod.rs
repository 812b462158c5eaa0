//! Server-rendered pages for people (askama templates under `templates/pages/`): sign-in,
//! terms, consent, sign-out, errors. Every form carries a CSRF token; pages are `no-store`.

mod account;
mod consent;
mod recovery;
pub mod session;
mod signin;
mod signup;
mod terms;

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::paths;
use crate::state::AppState;

pub use consent::consent_page;

/// Mounts the pages and `/static`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::HOME, web::get().to(home))
        .route(
            &format!("{}/portcullis.css", paths::STATIC),
            web::get().to(stylesheet),
        )
        .service(
            web::resource(paths::SIGNIN)
                .route(web::get().to(signin::show))
                .route(web::post().to(signin::submit)),
        )
        .service(
            web::resource(paths::TERMS)
                .route(web::get().to(terms::show))
                .route(web::post().to(terms::submit)),
        )
        .service(
            web::resource(paths::SIGNUP)
                .route(web::get().to(signup::show))
                .route(web::post().to(signup::submit)),
        )
        .route(paths::VERIFY_EMAIL, web::get().to(recovery::verify))
        .route(
            &format!("{}/resend", paths::VERIFY_EMAIL),
            web::post().to(recovery::resend),
        )
        .service(
            web::resource(paths::FORGOT_PASSWORD)
                .route(web::get().to(recovery::forgot))
                .route(web::post().to(recovery::forgot_submit)),
        )
        .service(
            web::resource(paths::RESET_PASSWORD)
                .route(web::get().to(recovery::reset))
                .route(web::post().to(recovery::reset_submit)),
        )
        .route(paths::ACCOUNT, web::get().to(account::show))
        .route(
            &format!("{}/actions/{{action:.+}}", paths::ACCOUNT),
            web::post().to(account::action),
        );
}

#[derive(Template)]
#[template(path = "pages/home.html")]
struct HomePage<'a> {
    issuer: &'a str,
    discovery: &'a str,
    user: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "pages/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

/// Renders a page with a status and cookies to set. Pages are never cached.
pub fn render(
    status: StatusCode,
    page: &impl Template,
    cookies: Vec<Cookie<'static>>,
) -> HttpResponse {
    match page.render() {
        Ok(body) => {
            let mut res = HttpResponse::build(status);
            res.content_type("text/html; charset=utf-8")
                .insert_header(("Cache-Control", "no-store"));
            for c in cookies {
                res.cookie(c);
            }
            res.body(body)
        }
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("internal error")
        }
    }
}

#[derive(Template)]
#[template(path = "pages/notice.html")]
struct NoticePage<'a> {
    title: &'a str,
    message: &'a str,
    link: Option<(&'a str, &'a str)>,
}

/// A page that tells the person what happened (and where to go next).
pub fn notice_page(title: &str, message: &str, link: Option<(&str, &str)>) -> HttpResponse {
    render(
        StatusCode::OK,
        &NoticePage {
            title,
            message,
            link,
        },
        Vec::new(),
    )
}

/// A query parameter of the request.
pub fn query_param(req: &actix_web::HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// An HTML error page.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    render(status, &ErrorPage { title, message }, Vec::new())
}

/// A 303 redirect (after a form, or to another page), setting cookies.
pub fn see_other(location: &str, cookies: Vec<Cookie<'static>>) -> HttpResponse {
    let mut res = HttpResponse::SeeOther();
    res.insert_header(("Location", location))
        .insert_header(("Cache-Control", "no-store"));
    for c in cookies {
        res.cookie(c);
    }
    res.finish()
}

/// The landing page: what this server is, where its metadata lives, who is signed in.
async fn home(req: actix_web::HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let discovery = state.config.url(paths::OPENID_CONFIGURATION);
    let signed_in = session::current(&req, &state).await.ok().flatten();
    let user = signed_in
        .as_ref()
        .map(|s| s.user.username.clone().unwrap_or(s.user.email.clone()));
    render(
        StatusCode::OK,
        &HomePage {
            issuer: state.config.issuer(),
            discovery: &discovery,
            user: user.as_deref(),
        },
        Vec::new(),
    )
}

/// The stylesheet, compiled into the binary so a single file deploys.
async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../../static/portcullis.css"))
}
