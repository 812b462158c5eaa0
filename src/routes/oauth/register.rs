//! Dynamic client registration (RFC 7591, `POST /register`) and management (RFC 7592,
//! `GET|PUT|DELETE /register/{client_id}` with the registration access token). Errors are
//! RFC 7591 §3.2.2's: `invalid_redirect_uri`, `invalid_client_metadata`, as JSON.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::error::{bearer_error, oauth_error};
use crate::app;
use crate::core::registration::{Request, Response};
use crate::core::Error;
use crate::routes::auth::{Admitted, RegisteredClient, Registrant};
use crate::routes::error::{json_error, ErrorBody};
use crate::state::AppState;

/// The client metadata of a request: a JSON body (RFC 7591 §3.1; a missing content type is
/// taken as JSON).
fn metadata(req: &actix_web::HttpRequest, body: &[u8]) -> Result<Request, Error> {
    let ct = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime != "application/json" && !mime.ends_with("+json") {
        return Err(Error::invalid(
            "metadata",
            "the body must be application/json",
        ));
    }
    Request::parse(body)
}

/// A core error as RFC 7591 answers it.
fn refusal(e: &Error) -> HttpResponse {
    match e {
        Error::Invalid { field, message } => {
            let code = if field.contains("redirect_uri") {
                "invalid_redirect_uri"
            } else {
                "invalid_client_metadata"
            };
            json_error(
                StatusCode::BAD_REQUEST,
                code,
                &format!("{field}: {message}"),
            )
        }
        Error::Conflict(m) => json_error(StatusCode::BAD_REQUEST, "invalid_client_metadata", m),
        Error::InvalidToken(_) => bearer_error(e),
        e => oauth_error(e),
    }
}

fn answer(status: StatusCode, body: &Response) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(body)
}

/// Register a client (RFC 7591): metadata in, the client (with its secret, once) and its
/// registration access token out.
#[utoipa::path(post, path = "/register", tag = "oauth",
    request_body(content = Object, content_type = "application/json", description = "client metadata (RFC 7591 §2)"),
    responses((status = 201, body = Response), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)),
    security((), ("bearer" = [])))]
pub async fn register(
    Admitted { who, call }: Admitted<Registrant>,
    http: actix_web::HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        let req = metadata(&http, &body)?;
        app::registration::register(&state, &call, req, who.initial_token).await
    }
    .await;
    match result {
        Ok(r) => answer(StatusCode::CREATED, &r),
        Err(e) => refusal(&e),
    }
}

/// Read a registered client (RFC 7592 §2.1).
#[utoipa::path(get, path = "/register/{client_id}", tag = "oauth", params(("client_id" = String, Path)),
    responses((status = 200, body = Response), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn read(
    Admitted { who, .. }: Admitted<RegisteredClient>,
    state: web::Data<AppState>,
) -> HttpResponse {
    answer(
        StatusCode::OK,
        &app::registration::read(&state, &who.client, &who.token),
    )
}

/// Replace a registered client's metadata (RFC 7592 §2.2); the answer carries a new
/// registration access token.
#[utoipa::path(put, path = "/register/{client_id}", tag = "oauth", params(("client_id" = String, Path)),
    request_body(content = Object, content_type = "application/json", description = "the client's whole metadata, with its client_id"),
    responses((status = 200, body = Response), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    Admitted { who, call }: Admitted<RegisteredClient>,
    http: actix_web::HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let result = async {
        let req = metadata(&http, &body)?;
        app::registration::update(&state, &call, who.client, req).await
    }
    .await;
    match result {
        Ok(r) => answer(StatusCode::OK, &r),
        Err(e) => refusal(&e),
    }
}

/// Delete a registered client (RFC 7592 §2.3); everything issued to it is revoked.
#[utoipa::path(delete, path = "/register/{client_id}", tag = "oauth", params(("client_id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    Admitted { who, call }: Admitted<RegisteredClient>,
    state: web::Data<AppState>,
) -> HttpResponse {
    match app::registration::delete(&state, &call, &who.client).await {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => refusal(&e),
    }
}
