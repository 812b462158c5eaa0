//! Wire types: request frames, method arguments, reply frames.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A reply frame: `result` or `error`, `dst` and `id` echoing the request's `src` and `id`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = mongoose::Reply)]
pub struct Reply {
    /// Always 2.
    pub v: u8,
    /// `//<this server's host>`.
    pub src: String,
    /// The request's `src`, any JSON value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst: Option<Value>,
    /// The request's `id`, any JSON value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    /// The method's result, any JSON value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// A Mongoose error: the HTTP status and a message.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = mongoose::ErrorBody)]
pub struct ErrorBody {
    pub code: u16,
    pub message: String,
}

/// What a request carried besides its arguments.
#[derive(Debug, Default, Clone)]
pub struct Envelope {
    pub src: Option<Value>,
    pub id: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CreateTokenArgs {
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct IdArgs {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub struct CreateUserArgs {
    #[serde(default)]
    pub id: Option<String>,
    /// The unique username.
    #[serde(default)]
    pub name: Option<String>,
    pub email: String,
    pub password: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct LookupArgs {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TokenArgs {
    pub token: String,
}

#[derive(Debug, Deserialize)]
pub struct AuthenticateArgs {
    pub id: String,
    pub credentials: Credentials,
}

#[derive(Debug, Deserialize)]
pub struct Credentials {
    #[serde(default)]
    pub psk: Option<String>,
    #[serde(default)]
    pub cert: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AuthorizeCommandArgs {
    pub src: String,
    pub dst: String,
    pub cmd: String,
}

#[derive(Debug, Deserialize)]
pub struct HostArgs {
    pub host: String,
}
