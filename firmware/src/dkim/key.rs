//! DKIM key pairs. Made here with aws-lc-rs (our constant-time provider for every private-key
//! operation) or imported from PEM; in both cases normalised to PKCS#8, which is what the
//! keystore seals, and turned into a `mail-auth` signing key only in memory.

use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use mail_auth::common::crypto::{DkimKey, Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::Writable;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::DkimError;

/// Size of RSA keys made here: RFC 8301 asks for at least 1024 bits, large receivers for 2048,
/// and 2048 bits is the largest key that fits one DNS TXT string set without trouble.
pub const RSA_BITS: u32 = 2048;
/// Imported RSA keys must have at least this many bits (RFC 8301 §3.2: verifiers may refuse
/// smaller ones, and 1024-bit keys are no longer safe).
pub const RSA_MIN_BITS: u32 = 2048;

/// A DKIM signing algorithm (the `a=` tag) and key type (the record's `k=` tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// RSA with SHA-256 (`rsa-sha256`, RFC 6376).
    Rsa,
    /// Ed25519 over the SHA-256 hash (`ed25519-sha256`, RFC 8463).
    Ed25519,
}

impl Algorithm {
    /// `rsa` or `ed25519`, as the CLI and the API name them.
    pub fn parse(s: &str) -> Result<Algorithm, DkimError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "rsa" | "rsa-sha256" => Ok(Algorithm::Rsa),
            "ed25519" | "ed25519-sha256" => Ok(Algorithm::Ed25519),
            _ => Err(DkimError::Unsupported(format!(
                "algorithm {s:?} (use rsa or ed25519)"
            ))),
        }
    }

    /// The record's key type (`k=`): `rsa` or `ed25519`.
    pub fn key_type(self) -> &'static str {
        match self {
            Algorithm::Rsa => "rsa",
            Algorithm::Ed25519 => "ed25519",
        }
    }

    /// The signature's algorithm (`a=`).
    pub fn signature_algorithm(self) -> &'static str {
        match self {
            Algorithm::Rsa => "rsa-sha256",
            Algorithm::Ed25519 => "ed25519-sha256",
        }
    }
}

/// A key pair as the keystore stores it: the private key as PKCS#8 (wiped from memory when
/// dropped) and the public key as the DNS record carries it.
pub struct KeyMaterial {
    pub algorithm: Algorithm,
    /// Private key, PKCS#8 DER.
    pub pkcs8: Zeroizing<Vec<u8>>,
    /// RSA: SubjectPublicKeyInfo DER; Ed25519: the raw 32-byte key (RFC 8463 §4).
    pub public_key: Vec<u8>,
    /// Key size in bits (256 for Ed25519).
    pub bits: u32,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("algorithm", &self.algorithm)
            .field("bits", &self.bits)
            .finish_non_exhaustive()
    }
}

fn crypto(what: &str) -> impl FnOnce(aws_lc_rs::error::Unspecified) -> DkimError + '_ {
    move |_| DkimError::Crypto(format!("{what} failed"))
}

/// Makes a new key pair: RSA-2048 or Ed25519.
pub fn generate(algorithm: Algorithm) -> Result<KeyMaterial, DkimError> {
    let pkcs8 = match algorithm {
        Algorithm::Rsa => {
            let kp =
                RsaKeyPair::generate(KeySize::Rsa2048).map_err(crypto("RSA key generation"))?;
            let der = kp.as_der().map_err(crypto("RSA key encoding"))?;
            Zeroizing::new(der.as_ref().to_vec())
        }
        Algorithm::Ed25519 => {
            let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map_err(crypto("Ed25519 key generation"))?;
            Zeroizing::new(doc.as_ref().to_vec())
        }
    };
    from_pkcs8(pkcs8)
}

/// Reads an unencrypted PEM private key: PKCS#8 (`PRIVATE KEY`, RSA or Ed25519, as
/// `openssl genpkey` writes it) or PKCS#1 (`RSA PRIVATE KEY`, as `opendkim-genkey` writes it).
pub fn import_pem(pem: &[u8]) -> Result<KeyMaterial, DkimError> {
    let start = pem
        .windows(11)
        .position(|w| w == b"-----BEGIN ")
        .ok_or_else(|| DkimError::BadKey("no PEM block (-----BEGIN ...) found".into()))?;
    let (label, der) =
        der::pem::decode_vec(&pem[start..]).map_err(|e| DkimError::BadKey(format!("PEM: {e}")))?;
    let der = Zeroizing::new(der);
    match label {
        "PRIVATE KEY" => from_pkcs8(der),
        "RSA PRIVATE KEY" => {
            let kp = RsaKeyPair::from_der(&der)
                .map_err(|e| DkimError::BadKey(format!("PKCS#1 RSA key: {e}")))?;
            let p8 = kp.as_der().map_err(crypto("RSA key encoding"))?;
            from_pkcs8(Zeroizing::new(p8.as_ref().to_vec()))
        }
        "ENCRYPTED PRIVATE KEY" => Err(DkimError::BadKey(
            "the key is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN)".into(),
        )),
        other => Err(DkimError::BadKey(format!(
            "a {other:?} PEM block is not a private key"
        ))),
    }
}

