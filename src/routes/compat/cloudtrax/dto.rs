//! Wire types (with their OpenAPI schemas).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /account/login`'s body.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = cloudtrax::Login)]
pub struct Login {
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

/// `GET /time`'s answer: the server's clock, in seconds since the epoch.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = cloudtrax::Time)]
pub struct Time {
    pub time: i64,
}

/// `POST /account/login`'s answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = cloudtrax::LoginReply)]
pub struct LoginReply {
    pub key: String,
    pub secret: String,
    /// Seconds since the epoch; 0 when the key does not expire.
    pub expire: i64,
    /// Always `master`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub type_value: String,
    pub read_only: u8,
    pub last_network_name: &'static str,
    pub last_network_id: i64,
}

/// An embed key of a network.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = cloudtrax::KeyReply)]
pub struct KeyReply {
    pub key: String,
    pub secret: String,
}

/// A status body (`1009`, `14001`) with HTTP 200.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = cloudtrax::Status)]
pub struct Status {
    pub code: u32,
    pub message: &'static str,
    pub context: &'static str,
    pub details: &'static str,
    #[schema(value_type = Object)]
    pub values: serde_json::Map<String, serde_json::Value>,
}

impl Status {
    pub fn new(code: u32, message: &'static str, context: &'static str) -> Status {
        Status {
            code,
            message,
            context,
            details: "",
            values: Default::default(),
        }
    }
}

/// `GET /account/service_agreement`'s answer: has the user accepted the current terms?
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = cloudtrax::Agreement)]
pub struct Agreement {
    pub valid: bool,
}

/// CloudTrax's error envelope: one error.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = cloudtrax::Errors)]
pub struct Errors<'a> {
    pub errors: [ErrorItem<'a>; 1],
}

/// A CloudTrax error: its code (13xxx, 14002, 20003, 20041, 1006, or an HTTP status), message
/// and context.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = cloudtrax::Error)]
pub struct ErrorItem<'a> {
    pub code: u32,
    pub message: &'a str,
    pub context: &'a str,
    /// Always empty.
    #[schema(value_type = Object)]
    pub values: serde_json::Map<String, serde_json::Value>,
}
