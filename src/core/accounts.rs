//! Self-service operations on a person's own account: registration, email verification,
//! password change and reset (with the revocations of SPEC §8), profile and email changes,
//! sessions, personal access tokens and authorized apps. Every action records its event.

use diesel::prelude::*;
use serde::Serialize;

use super::onetime::{self, RESET_PASSWORD, VERIFY_EMAIL};
use super::sessions::SessionRow;
use super::tokens::pat;
use super::users::{self, User};
use super::{events, grants, revocation, validate, Error, Timestamp};
use crate::db::schema::{clients, consents, grants as grants_t, sessions, users as users_t};
use crate::db::{is_unique_violation, DbConnection};

/// A link was unknown, used or expired.
fn bad_link() -> Error {
    Error::InvalidGrant("the link is invalid, was already used, or has expired".into())
}

/// Creates a verification token for the user's current address.
pub fn start_verification(
    conn: &mut DbConnection,
    now: Timestamp,
    user: &User,
    ttl: u64,
) -> Result<String, Error> {
    let token = onetime::create(
        conn,
        now,
        &user.id,
        VERIFY_EMAIL,
        ttl,
        Some(&user.email_key),
    )?;
    events::record(
        conn,
        now,
        events::NewEvent::user("email.verification_sent", &user.id),
    )?;
    Ok(token)
}

/// Verifies an address with a token from its email (the address must not have changed since).
pub fn verify_email(conn: &mut DbConnection, now: Timestamp, token: &str) -> Result<User, Error> {
    crate::db::transaction(conn, |conn| {
        let (user_id, address) =
            onetime::consume(conn, now, token, VERIFY_EMAIL)?.ok_or_else(bad_link)?;
        let user = users::get(conn, &user_id)?;
        if address.as_deref() != Some(user.email_key.as_str()) {
            return Err(bad_link());
        }
        diesel::update(users_t::table.find(&user_id))
            .set((
                users_t::email_verified_at.eq(Some(now)),
                users_t::updated_at.eq(now),
            ))
            .execute(conn)?;
        events::record(
            conn,
            now,
            events::NewEvent::user("email.verified", &user_id),
        )?;
        users::get(conn, &user_id)
    })
}

/// Verifies an address for a named user (Bloq's `PUT /users/{id}/token/{token}`): the token
/// must be that user's.
pub fn verify_email_for(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    token: &str,
) -> Result<User, Error> {
    match onetime::peek(conn, now, token, VERIFY_EMAIL)? {
        Some(owner) if owner == user_id => verify_email(conn, now, token),
        _ => Err(bad_link()),
    }
}

/// A reset token for the account with this email, when there is a usable one (`None`
/// otherwise: the caller answers the same either way).
pub fn request_reset(
    conn: &mut DbConnection,
    now: Timestamp,
    email: &str,
    ttl: u64,
) -> Result<Option<(User, String)>, Error> {
    let user: Option<User> = users_t::table
        .filter(users_t::email_key.eq(email.trim().to_lowercase()))
        .select(User::as_select())
        .first(conn)
        .optional()?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        return Ok(None);
    };
    let token = onetime::create(conn, now, &user.id, RESET_PASSWORD, ttl, None)?;
    events::record(
        conn,
        now,
        events::NewEvent::user("password.reset_requested", &user.id),
    )?;
    Ok(Some((user, token)))
}

/// The user a live reset token belongs to (to show the form without spending it).
pub fn reset_token_user(
    conn: &mut DbConnection,
    now: Timestamp,
    token: &str,
) -> Result<Option<String>, Error> {
    onetime::peek(conn, now, token, RESET_PASSWORD)
}

fn set_password(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    hash: &str,
) -> Result<(), Error> {
    let n = diesel::update(users_t::table.find(user_id))
        .set((
            users_t::password_hash.eq(Some(hash)),
            users_t::updated_at.eq(now),
        ))
        .execute(conn)?;
    if n == 0 {
        return Err(Error::NotFound("user"));
    }
    Ok(())
}

