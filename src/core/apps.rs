//! Mongoose OS app tokens (`Auth.GenerateToken` and friends): a user's grant for an app,
//! identified by its host name, whose access tokens carry the host as audience. The grants
//! belong to one internal client, created on first use.

use diesel::prelude::*;

use super::grants::{self, GrantRow, NewGrant};
use super::oauth::Ctx;
use super::tokens::{sign_access_token, AccessTokenRequest, SignedToken};
use super::{Error, Timestamp};
use crate::db::schema::grants as grants_t;
use crate::db::DbConnection;

/// The internal client that holds app grants.
pub const APPS_CLIENT: &str = "mongoose-apps";

/// Validates an app host name (`name`, `name.example`, `host:port`).
pub fn validate_host(host: &str) -> Result<(), Error> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("host", "must be a host name"))
    }
}

fn ensure_client(conn: &mut DbConnection, now: Timestamp) -> Result<(), Error> {
    super::clients::ensure_internal(conn, now, APPS_CLIENT, "Mongoose OS apps", &[], "").map(|_| ())
}

fn audience(host: &str) -> String {
    serde_json::to_string(&[host]).unwrap_or_default()
}

fn live(conn: &mut DbConnection, user_id: &str, host: &str) -> Result<Option<GrantRow>, Error> {
    Ok(grants_t::table
        .filter(grants_t::user_id.eq(user_id))
        .filter(grants_t::client_id.eq(APPS_CLIENT))
        .filter(grants_t::audience.eq(audience(host)))
        .filter(grants_t::revoked_at.is_null())
        .order(grants_t::created_at.desc())
        .select(GrantRow::as_select())
        .first(conn)
        .optional()?)
}

fn token(ctx: &Ctx, grant: &GrantRow, host: &str) -> Result<SignedToken, Error> {
    sign_access_token(
        ctx.keys,
        ctx.config.issuer(),
        ctx.now,
        AccessTokenRequest {
            sub: grant.user_id.clone().unwrap_or_default(),
            client_id: APPS_CLIENT.into(),
            scope: String::new(),
            audience: vec![host.to_owned()],
            grant_id: Some(grant.id.clone()),
            auth_time: None,
            amr: None,
            ttl: ctx.access_ttl,
            jkt: None,
            act: None,
        },
    )
}

/// Records (or reuses) the user's grant for the app and returns a token for it.
pub fn generate(
    conn: &mut DbConnection,
    ctx: &Ctx,
    user_id: &str,
    host: &str,
) -> Result<SignedToken, Error> {
    validate_host(host)?;
    ensure_client(conn, ctx.now)?;
    let grant = match live(conn, user_id, host)? {
        Some(g) => g,
        None => {
            let g = grants::create(
                conn,
                ctx.now,
                NewGrant {
                    client_id: APPS_CLIENT.into(),
                    user_id: Some(user_id.to_owned()),
                    audience: vec![host.to_owned()],
                    ..Default::default()
                },
            )?;
            super::events::record(
                conn,
                ctx.now,
                super::events::NewEvent::user("app_token.granted", user_id)
                    .with_detail(serde_json::json!({ "host": host })),
            )?;
            g
        }
    };
    token(ctx, &grant, host)
}

/// A fresh token under the existing grant (`NotFound` without one).
pub fn get(
    conn: &mut DbConnection,
    ctx: &Ctx,
    user_id: &str,
    host: &str,
) -> Result<SignedToken, Error> {
    validate_host(host)?;
    let grant = live(conn, user_id, host)?.ok_or(Error::NotFound("token for this host"))?;
    token(ctx, &grant, host)
}

/// The hosts the user granted, with when.
pub fn list(conn: &mut DbConnection, user_id: &str) -> Result<Vec<(String, Timestamp)>, Error> {
    let rows: Vec<GrantRow> = grants_t::table
        .filter(grants_t::user_id.eq(user_id))
        .filter(grants_t::client_id.eq(APPS_CLIENT))
        .filter(grants_t::revoked_at.is_null())
        .order(grants_t::created_at.asc())
        .select(GrantRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|g| g.audiences().into_iter().next().map(|h| (h, g.created_at)))
        .collect())
}

/// Revokes the user's grant for the app and every token under it (`NotFound` without one).
pub fn revoke(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    host: &str,
    revocation_ttl: u64,
) -> Result<(), Error> {
    validate_host(host)?;
    let mut any = false;
    while let Some(g) = live(conn, user_id, host)? {
        grants::revoke(conn, now, &g.id, revocation_ttl, "app_token_revoked")?;
        any = true;
    }
    if any {
        Ok(())
    } else {
        Err(Error::NotFound("token for this host"))
    }
}
