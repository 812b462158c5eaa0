//! CloudTrax account management (seed 002, SPEC §5.2): HMAC-signed requests, `GET /time`,
//! `POST /account/login`, embed credentials per network and the service agreement. The
//! signature is this door's credential: the `SignedByApplication` and `SignedByAccount`
//! policies verify it through `signed` and `owner` before a handler runs.

mod dto;
pub(crate) mod error;
pub(crate) mod handlers;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::app;
use crate::core::clients::ClientRow;
use crate::core::users::User;
use crate::core::Error;
use crate::routes::extract::read_body;
use crate::state::AppState;

fn failed(res: HttpResponse) -> actix_web::Error {
    actix_web::error::InternalError::from_response("cloudtrax refusal", res).into()
}

/// Verifies a signed request (signature, clock, nonce); the key that signed it and the body.
pub(crate) async fn signed(
    req: &HttpRequest,
    payload: Payload,
    state: &AppState,
) -> Result<(ClientRow, web::Bytes), actix_web::Error> {
    let body = read_body(payload, state.config.body_limit)
        .await
        .map_err(|e| failed(error::envelope(1006, &e.to_string(), "request")))?;
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (authorization, signature) = (header("authorization"), header("signature"));
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| req.path().to_owned());
    let signed = app::cloudtrax::Signed {
        authorization,
        signature,
        target,
        body: body.clone(),
    };
    match app::cloudtrax::verify(state, signed).await {
        Ok(Ok(client)) => Ok((client, body)),
        Ok(Err(e)) => Err(failed(error::signing(e))),
        Err(e) => Err(failed(error::core(&e, "authorization"))),
    }
}

/// The user an account key acts for (403 for other keys).
pub(crate) async fn owner(state: &AppState, key: &ClientRow) -> Result<User, actix_web::Error> {
    app::cloudtrax::owner(state, key)
        .await
        .map_err(|e| failed(error::core(&e, "authorization")))
}

/// A signed request whose key may not call this route (403).
pub(crate) fn refused(message: &str) -> actix_web::Error {
    failed(error::envelope(403, message, "authorization"))
}

/// A refusal in CloudTrax's envelope.
pub(crate) fn refusal(e: &Error) -> HttpResponse {
    error::core(e, "request")
}

/// A transport-level answer (413, 408) in CloudTrax's envelope.
pub(crate) fn status(status: StatusCode, message: &str) -> HttpResponse {
    error::envelope(status.as_u16() as u32, message, "request")
}
