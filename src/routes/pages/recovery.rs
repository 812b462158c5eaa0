//! Email links: `/verify-email?token=..` (and resending it), `/forgot-password` (always the
//! same answer) and `/reset-password?token=..` (a new password, every session and token
//! revoked, signed in afresh).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::session::{self, csrf, csrf_ok};
use super::{error_page, notice_page, query_param, render, see_other};
use crate::app::accounts;
use crate::core::Error;
use crate::routes::auth::{Admitted, Public};
use crate::routes::extract::{client_ip, Form};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "pages/forgot.html")]
struct ForgotPage<'a> {
    csrf: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "pages/reset.html")]
struct ResetPage<'a> {
    csrf: &'a str,
    token: &'a str,
    error: Option<&'a str>,
}

async fn read(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Form, HttpResponse> {
    let form = Form::read(req, payload, state.config.body_limit)
        .await
        .map_err(|e| error_page(StatusCode::BAD_REQUEST, "Bad request", &e.to_string()))?;
    if !csrf_ok(req, form.get("csrf")) {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "Form expired",
            "Go back and try again.",
        ));
    }
    Ok(form)
}

fn expired_link() -> HttpResponse {
    error_page(
        StatusCode::BAD_REQUEST,
        "This link has expired",
        "The link is invalid, was already used, or has expired. Ask for a new one.",
    )
}

/// Verifies an address from the link in its email.
pub async fn verify(
    Admitted { call, .. }: Admitted<Public>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(token) = query_param(&req, "token") else {
        return expired_link();
    };
    match accounts::verify_email(&state, &call, &token).await {
        Ok(user) => notice_page(
            "Email address confirmed",
            &format!("Thank you: {} is confirmed.", user.email),
            Some(("/account", "Continue to your account")),
        ),
        Err(Error::InvalidGrant(_)) => expired_link(),
        Err(e) => {
            tracing::error!(error = %e, "email verification failed");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "Please try again.",
            )
        }
    }
}

/// Sends a new verification link (from the sign-in page when verification is required).
/// Always answers the same way.
pub async fn resend(
    _: Public,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match read(&req, payload, &state).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let login = form.get("login").unwrap_or_default();
    if let Err(e) = accounts::resend_verification(&state, login).await {
        tracing::error!(error = %e, "could not resend a verification email");
    }
    notice_page(
        "Check your email",
        "If the account needs it, we sent a new confirmation link to its email address.",
        Some(("/signin", "Back to sign in")),
    )
}

/// The forgot-password form.
pub async fn forgot(_: Public, req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (token, cookie) = csrf(&req, &state.config);
    render(
        StatusCode::OK,
        &ForgotPage {
            csrf: &token,
            error: None,
        },
        cookie.into_iter().collect(),
    )
}

/// Sends a reset link if the account exists; the answer never tells.
pub async fn forgot_submit(
    _: Public,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match read(&req, payload, &state).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let email = form.get("email").unwrap_or_default().trim().to_owned();
    if email.is_empty() {
        let (token, cookie) = csrf(&req, &state.config);
        let page = ForgotPage {
            csrf: &token,
            error: Some("Enter your email address."),
        };
        return render(StatusCode::BAD_REQUEST, &page, cookie.into_iter().collect());
    }
    let ip = client_ip(&req, &state.config);
    match accounts::request_reset(&state, &email, &ip).await {
        Ok(()) | Err(Error::Invalid { .. }) => {}
        Err(Error::Throttled { retry_after }) => {
            return crate::routes::error::retry_after(
                error_page(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many requests",
                    "Try again later.",
                ),
                retry_after,
            );
        }
        Err(e) => tracing::error!(error = %e, "password reset request failed"),
    }
    notice_page(
        "Check your email",
        "If an account exists for that address, we sent it a link to choose a new password. The link expires in 1 hour.",
        Some(("/signin", "Back to sign in")),
    )
}

/// The new-password form (the link is checked, not spent).
pub async fn reset(
    Admitted { call, .. }: Admitted<Public>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(token) = query_param(&req, "token") else {
        return expired_link();
    };
    match accounts::reset_link_user(&state, &call, &token).await {
        Ok(Some(_)) => {}
        Ok(None) => return expired_link(),
        Err(_) => {
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "Please try again.",
            )
        }
    }
    let (csrf_token, cookie) = csrf(&req, &state.config);
    render(
        StatusCode::OK,
        &ResetPage {
            csrf: &csrf_token,
            token: &token,
            error: None,
        },
        cookie.into_iter().collect(),
    )
}

/// Sets the new password, revokes everything, signs in afresh.
pub async fn reset_submit(
    Admitted { call, .. }: Admitted<Public>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match read(&req, payload, &state).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let token = form.get("token").unwrap_or_default().to_owned();
    let password = form.get("password").unwrap_or_default();
    let again = |error: &str| {
        let (csrf_token, cookie) = csrf(&req, &state.config);
        render(
            StatusCode::BAD_REQUEST,
            &ResetPage {
                csrf: &csrf_token,
                token: &token,
                error: Some(error),
            },
            cookie.into_iter().collect(),
        )
    };
    if password != form.get("confirm").unwrap_or_default() {
        return again("The two passwords differ.");
    }
    let user = match accounts::reset_password(&state, &token, password).await {
        Ok(u) => u,
        Err(Error::Invalid { message, .. }) => return again(&format!("The password {message}.")),
        Err(Error::InvalidGrant(_)) => return expired_link(),
        Err(e) => {
            tracing::error!(error = %e, "password reset failed");
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "Please try again.",
            );
        }
    };
    // The link proved the person: a fresh session (every other one ended with the reset),
    // after their second factor when they have one.
    let back = "/account?notice=password-reset";
    match crate::app::sign_in::after_password(&state, &call, &user, None, back).await {
        Ok(crate::app::sign_in::SignedIn::Session { session: value, .. }) => {
            see_other(back, vec![session::session_cookie(value, &state.config)])
        }
        Ok(crate::app::sign_in::SignedIn::SecondFactor { step }) => see_other(
            crate::paths::SECOND_FACTOR,
            vec![session::step_cookie(step, &state.config)],
        ),
        Err(_) => see_other("/signin", Vec::new()),
    }
}
