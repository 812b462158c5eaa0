//! Wire types of the token, introspection and revocation endpoints (with their OpenAPI
//! schemas): their form bodies, read from the `Form` the client policies parsed (empty values
//! count as absent; only `resource` may repeat). The client authenticates with HTTP Basic or
//! with `client_id` and `client_secret` in the same form, which the policy reads.

use utoipa::ToSchema;

use crate::core::oauth::TokenParams;
use crate::core::Error;
use crate::routes::extract::Form;

/// An RFC 6749 token request: which parameters apply depends on `grant_type`.
#[derive(Debug, ToSchema)]
pub struct TokenRequest<'a> {
    /// authorization_code, client_credentials, password, refresh_token, or
    /// urn:ietf:params:oauth:grant-type:device_code.
    pub grant_type: &'a str,
    /// The client, when it does not authenticate with HTTP Basic.
    pub client_id: Option<&'a str>,
    /// `client_secret_post` (never together with HTTP Basic).
    pub client_secret: Option<&'a str>,
    pub scope: Option<&'a str>,
    /// RFC 8707 resource indicators (may repeat).
    #[schema(required = false)]
    pub resource: Vec<&'a str>,
    pub code: Option<&'a str>,
    pub redirect_uri: Option<&'a str>,
    /// PKCE (RFC 7636).
    pub code_verifier: Option<&'a str>,
    pub refresh_token: Option<&'a str>,
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    /// The device code to poll with (RFC 8628).
    pub device_code: Option<&'a str>,
    /// Token exchange (RFC 8693): the token to exchange and its type.
    pub subject_token: Option<&'a str>,
    pub subject_token_type: Option<&'a str>,
    /// Token exchange: the caller's own token, when it acts for the subject (delegation).
    pub actor_token: Option<&'a str>,
    pub actor_token_type: Option<&'a str>,
    /// Token exchange: the audiences of the new token (may repeat).
    #[schema(required = false)]
    pub audience: Vec<&'a str>,
    pub requested_token_type: Option<&'a str>,
}

impl<'a> TokenRequest<'a> {
    /// The token request in a form.
    pub fn read(form: &'a Form) -> TokenRequest<'a> {
        TokenRequest {
            grant_type: form.get("grant_type").unwrap_or_default(),
            client_id: form.get("client_id"),
            client_secret: form.get("client_secret"),
            scope: form.get("scope"),
            resource: form.all("resource"),
            code: form.get("code"),
            redirect_uri: form.get("redirect_uri"),
            code_verifier: form.get("code_verifier"),
            refresh_token: form.get("refresh_token"),
            username: form.get("username"),
            password: form.get("password"),
            device_code: form.get("device_code"),
            subject_token: form.get("subject_token"),
            subject_token_type: form.get("subject_token_type"),
            actor_token: form.get("actor_token"),
            actor_token_type: form.get("actor_token_type"),
            audience: form.all("audience"),
            requested_token_type: form.get("requested_token_type"),
        }
    }

    /// The grant's parameters, for the use case.
    pub fn params(&self) -> TokenParams {
        let owned = |v: Option<&str>| v.map(str::to_owned);
        TokenParams {
            grant_type: self.grant_type.to_owned(),
            scope: owned(self.scope),
            resources: self.resource.iter().map(|r| (*r).to_owned()).collect(),
            code: owned(self.code),
            redirect_uri: owned(self.redirect_uri),
            code_verifier: owned(self.code_verifier),
            refresh_token: owned(self.refresh_token),
            username: owned(self.username),
            password: owned(self.password),
            device_code: owned(self.device_code),
            exchange: crate::core::exchange::ExchangeParams {
                subject_token: owned(self.subject_token),
                subject_token_type: owned(self.subject_token_type),
                actor_token: owned(self.actor_token),
                actor_token_type: owned(self.actor_token_type),
                requested_token_type: owned(self.requested_token_type),
                audiences: self.audience.iter().map(|a| (*a).to_owned()).collect(),
            },
            dpop_jkt: None,
        }
    }
}

/// An RFC 7662 introspection or RFC 7009 revocation request.
#[derive(Debug, ToSchema)]
pub struct TokenForm<'a> {
    pub token: &'a str,
    /// access_token or refresh_token: a hint only (every kind of token is looked up).
    pub token_type_hint: Option<&'a str>,
    /// The client, when it does not authenticate with HTTP Basic.
    pub client_id: Option<&'a str>,
    /// `client_secret_post` (never together with HTTP Basic).
    pub client_secret: Option<&'a str>,
}

impl<'a> TokenForm<'a> {
    /// The request in a form; `token` is required.
    pub fn read(form: &'a Form) -> Result<TokenForm<'a>, Error> {
        Ok(TokenForm {
            token: form
                .get("token")
                .ok_or_else(|| Error::InvalidRequest("token is required".into()))?,
            token_type_hint: form.get("token_type_hint"),
            client_id: form.get("client_id"),
            client_secret: form.get("client_secret"),
        })
    }
}
