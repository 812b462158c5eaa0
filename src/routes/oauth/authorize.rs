//! `GET|POST /authorize` and the consent decision (`POST /consent`): validate the request,
//! send the person through sign-in, terms and consent as needed, then redirect to the client
//! with a code (or an error) and `iss` (RFC 9207).

use crate::routes::auth::{Admitted, Public, SessionOrSignIn};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::app::{self, Call};
use crate::core::authorize::{self, AuthorizeParams, ErrorRedirect, Next, Reject, Validated};
use crate::core::Error;
use crate::paths;
use crate::routes::extract::{read_body, Form};
use crate::routes::pages::session::{self, csrf_ok};
use crate::routes::pages::{consent_page, error_page, see_other};
use crate::state::AppState;

/// Reads the authorization parameters from pairs (query string or form body).
pub fn parse(pairs: &[(String, String)]) -> AuthorizeParams {
    AuthorizeParams::from_pairs(pairs)
}

fn pairs_of(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn encode(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A redirect to the client's redirect URI with extra query parameters (kept apart from any
/// query the registered URI has).
fn redirect_to_client(uri: &str, params: &[(&str, &str)]) -> HttpResponse {
    let location = match url::Url::parse(uri) {
        Ok(mut u) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            u.to_string()
        }
        Err(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "Invalid request",
                "The redirect URI is invalid.",
            )
        }
    };
    see_other(&location, Vec::new())
}

fn error_redirect(state: &AppState, e: &ErrorRedirect) -> HttpResponse {
    let mut params = vec![
        ("error", e.error),
        ("error_description", e.description.as_str()),
    ];
    if let Some(s) = &e.state {
        params.push(("state", s));
    }
    params.push(("iss", state.config.issuer()));
    redirect_to_client(&e.redirect_uri, &params)
}

fn unavailable(e: &Error) -> HttpResponse {
    tracing::error!(error = %e, "authorization request failed");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "Please try again in a moment.",
    )
}

async fn validated(
    state: &AppState,
    call: &Call,
    params: AuthorizeParams,
) -> Result<Validated, HttpResponse> {
    match app::authorize::validate(state, call, params).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(Reject::Page(message))) => Err(error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in link is not valid",
            &message,
        )),
        Ok(Err(Reject::Redirect(e))) => Err(error_redirect(state, &e)),
        Err(e) => Err(unavailable(&e)),
    }
}

/// Sends the browser back to the client with a code (or the page that says why not).
fn with_code(state: &AppState, v: &Validated, code: Result<String, Error>) -> HttpResponse {
    match code {
        Ok(code) => {
            let mut params = vec![("code", code.as_str())];
            if let Some(s) = &v.state {
                params.push(("state", s));
            }
            params.push(("iss", state.config.issuer()));
            redirect_to_client(&v.redirect_uri, &params)
        }
        // The kept request was consumed meanwhile (a replay, or another tab got the code).
        Err(Error::InvalidRequest(m)) => error_redirect(state, &v.error("invalid_request", m)),
        Err(e) => unavailable(&e),
    }
}

/// The authorization endpoint, GET: the query's parameters.
pub async fn authorize(
    Admitted { call, .. }: Admitted<Public>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    let pairs = pairs_of(req.query_string());
    run(&req, &state, &call, pairs).await
}

/// The POST variant: the body's parameters.
pub async fn authorize_post(
    Admitted { call, .. }: Admitted<Public>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let ct_ok = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !ct_ok {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "the content type must be application/x-www-form-urlencoded",
        );
    }
    let body = match read_body(payload, state.config.body_limit).await {
        Ok(b) => b,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, "Invalid request", &e.to_string()),
    };
    let pairs = pairs_of(&String::from_utf8_lossy(&body));
    run(&req, &state, &call, pairs).await
}

