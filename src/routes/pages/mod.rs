//! Server-rendered pages for people (askama templates under `templates/pages/`): sign-in,
//! terms, consent, sign-out, errors. Every form carries a CSRF token; pages are `no-store`.

pub(crate) mod account;
pub mod brand;
pub(crate) mod consent;
pub(crate) mod device;
pub(crate) mod passkeys;
pub(crate) mod recovery;
pub(crate) mod second_factor;
pub mod session;
pub(crate) mod signin;
pub(crate) mod signup;
pub(crate) mod terms;

use crate::routes::auth::Public;
use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::paths;
use crate::state::AppState;

pub use consent::consent_page;

#[derive(Template)]
#[template(path = "pages/home.html")]
struct HomePage<'a> {
    issuer: &'a str,
    discovery: &'a str,
    user: Option<&'a str>,
    registration_open: bool,
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

/// A time as people read it ("7 Dec 2026, 14:05 UTC") and as machines do (RFC 3339, for
/// `<time datetime>`).
pub struct When {
    pub human: String,
    pub iso: String,
}

impl When {
    pub fn new(t: crate::core::Timestamp) -> When {
        When {
            human: t.format("%-d %b %Y, %H:%M UTC").to_string(),
            iso: crate::core::time::rfc3339(t),
        }
    }
}

/// A query parameter of the request.
pub fn query_param(req: &actix_web::HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A refusal at a page: no session is a redirect to sign-in (and back here for a page), other
/// refusals are error pages.
pub fn refusal(req: &actix_web::HttpRequest, e: &crate::core::Error) -> HttpResponse {
    use crate::core::Error;
    match e {
        Error::InvalidToken(_) | Error::InvalidDpopProof(_) | Error::UseDpopNonce(_) => {
            let back = match *req.method() {
                actix_web::http::Method::GET => req
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_else(|| paths::ACCOUNT.to_owned()),
                _ => paths::ACCOUNT.to_owned(),
            };
            let target = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", &back)
                .finish();
            see_other(&format!("{}?{target}", paths::SIGNIN), Vec::new())
        }
        Error::Throttled { retry_after } => crate::routes::error::retry_after(
            error_page(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                "Please wait a little and try again.",
            ),
            *retry_after,
        ),
        Error::Invalid { .. } | Error::InvalidRequest(_) | Error::DevicePoll(_) => {
            error_page(StatusCode::BAD_REQUEST, "Bad request", &e.to_string())
        }
        Error::Unavailable(_) | Error::Internal(_) | Error::Database(_) => server_trouble(e),
        Error::NotFound(_) => error_page(StatusCode::NOT_FOUND, "Not found", &e.to_string()),
        Error::Conflict(_) => error_page(StatusCode::CONFLICT, "Conflict", &e.to_string()),
        Error::InvalidClient(_)
        | Error::InvalidGrant(_)
        | Error::UnauthorizedClient(_)
        | Error::UnsupportedGrantType(_)
        | Error::InvalidScope(_)
        | Error::InvalidTarget(_)
        | Error::InsufficientScope(_)
        | Error::Forbidden(_)
        | Error::AccountDisabled
        | Error::EmailNotVerified
        | Error::SecondFactorRequired
        | Error::LoginRequired(_) => error_page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "You may not do this here.",
        ),
    }
}

/// A core error that ends a page's work, as a page (no session is not one of them here).
pub fn refusal_for(e: &crate::core::Error) -> HttpResponse {
    use crate::core::Error;
    match e {
        Error::Unavailable(_) | Error::Internal(_) | Error::Database(_) => server_trouble(e),
        e => error_page(StatusCode::BAD_REQUEST, "Bad request", &e.to_string()),
    }
}

/// The page for a failure of the server rather than a refusal: 503 (with `Retry-After`, added
/// by the boundary) when a dependency is down, 500 for a bug. Logged either way.
fn server_trouble(e: &crate::core::Error) -> HttpResponse {
    if let crate::core::Error::Unavailable(_) = e {
        tracing::error!(error = %e, "page failed: a dependency is unavailable");
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "Please try again in a moment.",
        );
    }
    tracing::error!(error = %e, "page failed");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The error has been logged. Please try again later.",
    )
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
pub(crate) async fn home(
    _: Public,
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
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
            registration_open: state.config.registration == crate::config::Registration::Open,
        },
        Vec::new(),
    )
}

/// The stylesheet, compiled into the binary so a single file deploys, after the configured
/// accent colour.
pub(crate) async fn stylesheet(_: Public, state: web::Data<AppState>) -> HttpResponse {
    let b = &state.config.branding;
    let (r, g, bl) = b.accent_rgb();
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(format!(
            "{}\n:root {{ --accent: #{r:02x}{g:02x}{bl:02x}; --accent-text: {}; }}\n",
            include_str!("../../../static/portcullis.css"),
            b.accent_text()
        ))
}

/// The script of passkeys (WebAuthn needs JavaScript; nothing else on the pages does).
pub(crate) async fn passkey_script(_: Public) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../../static/webauthn.js"))
}

/// `/favicon.ico`: the portcullis mark (a 32x32 PNG in an ICO container).
pub(crate) async fn favicon(_: Public) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/x-icon")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(&include_bytes!("../../../static/favicon.ico")[..])
}
