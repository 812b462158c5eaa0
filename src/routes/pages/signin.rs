//! `GET|POST /signin`: username, email or id and password; throttled; one message for every
//! failure so nothing reveals whether an account exists.

use crate::routes::auth::Public;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::session::{self, csrf, csrf_ok, safe_return};
use super::{render, see_other};
use crate::app::passwords;
use crate::core::{sessions, terms, Error};
use crate::paths;
use crate::routes::extract::{client_ip, Form};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "pages/signin.html")]
struct SignInPage<'a> {
    csrf: &'a str,
    return_to: &'a str,
    login: &'a str,
    error: Option<&'a str>,
    registration_open: bool,
    /// Offer a new verification email.
    unverified: bool,
}

fn page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    return_to: &str,
    login: &str,
    error: Option<&str>,
) -> HttpResponse {
    page_with(req, state, status, return_to, login, error, false)
}

fn page_with(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    return_to: &str,
    login: &str,
    error: Option<&str>,
    unverified: bool,
) -> HttpResponse {
    let (token, cookie) = csrf(req, &state.config);
    let view = SignInPage {
        csrf: &token,
        return_to,
        login,
        error,
        registration_open: state.config.registration == crate::config::Registration::Open,
        unverified,
    };
    render(status, &view, cookie.into_iter().collect())
}

/// The sign-in form.
pub async fn show(_: Public, req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let return_to = safe_return(
        super::query_param(&req, "return_to")
            .as_deref()
            .or(Some("/account")),
    );
    let login = super::query_param(&req, "login_hint").unwrap_or_default();
    page(&req, &state, StatusCode::OK, &return_to, &login, None)
}

/// Checks the password, starts a session, and goes on (to the terms first when needed).
pub async fn submit(
    _: Public,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match Form::read(&req, payload, state.config.body_limit).await {
        Ok(f) => f,
        Err(e) => return super::error_page(StatusCode::BAD_REQUEST, "Bad request", &e.to_string()),
    };
    let return_to = safe_return(form.get("return_to"));
    let login = form.get("login").unwrap_or_default().trim().to_owned();
    if !csrf_ok(&req, form.get("csrf")) {
        return page(
            &req,
            &state,
            StatusCode::BAD_REQUEST,
            &return_to,
            &login,
            Some("The form expired. Please try again."),
        );
    }
    let password = form.get("password").unwrap_or_default();
    if login.is_empty() || password.is_empty() {
        return page(
            &req,
            &state,
            StatusCode::BAD_REQUEST,
            &return_to,
            &login,
            Some("Enter your username or email and your password."),
        );
    }
    let ip = client_ip(&req, &state.config);
    let user = match passwords::check(&state, &login, password, &ip, "signin").await {
        Ok(u) => u,
        Err(Error::Throttled { retry_after }) => {
            let minutes = retry_after.div_ceil(60);
            let msg = format!(
                "Too many attempts. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            );
            let mut res = page(
                &req,
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                &return_to,
                &login,
                Some(&msg),
            );
            if let Ok(v) = retry_after.to_string().parse() {
                res.headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, v);
            }
            return res;
        }
        Err(Error::AccountDisabled) => {
            return page(
                &req,
                &state,
                StatusCode::FORBIDDEN,
                &return_to,
                &login,
                Some("This account is disabled."),
            );
        }
        Err(Error::EmailNotVerified) => {
            return page_with(
                &req,
                &state,
                StatusCode::FORBIDDEN,
                &return_to,
                &login,
                Some("Confirm your email address first: follow the link in the email we sent you."),
                true,
            );
        }
        Err(Error::InvalidGrant(_)) => {
            return page(
                &req,
                &state,
                StatusCode::UNAUTHORIZED,
                &return_to,
                &login,
                Some("Incorrect username or password."),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "sign-in failed");
            return page(
                &req,
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                &return_to,
                &login,
                Some("Something went wrong. Please try again."),
            );
        }
    };
    let now = state.clock.now_naive();
    let ttl = state.config.tokens.session_ttl;
    let agent = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let terms_version = state.config.terms_version.clone();
    let user_id = user.id.clone();
    let result = state
        .db
        .run(move |conn| {
            let (value, _) =
                sessions::create(conn, now, &user_id, ttl, agent.as_deref(), Some(&ip))?;
            let needs_terms = match &terms_version {
                Some(v) => !terms::accepted(conn, &user_id, v)?,
                None => false,
            };
            Ok((value, needs_terms))
        })
        .await;
    let (value, needs_terms) = match result {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "could not start a session");
            return page(
                &req,
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                &return_to,
                &login,
                Some("Something went wrong. Please try again."),
            );
        }
    };
    // A new session replaces any earlier one in this browser.
    if let Some(old) = req
        .cookie(session::SESSION_COOKIE)
        .map(|c| c.value().to_owned())
    {
        let now = state.clock.now_naive();
        let _ = state
            .db
            .run(move |conn| sessions::end(conn, now, &old))
            .await;
    }
    let cookie = session::session_cookie(value, &state.config);
    if needs_terms {
        let target = format!(
            "{}?return_to={}",
            paths::TERMS,
            url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
        );
        return see_other(&target, vec![cookie]);
    }
    see_other(&return_to, vec![cookie])
}
