//! The narrow interface through which the engine uses private keys.
//!
//! The engine never sees private key material: it asks a [`PrivateKeyOps`] to sign bytes or to
//! unwrap a content-encryption key. The key store implements these traits over its encrypted
//! keys; [`AwsLcRsaKey`] is the in-memory implementation (tests, CLI tools, the key store's
//! backend). Both operations use aws-lc-rs, whose RSA is constant-time: the `rsa` crate is not
//! used with private keys at all (RUSTSEC-2023-0071, Marvin).

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{
    OaepAlgorithm, OaepPrivateDecryptingKey, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey,
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512,
};
use aws_lc_rs::signature::{KeyPair, RsaKeyPair, RSA_PKCS1_SHA256};
use cms::enveloped_data::RecipientIdentifier;
use der::Encode;
use x509_cert::Certificate;
use zeroize::Zeroizing;

use super::certs;
use super::error::{Result, SmimeError};

/// Signature schemes the engine asks a key to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureScheme {
    /// RSASSA-PKCS1-v1_5 with SHA-256: what every S/MIME client verifies (RFC 8551 §2.2).
    RsaPkcs1Sha256,
}

/// Hash used by RSA-OAEP (the MGF1 hash is the same; mixed hashes are not supported).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OaepHash {
    /// SHA-1, OpenSSL's default for OAEP.
    Sha1,
    /// SHA-256, what we write (RFC 8551 recommends it).
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// RSA key transport variants (RFC 3370 / RFC 3560).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTransport {
    /// RSAES-PKCS1-v1_5: the universally readable default.
    RsaPkcs1v15,
    /// RSAES-OAEP with the given hash.
    RsaOaep(OaepHash),
}

/// Private-key operations the engine needs. Implementations keep the key to themselves.
pub trait PrivateKeyOps: Send + Sync {
    /// The certificate belonging to this key (used for the SignerIdentifier and for matching
    /// RecipientInfos).
    fn certificate(&self) -> &Certificate;

    /// Signs `data` (the implementation hashes it) with `scheme`; returns the signature value.
    fn sign(&self, scheme: SignatureScheme, data: &[u8]) -> Result<Vec<u8>>;

    /// Decrypts an encrypted content-encryption key.
    ///
    /// Implementations must follow RFC 3218 §2.3: when the padding is wrong or the result is
    /// not `expected_len` bytes long they return a *random* key of `expected_len` bytes instead
    /// of an error, so that a wrong key and a tampered ciphertext fail in the same way later
    /// (no padding oracle). Errors are only for operational failures (key unavailable).
    fn unwrap_key(
        &self,
        transport: KeyTransport,
        encrypted_key: &[u8],
        expected_len: usize,
    ) -> Result<Zeroizing<Vec<u8>>>;
}

/// Finds the private key for a RecipientInfo. The key store implements this.
pub trait KeyLookup {
    /// The key whose certificate `rid` names, if we hold it.
    fn find(&self, rid: &RecipientIdentifier) -> Option<&dyn PrivateKeyOps>;
}

impl<K: PrivateKeyOps> KeyLookup for [K] {
    fn find(&self, rid: &RecipientIdentifier) -> Option<&dyn PrivateKeyOps> {
        self.iter()
            .find(|k| recipient_matches(rid, k.certificate()))
            .map(|k| k as &dyn PrivateKeyOps)
    }
}

impl<K: PrivateKeyOps> KeyLookup for Vec<K> {
    fn find(&self, rid: &RecipientIdentifier) -> Option<&dyn PrivateKeyOps> {
        self.as_slice().find(rid)
    }
}

/// Whether a RecipientIdentifier names `cert` (issuer and serial, or subjectKeyIdentifier).
pub fn recipient_matches(rid: &RecipientIdentifier, cert: &Certificate) -> bool {
    match rid {
        RecipientIdentifier::IssuerAndSerialNumber(ias) => {
            &ias.issuer == cert.tbs_certificate().issuer()
                && &ias.serial_number == cert.tbs_certificate().serial_number()
        }
        RecipientIdentifier::SubjectKeyIdentifier(ski) => {
            certs::subject_key_id(cert).is_some_and(|own| own.as_slice() == ski.0.as_bytes())
        }
    }
}

/// An RSA private key held in memory, operated by aws-lc-rs.
pub struct AwsLcRsaKey {
    cert: Certificate,
    signing: RsaKeyPair,
    decrypting: PrivateDecryptingKey,
}

impl std::fmt::Debug for AwsLcRsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("AwsLcRsaKey")
            .field(
                "subject",
                &self.cert.tbs_certificate().subject().to_string(),
            )
            .finish_non_exhaustive()
    }
}

