//! Errors as Mongoose error frames: `{"code": <http status>, "message": ..}` with that status.

use crate::core::Error;

/// An RPC error: the HTTP status doubles as the frame's code.
#[derive(Debug)]
pub struct RpcError {
    pub code: u16,
    pub message: String,
    /// Seconds for `Retry-After` (429 and 503 answers).
    pub retry_after: Option<u64>,
}

impl RpcError {
    pub fn new(code: u16, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_args(e: impl std::fmt::Display) -> RpcError {
        RpcError::new(400, format!("invalid arguments: {e}"))
    }
}

impl From<Error> for RpcError {
    fn from(e: Error) -> RpcError {
        RpcError::from(&e)
    }
}

impl From<&Error> for RpcError {
    fn from(e: &Error) -> RpcError {
        match e {
            Error::Invalid { .. }
            | Error::InvalidRequest(_)
            | Error::DevicePoll(_)
            | Error::InvalidScope(_)
            | Error::InvalidTarget(_) => RpcError::new(400, e.to_string()),
            Error::InvalidGrant(_)
            | Error::InvalidToken(_)
            | Error::InvalidDpopProof(_)
            | Error::UseDpopNonce(_)
            | Error::InvalidClient(_)
            | Error::LoginRequired(_)
            | Error::AccountDisabled
            | Error::EmailNotVerified
            | Error::SecondFactorRequired => RpcError::new(401, e.to_string()),
            Error::Forbidden(_) | Error::InsufficientScope(_) | Error::UnauthorizedClient(_) => {
                RpcError::new(403, e.to_string())
            }
            Error::UnsupportedGrantType(_) => RpcError::new(400, e.to_string()),
            Error::NotFound(_) => RpcError::new(404, e.to_string()),
            Error::Conflict(m) => RpcError::new(409, m.clone()),
            Error::Throttled { retry_after } => RpcError {
                retry_after: Some(*retry_after),
                ..RpcError::new(429, e.to_string())
            },
            Error::Unavailable(_) => {
                tracing::error!(error = %e, "mongoose rpc: unavailable");
                RpcError {
                    retry_after: Some(crate::routes::error::UNAVAILABLE_RETRY_AFTER),
                    ..RpcError::new(503, "service unavailable")
                }
            }
            Error::Internal(_) | Error::Database(_) => {
                tracing::error!(error = %e, "mongoose rpc: internal error");
                RpcError::new(500, "internal error")
            }
        }
    }
}
