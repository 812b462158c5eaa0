//! The authorization boundary (SPEC §9). Every route is listed in one table (`routes::table`) with its
//! door and the policy it needs; the policy is an extractor (`policy`) that is the handler's
//! first argument, so it runs before the handler and the table cannot name another policy
//! than the handler asks for. One function (`authenticate`) turns whatever credential a door
//! reads into the one `Principal`; every policy judges that principal the same way at every
//! door, and each door renders a refusal in its own shape. A middleware on every route
//! (`boundary`) reads the body first: bodies over the limit are 413 and bodies that do not
//! arrive in time 408 before any credential is looked at, and text with NUL bytes or invalid
//! UTF-8 is 400.

mod boundary;
mod mount;
pub mod policy;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use crate::app::principal::Presentation;
use crate::core::principal::Principal;
use crate::core::Error;
use crate::routes::extract::{
    basic_auth, bearer_from_header, bearer_from_query, client_ip, dpop_proof,
    dpop_token_from_header,
};
use crate::state::AppState;

pub use mount::{ep, mount, Endpoint};
pub use policy::*;

/// The front doors, each with its credential forms and its error shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// The standard OAuth 2 / OpenID Connect endpoints (RFC 6749 and RFC 6750 errors).
    OAuth,
    /// Server-rendered pages (HTML errors, sign-in redirects).
    Pages,
    /// The admin REST API.
    Admin,
    /// Mongoose OS `Account` and `Auth` RPC (error frames).
    Mongoose,
    /// CloudTrax account management (signed requests, its error envelope).
    CloudTrax,
    /// The Bloq Accounts API.
    Bloq,
    /// The esalerugs accounts API.
    Esalerugs,
    /// Health, readiness, metrics and the API description.
    Ops,
}

/// The credential forms a door reads (SPEC §5, §9 "Direct credentials").
#[derive(Debug, Clone, Copy, Default)]
pub struct Forms {
    /// HTTP Basic with a user's password.
    pub basic: bool,
    /// `Authorization: Bearer <t>` (and the older `Bearer: <t>`).
    pub bearer: bool,
    /// `?access_token=<t>` in the URL (Mongoose's "GET parameters").
    pub query: bool,
}

impl Door {
    /// The door's name in the route table and in events.
    pub fn name(self) -> &'static str {
        match self {
            Door::OAuth => "oauth",
            Door::Pages => "pages",
            Door::Admin => "admin",
            Door::Mongoose => "mongoose",
            Door::CloudTrax => "cloudtrax",
            Door::Bloq => "bloq",
            Door::Esalerugs => "esalerugs",
            Door::Ops => "ops",
        }
    }

    /// The service under which this door records calls made with a person's credentials
    /// (SPEC §8), if it records them.
    pub fn audit_service(self) -> Option<&'static str> {
        match self {
            Door::Bloq => Some("cloud-accounts"),
            Door::Esalerugs => Some("esalerugs"),
            Door::CloudTrax => Some("cloudtrax"),
            Door::Mongoose => Some("mongoose"),
            Door::OAuth | Door::Pages | Door::Admin | Door::Ops => None,
        }
    }

    /// The credential forms this door reads; others are ignored (as if absent).
    pub fn forms(self) -> Forms {
        match self {
            Door::Admin => Forms {
                basic: true,
                bearer: true,
                query: false,
            },
            Door::Mongoose => Forms {
                basic: true,
                bearer: true,
                query: true,
            },
            Door::OAuth | Door::Bloq | Door::Esalerugs => Forms {
                bearer: true,
                ..Forms::default()
            },
            Door::Pages | Door::CloudTrax | Door::Ops => Forms::default(),
        }
    }

    /// A refusal or a core error in this door's shape.
    pub fn render(self, req: &HttpRequest, e: &Error) -> HttpResponse {
        // No credentials at all: RFC 6750 says so without an error code; the other doors say
        // it in words.
        let missing;
        let e = match e {
            Error::InvalidToken(m) if m.is_empty() && self != Door::OAuth => {
                missing = Error::InvalidToken("credentials are required".into());
                &missing
            }
            e => e,
        };
        match self {
            Door::OAuth => match e {
                Error::InvalidRequest(_) => crate::routes::oauth::error::oauth_error(e),
                e => crate::routes::oauth::error::bearer_error(e),
            },
            Door::Pages => crate::routes::pages::refusal(req, e),
            Door::Admin => crate::routes::admin::error::render(e),
            Door::Mongoose => crate::routes::compat::mongoose::refusal(req, e),
            Door::CloudTrax => crate::routes::compat::cloudtrax::refusal(e),
            Door::Bloq => crate::routes::compat::bloq::refusal(e),
            Door::Esalerugs => crate::routes::compat::esalerugs::refusal(e),
            Door::Ops => crate::routes::error::from_core(e),
        }
    }

    /// A body over `limit` bytes: 413 in this door's shape.
    pub fn too_large(self, req: &HttpRequest, limit: usize) -> HttpResponse {
        self.status(
            req,
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the request body exceeds {limit} bytes"),
        )
    }

    /// A body that did not arrive within `request_timeout`: 408 in this door's shape.
    pub fn timed_out(self, req: &HttpRequest) -> HttpResponse {
        let mut res = self.status(
            req,
            StatusCode::REQUEST_TIMEOUT,
            "the request body did not arrive in time",
        );
        res.headers_mut().insert(
            actix_web::http::header::CONNECTION,
            actix_web::http::header::HeaderValue::from_static("close"),
        );
        res
    }

    /// A transport-level answer (413, 408) in this door's shape.
    fn status(self, req: &HttpRequest, status: StatusCode, message: &str) -> HttpResponse {
        match self {
            Door::Pages => crate::routes::pages::error_page(
                status,
                match status {
                    StatusCode::PAYLOAD_TOO_LARGE => "Too much data",
                    StatusCode::REQUEST_TIMEOUT => "The request took too long",
                    _ => "Bad request",
                },
                message,
            ),
            Door::Mongoose => crate::routes::compat::mongoose::status(req, status, message),
            Door::CloudTrax => crate::routes::compat::cloudtrax::status(status, message),
            _ => crate::routes::error::json_error(
                status,
                match status {
                    StatusCode::REQUEST_TIMEOUT => "request_timeout",
                    _ => "invalid_request",
                },
                message,
            ),
        }
    }
}

