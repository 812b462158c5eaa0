//! Devices (clients of kind `device`, or any client) proving who they are: by pre-shared key
//! (the client secret) or by a client certificate whose SHA-256 thumbprint matches the one
//! registered, within its validity dates.

use openssl::asn1::Asn1Time;
use openssl::x509::X509;

use super::clients::ClientRow;
use super::{crypto, Error, Timestamp};

/// What a device presents.
#[derive(Debug, Clone)]
pub enum DeviceCredential {
    Psk(String),
    /// A PEM certificate.
    Cert(String),
}

/// Whether the credential proves the client's identity at `now`. Unusable input (a broken
/// certificate) is simply `false`.
pub fn check(
    client: &ClientRow,
    credential: &DeviceCredential,
    now: Timestamp,
) -> Result<bool, Error> {
    if client.expires_at.is_some_and(|t| t <= now) {
        return Ok(false);
    }
    match credential {
        DeviceCredential::Psk(psk) => Ok(client
            .secret_hash
            .as_deref()
            .is_some_and(|h| crypto::verify_secret_hash(psk, h))),
        DeviceCredential::Cert(pem) => {
            let Some(expected) = &client.cert_thumbprint else {
                return Ok(false);
            };
            let Ok(cert) = X509::from_pem(pem.as_bytes()) else {
                return Ok(false);
            };
            let Ok(der) = cert.to_der() else {
                return Ok(false);
            };
            if !crypto::ct_eq(&crypto::sha256_hex(&der), expected) {
                return Ok(false);
            }
            let at = Asn1Time::from_unix(now.and_utc().timestamp())
                .map_err(|e| Error::Internal(format!("time: {e}")))?;
            Ok(cert.not_before() <= at && at <= cert.not_after())
        }
    }
}