impl AwsLcRsaKey {
    /// Builds the key from PKCS#8 DER and checks that it belongs to `cert`.
    pub fn from_pkcs8(pkcs8_der: &[u8], cert: Certificate) -> Result<Self> {
        let signing = RsaKeyPair::from_pkcs8(pkcs8_der)
            .map_err(|e| SmimeError::KeyOperation(format!("not an RSA PKCS#8 key: {e}")))?;
        let decrypting = PrivateDecryptingKey::from_pkcs8(pkcs8_der)
            .map_err(|e| SmimeError::KeyOperation(format!("not an RSA PKCS#8 key: {e}")))?;
        let cert_key = cert
            .tbs_certificate()
            .subject_public_key_info()
            .subject_public_key
            .as_bytes()
            .unwrap_or_default();
        if signing.public_key().as_ref() != cert_key {
            return Err(SmimeError::KeyOperation(
                "private key does not belong to the certificate".into(),
            ));
        }
        Ok(Self {
            cert,
            signing,
            decrypting,
        })
    }

    /// Builds the key from PEM ("PRIVATE KEY") and a PEM certificate.
    pub fn from_pem(key_pem: &str, cert_pem: &str) -> Result<Self> {
        let (label, der) = pem_rfc7468_decode(key_pem)?;
        if label != "PRIVATE KEY" {
            return Err(SmimeError::KeyOperation(format!(
                "expected a PKCS#8 \"PRIVATE KEY\", got \"{label}\""
            )));
        }
        let cert = certs::parse_pem(cert_pem.as_bytes())?;
        Self::from_pkcs8(&der, cert)
    }
}

fn pem_rfc7468_decode(pem: &str) -> Result<(String, Zeroizing<Vec<u8>>)> {
    let (label, der) = der::pem::decode_vec(pem.as_bytes())
        .map_err(|e| SmimeError::KeyOperation(format!("bad PEM: {e}")))?;
    Ok((label.to_string(), Zeroizing::new(der)))
}

fn oaep_alg(h: OaepHash) -> &'static OaepAlgorithm {
    match h {
        OaepHash::Sha1 => &OAEP_SHA1_MGF1SHA1,
        OaepHash::Sha256 => &OAEP_SHA256_MGF1SHA256,
        OaepHash::Sha384 => &OAEP_SHA384_MGF1SHA384,
        OaepHash::Sha512 => &OAEP_SHA512_MGF1SHA512,
    }
}

/// A random key of `len` bytes (RFC 3218 substitute for a failed unwrap).
pub(crate) fn random_key(len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut k = Zeroizing::new(vec![0u8; len]);
    SystemRandom::new()
        .fill(&mut k)
        .map_err(|_| SmimeError::KeyOperation("random generator failed".into()))?;
    Ok(k)
}

impl PrivateKeyOps for AwsLcRsaKey {
    fn certificate(&self) -> &Certificate {
        &self.cert
    }

    fn sign(&self, scheme: SignatureScheme, data: &[u8]) -> Result<Vec<u8>> {
        match scheme {
            SignatureScheme::RsaPkcs1Sha256 => {
                let mut sig = vec![0u8; self.signing.public_modulus_len()];
                self.signing
                    .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), data, &mut sig)
                    .map_err(|_| SmimeError::KeyOperation("RSA signing failed".into()))?;
                Ok(sig)
            }
        }
    }

    fn unwrap_key(
        &self,
        transport: KeyTransport,
        encrypted_key: &[u8],
        expected_len: usize,
    ) -> Result<Zeroizing<Vec<u8>>> {
        // Pre-compute the substitute so both paths do the same work.
        let substitute = random_key(expected_len)?;
        let mut out = Zeroizing::new(vec![0u8; self.decrypting.key_size_bytes()]);
        let result = match transport {
            KeyTransport::RsaPkcs1v15 => Pkcs1PrivateDecryptingKey::new(self.decrypting.clone())
                .and_then(|k| k.decrypt(encrypted_key, &mut out).map(|p| p.len())),
            KeyTransport::RsaOaep(h) => OaepPrivateDecryptingKey::new(self.decrypting.clone())
                .and_then(|k| {
                    k.decrypt(oaep_alg(h), encrypted_key, &mut out, None)
                        .map(|p| p.len())
                }),
        };
        match result {
            Ok(n) if n == expected_len => {
                out.truncate(n);
                Ok(out)
            }
            _ => {
                tracing::debug!("key unwrap failed; continuing with a random key (RFC 3218)");
                Ok(substitute)
            }
        }
    }
}

/// DER of a certificate (helper for callers that store certificates).
pub fn certificate_der(cert: &Certificate) -> Result<Vec<u8>> {
    cert.to_der()
        .map_err(|e| SmimeError::Encoding(e.to_string()))
}
