//! `GET|POST /signin`: username, email or id and password; throttled; one message for every
//! failure so nothing reveals whether an account exists.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::session::{self, csrf, csrf_ok, safe_return};
use super::{render, see_other};
use crate::app::sign_in;
use crate::core::Error;
use crate::paths;
use crate::routes::auth::{Admitted, Public};
use crate::routes::extract::Form;
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
    /// The app the person is signing in to, when `return_to` is its authorization request.
    app: Option<String>,
}

async fn page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    return_to: &str,
    login: &str,
    error: Option<&str>,
) -> HttpResponse {
    page_with(req, state, status, return_to, login, error, false).await
}

async fn page_with(
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
        app: sign_in::continuing_to(state, return_to).await,
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
    page(&req, &state, StatusCode::OK, &return_to, &login, None).await
}

/// Checks the password, starts a session, and goes on (to the terms first when needed).
pub async fn submit(
    Admitted { call, .. }: Admitted<Public>,
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
        )
        .await;
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
        )
        .await;
    }
    let previous = req
        .cookie(session::SESSION_COOKIE)
        .map(|c| c.value().to_owned());
    let signed_in = match sign_in::run(&state, &call, &login, password, previous, &return_to).await
    {
        Ok(s) => s,
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
            )
            .await;
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
            )
            .await;
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
            )
            .await;
        }
        Err(Error::InvalidGrant(_)) => {
            return page(
                &req,
                &state,
                StatusCode::UNAUTHORIZED,
                &return_to,
                &login,
                Some("Incorrect username or password."),
            )
            .await;
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
            )
            .await;
        }
    };
    let (session, needs_terms, must_enrol) = match signed_in {
        sign_in::SignedIn::SecondFactor { step } => {
            return see_other(
                paths::SECOND_FACTOR,
                vec![session::step_cookie(step, &state.config)],
            );
        }
        sign_in::SignedIn::Session {
            session,
            needs_terms,
            must_enrol,
        } => (session, needs_terms, must_enrol),
    };
    // The session replaces any unfinished sign-in step of this browser.
    let cookie = session::session_cookie(session, &state.config);
    let cookie_cleared = session::clear_step_cookie(&state.config);
    if needs_terms {
        let target = format!(
            "{}?return_to={}",
            paths::TERMS,
            url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
        );
        return see_other(&target, vec![cookie, cookie_cleared]);
    }
    if must_enrol {
        return see_other(
            &format!("{}?notice=second-factor-required#security", paths::ACCOUNT),
            vec![cookie, cookie_cleared],
        );
    }
    see_other(&return_to, vec![cookie, cookie_cleared])
}
