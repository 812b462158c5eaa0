//! `GET|POST /logout`: OpenID Connect RP-Initiated Logout 1.0. A confirmation page, then the
//! session ends and the browser goes to the registered `post_logout_redirect_uri` with
//! `state`, or to a signed-out page.

use crate::routes::auth::Public;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::core::{clients, oidc, sessions};
use crate::routes::extract::Form;
use crate::routes::pages::session::{self, csrf, csrf_ok};
use crate::routes::pages::{error_page, render, see_other};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "pages/logout.html")]
struct ConfirmPage<'a> {
    csrf: &'a str,
    client_name: Option<&'a str>,
    post_logout_redirect_uri: &'a str,
    state: &'a str,
    client_id: &'a str,
}

#[derive(Template)]
#[template(path = "pages/signed_out.html")]
struct SignedOutPage;

/// A validated logout request.
struct Logout {
    redirect: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
    client_name: Option<String>,
}

fn param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.clone())
}

/// The client named by `id_token_hint` (its `aud`) or `client_id`; the redirect URI must be
/// registered for it.
async fn validate(state: &AppState, pairs: &[(String, String)]) -> Result<Logout, HttpResponse> {
    let bad = |m: &str| {
        error_page(
            StatusCode::BAD_REQUEST,
            "This sign-out link is not valid",
            m,
        )
    };
    let mut client_id = param(pairs, "client_id");
    if let Some(hint) = param(pairs, "id_token_hint") {
        let keys = state.keys.current().await;
        match oidc::verify_id_token_hint(&keys, state.config.issuer(), &hint) {
            Some(claims) => {
                if client_id.as_ref().is_some_and(|c| *c != claims.aud) {
                    return Err(bad("client_id does not match the ID token."));
                }
                client_id = Some(claims.aud);
            }
            None => return Err(bad("The ID token hint is not valid.")),
        }
    }
    let redirect = param(pairs, "post_logout_redirect_uri");
    let client = match &client_id {
        Some(id) => {
            let id = id.clone();
            match state.db.run(move |conn| clients::get(conn, &id)).await {
                Ok(c) => Some(c),
                Err(_) => return Err(bad("The application is not registered here.")),
            }
        }
        None => None,
    };
    if let Some(uri) = &redirect {
        let Some(c) = &client else {
            return Err(bad(
                "post_logout_redirect_uri needs id_token_hint or client_id.",
            ));
        };
        let registered: Vec<String> =
            serde_json::from_str(&c.post_logout_redirect_uris).unwrap_or_default();
        if !registered.iter().any(|r| r == uri) {
            return Err(bad(
                "The post-logout redirect URI is not registered for this application.",
            ));
        }
    }
    Ok(Logout {
        redirect,
        state: param(pairs, "state"),
        client_id: client.as_ref().map(|c| c.id.clone()),
        client_name: client.map(|c| c.name),
    })
}

fn finish(state: &AppState, l: &Logout) -> HttpResponse {
    let clear = session::clear_session_cookie(&state.config);
    match &l.redirect {
        Some(uri) => {
            let mut u = match url::Url::parse(uri) {
                Ok(u) => u,
                Err(_) => {
                    return error_page(
                        StatusCode::BAD_REQUEST,
                        "Invalid request",
                        "The redirect URI is invalid.",
                    )
                }
            };
            if let Some(s) = &l.state {
                u.query_pairs_mut().append_pair("state", s);
            }
            see_other(u.as_str(), vec![clear])
        }
        None => render(StatusCode::OK, &SignedOutPage, vec![clear]),
    }
}

/// GET: asks for confirmation (or, with no session, goes straight on).
pub async fn show(_: Public, req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let l = match validate(&state, &pairs).await {
        Ok(l) => l,
        Err(res) => return res,
    };
    if !matches!(session::current(&req, &state).await, Ok(Some(_))) {
        return finish(&state, &l);
    }
    let (token, cookie) = csrf(&req, &state.config);
    render(
        StatusCode::OK,
        &ConfirmPage {
            csrf: &token,
            client_name: l.client_name.as_deref(),
            post_logout_redirect_uri: l.redirect.as_deref().unwrap_or_default(),
            state: l.state.as_deref().unwrap_or_default(),
            client_id: l.client_id.as_deref().unwrap_or_default(),
        },
        cookie.into_iter().collect(),
    )
}

/// POST: the confirmation; ends the session.
pub async fn submit(
    _: Public,
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
            "Go back and try again.",
        );
    }
    let pairs: Vec<(String, String)> = ["post_logout_redirect_uri", "state", "client_id"]
        .iter()
        .filter_map(|k| form.get(k).map(|v| (k.to_string(), v.to_owned())))
        .collect();
    let l = match validate(&state, &pairs).await {
        Ok(l) => l,
        Err(res) => return res,
    };
    if let Some(value) = req
        .cookie(session::SESSION_COOKIE)
        .map(|c| c.value().to_owned())
    {
        let now = state.clock.now_naive();
        if let Err(e) = state
            .db
            .run(move |conn| sessions::end(conn, now, &value))
            .await
        {
            tracing::error!(error = %e, "could not end a session");
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "Please try again.",
            );
        }
    }
    finish(&state, &l)
}
