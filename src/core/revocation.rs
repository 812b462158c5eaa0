//! Revocation state of access tokens, which are never stored: revoked grants and token ids
//! (jti), and user and client cut-offs. Every change is written to the `revocations` log;
//! each node keeps the live entries in memory (`RevocationSet`) and polls the log, so a
//! revocation made anywhere is honoured everywhere within seconds.

use std::collections::HashMap;

use diesel::prelude::*;

use super::tokens::AccessClaims;
use super::{Error, Timestamp};
use crate::db::schema::{revocations, sessions, users};
use crate::db::DbConnection;

/// What a log entry revokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Every token of a grant.
    Grant,
    /// One access token.
    Jti,
    /// Every token of a user issued before `not_before`.
    User,
    /// Every token of a client issued before `not_before`.
    Client,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Grant => "grant",
            Kind::Jti => "jti",
            Kind::User => "user",
            Kind::Client => "client",
        }
    }
}

/// A log entry.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = revocations)]
pub struct RevocationRow {
    pub id: i64,
    pub kind: String,
    pub subject: String,
    pub not_before: Option<Timestamp>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Appends an entry. `expires_at` is when every token it could affect has expired.
pub fn record(
    conn: &mut DbConnection,
    now: Timestamp,
    kind: Kind,
    subject: &str,
    not_before: Option<Timestamp>,
    expires_at: Timestamp,
) -> Result<(), Error> {
    diesel::insert_into(revocations::table)
        .values((
            revocations::kind.eq(kind.as_str()),
            revocations::subject.eq(subject),
            revocations::not_before.eq(not_before),
            revocations::created_at.eq(now),
            revocations::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Entries still in force at `now` (a node's start).
pub fn live(conn: &mut DbConnection, now: Timestamp) -> Result<Vec<RevocationRow>, Error> {
    Ok(revocations::table
        .filter(revocations::expires_at.gt(now))
        .select(RevocationRow::as_select())
        .load(conn)?)
}

/// Entries written since `since` (a node's poll; callers overlap the windows so that entries
/// committed late are not missed).
pub fn since(conn: &mut DbConnection, since: Timestamp) -> Result<Vec<RevocationRow>, Error> {
    Ok(revocations::table
        .filter(revocations::created_at.ge(since))
        .select(RevocationRow::as_select())
        .load(conn)?)
}

/// Cuts off every token of a user issued before `now` (sessions end, grants and their refresh
/// tokens are revoked, access tokens become inactive); personal access tokens stay.
pub fn cut_off_user(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    revocation_ttl: u64,
    reason: &'static str,
) -> Result<(), Error> {
    crate::db::transaction(conn, |conn| {
        diesel::update(users::table.find(user_id))
            .set(users::tokens_valid_after.eq(Some(now)))
            .execute(conn)?;
        // The apps with a live grant are told, before the grants go (back-channel logout).
        super::backchannel::user_cut_off(conn, now, user_id)?;
        diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?;
        super::grants::revoke_all_of_user(conn, now, user_id, revocation_ttl, reason)?;
        // A device approved (not yet collected) must not get tokens after the cut-off.
        super::device::deny_all_of_user(conn, user_id)?;
        record(
            conn,
            now,
            Kind::User,
            user_id,
            Some(now),
            super::tokens::after(now, revocation_ttl),
        )
    })
}

fn millis(t: Timestamp) -> i64 {
    t.and_utc().timestamp_millis()
}

/// The live revocation entries, in memory. Checking a token is a few hash look-ups.
#[derive(Debug, Default, Clone)]
pub struct RevocationSet {
    grants: HashMap<String, Timestamp>,
    jtis: HashMap<String, Timestamp>,
    /// user id -> (cut-off in ms, entry expiry)
    users: HashMap<String, (i64, Timestamp)>,
    clients: HashMap<String, (i64, Timestamp)>,
}

impl RevocationSet {
    /// Adds an entry (idempotent; a later cut-off wins).
    pub fn apply(&mut self, row: &RevocationRow) {
        match row.kind.as_str() {
            "grant" => {
                self.grants.insert(row.subject.clone(), row.expires_at);
            }
            "jti" => {
                self.jtis.insert(row.subject.clone(), row.expires_at);
            }
            "user" | "client" => {
                let cut = millis(row.not_before.unwrap_or(row.created_at));
                let map = if row.kind == "user" {
                    &mut self.users
                } else {
                    &mut self.clients
                };
                let entry = map
                    .entry(row.subject.clone())
                    .or_insert((cut, row.expires_at));
                if cut >= entry.0 {
                    *entry = (cut, row.expires_at.max(entry.1));
                }
            }
            other => tracing::warn!(kind = other, "unknown revocation kind"),
        }
    }

    /// Drops entries that expired.
    pub fn prune(&mut self, now: Timestamp) {
        self.grants.retain(|_, e| *e > now);
        self.jtis.retain(|_, e| *e > now);
        self.users.retain(|_, (_, e)| *e > now);
        self.clients.retain(|_, (_, e)| *e > now);
    }

    /// Whether these claims are revoked: by jti, grant, or a cut-off after their issue time.
    pub fn revokes(&self, claims: &AccessClaims) -> bool {
        if self.jtis.contains_key(&claims.jti) {
            return true;
        }
        if let Some(gid) = &claims.gid {
            if self.grants.contains_key(gid) {
                return true;
            }
        }
        if let Some((cut, _)) = self.users.get(&claims.sub) {
            if claims.iat_ms < *cut {
                return true;
            }
        }
        if let Some((cut, _)) = self.clients.get(&claims.client_id) {
            if claims.iat_ms < *cut {
                return true;
            }
        }
        false
    }

    /// The client's cut-off (ms), if it was cut off (deleted).
    pub fn client_cut_off(&self, client_id: &str) -> Option<i64> {
        self.clients.get(client_id).map(|(cut, _)| *cut)
    }

    /// How many entries are held (for metrics and tests).
    pub fn len(&self) -> usize {
        self.grants.len() + self.jtis.len() + self.users.len() + self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
