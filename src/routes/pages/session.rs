//! The browser side of sessions: the session cookie (HttpOnly, SameSite=Lax, Secure under an
//! https issuer), the signed-in person of a request, CSRF tokens for forms (a random cookie
//! echoed in a hidden field, compared in constant time) and safe `return_to` paths.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::HttpRequest;

use crate::config::Config;
use crate::core::authorize::SignedIn;
use crate::core::{crypto, Error};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "portcullis_session";
pub const CSRF_COOKIE: &str = "portcullis_csrf";
/// The second-factor step of a sign-in (password right, code to come).
pub const STEP_COOKIE: &str = "portcullis_step";

fn secure(config: &Config) -> bool {
    config.issuer().starts_with("https://")
}

fn cookie(
    name: &'static str,
    value: String,
    config: &Config,
    max_age: Option<u64>,
) -> Cookie<'static> {
    let mut c = Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(config))
        .finish();
    if let Some(secs) = max_age {
        c.set_max_age(CookieDuration::seconds(secs as i64));
    }
    c
}

/// The cookie that carries a new session.
pub fn session_cookie(value: String, config: &Config) -> Cookie<'static> {
    cookie(
        SESSION_COOKIE,
        value,
        config,
        Some(config.tokens.session_ttl),
    )
}

/// The cookie of an open sign-in step.
pub fn step_cookie(value: String, config: &Config) -> Cookie<'static> {
    cookie(
        STEP_COOKIE,
        value,
        config,
        Some(crate::core::factors::STEP_TTL),
    )
}

/// A cookie that removes the step cookie.
pub fn clear_step_cookie(config: &Config) -> Cookie<'static> {
    let mut c = cookie(STEP_COOKIE, String::new(), config, None);
    c.make_removal();
    c
}

/// A cookie that removes the session cookie.
pub fn clear_session_cookie(config: &Config) -> Cookie<'static> {
    let mut c = cookie(SESSION_COOKIE, String::new(), config, None);
    c.make_removal();
    c
}

/// The person signed in on this request, if any.
pub async fn current(req: &HttpRequest, state: &AppState) -> Result<Option<SignedIn>, Error> {
    match req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) {
        Some(value) if !value.is_empty() => crate::app::sessions::current(state, value).await,
        _ => Ok(None),
    }
}

/// The CSRF token for a form, and a cookie to set when the browser has none yet.
pub fn csrf(req: &HttpRequest, config: &Config) -> (String, Option<Cookie<'static>>) {
    match req.cookie(CSRF_COOKIE).map(|c| c.value().to_owned()) {
        Some(v) if v.len() >= 32 => (v, None),
        _ => {
            let v = crypto::random_token(32);
            (v.clone(), Some(cookie(CSRF_COOKIE, v, config, None)))
        }
    }
}

/// Whether a submitted form's token matches the browser's CSRF cookie.
pub fn csrf_ok(req: &HttpRequest, submitted: Option<&str>) -> bool {
    match (req.cookie(CSRF_COOKIE), submitted) {
        (Some(c), Some(s)) if c.value().len() >= 32 => crypto::ct_eq(c.value(), s),
        _ => false,
    }
}

/// A local path to return to after a page (`/authorize?...`, `/account`); anything else
/// (absolute URLs, `//host`, backslashes) becomes `/`, so there are no open redirects.
pub fn safe_return(path: Option<&str>) -> String {
    match path {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(|c| c.is_control()) =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}
