//! Wire types (with their OpenAPI schemas): every body is `{"account": {...}}`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A request body: `{"account": {...}}`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = esalerugs::Envelope<T>)]
pub struct Envelope<T> {
    pub account: T,
}

/// Sign-up and sign-in.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = esalerugs::Credentials)]
pub struct Credentials {
    pub email: String,
    pub password: String,
    /// Also answer a refresh token.
    #[serde(default)]
    pub remember_me: bool,
}

/// A refresh token of this door's sign-ins.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = esalerugs::RefreshBody)]
pub struct RefreshBody {
    pub refresh_token: String,
    /// Answer the new refresh token.
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

/// A password reset for an email.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = esalerugs::ResetRequest)]
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
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = esalerugs::TokenReply)]
pub struct TokenReply {
    pub token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// `{"id", "email"}` (plus tokens after a reset with remember_me).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = esalerugs::AccountReply)]
pub struct AccountReply {
    pub id: String,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// An account's id and email.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = esalerugs::AccountSummary)]
pub struct AccountSummary {
    pub id: String,
    pub email: String,
}

/// `{"data": {"id", "email"}}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = esalerugs::Data)]
pub struct Data {
    pub data: AccountSummary,
}
