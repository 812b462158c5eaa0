//! Wire types.

use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
pub struct Login {
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

/// `POST /account/login`'s answer.
#[derive(Debug, Serialize)]
pub struct LoginReply {
    pub key: String,
    pub secret: String,
    pub expire: i64,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub type_value: String,
    pub read_only: u8,
    pub last_network_name: &'static str,
    pub last_network_id: i64,
}

#[derive(Debug, Serialize)]
pub struct KeyReply {
    pub key: String,
    pub secret: String,
}

/// A status body (`1009`, `14001`) with HTTP 200.
#[derive(Debug, Serialize)]
pub struct Status {
    pub code: u32,
    pub message: &'static str,
    pub context: &'static str,
    pub details: &'static str,
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