async fn run(
    req: &HttpRequest,
    state: &AppState,
    call: &Call,
    pairs: Vec<(String, String)>,
) -> HttpResponse {
    let params = parse(&pairs);
    if params.request.is_some() && params.request_uri.is_none() {
        // A request object by value (RFC 9101): kept on the server, then the same request
        // by its request_uri, so the sign-in round trips carry only that.
        return match app::authorize::keep_request_object(state, call, params).await {
            Ok(Ok((client_id, uri))) => {
                let query = encode(&[("client_id".into(), client_id), ("request_uri".into(), uri)]);
                see_other(&format!("{}?{query}", paths::AUTHORIZE), Vec::new())
            }
            Ok(Err(Reject::Page(message))) => error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in link is not valid",
                &message,
            ),
            Ok(Err(Reject::Redirect(e))) => error_redirect(state, &e),
            Err(e) => unavailable(&e),
        };
    }
    let v = match validated(state, call, params).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let signed_in = match session::current(req, state).await {
        Ok(s) => s,
        Err(e) => return unavailable(&e),
    };
    let next = match app::authorize::next_step(state, call, &v, signed_in.as_ref()).await {
        Ok(n) => n,
        Err(e) => return unavailable(&e),
    };
    match next {
        Err(e) => match app::authorize::may_bounce(state, &v, signed_in.as_ref()).await {
            Ok(true) => error_redirect(state, &e),
            Ok(false) => error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in link is not valid",
                &format!("{} ({}).", e.description, e.error),
            ),
            Err(e) => unavailable(&e),
        },
        Ok(Next::SignIn) => {
            let back = authorize::after_sign_in(&pairs);
            let return_to = format!("{}?{}", paths::AUTHORIZE, encode(&back));
            let mut target = vec![("return_to".to_string(), return_to)];
            if let Some(h) = &v.login_hint {
                target.push(("login_hint".into(), h.clone()));
            }
            see_other(
                &format!("{}?{}", paths::SIGNIN, encode(&target)),
                Vec::new(),
            )
        }
        Ok(Next::SecondFactor) => {
            let return_to = format!("{}?{}", paths::AUTHORIZE, encode(&pairs));
            see_other(
                &format!(
                    "{}?{}",
                    paths::SECOND_FACTOR,
                    encode(&[("return_to".into(), return_to)])
                ),
                Vec::new(),
            )
        }
        Ok(Next::SetUpSecondFactor) => error_page(
            StatusCode::FORBIDDEN,
            "A second factor is needed",
            "This app, or this server's policy, needs you to sign in with a second factor, and you have none yet. Set one up on your account page (/account, under \"Second factor\"), then try again.",
        ),
        Ok(Next::Terms) => {
            let return_to = format!("{}?{}", paths::AUTHORIZE, encode(&pairs));
            see_other(
                &format!(
                    "{}?{}",
                    paths::TERMS,
                    encode(&[("return_to".into(), return_to)])
                ),
                Vec::new(),
            )
        }
        Ok(Next::Consent) => {
            let who = signed_in
                .as_ref()
                .map(|s| s.user.username.clone().unwrap_or(s.user.email.clone()))
                .unwrap_or_default();
            consent_page(req, state, &v, &who, &encode(&pairs))
        }
        Ok(Next::Issue) => match signed_in {
            Some(s) => with_code(
                state,
                &v,
                app::authorize::issue_code(state, call, &v, &s).await,
            ),
            None => unavailable(&Error::Internal("issue without a session".into())),
        },
    }
}

/// `POST /consent`: the person's decision on the consent page.
pub async fn decide(
    Admitted {
        who: SessionOrSignIn(session),
        call,
    }: Admitted<SessionOrSignIn>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match Form::read(&req, payload, state.config.body_limit).await {
        Ok(f) => f,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, "Invalid request", &e.to_string()),
    };
    if !csrf_ok(&req, form.get("csrf")) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Form expired",
            "Go back to the application and try again.",
        );
    }
    let pairs = pairs_of(form.get("authz").unwrap_or_default());
    let v = match validated(&state, &call, parse(&pairs)).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    let Some(signed_in) = session else {
        let return_to = format!("{}?{}", paths::AUTHORIZE, encode(&pairs));
        return see_other(
            &format!(
                "{}?{}",
                paths::SIGNIN,
                encode(&[("return_to".into(), return_to)])
            ),
            Vec::new(),
        );
    };
    if form.get("decision") != Some("allow") {
        return error_redirect(
            &state,
            &v.error("access_denied", "the user denied the request"),
        );
    }
    // Consent is the last step: whatever else the request needs (a fresh sign-in, the terms,
    // a second factor) is checked again here, so that posting the form skips nothing.
    match app::authorize::next_step(&state, &call, &v, Some(&signed_in)).await {
        Ok(Ok(Next::Consent | Next::Issue)) => {}
        Ok(Ok(_)) => {
            return see_other(
                &format!("{}?{}", paths::AUTHORIZE, encode(&pairs)),
                Vec::new(),
            )
        }
        Ok(Err(e)) => return error_redirect(&state, &e),
        Err(e) => return unavailable(&e),
    }
    with_code(
        &state,
        &v,
        app::authorize::consent(&state, &call, &v, &signed_in).await,
    )
}
