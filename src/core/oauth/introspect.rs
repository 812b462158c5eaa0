//! RFC 7662 answers for the three token kinds. Access tokens are verified by the caller
//! (signature, expiry, revocation set); opaque tokens are looked up here.

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::core::tokens::{pat, refresh, AccessClaims, Audience, Confirmation};
use crate::core::{grants, users, Error, Timestamp};
use crate::db::schema::users as users_table;
use crate::db::DbConnection;

/// The name introspection reports for a user: the username, or the email when there is none.
/// `None` when the user is gone or disabled (their tokens are inactive).
pub fn username(conn: &mut DbConnection, user_id: &str) -> Result<Option<String>, Error> {
    let found: Option<(Option<String>, String, bool)> = users_table::table
        .find(user_id)
        .select((
            users_table::username,
            users_table::email,
            users_table::disabled,
        ))
        .first(conn)
        .optional()?;
    Ok(match found {
        Some((_, _, true)) | None => None,
        Some((username, email, false)) => Some(username.unwrap_or(email)),
    })
}

/// An RFC 7662 answer: an access token's, a personal access token's, a refresh token's, or
/// `{"active": false}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Introspection {
    Access(AccessAnswer),
    Pat(PatAnswer),
    Refresh(RefreshAnswer),
    Inactive(Inactive),
}

/// The answer for a verified, unrevoked access token; `username` when it acts for a user.
// Serialised straight from the claims: introspection is a hot path. `username` is the user's
// (see `username`), `None` for a client acting for itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessAnswer {
    active: bool,
    sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    scope: String,
    client_id: String,
    /// `DPoP` for a token bound to a key (then `cnf` names the key), `Bearer` otherwise.
    #[schema(pattern = "^(Bearer|DPoP)$")]
    token_type: &'static str,
    exp: i64,
    iat: i64,
    iss: String,
    aud: Audience,
    jti: String,
    /// The key a DPoP-bound token is bound to (RFC 9449 §6.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<Confirmation>,
    /// Who acts for the subject (RFC 8693 §4.1), for a token of a token exchange.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    act: Option<serde_json::Value>,
    /// How the user authenticated (RFC 8176), for a token of a sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    amr: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<String>,
}

/// The answer for a personal access token.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatAnswer {
    active: bool,
    #[schema(pattern = "^pat$")]
    token_type: &'static str,
    scope: String,
    sub: String,
    username: String,
    iat: i64,
    iss: String,
    /// Absent for a token that does not expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
}

/// The answer for a refresh token, to the client it was issued to; `sub` and `username` when
/// it acts for a user. Its audience is this server (the one place it can be used); `jti` is
/// the token's record id, never the token.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefreshAnswer {
    active: bool,
    #[schema(pattern = "^refresh_token$")]
    token_type: &'static str,
    scope: String,
    client_id: String,
    exp: i64,
    iat: i64,
    iss: String,
    aud: String,
    jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    /// The key a public client's DPoP-bound refresh token is bound to.
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<Confirmation>,
}

/// `{"active": false}` and nothing more (RFC 7662 §2.2).
#[derive(Debug, Serialize, ToSchema)]
#[schema(max_properties = 1)]
pub struct Inactive {
    active: bool,
}

/// The answer for a verified, unrevoked access token.
pub fn access_token(claims: AccessClaims, username: Option<String>) -> AccessAnswer {
    AccessAnswer {
        token_type: claims.token_type(),
        active: true,
        sub: claims.sub,
        username,
        scope: claims.scope,
        client_id: claims.client_id,
        exp: claims.exp,
        iat: claims.iat,
        iss: claims.iss,
        aud: claims.aud,
        jti: claims.jti,
        cnf: claims.cnf,
        act: claims.act,
        amr: claims.amr,
        acr: claims.acr,
    }
}

/// The answer for an opaque token: a personal access token, or a refresh token when `caller`
/// is the client it was issued to (SPEC §9; to any other client it is inactive).
pub fn opaque(
    conn: &mut DbConnection,
    now: Timestamp,
    issuer: &str,
    caller: &str,
    token: &str,
) -> Result<Introspection, Error> {
    if pat::looks_like_pat(token) {
        let Some(p) = pat::verify(conn, now, token)? else {
            return Ok(inactive());
        };
        let Some(name) = username(conn, &p.user_id)? else {
            return Ok(inactive());
        };
        return Ok(Introspection::Pat(PatAnswer {
            active: true,
            token_type: "pat",
            scope: p.scope,
            sub: p.user_id,
            username: name,
            iat: p.created_at.and_utc().timestamp(),
            iss: issuer.to_owned(),
            exp: p.expires_at.map(|exp| exp.and_utc().timestamp()),
        }));
    }
    let Some(row) = refresh::find(conn, token)? else {
        return Ok(inactive());
    };
    if refresh::usable(conn, &row, now)?.is_err() {
        return Ok(inactive());
    }
    let Some(g) = grants::get(conn, &row.grant_id)?.filter(|g| g.client_id == caller) else {
        return Ok(inactive());
    };
    let mut out = RefreshAnswer {
        active: true,
        token_type: "refresh_token",
        scope: row.scope,
        client_id: g.client_id,
        exp: row.expires_at.and_utc().timestamp(),
        iat: row.created_at.and_utc().timestamp(),
        iss: issuer.to_owned(),
        aud: issuer.to_owned(),
        jti: row.id.clone(),
        sub: None,
        username: None,
        cnf: row.dpop_jkt.clone().map(|jkt| Confirmation { jkt }),
    };
    if let Some(uid) = g.user_id {
        let user = users::get(conn, &uid)?;
        if user.disabled {
            return Ok(inactive());
        }
        out.sub = Some(uid);
        out.username = Some(user.username.unwrap_or(user.email));
    }
    Ok(Introspection::Refresh(out))
}

/// `{"active": false}` and nothing more (RFC 7662 §2.2).
pub fn inactive() -> Introspection {
    Introspection::Inactive(Inactive { active: false })
}
