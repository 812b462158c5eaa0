//! Client authentication at the token, introspection, revocation and PAR endpoints: the method
//! the client registered (`client_secret_basic`, `client_secret_post`, a JWT assertion for
//! `client_secret_jwt` and `private_key_jwt`, or `none` for public clients), secrets compared
//! in constant time. `app::token::client::authenticate_client` loads the client (cached),
//! checks an assertion's signature and single use (`core::client_jwt`), and counts failures
//! per client IP around `verify`.

use super::clients::ClientRow;
use super::{crypto, Error, Timestamp};

/// Credentials as presented, one method only (the door refuses requests that use two).
#[derive(Debug, Clone)]
pub enum Credentials {
    /// HTTP Basic, already URL-decoded (RFC 6749 §2.3.1).
    Basic { client_id: String, secret: String },
    /// `client_id` and `client_secret` in the form body.
    Post { client_id: String, secret: String },
    /// Only `client_id` (public clients).
    None { client_id: String },
    /// A signed JWT (`client_assertion`, RFC 7523 §2.2); `client_id` from the form or, when
    /// absent, the assertion's unverified `sub` (the signature is checked with that client's
    /// keys).
    Assertion {
        client_id: String,
        assertion: String,
    },
}

impl Credentials {
    pub fn client_id(&self) -> &str {
        match self {
            Credentials::Basic { client_id, .. }
            | Credentials::Post { client_id, .. }
            | Credentials::None { client_id }
            | Credentials::Assertion { client_id, .. } => client_id,
        }
    }

    /// The secret presented, if any.
    pub fn secret(&self) -> Option<&str> {
        match self {
            Credentials::Basic { secret, .. } | Credentials::Post { secret, .. } => Some(secret),
            Credentials::None { .. } | Credentials::Assertion { .. } => None,
        }
    }

    /// The passphrase oxide-auth's machines are given. The door has authenticated the client
    /// already; this only says whether it came as a confidential client (a secret, or an
    /// assertion as an empty passphrase) or a public one (`None`).
    pub fn passphrase(&self) -> Option<&str> {
        match self {
            Credentials::Assertion { .. } => Some(""),
            other => other.secret(),
        }
    }

    /// Whether a wrong one counts against the IP (a secret or an assertion was presented).
    pub fn proves(&self) -> bool {
        !matches!(self, Credentials::None { .. })
    }
}

const FAILED: &str = "client authentication failed";

/// Checks credentials against a known client, without the database: `Ok(())` or
/// `invalid_client` (and whether a secret was wrong, which counts against the IP). Wrong
/// secrets, another method than the registered one, a public client presenting a secret and
/// expired clients are all `invalid_client`.
pub fn verify(
    client: &ClientRow,
    credentials: &Credentials,
    now: Timestamp,
) -> Result<(), (Error, bool)> {
    if client.expires_at.is_some_and(|t| t <= now) {
        return Err((Error::InvalidClient("the client has expired".into()), false));
    }
    if client.is_internal() {
        // The holder of a compatibility door's tokens: usable only through that door.
        return Err((Error::InvalidClient(FAILED.into()), false));
    }
    let registered = client.token_endpoint_auth_method.as_str();
    match (registered, credentials) {
        ("none", Credentials::None { .. }) => Ok(()),
        ("none", _) => Err((
            Error::InvalidClient("a public client does not authenticate with a secret".into()),
            false,
        )),
        (_, Credentials::None { .. }) => Err((
            Error::InvalidClient("client authentication is required".into()),
            false,
        )),
        // The signature, claims and single use are checked by the caller, with the keys.
        ("private_key_jwt" | "client_secret_jwt", Credentials::Assertion { .. }) => Ok(()),
        (_, Credentials::Assertion { .. }) => Err((
            Error::InvalidClient(format!("this client authenticates with {registered}")),
            false,
        )),
        (_, creds) => {
            let used = match creds {
                Credentials::Basic { .. } => "client_secret_basic",
                _ => "client_secret_post",
            };
            let right = client.secret_hash.as_deref().is_some_and(|hash| {
                crypto::verify_secret_hash(creds.secret().unwrap_or_default(), hash)
            });
            if !right {
                return Err((Error::InvalidClient(FAILED.into()), true));
            }
            if used != registered {
                return Err((
                    Error::InvalidClient(format!("this client authenticates with {registered}")),
                    false,
                ));
            }
            Ok(())
        }
    }
}
