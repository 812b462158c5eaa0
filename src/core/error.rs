//! The one error type of the core. Each front door maps it to its own wire format; the OAuth
//! variants are named after RFC 6749 §5.2, RFC 6750 §3.1 and RFC 8707.

/// What went wrong in the core, in terms a door can map to its own answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field failed validation; `field` is the input's name.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value is already taken (email, username, id).
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts: retry after this many seconds.
    #[error("too many attempts; retry in {retry_after} seconds")]
    Throttled { retry_after: u64 },

    /// RFC 6749 `invalid_request`: a missing, repeated or malformed parameter.
    #[error("{0}")]
    InvalidRequest(String),
    /// RFC 6749 `invalid_client`: client authentication failed.
    #[error("{0}")]
    InvalidClient(String),
    /// RFC 6749 `invalid_grant`: a code, refresh token or password is invalid, expired, used
    /// or revoked.
    #[error("{0}")]
    InvalidGrant(String),
    /// RFC 6749 `unauthorized_client`: this client may not use this grant.
    #[error("{0}")]
    UnauthorizedClient(String),
    /// RFC 6749 `unsupported_grant_type`.
    #[error("{0}")]
    UnsupportedGrantType(String),
    /// RFC 6749 `invalid_scope`.
    #[error("{0}")]
    InvalidScope(String),
    /// RFC 8707 `invalid_target`: the resource is not registered for the client.
    #[error("{0}")]
    InvalidTarget(String),
    /// RFC 6750 `invalid_token`: a bearer token is missing its mark, expired or revoked.
    #[error("{0}")]
    InvalidToken(String),
    /// RFC 9449 `invalid_dpop_proof`: the DPoP proof is missing, malformed, for another
    /// request, stale, replayed, or by another key than the token is bound to.
    #[error("{0}")]
    InvalidDpopProof(String),
    /// RFC 9449 `use_dpop_nonce`: the proof must carry this server nonce (the value, sent back
    /// in the `DPoP-Nonce` header).
    #[error(
        "the DPoP proof must carry the server's nonce: retry with the one in the DPoP-Nonce header"
    )]
    UseDpopNonce(String),
    /// RFC 8628 §3.5: a device's poll got no tokens (yet): `authorization_pending`,
    /// `slow_down`, `access_denied` or `expired_token`.
    #[error("{0}")]
    DevicePoll(super::device::Poll),
    /// RFC 6750 `insufficient_scope`: the token may not be used here.
    #[error("{0}")]
    InsufficientScope(String),
    /// The caller is known but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// A right password for a disabled account.
    #[error("the account is disabled")]
    AccountDisabled,
    /// A right password for an account whose email must be verified first
    /// (`require_verified_email`).
    #[error("the email address is not verified")]
    EmailNotVerified,
    /// The person signs in with a second factor, and this door has no place for one (the
    /// password grant, the compatibility sign-ins): the password alone is not enough.
    #[error("this account signs in with a second factor, which this sign-in has no place for: use a personal access token or a client key instead of the password")]
    SecondFactorRequired,
    /// The caller is known, but this change needs a more recent sign-in (OIDC's
    /// `login_required`; SPEC §9 "Sensitive changes").
    #[error("{0}")]
    LoginRequired(String),

    /// The database or another dependency cannot serve now.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A failure that is ours, not the caller's; logged, never shown in detail.
    #[error("internal error: {0}")]
    Internal(String),
    #[error("database error: {0}")]
    Database(diesel::result::Error),
}

impl From<diesel::result::Error> for Error {
    /// A database error. Text the database refuses as text (PostgreSQL: a NUL byte) is the
    /// caller's bad input, not ours: every door validates text first, and this is the net
    /// under that rule.
    fn from(e: diesel::result::Error) -> Error {
        if let diesel::result::Error::DatabaseError(_, info) = &e {
            let m = info.message();
            if m.contains("invalid byte sequence") || m.contains("0x00") {
                return Error::InvalidRequest("text must not contain NUL bytes".into());
            }
        }
        if is_connection_trouble(&e) {
            // Driver messages span lines; a log entry stays on one.
            let message = e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            return Error::Unavailable(format!("database: {message}"));
        }
        Error::Database(e)
    }
}

/// How messages of errors that say the database cannot answer now begin (rather than that
/// the statement is wrong): a lost or closed connection, a server shutting down or in
/// recovery, a statement or lock timeout, SQLite's busy timeout running out. Retrying later
/// can succeed. Matched at the start only: the middle of a message may quote user input.
const TROUBLE: &[&str] = &[
    "server closed the connection",
    "terminating connection",
    "could not receive data",
    "could not send data",
    "no connection to the server",
    "connection to server",
    "timeout expired",
    "canceling statement due to statement timeout",
    "canceling statement due to lock timeout",
    "the database system is",
    "SSL SYSCALL",
    "SSL connection has been closed",
    "database is locked",
    "database table is locked",
    "abandoned:", // crate::db::ABANDONED_MESSAGE: the caller stopped waiting, rolled back
];

/// Whether a database error is trouble with the database (503) rather than a bug (500).
pub fn is_connection_trouble(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind as Kind, Error as E};
    match e {
        E::DatabaseError(
            Kind::ClosedConnection | Kind::UnableToSendCommand | Kind::ReadOnlyTransaction,
            _,
        ) => true,
        // Only errors the driver could not classify are read by message: a constraint
        // violation or a bad value may quote user input, which may say anything.
        E::DatabaseError(Kind::Unknown, info) => {
            let m = info.message().trim_start();
            TROUBLE.iter().any(|t| m.starts_with(t))
        }
        E::DatabaseError(..) => false,
        E::BrokenTransactionManager => true,
        _ => false,
    }
}

impl Error {
    /// Shorthand for a validation error.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Error {
        Error::Invalid {
            field,
            message: message.into(),
        }
    }
}
