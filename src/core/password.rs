//! People's passwords: the length policy and argon2id hashing with configured parameters.
//! Hashing is CPU-bound: callers on the async runtime run it through `db::blocking`.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};

use super::Error;
use crate::config::Argon2Settings;

/// Shortest accepted password, in characters.
pub const MIN_LEN: usize = 8;
/// Longest accepted password, in characters (bounds hashing work).
pub const MAX_LEN: usize = 1024;

/// Checks the password policy (length); `field` names the input in the error.
pub fn check_policy(field: &'static str, password: &str) -> Result<(), Error> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(Error::invalid(
            field,
            format!("must be at least {MIN_LEN} characters"),
        ));
    }
    if n > MAX_LEN {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_LEN} characters"),
        ));
    }
    Ok(())
}

/// The policy for a new password: length, and not one of the most common passwords.
pub fn check_new(field: &'static str, password: &str) -> Result<(), Error> {
    check_policy(field, password)?;
    let lower = password.to_lowercase();
    if super::common_passwords::COMMON
        .binary_search(&lower.as_str())
        .is_ok()
    {
        return Err(Error::invalid(
            field,
            "is one of the most common passwords; choose another",
        ));
    }
    Ok(())
}

fn hasher(settings: &Argon2Settings) -> Result<Argon2<'static>, Error> {
    let params = Params::new(
        settings.memory_kib,
        settings.iterations,
        settings.parallelism,
        None,
    )
    .map_err(|e| Error::Internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`).
pub fn hash(settings: &Argon2Settings, password: &str) -> Result<String, Error> {
    let hash: PasswordHash = hasher(settings)?
        .hash_password(password.as_bytes())
        .map_err(|e| Error::Internal(format!("argon2: {e}")))?;
    Ok(hash.to_string())
}

/// Verifies a password against a stored PHC string (with that string's own parameters).
pub fn verify(settings: &Argon2Settings, password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    match hasher(settings) {
        Ok(h) => h.verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Whether a stored hash was made with other parameters than the configured ones.
pub fn needs_rehash(settings: &Argon2Settings, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    match Params::try_from(&parsed) {
        Ok(p) => {
            parsed.algorithm.as_str() != "argon2id"
                || p.m_cost() != settings.memory_kib
                || p.t_cost() != settings.iterations
                || p.p_cost() != settings.parallelism
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Argon2Settings {
        Argon2Settings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 1,
        }
    }

    #[test]
    fn hash_verify_and_rehash() {
        let h = hash(&cheap(), "correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(&cheap(), "correct horse", &h));
        assert!(!verify(&cheap(), "wrong horse", &h));
        assert!(!needs_rehash(&cheap(), &h));
        assert!(needs_rehash(&Argon2Settings::default(), &h));
        assert!(!verify(&cheap(), "x", "not a hash"));
    }

    #[test]
    fn common_passwords_are_refused_for_new_passwords() {
        assert!(check_new("password", "Password1").is_err());
        assert!(check_new("password", "qwertyuiop").is_err());
        assert!(check_new("password", "correct horse battery").is_ok());
        let mut sorted = crate::core::common_passwords::COMMON.to_vec();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            crate::core::common_passwords::COMMON,
            "sorted for binary search"
        );
    }

    #[test]
    fn policy_bounds() {
        assert!(check_policy("password", "1234567").is_err());
        assert!(check_policy("password", "12345678").is_ok());
        assert!(check_policy("password", &"x".repeat(1025)).is_err());
    }
}