/// Resets a password with a token: every session, refresh token and access token issued
/// before now is revoked (personal access tokens stay), and other reset links die.
pub fn reset_password(
    conn: &mut DbConnection,
    now: Timestamp,
    token: &str,
    new_hash: &str,
    revocation_ttl: u64,
) -> Result<User, Error> {
    crate::db::transaction(conn, |conn| {
        let (user_id, _) =
            onetime::consume(conn, now, token, RESET_PASSWORD)?.ok_or_else(bad_link)?;
        set_password(conn, now, &user_id, new_hash)?;
        onetime::void_all(conn, now, &user_id, RESET_PASSWORD)?;
        revocation::cut_off_user(conn, now, &user_id, revocation_ttl, "password_reset")?;
        events::record(
            conn,
            now,
            events::NewEvent::user("password.reset", &user_id),
        )?;
        users::get(conn, &user_id)
    })
}

/// Changes a password (the caller checked the current one): revokes as a reset does.
pub fn change_password(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    new_hash: &str,
    revocation_ttl: u64,
) -> Result<(), Error> {
    crate::db::transaction(conn, |conn| {
        set_password(conn, now, user_id, new_hash)?;
        revocation::cut_off_user(conn, now, user_id, revocation_ttl, "password_changed")?;
        events::record(
            conn,
            now,
            events::NewEvent::user("password.changed", user_id),
        )?;
        Ok(())
    })
}

/// An OIDC address (all parts optional).
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct Address {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl Address {
    /// Whether every part is empty.
    pub fn is_empty(&self) -> bool {
        *self == Address::default()
    }

    fn validate(&self) -> Result<(), Error> {
        for v in [
            &self.street_address,
            &self.locality,
            &self.region,
            &self.postal_code,
            &self.country,
        ]
        .into_iter()
        .flatten()
        {
            validate::text("address", v, 200)?;
        }
        Ok(())
    }
}

/// What a person edits about themselves on the account page.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub display_name: Option<String>,
    pub address: Address,
    /// International form; stored as E.164 ([`validate::phone`]).
    pub phone_number: Option<String>,
}

/// Updates the display name, address and phone number. A changed number is unverified.
pub fn update_profile(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    profile: &Profile,
) -> Result<User, Error> {
    if let Some(n) = &profile.display_name {
        validate::text("name", n, 200)?;
    }
    profile.address.validate()?;
    let phone = profile
        .phone_number
        .as_deref()
        .map(validate::phone)
        .transpose()?;
    let address_json = (!profile.address.is_empty())
        .then(|| serde_json::to_string(&profile.address).unwrap_or_default());
    crate::db::transaction(conn, |conn| {
        let current = users::get(conn, user_id)?;
        diesel::update(users_t::table.find(user_id))
            .set((
                users_t::display_name.eq(profile.display_name.as_deref()),
                users_t::address.eq(&address_json),
                users_t::updated_at.eq(now),
            ))
            .execute(conn)?;
        if phone != current.phone_number {
            diesel::update(users_t::table.find(user_id))
                .set((
                    users_t::phone_number.eq(&phone),
                    users_t::phone_number_verified.eq(false),
                ))
                .execute(conn)?;
        }
        events::record(
            conn,
            now,
            events::NewEvent::user("profile.updated", user_id),
        )?;
        users::get(conn, user_id)
    })
}

/// Changes the email address; the new one is unverified until its link is followed.
pub fn change_email(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    email: &str,
) -> Result<User, Error> {
    let email = email.trim();
    validate::email(email)?;
    let key = email.to_lowercase();
    crate::db::transaction(conn, |conn| {
        let current = users::get(conn, user_id)?;
        if current.email_key == key {
            if current.email != email {
                diesel::update(users_t::table.find(user_id))
                    .set(users_t::email.eq(email))
                    .execute(conn)?;
            }
            return users::get(conn, user_id);
        }
        let taken: i64 = users_t::table
            .filter(users_t::email_key.eq(&key))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Err(Error::Conflict(
                "an account with this email already exists".into(),
            ));
        }
        diesel::update(users_t::table.find(user_id))
            .set((
                users_t::email.eq(email),
                users_t::email_key.eq(&key),
                users_t::email_verified_at.eq(None::<Timestamp>),
                users_t::updated_at.eq(now),
            ))
            .execute(conn)
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::Conflict("an account with this email already exists".into())
                } else {
                    e.into()
                }
            })?;
        onetime::void_all(conn, now, user_id, VERIFY_EMAIL)?;
        events::record(conn, now, events::NewEvent::user("email.changed", user_id))?;
        users::get(conn, user_id)
    })
}

