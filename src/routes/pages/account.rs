//! `/account`: profile, email (change, re-verify), password, personal access tokens, sessions
//! (one, or everywhere) and authorized apps. Each action is a form posted to
//! `/account/actions/<action>`, answered with a redirect back and a fixed notice.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::session::{self, csrf, csrf_ok};
use super::{error_page, render, see_other, When};
use crate::app::{account, accounts, personal_tokens, second_factor, Call};
use crate::core::accounts::{Address, AuthorizedApp, Profile};
use crate::core::authorize::SignedIn;
use crate::core::Error;
use crate::paths;
use crate::routes::auth::{Admitted, Session};
use crate::routes::extract::Form;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "pages/account.html")]
struct AccountPage<'a> {
    csrf: &'a str,
    who: &'a str,
    notice: Option<&'static str>,
    error: Option<&'a str>,
    name: &'a str,
    address: Address,
    email: &'a str,
    verified: bool,
    phone_number: Option<String>,
    phone_verified: bool,
    /// An authenticator app is set up.
    totp: bool,
    /// Unused recovery codes.
    recovery_left: i64,
    passkeys: Vec<PasskeyView>,
    /// Why passkeys cannot be added here (an issuer that is an IP address).
    passkeys_unavailable: Option<String>,
    /// `security.second_factor` requires one of this person.
    factor_required: bool,
    tokens: Vec<TokenView>,
    sessions: Vec<SessionView>,
    apps: Vec<AuthorizedApp>,
}

struct TokenView {
    description: String,
    created: When,
    last_used: Option<When>,
    id: String,
}

struct PasskeyView {
    id: String,
    name: String,
    created: When,
    last_used: Option<When>,
}

struct SessionView {
    sid: String,
    agent: String,
    ip: String,
    created: When,
    current: bool,
}

#[derive(Template)]
#[template(path = "pages/totp_setup.html")]
struct TotpSetup<'a> {
    csrf: &'a str,
    /// The otpauth URL as an inline SVG QR code.
    qr_svg: &'a str,
    /// The seed in base32, grouped by four for typing.
    secret: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "pages/recovery_codes.html")]
struct RecoveryCodes<'a> {
    codes: &'a [String],
}

/// An `otpauth://` URL as an SVG QR code (inline in the page; no script, no style).
fn qr_svg(url: &str) -> String {
    match qrcode::QrCode::new(url.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build();
            // An inline SVG needs no XML declaration.
            match svg.find("<svg") {
                Some(at) => svg[at..].to_owned(),
                None => svg,
            }
        }
        Err(_) => String::new(),
    }
}

/// The set-up page of an authenticator app: its key as a QR code and as text, and the code
/// field (400 with `error` after a wrong code).
fn totp_setup(
    req: &HttpRequest,
    state: &AppState,
    key: &second_factor::TotpKey,
    error: Option<&str>,
) -> HttpResponse {
    let (token, cookie) = csrf(req, &state.config);
    let view = TotpSetup {
        csrf: &token,
        qr_svg: &qr_svg(&key.url),
        secret: &grouped(&key.secret),
        error,
    };
    let status = match error {
        Some(_) => StatusCode::BAD_REQUEST,
        None => StatusCode::OK,
    };
    render(status, &view, cookie.into_iter().collect())
}

fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Template)]
#[template(path = "pages/token_created.html")]
struct TokenCreated<'a> {
    token: &'a str,
    description: &'a str,
}

fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "welcome" => "Welcome! We sent you an email to confirm your address.",
        "profile-saved" => "Your profile is saved.",
        "email-changed" => {
            "Your email address changed. Follow the link we sent to it to confirm it."
        }
        "verification-sent" => "We sent a new confirmation link to your email address.",
        "password-changed" => "Your password changed. Other devices were signed out.",
        "password-reset" => "Your new password is set. Every other session was signed out.",
        "token-revoked" => "The token is revoked.",
        "session-ended" => "That device is signed out.",
        "app-revoked" => "The app's access is removed.",
        "totp-enrolled" => "Your authenticator app is set up: signing in now asks for its code.",
        "totp-removed" => "Your authenticator app is removed.",
        "passkey-added" => "Your passkey is added. Make recovery codes too, in case you lose it.",
        "passkey-removed" => "The passkey is removed.",
        "second-factor-required" => {
            "Set up a second factor (an authenticator app) to go on using your apps."
        }
        _ => return None,
    })
}