/// Recognises the key type of a PKCS#8 key and derives the public key.
pub fn from_pkcs8(pkcs8: Zeroizing<Vec<u8>>) -> Result<KeyMaterial, DkimError> {
    if let Ok(kp) = RsaKeyPair::from_pkcs8(&pkcs8) {
        let bits = (kp.public_modulus_len() * 8) as u32;
        if bits < RSA_MIN_BITS {
            return Err(DkimError::Unsupported(format!(
                "RSA key of {bits} bits (at least {RSA_MIN_BITS})"
            )));
        }
        let spki = kp
            .public_key()
            .as_der()
            .map_err(crypto("RSA public key encoding"))?;
        return Ok(KeyMaterial {
            algorithm: Algorithm::Rsa,
            public_key: spki.as_ref().to_vec(),
            pkcs8,
            bits,
        });
    }
    match Ed25519KeyPair::from_pkcs8(&pkcs8) {
        Ok(kp) => Ok(KeyMaterial {
            algorithm: Algorithm::Ed25519,
            public_key: kp.public_key().as_ref().to_vec(),
            pkcs8,
            bits: 256,
        }),
        Err(_) => Err(DkimError::Unsupported(
            "only RSA (2048 bits or more) and Ed25519 keys sign DKIM".into(),
        )),
    }
}

/// A private key ready to sign, shared by every message of its domain. It can sign but
/// cannot be exported; its PKCS#8 stays sealed in the keystore.
#[derive(Clone)]
pub struct SigningKey(Arc<DkimKey>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// The usable key of a stored PKCS#8.
    pub fn from_pkcs8(algorithm: Algorithm, pkcs8: &[u8]) -> Result<SigningKey, DkimError> {
        let key = match algorithm {
            Algorithm::Rsa => DkimKey::Rsa(
                RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                    pkcs8,
                )))
                .map_err(|e| DkimError::BadKey(e.to_string()))?,
            ),
            Algorithm::Ed25519 => DkimKey::Ed25519(
                Ed25519Key::from_pkcs8_der(pkcs8).map_err(|e| DkimError::BadKey(e.to_string()))?,
            ),
        };
        Ok(SigningKey(Arc::new(key)))
    }
}

impl mail_auth::common::crypto::SigningKey for SigningKey {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        self.0.sign(input)
    }

    fn algorithm(&self) -> mail_auth::common::crypto::Algorithm {
        self.0.algorithm()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_through_pkcs8() {
        for alg in [Algorithm::Rsa, Algorithm::Ed25519] {
            let m = generate(alg).unwrap();
            assert_eq!(m.algorithm, alg);
            let again = from_pkcs8(m.pkcs8.clone()).unwrap();
            assert_eq!(again.public_key, m.public_key);
            SigningKey::from_pkcs8(alg, &m.pkcs8).unwrap();
        }
        let ed = generate(Algorithm::Ed25519).unwrap();
        assert_eq!(ed.public_key.len(), 32);
        let rsa = generate(Algorithm::Rsa).unwrap();
        assert_eq!(rsa.bits, 2048);
    }

    #[test]
    fn pem_import() {
        let m = generate(Algorithm::Ed25519).unwrap();
        let pem =
            der::pem::encode_string("PRIVATE KEY", der::pem::LineEnding::LF, &m.pkcs8).unwrap();
        let text = format!("some comment\n{pem}");
        let back = import_pem(text.as_bytes()).unwrap();
        assert_eq!(back.public_key, m.public_key);
        assert!(import_pem(b"nothing here").is_err());
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(import_pem(cert.as_bytes()).is_err());
        assert_eq!(Algorithm::parse("RSA").unwrap(), Algorithm::Rsa);
        assert!(Algorithm::parse("dsa").is_err());
    }
}
