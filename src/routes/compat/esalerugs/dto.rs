//! Wire types: every body is `{"account": {...}}`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    pub account: T,
}

#[derive(Debug, Deserialize)]
pub struct Credentials {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub remember_me: bool,
}

#[derive(Debug, Deserialize)]
pub struct RefreshBody {
    pub refresh_token: String,
    #[serde(default)]
    pub remember_me: bool,
}

#[derive(Debug, Deserialize)]
pub struct UpdateBody {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ResetRequest {
    pub email: String,
}

#[derive(Debug, Deserialize)]
pub struct ResetBody {
    pub password: String,
    pub reset_password_token: String,
    #[serde(default)]
    pub remember_me: bool,
}

/// `{"token", "refresh_token"?}`.
#[derive(Debug, Serialize)]
pub struct TokenReply {
    pub token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// `{"id", "email"}` (plus tokens after a reset with remember_me).
#[derive(Debug, Serialize)]
pub struct AccountReply {
    pub id: String,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}
