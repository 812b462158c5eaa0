//! Mongoose `Auth.Authenticate`: is this a device's (or a person's) credential? A device
//! proves itself with its secret or a certificate matching its registered thumbprint; a person
//! with their password. Wrong credentials are `false`, never an error, and are throttled like
//! every credential check.

use crate::app::{passwords, Call};
use crate::core::clients;
use crate::core::devices::DeviceCredential;
use crate::core::Error;
use crate::state::AppState;

/// Whether `credential` is right for `id` (a client id, or a person's id, username or email).
pub async fn run(
    state: &AppState,
    call: &Call,
    id: &str,
    credential: DeviceCredential,
) -> Result<bool, Error> {
    let lookup = id.to_owned();
    let device = state
        .db
        .run(move |conn| match clients::get(conn, &lookup) {
            Ok(c) => Ok(Some(c)),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        })
        .await?;
    if let Some(device) = device {
        return passwords::check_device(state, device, credential, &call.ip).await;
    }
    // A person: the psk is their password (certificates are for devices).
    let DeviceCredential::Psk(password) = credential else {
        return Ok(false);
    };
    match passwords::check_without_code(state, id, &password, &call.ip, call.door).await {
        Ok(_) => Ok(true),
        Err(Error::InvalidGrant(_) | Error::AccountDisabled | Error::EmailNotVerified) => Ok(false),
        Err(e) => Err(e),
    }
}