async fn page(
    req: &HttpRequest,
    state: &AppState,
    call: &Call,
    s: &SignedIn,
    status: StatusCode,
    error: Option<&str>,
) -> HttpResponse {
    let (user, tokens, sessions, apps, factors, keys) =
        match account::overview(state, call, &s.user.id).await {
            Ok(o) => (o.user, o.tokens, o.sessions, o.apps, o.factors, o.passkeys),
            Err(e) => {
                tracing::error!(error = %e, "account page failed");
                return error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Temporarily unavailable",
                    "Please try again.",
                );
            }
        };
    let code = super::query_param(req, "notice").unwrap_or_default();
    let (token, cookie) = csrf(req, &state.config);
    let address: Address = user
        .address
        .as_deref()
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or_default();
    let who = user.username.clone().unwrap_or(user.email.clone());
    let view = AccountPage {
        csrf: &token,
        who: &who,
        notice: notice(&code),
        error,
        name: user.display_name.as_deref().unwrap_or_default(),
        address,
        email: &user.email,
        verified: user.email_verified_at.is_some(),
        phone_number: user.phone_number.clone(),
        phone_verified: user.phone_number_verified,
        totp: factors.totp,
        recovery_left: factors.recovery_codes,
        passkeys: keys
            .into_iter()
            .map(|p| PasskeyView {
                id: p.id,
                name: p.name,
                created: When::new(p.created_at),
                last_used: p.last_used_at.map(When::new),
            })
            .collect(),
        passkeys_unavailable: crate::core::passkeys::relying_party(&state.config)
            .err()
            .map(|e| e.to_string()),
        factor_required: state.config.security.second_factor.requires(user.is_admin),
        tokens: tokens
            .into_iter()
            .map(|t| TokenView {
                description: t.description,
                created: When::new(t.created_at),
                last_used: t.last_used_at.map(When::new),
                id: t.id,
            })
            .collect(),
        sessions: sessions
            .into_iter()
            .map(|x| SessionView {
                current: x.sid == s.sid,
                sid: x.sid,
                agent: x.user_agent.unwrap_or_else(|| "Unknown browser".into()),
                ip: x.ip.unwrap_or_default(),
                created: When::new(x.created_at),
            })
            .collect(),
        apps,
    };
    render(status, &view, cookie.into_iter().collect())
}

/// The account page.
pub async fn show(
    Admitted {
        who: Session(s),
        call,
    }: Admitted<Session>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    page(&req, &state, &call, &s, StatusCode::OK, None).await
}

fn done(code: &str) -> HttpResponse {
    see_other(&format!("{}?notice={code}", paths::ACCOUNT), Vec::new())
}

