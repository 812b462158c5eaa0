//! Who is calling a compatibility door: a user by HTTP Basic (username, email or id, and
//! password; throttled like sign-in), or any caller by bearer token (access token or personal
//! access token). Embed-key tokens are refused everywhere but `/introspect` (SPEC §8).

use crate::core::users::{self, User};
use crate::core::Error;
use crate::state::AppState;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user the credentials act for.
    pub user: Option<User>,
    /// The client a token was issued to.
    pub client_id: Option<String>,
    /// The token's scope (empty for Basic credentials, which act as the user).
    pub scope: String,
}

impl Caller {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split_whitespace().any(|s| s == scope)
    }

    /// An admin: a user with the admin flag, or a token with the `admin` scope (SPEC §8).
    pub fn is_admin(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.is_admin) || self.has_scope("admin")
    }

    /// The user, or `Forbidden` for a client acting for itself.
    pub fn require_user(&self) -> Result<&User, Error> {
        self.user
            .as_ref()
            .ok_or_else(|| Error::Forbidden("this method needs user credentials".into()))
    }
}

/// A user by password (any door's Basic credentials).
pub async fn by_password(
    state: &AppState,
    login: &str,
    password: &str,
    ip: &str,
    door: &'static str,
) -> Result<Caller, Error> {
    let user = super::passwords::check(state, login, password, ip, door).await?;
    Ok(Caller {
        user: Some(user),
        client_id: None,
        scope: String::new(),
    })
}

/// Any caller by bearer token.
pub async fn by_token(state: &AppState, token: &str) -> Result<Caller, Error> {
    let p = super::tokens::authenticate_bearer(state, token).await?;
    if p.has_scope("embed") {
        return Err(Error::InsufficientScope(
            "embed keys may only be introspected".into(),
        ));
    }
    let user = match &p.user_id {
        Some(id) => {
            let id = id.clone();
            let user = state
                .db
                .run(move |conn| match users::get(conn, &id) {
                    Ok(u) => Ok(Some(u)),
                    Err(Error::NotFound(_)) => Ok(None),
                    Err(e) => Err(e),
                })
                .await?;
            match user {
                Some(u) if !u.disabled => Some(u),
                _ => {
                    return Err(Error::InvalidToken(
                        "the token's user is disabled or gone".into(),
                    ))
                }
            }
        }
        None => None,
    };
    Ok(Caller {
        user,
        client_id: p.client_id,
        scope: p.scope,
    })
}
