//! `POST /device_authorization` (RFC 8628 §3.1): an authenticated client (a device, often
//! public) asks for a device code to poll `/token` with and a user code for a person to enter
//! at `/device`.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::error::oauth_error;
use crate::app;
use crate::paths;
use crate::routes::auth::{Admitted, Client};
use crate::routes::error::ErrorBody;
use crate::state::AppState;

/// The device authorization response (RFC 8628 §3.2).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceAuthorization {
    /// What the device polls `/token` with (`grant_type=urn:ietf:params:oauth:grant-type:device_code`).
    pub device_code: String,
    /// What the person types at `verification_uri`: eight letters, shown as `WDJB-MJHT`.
    pub user_code: String,
    pub verification_uri: String,
    /// `verification_uri` with the user code filled in (for a QR code or a link).
    pub verification_uri_complete: String,
    /// Seconds the codes live.
    pub expires_in: i64,
    /// Seconds to wait between polls.
    pub interval: i32,
}

/// A device authorization request.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct DeviceAuthorizationRequest {
    /// The client (public devices send only this).
    pub client_id: Option<String>,
    pub scope: Option<String>,
    /// RFC 8707 resource indicators (may repeat).
    pub resource: Option<String>,
    pub client_secret: Option<String>,
}

/// The device authorization endpoint.
#[utoipa::path(post, path = "/device_authorization", tag = "oauth",
    request_body(content = DeviceAuthorizationRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = DeviceAuthorization), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody)),
    security((), ("basic" = [])))]
pub async fn authorize(
    Admitted { who: c, call }: Admitted<Client>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let resources: Vec<String> = c
        .form
        .all("resource")
        .iter()
        .map(|r| (*r).to_owned())
        .collect();
    match app::device::start(&state, &call, &c.client, c.form.get("scope"), &resources).await {
        Ok(started) => {
            let verification_uri = state.config.url(paths::DEVICE);
            let complete = format!(
                "{verification_uri}?{}",
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("user_code", &started.user_code)
                    .finish()
            );
            HttpResponse::Ok()
                .insert_header(("Cache-Control", "no-store"))
                .insert_header(("Pragma", "no-cache"))
                .json(DeviceAuthorization {
                    device_code: started.device_code,
                    user_code: started.user_code,
                    verification_uri,
                    verification_uri_complete: complete,
                    expires_in: started.expires_in,
                    interval: started.interval,
                })
        }
        Err(e) => oauth_error(&e),
    }
}
