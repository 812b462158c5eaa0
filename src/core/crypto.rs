//! Random secrets, their stored hashes, constant-time comparison, and sealing data under the
//! configured master key (AES-256-GCM in a compact JWE, `dir` key management).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use josekit::jwe::{self, JweHeader};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `bytes` of OS randomness, base64url without padding (32 bytes: 43 characters, 256 bits).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// `bytes` of OS randomness as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// SHA-256 of `data`, lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The stored form of a high-entropy secret (client secret, token, code): `sha256:<hex>`.
/// A fast hash is enough because the secret is random; people's passwords use argon2id.
pub fn secret_hash(secret: &str) -> String {
    format!("sha256:{}", sha256_hex(secret.as_bytes()))
}

/// Whether `secret` matches a stored `secret_hash`, compared in constant time.
pub fn verify_secret_hash(secret: &str, stored: &str) -> bool {
    let computed = secret_hash(secret);
    computed.as_bytes().ct_eq(stored.as_bytes()).into()
}

/// Constant-time equality of two strings.
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The 256-bit key that seals secrets at rest.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Accepts 32 bytes as 64 hex digits, or base64 (standard or URL-safe, padded or not).
    pub fn parse(text: &str) -> Result<MasterKey, String> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|e| e.to_string())?
        } else {
            STANDARD
                .decode(text)
                .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
                .map_err(|_| {
                    "must be 32 random bytes as base64 or hex (e.g. `openssl rand -base64 32`)"
                        .to_string()
                })?
        };
        let key: [u8; 32] = bytes.try_into().map_err(|v: Vec<u8>| {
            format!(
                "must be exactly 32 bytes, got {} (e.g. `openssl rand -base64 32`)",
                v.len()
            )
        })?;
        Ok(MasterKey(key))
    }

    /// A key from 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        MasterKey(bytes)
    }

    /// Material derived from this key for other purposes (never the key itself).
    pub fn seal_key_material(&self) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(b"portcullis-derive:");
        h.update(self.0);
        h.finalize().to_vec()
    }

    /// Encrypts `plaintext` into a compact JWE (`alg: dir`, `enc: A256GCM`).
    pub fn seal(&self, plaintext: &[u8]) -> Result<String, String> {
        let mut header = JweHeader::new();
        header.set_content_encryption("A256GCM");
        let encrypter = jwe::Dir
            .encrypter_from_bytes(self.0)
            .map_err(|e| e.to_string())?;
        jwe::serialize_compact(plaintext, &header, &encrypter).map_err(|e| e.to_string())
    }

    /// Decrypts what `seal` produced; fails on a wrong key or tampered data.
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, String> {
        let decrypter = jwe::Dir
            .decrypter_from_bytes(self.0)
            .map_err(|e| e.to_string())?;
        jwe::deserialize_compact(sealed, &decrypter)
            .map(|(data, _)| data)
            .map_err(|_| "cannot decrypt: wrong master key or corrupted data".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hash_round_trip() {
        let s = random_token(32);
        assert_eq!(s.len(), 43);
        let h = secret_hash(&s);
        assert!(verify_secret_hash(&s, &h));
        assert!(!verify_secret_hash("other", &h));
    }

    #[test]
    fn master_key_seals_and_refuses_wrong_key() {
        let k = MasterKey::parse(&STANDARD.encode([7u8; 32])).unwrap();
        let sealed = k.seal(b"secret").unwrap();
        assert_eq!(k.open(&sealed).unwrap(), b"secret");
        let other = MasterKey::parse(&hex::encode([8u8; 32])).unwrap();
        assert!(other.open(&sealed).is_err());
        assert!(MasterKey::parse("short").is_err());
        assert!(MasterKey::parse(&STANDARD.encode([1u8; 16])).is_err());
    }
}
