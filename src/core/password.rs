//! People's passwords: the length policy and argon2id hashing with configured parameters.
//! Hashing is CPU-bound: the server runs it on `runtime::argon2`'s own threads.

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};

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

fn params(settings: &Argon2Settings) -> Result<Params, Error> {
    Params::new(
        settings.memory_kib,
        settings.iterations,
        settings.parallelism,
        None,
    )
    .map_err(|e| Error::Internal(format!("argon2 parameters: {e}")))
}

/// Runs `f` over argon2's working memory (`blocks` KiB). A thread keeps its memory between
/// hashes when it is no larger than the configured cost: the allocator is never asked for
/// 19 MiB again (glibc's per-thread arenas kept several such blocks each: 430 MiB peak RSS for
/// two hashing threads), and the pages are already mapped. Every block is written before it is
/// read, so the memory needs no clearing between hashes.
fn with_memory<T>(blocks: usize, keep: bool, f: impl FnOnce(&mut [Block]) -> T) -> T {
    thread_local! {
        static MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    if !keep {
        return f(&mut vec![Block::new(); blocks]);
    }
    MEMORY.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() != blocks {
            *m = Vec::new(); // free the old size first: never hold both
            *m = vec![Block::new(); blocks];
        }
        f(&mut m)
    })
}

/// argon2 over reused working memory; `out.len()` is the tag length.
fn compute(
    settings: &Argon2Settings,
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), Error> {
    let keep = params.m_cost() <= settings.memory_kib;
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    with_memory(blocks, keep, |memory| {
        argon.hash_password_into_with_memory(password, salt, out, memory)
    })
    .map_err(|e| Error::Internal(format!("argon2: {e}")))
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`).
pub fn hash(settings: &Argon2Settings, password: &str) -> Result<String, Error> {
    let params = params(settings)?;
    let salt = argon2::password_hash::generate_salt();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let algorithm = Algorithm::Argon2id;
    let phc_params = ParamsString::try_from(&params)
        .map_err(|e| Error::Internal(format!("argon2 parameters: {e}")))?;
    compute(
        settings,
        algorithm,
        Version::V0x13,
        params,
        password.as_bytes(),
        &salt,
        &mut out,
    )?;
    let encoded = PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(Version::V0x13.into()),
        params: phc_params,
        salt: Some(Salt::new(&salt).map_err(|e| Error::Internal(format!("argon2 salt: {e}")))?),
        hash: Some(Output::new(&out).map_err(|e| Error::Internal(format!("argon2: {e}")))?),
    };
    Ok(encoded.to_string())
}

/// Verifies a password against a stored PHC string (with that string's own parameters),
/// comparing in constant time.
pub fn verify(settings: &Argon2Settings, password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    if compute(
        settings,
        algorithm,
        version,
        params,
        password.as_bytes(),
        salt,
        &mut out,
    )
    .is_err()
    {
        return false;
    }
    Output::new(&out).is_ok_and(|computed| computed == *expected)
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
    fn hashes_agree_with_the_argon2_crate_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let settings = cheap();
        let lib = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        );
        let ours = hash(&settings, "correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(lib.verify_password(b"correct horse", &parsed).is_ok());
        assert!(lib.verify_password(b"wrong horse", &parsed).is_err());
        // A hash made elsewhere with other parameters (bigger than the configured memory, an
        // older version, a longer tag) verifies with its own parameters.
        let theirs = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(128, 2, 2, Some(40)).unwrap(),
        )
        .hash_password(b"battery staple")
        .unwrap()
        .to_string();
        assert!(verify(&settings, "battery staple", &theirs));
        assert!(!verify(&settings, "battery stapler", &theirs));
        assert!(needs_rehash(&settings, &theirs));
        // The reused memory gives the same answers after a hash of another size.
        assert!(verify(&settings, "correct horse", &ours));
        assert!(!verify(
            &settings,
            "correct horse",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ"
        ));
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