/// Ends every session and revokes every token, personal access tokens included.
pub fn sign_out_everywhere(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    revocation_ttl: u64,
) -> Result<(), Error> {
    crate::db::transaction(conn, |conn| {
        revocation::cut_off_user(conn, now, user_id, revocation_ttl, "signed_out_everywhere")?;
        pat::revoke_all(conn, now, user_id)?;
        events::record(
            conn,
            now,
            events::NewEvent::user("session.ended_everywhere", user_id),
        )?;
        Ok(())
    })
}

/// The user's live sessions, newest first.
pub fn sessions(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
) -> Result<Vec<SessionRow>, Error> {
    Ok(sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::expires_at.gt(now))
        .order(sessions::created_at.desc())
        .select(SessionRow::as_select())
        .load(conn)?)
}

/// Ends one of the user's sessions by its public id.
pub fn end_session(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    sid: &str,
) -> Result<(), Error> {
    let n = diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::sid.eq(sid)),
    )
    .execute(conn)?;
    if n == 0 {
        return Err(Error::NotFound("session"));
    }
    events::record(
        conn,
        now,
        events::NewEvent::user("session.ended", user_id)
            .with_detail(serde_json::json!({ "sid": sid })),
    )?;
    super::backchannel::sessions_ended(conn, now, user_id, &[sid.to_owned()])?;
    Ok(())
}

/// An application the user authorized.
#[derive(Debug, Clone, Serialize)]
pub struct AuthorizedApp {
    pub client_id: String,
    pub name: String,
    pub scope: String,
    #[serde(serialize_with = "super::time::ser")]
    pub since: Timestamp,
}

/// Applications with the user's consent, and first-party apps holding live grants.
pub fn apps(conn: &mut DbConnection, user_id: &str) -> Result<Vec<AuthorizedApp>, Error> {
    let consented: Vec<(String, String, String, Timestamp)> = consents::table
        .inner_join(clients::table.on(clients::id.eq(consents::client_id)))
        .filter(consents::user_id.eq(user_id))
        .select((
            consents::client_id,
            clients::name,
            consents::scope,
            consents::created_at,
        ))
        .load(conn)?;
    let mut out: Vec<AuthorizedApp> = consented
        .into_iter()
        .map(|(client_id, name, scope, since)| AuthorizedApp {
            client_id,
            name,
            scope,
            since,
        })
        .collect();
    let granted: Vec<(String, String, String, Timestamp)> = grants_t::table
        .inner_join(clients::table.on(clients::id.eq(grants_t::client_id)))
        .filter(grants_t::user_id.eq(user_id))
        .filter(grants_t::revoked_at.is_null())
        .select((
            grants_t::client_id,
            clients::name,
            grants_t::scope,
            grants_t::created_at,
        ))
        .load(conn)?;
    for (client_id, name, scope, since) in granted {
        if !out.iter().any(|a| a.client_id == client_id) {
            out.push(AuthorizedApp {
                client_id,
                name,
                scope,
                since,
            });
        }
    }
    out.sort_by_key(|a| std::cmp::Reverse(a.since));
    Ok(out)
}

/// Withdraws consent from an application and revokes every grant and token it holds.
pub fn revoke_app(
    conn: &mut DbConnection,
    now: Timestamp,
    user_id: &str,
    client_id: &str,
    revocation_ttl: u64,
) -> Result<(), Error> {
    crate::db::transaction(conn, |conn| {
        diesel::delete(consents::table.find((user_id, client_id))).execute(conn)?;
        let ids: Vec<String> = grants_t::table
            .filter(grants_t::user_id.eq(user_id))
            .filter(grants_t::client_id.eq(client_id))
            .filter(grants_t::revoked_at.is_null())
            .select(grants_t::id)
            .load(conn)?;
        for id in &ids {
            grants::revoke(conn, now, id, revocation_ttl, "app_revoked_by_user")?;
        }
        let mut event = events::NewEvent::user("consent.revoked", user_id);
        event.client_id = Some(client_id.to_owned());
        events::record(conn, now, event)?;
        Ok(())
    })
}
