//! ES256 signatures made straight on the key's `EC_KEY`. josekit's `EcdsaJwsSigner` sets up
//! an `EVP_DigestSign` context (provider and algorithm lookups) for every signature, which
//! perf showed costing a third as much as the signature itself on the token path. This signer
//! hashes with SHA-256 and calls `ECDSA_do_sign`, the same constant-time P-256 code, and
//! answers in JWS form (R || S, 32 bytes each). Everything else stays josekit's.

use josekit::jwk::alg::ec::EcKeyPair;
use josekit::jwk::Jwk;
use josekit::jws::{JwsAlgorithm, JwsSigner, ES256};
use josekit::JoseError;
use openssl::ec::EcKey;
use openssl::ecdsa::EcdsaSig;
use openssl::pkey::Private;
use sha2::{Digest, Sha256};

/// An ES256 signer over a P-256 private key.
#[derive(Debug, Clone)]
pub struct Es256Signer {
    key: EcKey<Private>,
    key_id: Option<String>,
}

impl Es256Signer {
    /// From a private JWK of curve P-256.
    pub fn from_jwk(jwk: &Jwk) -> Result<Es256Signer, JoseError> {
        // josekit's own signer checks `use`, `key_ops`, `alg` and `crv`.
        ES256.signer_from_jwk(jwk)?;
        // The traditional DER form (RFC 5915 ECPrivateKey) of the JWK's key.
        let der = EcKeyPair::from_jwk(jwk)?.to_raw_private_key();
        let key =
            EcKey::private_key_from_der(&der).map_err(|e| JoseError::InvalidKeyFormat(e.into()))?;
        Ok(Es256Signer {
            key,
            key_id: jwk.key_id().map(str::to_owned),
        })
    }
}

impl JwsSigner for Es256Signer {
    fn algorithm(&self) -> &dyn JwsAlgorithm {
        &ES256
    }

    fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    fn signature_len(&self) -> usize {
        64
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, JoseError> {
        let fail = |e: openssl::error::ErrorStack| JoseError::InvalidSignature(e.into());
        let digest = Sha256::digest(message);
        let sig = EcdsaSig::sign(&digest, &self.key).map_err(fail)?;
        let mut out = sig.r().to_vec_padded(32).map_err(fail)?;
        out.extend(sig.s().to_vec_padded(32).map_err(fail)?);
        Ok(out)
    }

    fn box_clone(&self) -> Box<dyn JwsSigner> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jws::JwsVerifier;

    #[test]
    fn josekit_verifies_what_it_signs() {
        let pair = ES256.generate_key_pair().unwrap();
        let mut private = pair.to_jwk_private_key();
        private.set_key_id("k1");
        let signer = Es256Signer::from_jwk(&private).unwrap();
        assert_eq!(signer.key_id(), Some("k1"));
        let verifier = ES256.verifier_from_jwk(&pair.to_jwk_public_key()).unwrap();
        // Enough signatures that some R or S has a leading zero byte (padding is exercised).
        for i in 0..600u32 {
            let message = format!("header.payload-{i}");
            let sig = signer.sign(message.as_bytes()).unwrap();
            assert_eq!(sig.len(), 64);
            verifier.verify(message.as_bytes(), &sig).unwrap();
            assert!(verifier.verify(b"other", &sig).is_err());
        }
    }

    #[test]
    fn other_curves_are_refused() {
        let pair = josekit::jws::ES384.generate_key_pair().unwrap();
        assert!(Es256Signer::from_jwk(&pair.to_jwk_private_key()).is_err());
    }
}
