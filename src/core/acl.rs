//! Access-control rules for Mongoose `Auth.AuthorizeCommand`: a subject may send commands
//! matching a glob to a target (or to `*`, every target).

use diesel::prelude::*;
use serde::Serialize;

use super::{events, validate, Error, Timestamp};
use crate::db::schema::acl_rules;
use crate::db::DbConnection;

/// One rule.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = acl_rules)]
pub struct AclRule {
    pub id: String,
    pub subject: String,
    pub target: String,
    pub command: String,
    #[serde(skip)]
    pub created_at: Timestamp,
}

/// Adds a rule after validating its parts.
pub fn add(
    conn: &mut DbConnection,
    now: Timestamp,
    subject: &str,
    target: &str,
    command: &str,
) -> Result<AclRule, Error> {
    validate::id("subject", subject)?;
    if target != "*" {
        validate::id("target", target)?;
    }
    if command.is_empty()
        || command.len() > 128
        || !command
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'*' | b'/'))
    {
        return Err(Error::invalid(
            "command",
            "must be a command name or glob such as Sys.* (letters, digits, . _ - / *)",
        ));
    }
    let rule = AclRule {
        id: uuid::Uuid::new_v4().to_string(),
        subject: subject.to_owned(),
        target: target.to_owned(),
        command: command.to_owned(),
        created_at: now,
    };
    diesel::insert_into(acl_rules::table)
        .values(&rule)
        .execute(conn)?;
    events::record(
        conn,
        now,
        events::NewEvent {
            kind: "acl.added",
            detail: Some(serde_json::json!({
                "id": rule.id, "subject": subject, "target": target, "command": command
            })),
            ..Default::default()
        },
    )?;
    Ok(rule)
}

/// Every rule, oldest first.
pub fn list(conn: &mut DbConnection) -> Result<Vec<AclRule>, Error> {
    Ok(acl_rules::table
        .order((acl_rules::created_at.asc(), acl_rules::id.asc()))
        .select(AclRule::as_select())
        .load(conn)?)
}

/// Removes a rule by id.
pub fn remove(conn: &mut DbConnection, now: Timestamp, id: &str) -> Result<(), Error> {
    let n = diesel::delete(acl_rules::table.find(id)).execute(conn)?;
    if n == 0 {
        return Err(Error::NotFound("ACL rule"));
    }
    events::record(
        conn,
        now,
        events::NewEvent {
            kind: "acl.removed",
            detail: Some(serde_json::json!({ "id": id })),
            ..Default::default()
        },
    )?;
    Ok(())
}

/// Whether a command name matches a glob where `*` stands for any run of characters.
pub fn glob_matches(glob: &str, command: &str) -> bool {
    let (g, c) = (glob.as_bytes(), command.as_bytes());
    let (mut gi, mut ci, mut star, mut mark) = (0, 0, None, 0);
    while ci < c.len() {
        if gi < g.len() && g[gi] == b'*' {
            star = Some(gi);
            mark = ci;
            gi += 1;
        } else if gi < g.len() && g[gi] == c[ci] {
            gi += 1;
            ci += 1;
        } else if let Some(s) = star {
            gi = s + 1;
            mark += 1;
            ci = mark;
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|&b| b == b'*')
}

/// Whether `src` may send `cmd` to `dst` (Mongoose `Auth.AuthorizeCommand`): itself, a
/// device it owns, or an ACL rule for `dst` (or `*`) whose glob matches the command.
pub fn authorize_command(
    conn: &mut DbConnection,
    src: &str,
    dst: &str,
    cmd: &str,
) -> Result<bool, Error> {
    if src == dst {
        return Ok(true);
    }
    use crate::db::schema::clients;
    let owns: i64 = clients::table
        .filter(clients::id.eq(dst))
        .filter(clients::owner_id.eq(src))
        .count()
        .get_result(conn)?;
    if owns > 0 {
        return Ok(true);
    }
    let globs: Vec<String> = acl_rules::table
        .filter(acl_rules::subject.eq(src))
        .filter(acl_rules::target.eq(dst).or(acl_rules::target.eq("*")))
        .select(acl_rules::command)
        .load(conn)?;
    Ok(globs.iter().any(|g| glob_matches(g, cmd)))
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn globs() {
        assert!(glob_matches("Sys.*", "Sys.Reboot"));
        assert!(glob_matches("*", "anything"));
        assert!(glob_matches("Sys.Reboot", "Sys.Reboot"));
        assert!(!glob_matches("Sys.*", "Config.Set"));
        assert!(glob_matches("*.Get*", "Config.GetAll"));
        assert!(!glob_matches("Sys.Reboot", "Sys.Reboo"));
    }
}