/// A form on the account page.
pub async fn action(
    Admitted {
        who: Session(s),
        call,
    }: Admitted<Session>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match Form::read(&req, payload, state.config.body_limit).await {
        Ok(f) => f,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, "Bad request", &e.to_string()),
    };
    if !csrf_ok(&req, form.get("csrf")) {
        return page(
            &req,
            &state,
            &call,
            &s,
            StatusCode::BAD_REQUEST,
            Some("The form expired. Please try again."),
        )
        .await;
    }
    let text = |name: &str| {
        form.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let result: Result<HttpResponse, Error> = match path.as_str() {
        "profile" => {
            let address = Address {
                street_address: text("street_address"),
                locality: text("locality"),
                region: text("region"),
                postal_code: text("postal_code"),
                country: text("country"),
            };
            let profile = Profile {
                display_name: text("name"),
                address,
                phone_number: text("phone_number"),
            };
            account::update_profile(&state, &call, &s.user, profile)
                .await
                .map(|_| done("profile-saved"))
        }
        "email" => {
            // A sensitive change: the current password proves the person (SPEC §9).
            let current = form.get("current_password").unwrap_or_default();
            let email = text("email").unwrap_or_default();
            match accounts::change_email(&state, &s.user, current, &email, &call.ip).await {
                Ok(user) if user.email_key != s.user.email_key => Ok(done("email-changed")),
                Ok(_) => Ok(done("profile-saved")),
                Err(e) => Err(e),
            }
        }
        "verify" => accounts::send_verification(&state, &s.user)
            .await
            .map(|_| done("verification-sent")),
        "password" => {
            let current = form.get("current_password").unwrap_or_default();
            let new = form.get("new_password").unwrap_or_default();
            accounts::change_password_and_resume(&state, &call, &s, current, new)
                .await
                .map(|value| {
                    see_other(
                        &format!("{}?notice=password-changed", paths::ACCOUNT),
                        vec![session::session_cookie(value, &state.config)],
                    )
                })
        }
        "tokens" => {
            let description = text("description").unwrap_or_default();
            personal_tokens::create(&state, &call, &s.user, &description)
                .await
                .map(|(value, _)| {
                    render(
                        StatusCode::OK,
                        &TokenCreated {
                            token: &value,
                            description: &description,
                        },
                        Vec::new(),
                    )
                })
        }
        "tokens/revoke" => {
            let id = text("id").unwrap_or_default();
            personal_tokens::revoke(&state, &call, &s.user, &id)
                .await
                .map(|_| done("token-revoked"))
        }
        "sessions/end" => {
            let sid = text("sid").unwrap_or_default();
            account::end_session(&state, &call, &s.user, &sid)
                .await
                .map(|_| done("session-ended"))
        }
        "sessions/end-all" => account::sign_out_everywhere(&state, &call, &s.user)
            .await
            .map(|_| {
                see_other(
                    paths::SIGNIN,
                    vec![session::clear_session_cookie(&state.config)],
                )
            }),
        "totp/start" => {
            let current = form.get("current_password").unwrap_or_default();
            second_factor::totp_start(&state, &call, &s, current)
                .await
                .map(|key| totp_setup(&req, &state, &key, None))
        }
        "totp/confirm" => {
            let code = text("code").unwrap_or_default();
            second_factor::totp_confirm(&state, &call, &s, &code)
                .await
                .map(|confirmed| match confirmed {
                    second_factor::Confirmed::On { recovery_codes } if recovery_codes.is_empty() => {
                        done("totp-enrolled")
                    }
                    second_factor::Confirmed::On { recovery_codes } => render(
                        StatusCode::OK,
                        &RecoveryCodes {
                            codes: &recovery_codes,
                        },
                        Vec::new(),
                    ),
                    second_factor::Confirmed::Wrong { pending: Some(key) } => totp_setup(
                        &req,
                        &state,
                        &key,
                        Some("That code is not right. Check the app shows this account, and enter the code it shows now."),
                    ),
                    second_factor::Confirmed::Wrong { pending: None } => {
                        see_other(&format!("{}#security", paths::ACCOUNT), Vec::new())
                    }
                })
        }
        "totp/remove" => {
            let current = form.get("current_password").unwrap_or_default();
            second_factor::totp_remove(&state, &call, &s, current)
                .await
                .map(|_| done("totp-removed"))
        }
        // The add form is the script's; posted without it (it stays hidden then), say so.
        "passkeys/add" => Err(Error::Conflict(
            "Adding a passkey needs JavaScript in this browser.".into(),
        )),
        "passkeys/remove" => {
            let id = text("id").unwrap_or_default();
            let current = form.get("current_password").unwrap_or_default();
            crate::app::passkeys::remove(&state, &call, &s, current, &id)
                .await
                .map(|_| done("passkey-removed"))
        }
        "recovery/new" => second_factor::recovery_new(
            &state,
            &call,
            &s,
            form.get("current_password").unwrap_or_default(),
        )
        .await
        .map(|codes| render(StatusCode::OK, &RecoveryCodes { codes: &codes }, Vec::new())),
        "apps/revoke" => {
            let client_id = text("client_id").unwrap_or_default();
            account::revoke_app(&state, &call, &s.user, &client_id)
                .await
                .map(|_| done("app-revoked"))
        }
        _ => {
            return error_page(
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is nothing at this address.",
            )
        }
    };
    match result {
        Ok(res) => res,
        Err(Error::Invalid { field, message }) => {
            let field = match field {
                "current_password" => "Current password",
                "new_password" => "New password",
                "email" => "Email",
                "description" => "Description",
                "name" => "Name",
                "address" => "Address",
                "phone_number" => "Phone number",
                _ => "Value",
            };
            page(
                &req,
                &state,
                &call,
                &s,
                StatusCode::BAD_REQUEST,
                Some(&format!("{field} {message}.")),
            )
            .await
        }
        Err(Error::Conflict(m)) => {
            page(&req, &state, &call, &s, StatusCode::CONFLICT, Some(&m)).await
        }
        // Changing second factors in a session that has not used one: the step-up first.
        Err(Error::LoginRequired(_)) => see_other(
            &format!("{}?return_to=%2Faccount", paths::SECOND_FACTOR),
            Vec::new(),
        ),
        Err(Error::NotFound(what)) => {
            page(
                &req,
                &state,
                &call,
                &s,
                StatusCode::NOT_FOUND,
                Some(&format!("That {what} was not found.")),
            )
            .await
        }
        Err(Error::AccountDisabled) => error_page(
            StatusCode::FORBIDDEN,
            "Account disabled",
            "This account is disabled.",
        ),
        Err(Error::Throttled { retry_after }) => crate::routes::error::retry_after(
            page(
                &req,
                &state,
                &call,
                &s,
                StatusCode::TOO_MANY_REQUESTS,
                Some("Too many attempts. Try again later."),
            )
            .await,
            retry_after,
        ),
        Err(e) => {
            tracing::error!(error = %e, "account action failed");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "Please try again.",
            )
        }
    }
}
