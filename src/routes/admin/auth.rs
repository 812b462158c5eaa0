//! Who may call the admin API (SPEC §8): a user with the admin flag (HTTP Basic, an access
//! token or a personal access token), or a token with the `admin` scope. No credentials: 401;
//! others: 403. Browser sessions are not accepted here (no CSRF exposure for a JSON API).

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use super::error::ApiError;
use crate::core::Error;
use crate::routes::extract::{basic_auth, bearer_from_header, client_ip};
use crate::services::callers::{self, Caller};
use crate::state::AppState;

/// An authenticated admin.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| ApiError(Error::Internal("no state".into())))?;
            let caller = if let Some(basic) = basic_auth(&req) {
                let (login, password) = basic.map_err(|_| {
                    ApiError(Error::InvalidToken("malformed Basic credentials".into()))
                })?;
                let ip = client_ip(&req, &state.config);
                callers::by_password(&state, &login, &password, &ip, "admin")
                    .await
                    .map_err(|e| match e {
                        Error::InvalidGrant(_) => {
                            ApiError(Error::InvalidToken("invalid credentials".into()))
                        }
                        e => ApiError(e),
                    })?
            } else if let Some(token) = bearer_from_header(&req) {
                callers::by_token(&state, &token).await?
            } else {
                return Err(ApiError(Error::InvalidToken(
                    "admin credentials are required".into(),
                )));
            };
            if !caller.is_admin() {
                return Err(ApiError(Error::Forbidden(
                    "an admin user or the admin scope is required".into(),
                )));
            }
            req.extensions_mut().insert(caller.clone());
            Ok(Admin(caller))
        })
    }
}
