//! Who a request speaks for once its credential has checked out, and what that credential may
//! do here (SPEC §9). Every door's policy reads the same `Principal`; scopes are privileges.

use chrono::Duration;

use super::tokens::AccessClaims;
use super::users::User;
use super::Timestamp;

/// The scopes that are privileges at this server's own doors.
pub mod scopes {
    /// `/userinfo` (with `profile`, `email`, `address`).
    pub const OPENID: &str = "openid";
    /// The caller's own account at the compatibility doors; first-party only.
    pub const ACCOUNT: &str = "account";
    /// The admin API and the admin-only compatibility operations.
    pub const ADMIN: &str = "admin";
    /// Mongoose `Auth.Authenticate` and `Auth.AuthorizeCommand`.
    pub const BACKEND: &str = "auth.backend";
    /// Embed keys' tokens: described by introspection, refused everywhere else.
    pub const EMBED: &str = "embed";

    /// Scopes whose tokens always carry the issuer in `aud` (they are credentials for this
    /// server).
    pub const FOR_THIS_SERVER: &[&str] = &[OPENID, ACCOUNT, ADMIN];

    /// Scopes a client gets only when the rules of §9 allow it, never by asking alone, and
    /// that a consent page never shows.
    pub const PRIVILEGED: &[&str] = &[ACCOUNT, ADMIN];
}

/// The kind of credential a request presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// HTTP Basic with a user's password.
    Password,
    /// A signed access token (JWT).
    AccessToken,
    /// A personal access token.
    PersonalAccessToken,
    /// A request signed with a key's secret (CloudTrax).
    SignedRequest,
}

impl Credential {
    pub fn as_str(self) -> &'static str {
        match self {
            Credential::Password => "password",
            Credential::AccessToken => "access_token",
            Credential::PersonalAccessToken => "personal_access_token",
            Credential::SignedRequest => "signed_request",
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user the credential acts for (loaded, not disabled).
    pub user: Option<User>,
    /// The client a token was issued to, or the key that signed a request.
    pub client_id: Option<String>,
    /// What the credential may do here.
    pub scopes: Vec<String>,
    /// When the person last proved who they are: a sign-in's time, or now for a password.
    pub auth_time: Option<Timestamp>,
    pub credential: Credential,
}

impl Principal {
    /// A user by password. A password always acts as the person with `account`; at the admin
    /// door an admin user's password is also `admin` (SPEC §9 "Direct credentials").
    pub fn password(user: User, admin_door: bool, now: Timestamp) -> Principal {
        let mut scopes = vec![scopes::ACCOUNT.to_owned()];
        if admin_door && user.is_admin {
            scopes.push(scopes::ADMIN.to_owned());
        }
        Principal {
            user: Some(user),
            client_id: None,
            scopes,
            auth_time: Some(now),
            credential: Credential::Password,
        }
    }

    /// A personal access token: `account`, never `admin`, whatever it was stored with.
    pub fn personal_access_token(user: User) -> Principal {
        Principal {
            user: Some(user),
            client_id: None,
            scopes: vec![scopes::ACCOUNT.to_owned()],
            auth_time: None,
            credential: Credential::PersonalAccessToken,
        }
    }

    /// A request signed with a key owned by `user` (CloudTrax): the user, by that key, with no
    /// privilege at any other door.
    pub fn signed_request(user: User, key: &str) -> Principal {
        Principal {
            user: Some(user),
            client_id: Some(key.to_owned()),
            scopes: Vec::new(),
            auth_time: None,
            credential: Credential::SignedRequest,
        }
    }

    /// An access token whose signature, claims and revocation state checked out; `user` is
    /// the loaded subject for tokens that act for a user.
    pub fn access_token(claims: &AccessClaims, user: Option<User>) -> Principal {
        Principal {
            user,
            client_id: Some(claims.client_id.clone()),
            scopes: claims.scopes().map(str::to_owned).collect(),
            auth_time: claims
                .auth_time
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .map(|t| t.naive_utc()),
            credential: Credential::AccessToken,
        }
    }

    /// Whether the credential carries a scope.
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// An admin credential: the `admin` scope (never a user's flag alone).
    pub fn is_admin(&self) -> bool {
        self.has(scopes::ADMIN)
    }

    /// The user, when the credential may act on their account.
    pub fn account_user(&self) -> Option<&User> {
        self.user.as_ref().filter(|_| self.has(scopes::ACCOUNT))
    }

    /// Whether the person proved who they are at most `window` seconds before `now`.
    pub fn signed_in_within(&self, now: Timestamp, window: u64) -> bool {
        self.auth_time
            .is_some_and(|t| now - t <= Duration::seconds(window.min(i64::MAX as u64) as i64))
    }

    /// Whether the principal is this user.
    pub fn is_user(&self, id: &str) -> bool {
        self.user.as_ref().is_some_and(|u| u.id == id)
    }
}
