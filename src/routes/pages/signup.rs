//! `GET|POST /signup` (when registration is open): create an account, send the verification
//! email, sign in (unless verified email is required first).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::session::{self, csrf, csrf_ok, safe_return};
use super::{error_page, notice_page, render, see_other};
use crate::app::{accounts, sessions};
use crate::config::Registration;
use crate::core::users::NewUser;
use crate::core::Error;
use crate::routes::auth::{Admitted, Public};
use crate::routes::extract::Form;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "pages/signup.html")]
struct SignUpPage<'a> {
    csrf: &'a str,
    return_to: &'a str,
    email: &'a str,
    name: &'a str,
    username: &'a str,
    error: Option<&'a str>,
    /// The field the error is about (`email`, `name`, `username`, `password`): it gets the
    /// focus and is marked invalid; the email field otherwise.
    field: &'a str,
}

fn closed() -> HttpResponse {
    error_page(
        StatusCode::NOT_FOUND,
        "Registration is closed",
        "Ask an administrator for an account.",
    )
}

/// The sign-up form.
pub async fn show(_: Public, req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if state.config.registration != Registration::Open {
        return closed();
    }
    let return_to = safe_return(
        super::query_param(&req, "return_to")
            .as_deref()
            .or(Some("/account")),
    );
    let (token, cookie) = csrf(&req, &state.config);
    let page = SignUpPage {
        csrf: &token,
        return_to: &return_to,
        email: "",
        name: "",
        username: "",
        error: None,
        field: "",
    };
    render(StatusCode::OK, &page, cookie.into_iter().collect())
}

/// Creates the account.
pub async fn submit(
    Admitted { call, .. }: Admitted<Public>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    if state.config.registration != Registration::Open {
        return closed();
    }
    let form = match Form::read(&req, payload, state.config.body_limit).await {
        Ok(f) => f,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, "Bad request", &e.to_string()),
    };
    let return_to = safe_return(form.get("return_to").or(Some("/account")));
    let email = form.get("email").unwrap_or_default().trim().to_owned();
    let name = form.get("name").unwrap_or_default().trim().to_owned();
    let username = form.get("username").unwrap_or_default().trim().to_owned();
    let again = |status: StatusCode, error: &str, field: &str| {
        let (token, cookie) = csrf(&req, &state.config);
        let page = SignUpPage {
            csrf: &token,
            return_to: &return_to,
            email: &email,
            name: &name,
            username: &username,
            error: Some(error),
            field,
        };
        render(status, &page, cookie.into_iter().collect())
    };
    if !csrf_ok(&req, form.get("csrf")) {
        return again(
            StatusCode::BAD_REQUEST,
            "The form expired. Please try again.",
            "",
        );
    }
    let new = NewUser {
        email: email.clone(),
        username: (!username.is_empty()).then(|| username.clone()),
        display_name: (!name.is_empty()).then(|| name.clone()),
        ..Default::default()
    };
    let password = form.get("password").unwrap_or_default();
    let user = match accounts::sign_up(&state, new, password, &call.ip, "signup").await {
        Ok(u) => u,
        Err(Error::Invalid { field, message }) => {
            let (label, field) = match field {
                "email" => ("Email", "email"),
                "username" => ("Username", "username"),
                "name" => ("Name", "name"),
                _ => ("Password", "password"),
            };
            return again(
                StatusCode::BAD_REQUEST,
                &format!("{label} {message}."),
                field,
            );
        }
        Err(Error::Conflict(m)) => {
            let (msg, field) = if m.contains("email") {
                (
                    "An account with this email already exists. Sign in, or reset your password.",
                    "email",
                )
            } else {
                ("This username is taken.", "username")
            };
            return again(StatusCode::CONFLICT, msg, field);
        }
        Err(Error::Throttled { retry_after }) => {
            return crate::routes::error::retry_after(
                again(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many new accounts from your network. Try again later.",
                    "",
                ),
                retry_after,
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "sign-up failed");
            return again(
                StatusCode::SERVICE_UNAVAILABLE,
                "Something went wrong. Please try again.",
                "",
            );
        }
    };
    if state.config.require_verified_email {
        return notice_page(
            "Check your email",
            &format!(
                "We sent a link to {} to confirm your address. Follow it, then sign in.",
                user.email
            ),
            Some(("/signin", "Sign in")),
        );
    }
    match sessions::start(&state, &call, &user, None, vec!["pwd".into()]).await {
        Ok(value) => see_other(
            &return_to,
            vec![session::session_cookie(value, &state.config)],
        ),
        Err(e) => {
            tracing::error!(error = %e, "could not start a session after sign-up");
            see_other("/signin", Vec::new())
        }
    }
}
