//! People's accounts: creation with uniqueness rules, look-up by id, username or email,
//! listing and disabling.

use diesel::prelude::*;
use serde::Serialize;

use super::{events, validate, Error, Timestamp};
use crate::db::schema::users;
use crate::db::{is_unique_violation, DbConnection};

/// A user row. `password_hash` is never serialised.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub username: Option<String>,
    #[serde(skip)]
    pub username_key: Option<String>,
    pub email: String,
    #[serde(skip)]
    pub email_key: String,
    pub display_name: Option<String>,
    #[serde(skip)]
    pub password_hash: Option<String>,
    #[serde(serialize_with = "super::time::ser_opt")]
    pub email_verified_at: Option<Timestamp>,
    pub is_admin: bool,
    pub disabled: bool,
    pub address: Option<String>,
    pub entity_type: Option<String>,
    #[serde(skip)]
    pub tokens_valid_after: Option<Timestamp>,
    #[serde(serialize_with = "super::time::ser")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "super::time::ser")]
    pub updated_at: Timestamp,
}

/// What a new account needs. The password arrives already hashed (hashing is blocking work the
/// caller schedules).
#[derive(Debug, Default, Clone)]
pub struct NewUser {
    /// Chosen id (Mongoose `CreateUser`, CLI `--id`); a UUID v4 when `None`.
    pub id: Option<String>,
    pub email: String,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub verified: bool,
}

/// Validates the fields of a new account (everything but the password).
pub fn validate_new(new: &NewUser) -> Result<(), Error> {
    if let Some(id) = &new.id {
        validate::id("id", id)?;
    }
    validate::email(&new.email)?;
    if let Some(u) = &new.username {
        validate::username(u)?;
    }
    if let Some(n) = &new.display_name {
        validate::text("name", n, 200)?;
    }
    Ok(())
}

/// Creates an account. Ids, usernames and emails are unique (the last two case-insensitively),
/// and an id may not equal another account's username or the reverse, so that signing in with
/// "username, email or id" always names one account.
pub fn create(conn: &mut DbConnection, now: Timestamp, new: NewUser) -> Result<User, Error> {
    validate_new(&new)?;
    let id = new
        .id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let username_key = new.username.as_deref().map(str::to_lowercase);
    let email_key = new.email.to_lowercase();
    let user = User {
        id: id.clone(),
        username: new.username.clone(),
        username_key: username_key.clone(),
        email: new.email.clone(),
        email_key: email_key.clone(),
        display_name: new.display_name.clone(),
        password_hash: new.password_hash.clone(),
        email_verified_at: new.verified.then_some(now),
        is_admin: new.is_admin,
        disabled: false,
        address: None,
        entity_type: None,
        tokens_valid_after: None,
        created_at: now,
        updated_at: now,
    };
    conn.transaction(|conn| {
        let id_key = id.to_lowercase();
        let taken_id: i64 = users::table
            .filter(users::id.eq(&id).or(users::username_key.eq(&id_key)))
            .count()
            .get_result(conn)?;
        if taken_id > 0 {
            return Err(Error::Conflict("a user with this id already exists".into()));
        }
        if let Some(key) = &username_key {
            let taken: i64 = users::table
                .filter(
                    users::username_key
                        .eq(key)
                        .or(users::id.eq(new.username.as_deref().unwrap_or_default())),
                )
                .count()
                .get_result(conn)?;
            if taken > 0 {
                return Err(Error::Conflict("this username is taken".into()));
            }
        }
        let taken_email: i64 = users::table
            .filter(users::email_key.eq(&email_key))
            .count()
            .get_result(conn)?;
        if taken_email > 0 {
            return Err(Error::Conflict(
                "an account with this email already exists".into(),
            ));
        }
        diesel::insert_into(users::table)
            .values(&user)
            .execute(conn)
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::Conflict("this id, username or email is taken".into())
                } else {
                    e.into()
                }
            })?;
        events::record(conn, now, events::NewEvent::user("user.created", &id))?;
        Ok(user)
    })
}

/// A user by id.
pub fn get(conn: &mut DbConnection, id: &str) -> Result<User, Error> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("user"))
}

/// The user a sign-in name refers to: an id, a username or an email (case-insensitive for the
/// last two). `None` when there is none.
pub fn find_by_login(conn: &mut DbConnection, login: &str) -> Result<Option<User>, Error> {
    let key = login.to_lowercase();
    Ok(users::table
        .filter(
            users::id
                .eq(login)
                .or(users::username_key.eq(&key))
                .or(users::email_key.eq(&key)),
        )
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

/// Users, oldest first, `limit` from `offset`.
pub fn list(conn: &mut DbConnection, limit: i64, offset: i64) -> Result<Vec<User>, Error> {
    Ok(users::table
        .order((users::created_at.asc(), users::id.asc()))
        .limit(limit)
        .offset(offset)
        .select(User::as_select())
        .load(conn)?)
}

/// Disables (or re-enables) an account. Disabling ends its sessions and cuts off every token
/// issued before now (see `revocation::cut_off_user`).
pub fn set_disabled(
    conn: &mut DbConnection,
    now: Timestamp,
    id: &str,
    disabled: bool,
    revocation_ttl: u64,
) -> Result<User, Error> {
    conn.transaction(|conn| {
        let n = diesel::update(users::table.find(id))
            .set((users::disabled.eq(disabled), users::updated_at.eq(now)))
            .execute(conn)?;
        if n == 0 {
            return Err(Error::NotFound("user"));
        }
        if disabled {
            super::revocation::cut_off_user(conn, now, id, revocation_ttl, "user_disabled")?;
        }
        let kind = if disabled {
            "user.disabled"
        } else {
            "user.enabled"
        };
        events::record(conn, now, events::NewEvent::user(kind, id))?;
        get(conn, id)
    })
}
