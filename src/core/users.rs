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
    /// E.164 (`+` and digits), OIDC's `phone_number`.
    pub phone_number: Option<String>,
    pub phone_number_verified: bool,
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
    /// In international form; stored as E.164 ([`validate::phone`]).
    pub phone_number: Option<String>,
    pub phone_verified: bool,
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
    if let Some(p) = &new.phone_number {
        validate::phone(p)?;
    }
    if new.phone_verified && new.phone_number.is_none() {
        return Err(Error::invalid(
            "phone_number_verified",
            "there is no phone number to mark verified",
        ));
    }
    Ok(())
}

/// Creates an account. Ids, usernames and emails are unique (the last two case-insensitively),
/// and an id may not equal another account's username or the reverse, so that signing in with
/// "username, email or id" always names one account.
pub fn create(conn: &mut DbConnection, now: Timestamp, new: NewUser) -> Result<User, Error> {
    validate_new(&new)?;
    let phone = new
        .phone_number
        .as_deref()
        .map(validate::phone)
        .transpose()?;
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
        phone_number: phone.clone(),
        phone_number_verified: phone.is_some() && new.phone_verified,
    };
    crate::db::transaction(conn, |conn| {
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
        super::ids::claim(conn, &id, super::ids::Kind::User)?;
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

/// Stores a new hash of the user's current password (argon2 parameters changed).
pub fn set_password_hash(conn: &mut DbConnection, id: &str, hash: &str) -> Result<(), Error> {
    diesel::update(users::table.find(id))
        .set(users::password_hash.eq(Some(hash)))
        .execute(conn)?;
    Ok(())
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

/// The user with this id, or else (no id given) this username, case-insensitive.
pub fn find_by_id_or_username(
    conn: &mut DbConnection,
    id: Option<&str>,
    username: Option<&str>,
) -> Result<Option<User>, Error> {
    let query = users::table.select(User::as_select());
    Ok(match (id, username) {
        (Some(id), _) => query.filter(users::id.eq(id)).first(conn).optional()?,
        (None, Some(name)) => query
            .filter(users::username_key.eq(name.to_lowercase()))
            .first(conn)
            .optional()?,
        (None, None) => None,
    })
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
    crate::db::transaction(conn, |conn| {
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

/// Lets a user locked out by wrong passwords sign in again at once: forgets the wrong
/// passwords counted against the account in its current window (`window` seconds). Returns
/// the user and how many were forgotten.
pub fn unlock(
    conn: &mut DbConnection,
    now: Timestamp,
    id: &str,
    window: u64,
) -> Result<(User, i32), Error> {
    crate::db::transaction(conn, |conn| {
        let user = get(conn, id)?;
        let forgotten =
            super::throttle::forget(conn, now, &super::throttle::account_key(id), window)?;
        // Wrong second-factor codes lock out the same way.
        let second = super::throttle::account_key(&super::factors::throttle_account(id));
        let forgotten = forgotten + super::throttle::forget(conn, now, &second, window)?;
        let day = super::throttle::account_key(&super::factors::throttle_day(id));
        let forgotten = forgotten + super::throttle::forget(conn, now, &day, 86_400)?;
        events::record(
            conn,
            now,
            events::NewEvent::user("user.unlocked", id)
                .with_detail(serde_json::json!({ "wrong_passwords_forgotten": forgotten })),
        )?;
        Ok((user, forgotten))
    })
}

/// Users whose id, username or email contains `q` (case-insensitive), oldest first, with the
/// total count of matches.
pub fn search(
    conn: &mut DbConnection,
    q: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<User>, i64), Error> {
    let pattern = q.map(|q| {
        format!(
            "%{}%",
            q.to_lowercase().replace('%', "\\%").replace('_', "\\_")
        )
    });
    let filtered = || {
        let mut query = users::table.into_boxed();
        if let Some(p) = &pattern {
            query = query.filter(
                users::email_key
                    .like(p.clone())
                    .or(users::username_key.like(p.clone()))
                    .or(users::id.like(p.clone())),
            );
        }
        query
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let list = filtered()
        .order((users::created_at.asc(), users::id.asc()))
        .limit(limit)
        .offset(offset)
        .select(User::as_select())
        .load(conn)?;
    Ok((list, total))
}

/// What an admin may change (absent fields stay).
#[derive(Debug, Default, Clone)]
pub struct UserUpdate {
    pub email: Option<String>,
    /// `Some(None)` removes the username.
    pub username: Option<Option<String>>,
    pub display_name: Option<Option<String>>,
    pub is_admin: Option<bool>,
    pub verified: Option<bool>,
    pub entity_type: Option<Option<String>>,
    /// `Some(None)` removes the number; a new number is unverified unless `phone_verified`.
    pub phone_number: Option<Option<String>>,
    pub phone_verified: Option<bool>,
}

/// Applies an admin's changes, keeping usernames and emails unique.
pub fn update(
    conn: &mut DbConnection,
    now: Timestamp,
    id: &str,
    u: UserUpdate,
) -> Result<User, Error> {
    if let Some(e) = &u.email {
        validate::email(e)?;
    }
    if let Some(Some(name)) = &u.username {
        validate::username(name)?;
    }
    if let Some(Some(n)) = &u.display_name {
        validate::text("name", n, 200)?;
    }
    if let Some(Some(t)) = &u.entity_type {
        validate::text("entity_type", t, 64)?;
    }
    let phone: Option<Option<String>> = match &u.phone_number {
        Some(Some(p)) => Some(Some(validate::phone(p)?)),
        Some(None) => Some(None),
        None => None,
    };
    crate::db::transaction(conn, |conn| {
        let current = get(conn, id)?;
        if let Some(email) = &u.email {
            let key = email.to_lowercase();
            if key != current.email_key {
                let taken: i64 = users::table
                    .filter(users::email_key.eq(&key))
                    .count()
                    .get_result(conn)?;
                if taken > 0 {
                    return Err(Error::Conflict(
                        "an account with this email already exists".into(),
                    ));
                }
            }
            diesel::update(users::table.find(id))
                .set((users::email.eq(email), users::email_key.eq(&key)))
                .execute(conn)?;
            if key != current.email_key && u.verified.is_none() {
                diesel::update(users::table.find(id))
                    .set(users::email_verified_at.eq(None::<Timestamp>))
                    .execute(conn)?;
            }
        }
        if let Some(name) = &u.username {
            let key = name.as_deref().map(str::to_lowercase);
            if let Some(k) = &key {
                let taken: i64 = users::table
                    .filter(
                        users::username_key
                            .eq(k)
                            .or(users::id.eq(name.as_deref().unwrap_or_default())),
                    )
                    .filter(users::id.ne(id))
                    .count()
                    .get_result(conn)?;
                if taken > 0 {
                    return Err(Error::Conflict("this username is taken".into()));
                }
            }
            diesel::update(users::table.find(id))
                .set((
                    users::username.eq(name.as_deref()),
                    users::username_key.eq(key),
                ))
                .execute(conn)?;
        }
        if let Some(n) = &u.display_name {
            diesel::update(users::table.find(id))
                .set(users::display_name.eq(n.as_deref()))
                .execute(conn)?;
        }
        if let Some(t) = &u.entity_type {
            diesel::update(users::table.find(id))
                .set(users::entity_type.eq(t.as_deref()))
                .execute(conn)?;
        }
        if let Some(a) = u.is_admin {
            diesel::update(users::table.find(id))
                .set(users::is_admin.eq(a))
                .execute(conn)?;
        }
        if let Some(v) = u.verified {
            let at = if v {
                current.email_verified_at.or(Some(now))
            } else {
                None
            };
            diesel::update(users::table.find(id))
                .set(users::email_verified_at.eq(at))
                .execute(conn)?;
        }
        if let Some(number) = &phone {
            if *number != current.phone_number {
                diesel::update(users::table.find(id))
                    .set((
                        users::phone_number.eq(number.as_deref()),
                        users::phone_number_verified.eq(false),
                    ))
                    .execute(conn)?;
            }
        }
        if let Some(v) = u.phone_verified {
            let has_number = match &phone {
                Some(n) => n.is_some(),
                None => current.phone_number.is_some(),
            };
            if v && !has_number {
                return Err(Error::invalid(
                    "phone_number_verified",
                    "there is no phone number to mark verified",
                ));
            }
            diesel::update(users::table.find(id))
                .set(users::phone_number_verified.eq(v))
                .execute(conn)?;
        }
        diesel::update(users::table.find(id))
            .set(users::updated_at.eq(now))
            .execute(conn)?;
        events::record(conn, now, events::NewEvent::user("user.updated", id))?;
        get(conn, id)
    })
}

/// Deletes an account and everything it owns; its access tokens stop working everywhere.
pub fn delete(
    conn: &mut DbConnection,
    now: Timestamp,
    id: &str,
    revocation_ttl: u64,
) -> Result<(), Error> {
    crate::db::transaction(conn, |conn| {
        get(conn, id)?;
        super::revocation::cut_off_user(conn, now, id, revocation_ttl, "user_deleted")?;
        diesel::delete(users::table.find(id)).execute(conn)?;
        super::ids::release(conn, id)?;
        events::record(conn, now, events::NewEvent::user("user.deleted", id))?;
        Ok(())
    })
}
