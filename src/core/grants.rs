//! Grants: a user's (or client's) authorization of a client for scopes, holding its refresh
//! token family. Revoking a grant makes every token issued under it inactive.

use diesel::prelude::*;

use super::{events, revocation, tokens, Error, Timestamp};
use crate::db::schema::{grants, refresh_tokens};
use crate::db::DbConnection;

/// A stored grant.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = grants)]
pub struct GrantRow {
    pub id: String,
    pub client_id: String,
    pub user_id: Option<String>,
    pub scope: String,
    /// JSON array of audiences.
    pub audience: Option<String>,
    pub session_id: Option<String>,
    pub auth_time: Option<Timestamp>,
    pub amr: Option<String>,
    pub nonce: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl GrantRow {
    /// The audiences tokens of this grant carry.
    pub fn audiences(&self) -> Vec<String> {
        self.audience
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok())
            .unwrap_or_default()
    }
}

/// What a new grant holds.
#[derive(Debug, Clone, Default)]
pub struct NewGrant {
    pub client_id: String,
    pub user_id: Option<String>,
    pub scope: String,
    pub audience: Vec<String>,
    pub session_id: Option<String>,
    pub auth_time: Option<Timestamp>,
    pub amr: Option<String>,
    pub nonce: Option<String>,
}

/// Stores a grant.
pub fn create(conn: &mut DbConnection, now: Timestamp, new: NewGrant) -> Result<GrantRow, Error> {
    let row = GrantRow {
        id: uuid::Uuid::new_v4().to_string(),
        client_id: new.client_id,
        user_id: new.user_id,
        scope: new.scope,
        audience: Some(serde_json::to_string(&new.audience).unwrap_or_default()),
        session_id: new.session_id,
        auth_time: new.auth_time,
        amr: new.amr,
        nonce: new.nonce,
        created_at: now,
        updated_at: now,
        revoked_at: None,
    };
    diesel::insert_into(grants::table)
        .values(&row)
        .execute(conn)?;
    Ok(row)
}

/// A grant by id.
pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<GrantRow>, Error> {
    Ok(grants::table
        .find(id)
        .select(GrantRow::as_select())
        .first(conn)
        .optional()?)
}

/// Revokes a grant: its refresh tokens die, and its access tokens are inactive on every node
/// (through the revocation log). Returns whether it was live.
pub fn revoke(
    conn: &mut DbConnection,
    now: Timestamp,
    id: &str,
    revocation_ttl: u64,
    reason: &'static str,
) -> Result<bool, Error> {
    crate::db::transaction(conn, |conn| {
        let n = diesel::update(
            grants::table
                .filter(grants::id.eq(id))
                .filter(grants::revoked_at.is_null()),
        )
        .set((grants::revoked_at.eq(Some(now)), grants::updated_at.eq(now)))
        .execute(conn)?;
        diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::grant_id.eq(id))
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::revoked_at.eq(Some(now)))
        .execute(conn)?;
        if n == 0 {
            return Ok(false);
        }
        revocation::record(
            conn,
            now,
            revocation::Kind::Grant,
            id,
            None,
            tokens::after(now, revocation_ttl),
        )?;
        let grant = get(conn, id)?;
        let mut event = events::NewEvent {
            kind: "grant.revoked",
            detail: Some(serde_json::json!({ "grant_id": id, "reason": reason })),
            ..Default::default()
        };
        if let Some(g) = grant {
            event.user_id = g.user_id;
            event.client_id = Some(g.client_id);
        }
        events::record(conn, now, event)?;
        Ok(true)
    })
}

/// Revokes every live grant of a user; returns how many.
pub fn revoke_all_of_user(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    revocation_ttl: u64,
    reason: &'static str,
) -> Result<usize, Error> {
    let ids: Vec<String> = grants::table
        .filter(grants::user_id.eq(user_id))
        .filter(grants::revoked_at.is_null())
        .select(grants::id)
        .load(conn)?;
    for id in &ids {
        revoke(conn, now, id, revocation_ttl, reason)?;
    }
    Ok(ids.len())
}
