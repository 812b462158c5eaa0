//! Remembered consent: which scopes a user granted a client. A request for scopes beyond them
//! asks again.

use diesel::prelude::*;

use super::{events, Error, Timestamp};
use crate::db::schema::consents;
use crate::db::DbConnection;

/// Whether the user already consented to every one of `scope` for the client.
pub fn covers(
    conn: &mut DbConnection,
    user_id: &str,
    client_id: &str,
    scope: &str,
) -> Result<bool, Error> {
    let granted: Option<String> = consents::table
        .find((user_id, client_id))
        .select(consents::scope)
        .first(conn)
        .optional()?;
    let Some(granted) = granted else {
        return Ok(false);
    };
    let granted: Vec<&str> = granted.split_whitespace().collect();
    Ok(scope.split_whitespace().all(|s| granted.contains(&s)))
}

/// Whether the user has consented to anything for the client.
pub fn any(conn: &mut DbConnection, user_id: &str, client_id: &str) -> Result<bool, Error> {
    let n: i64 = consents::table
        .find((user_id, client_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Records consent to `scope` (added to what was granted before).
pub fn grant(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    client_id: &str,
    scope: &str,
) -> Result<(), Error> {
    crate::db::transaction(conn, |conn| {
        let existing: Option<(String, Timestamp)> = consents::table
            .find((user_id, client_id))
            .select((consents::scope, consents::created_at))
            .first(conn)
            .optional()?;
        let mut all: Vec<String> = existing
            .as_ref()
            .map(|(s, _)| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        for s in scope.split_whitespace() {
            if !all.iter().any(|x| x == s) {
                all.push(s.to_owned());
            }
        }
        diesel::delete(consents::table.find((user_id, client_id))).execute(conn)?;
        diesel::insert_into(consents::table)
            .values((
                consents::user_id.eq(user_id),
                consents::client_id.eq(client_id),
                consents::scope.eq(all.join(" ")),
                consents::created_at.eq(existing.map(|e| e.1).unwrap_or(now)),
                consents::updated_at.eq(now),
            ))
            .execute(conn)?;
        let mut event = events::NewEvent::user("consent.granted", user_id);
        event.client_id = Some(client_id.to_owned());
        event.detail = Some(serde_json::json!({ "scope": scope }));
        events::record(conn, now, event)?;
        Ok(())
    })
}
