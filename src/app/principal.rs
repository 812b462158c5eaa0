//! Authentication of a caller's credential into the one `Principal` every door's policy reads
//! (SPEC §9): a user's password (HTTP Basic), an access token made for this server, or a
//! personal access token. Which forms a door reads, and what each route needs, is decided at
//! the authorization boundary (`routes::auth`).

use crate::core::principal::Principal;
use crate::core::tokens::{self, pat};
use crate::core::users::{self, User};
use crate::core::Error;
use crate::state::AppState;

/// A user by password, throttled like every sign-in. At the admin door an admin user's
/// password is an admin credential; everywhere else it acts with `account` only.
pub async fn by_password(
    state: &AppState,
    login: &str,
    password: &str,
    ip: &str,
    door: &'static str,
    admin_door: bool,
) -> Result<Principal, Error> {
    let user = super::passwords::check_without_code(state, login, password, ip, door).await?;
    Ok(Principal::password(
        user,
        admin_door,
        state.clock.now_naive(),
    ))
}

/// How a token came with a request.
#[derive(Debug, Clone)]
pub enum Presentation {
    /// As a bearer token (RFC 6750: the header, a form body, or the URL).
    Bearer,
    /// As `Authorization: DPoP` with the request's proof (RFC 9449 §7), for the request's
    /// method and its URL as this server is reached.
    Dpop {
        proof: super::dpop::ProofHeader,
        method: String,
        url: String,
    },
}

/// A token as a credential for this server's own routes: a personal access token, or an
/// access token whose signature, claims, revocation state and audience (the issuer) check out
/// and whose user is still there and enabled. A DPoP-bound token is good only as `DPoP` with
/// a proof by its key for this request; as a bearer token it is refused (RFC 9449 §7.2), as
/// is an unbound token sent as `DPoP`.
pub async fn by_token(
    state: &AppState,
    token: &str,
    how: &Presentation,
) -> Result<Principal, Error> {
    let gone = || Error::InvalidToken("the token's user is disabled or gone".into());
    if pat::looks_like_pat(token) {
        if matches!(how, Presentation::Dpop { .. }) {
            return Err(Error::InvalidToken(
                "a personal access token is not bound to a key: send it as a bearer token".into(),
            ));
        }
        let now = state.clock.now_naive();
        let value = token.to_owned();
        let user = state
            .db
            .run(move |conn| match pat::verify(conn, now, &value)? {
                Some(p) => active_user(conn, &p.user_id),
                None => Ok(None),
            })
            .await?
            .ok_or_else(|| Error::InvalidToken("the token is invalid or revoked".into()))?;
        return Ok(Principal::personal_access_token(user));
    }
    let claims = super::access_token::verify_access_token(state, token).await?;
    tokens::for_this_server(&claims, state.config.issuer())?;
    match (claims.jkt(), how) {
        (None, Presentation::Bearer) => {}
        (Some(jkt), Presentation::Dpop { proof, method, url }) => {
            super::dpop::at_resource(state, token, jkt, proof, method, url).await?
        }
        (Some(_), Presentation::Bearer) => {
            return Err(Error::InvalidToken(
                "the token is bound to a DPoP key: send it as `Authorization: DPoP` with a proof"
                    .into(),
            ))
        }
        (None, Presentation::Dpop { .. }) => {
            return Err(Error::InvalidToken(
                "the token is not bound to a key: send it as a bearer token".into(),
            ))
        }
    }
    let user = match claims.is_user() {
        true => {
            let sub = claims.sub.clone();
            let user = state.db.run(move |conn| active_user(conn, &sub)).await?;
            Some(user.ok_or_else(gone)?)
        }
        false => None,
    };
    Ok(Principal::access_token(&claims, user))
}

/// The user by id when they exist and are enabled.
fn active_user(conn: &mut crate::db::DbConnection, id: &str) -> Result<Option<User>, Error> {
    match users::get(conn, id) {
        Ok(u) if !u.disabled => Ok(Some(u)),
        Ok(_) | Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