/// The credential a request presents in the forms a door reads.
enum Presented {
    Basic(String, String),
    Token(String, Presentation),
}

/// The access token of the `Authorization` header, as `Bearer` (or the older `Bearer:`
/// header) or as `DPoP` with the request's proof, its method and its URL as this server is
/// reached (the issuer's origin and path prefix, and the request's path).
pub(crate) fn header_token(req: &HttpRequest, state: &AppState) -> Option<(String, Presentation)> {
    if let Some(t) = bearer_from_header(req) {
        return Some((t, Presentation::Bearer));
    }
    let token = dpop_token_from_header(req)?;
    Some((
        token,
        Presentation::Dpop {
            proof: dpop_proof(req),
            method: req.method().as_str().to_owned(),
            url: state.config.url(req.path()),
        },
    ))
}

fn presented(
    req: &HttpRequest,
    state: &AppState,
    forms: Forms,
) -> Result<Option<Presented>, Error> {
    if forms.basic {
        if let Some(basic) = basic_auth(req) {
            let (login, password) =
                basic.map_err(|_| Error::InvalidToken("malformed Basic credentials".into()))?;
            return Ok(Some(Presented::Basic(login, password)));
        }
    }
    if forms.bearer {
        if let Some((t, how)) = header_token(req, state) {
            return Ok(Some(Presented::Token(t, how)));
        }
    }
    if forms.query {
        if let Some(t) = bearer_from_query(req) {
            return Ok(Some(Presented::Token(t, Presentation::Bearer)));
        }
    }
    Ok(None)
}

/// The one authentication of every credential: whatever the request presents in `forms`
/// (HTTP Basic, a bearer token in the header or the URL), as a principal; `None` when it
/// presents nothing. A wrong password is `InvalidGrant` (policies other than a sign-in's turn
/// it into `InvalidToken`); throttling is `Throttled`.
pub async fn authenticate(
    req: &HttpRequest,
    state: &AppState,
    door: Door,
    forms: Forms,
) -> Result<Option<Principal>, Error> {
    match presented(req, state, forms)? {
        None => Ok(None),
        Some(Presented::Token(token, how)) => crate::app::principal::by_token(state, &token, &how)
            .await
            .map(Some),
        Some(Presented::Basic(login, password)) => {
            let ip = client_ip(req, &state.config);
            crate::app::principal::by_password(
                state,
                &login,
                &password,
                &ip,
                door.name(),
                door == Door::Admin,
            )
            .await
            .map(Some)
        }
    }
}
