//! Wire types (camelCase, with their OpenAPI schemas).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// `POST /auth/token`'s body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = bloq::TokenRequest)]
pub struct TokenRequest {
    /// `clientCredentials` (with `clientId` and `clientSecret`) or `refreshToken` (with
    /// `refreshToken`).
    pub grant_type: String,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChange {
    pub old_password: String,
    pub new_password: String,
}

/// An access token, and a refresh token from `POST /auth/token`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = bloq::Tokens)]
pub struct Tokens {
    pub access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// A new client key: the secret is shown once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = bloq::NewKey)]
pub struct NewKey {
    pub client_id: String,
    pub client_secret: String,
    pub created_at: String,
}

/// A client key.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = bloq::KeyItem)]
pub struct KeyItem {
    pub id: String,
    /// RFC 3339.
    pub created_at: String,
}

/// The OIDC address, as Bloq's billing address.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = bloq::BillingAddress)]
pub struct BillingAddress {
    pub country: Option<String>,
    pub zip_code: Option<String>,
    pub address: Option<String>,
    pub state: Option<String>,
}

/// `GET /users/me`'s answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = bloq::Me)]
pub struct Me {
    pub id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub entity_type: Option<String>,
    /// RFC 3339, when the email was verified.
    pub verified_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub billing_address: BillingAddress,
}

/// An event of the user: an API call under its service, or a security event (sign-ins,
/// password changes) under `cloud-accounts` with its kind in `serviceData`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = bloq::Event)]
pub struct Event {
    pub id: String,
    pub service: String,
    pub user: Option<String>,
    /// What the call sent (secrets removed), any JSON value.
    pub input: Value,
    /// What it answered, any JSON value.
    pub output: Value,
    /// `{}` for an API call; `{"event", "detail"}` for a security event.
    #[schema(value_type = Object)]
    pub service_data: Value,
    /// RFC 3339.
    pub created_at: String,
}

/// `PUT /users/{userId}/token/{token}`'s answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = bloq::Verified)]
pub struct Verified {
    pub id: String,
    /// RFC 3339.
    pub verified_at: Option<String>,
}

/// `GET /users/me/events`'s query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// 1 to 100 (default 25).
    #[serde(default)]
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// The id of an event: only older ones.
    #[serde(default)]
    pub before: Option<String>,
}
