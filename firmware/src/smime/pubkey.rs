//! Public-key signature verification and message digests.
//!
//! RSA (PKCS#1 v1.5 and RSASSA-PSS with the salt length taken from the parameters, since
//! OpenSSL signs with the maximum salt length) is decided by the `rsa` crate; PKCS#1 v1.5 first
//! tries aws-lc-rs, several times faster, and takes only its "valid" ([`aws_lc_pkcs1_accepts`]).
//! ECDSA P-256/P-384 uses aws-lc-rs, already linked for the private-key side.

use aws_lc_rs::signature::{self as lc, UnparsedPublicKey, VerificationAlgorithm};
use der::{Decode, Encode};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::{Pkcs1v15Sign, Pss, RsaPublicKey};
use sha2::Digest;
use spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};

use super::error::{Result, SmimeError};
use super::oids;

/// Message digest algorithms accepted on input. SHA-1 is accepted only as "weak".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// SHA-1: collisions are practical; accepted with a warning only.
    Sha1,
    /// SHA-256: what we sign with.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl DigestAlgorithm {
    pub(crate) fn from_oid(oid: &ObjectIdentifier) -> Result<Self> {
        Ok(match *oid {
            oids::SHA1 => Self::Sha1,
            oids::SHA256 => Self::Sha256,
            oids::SHA384 => Self::Sha384,
            oids::SHA512 => Self::Sha512,
            other => {
                return Err(SmimeError::UnsupportedAlgorithm(format!(
                    "digest algorithm {other}"
                )))
            }
        })
    }

    pub(crate) fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha1 => oids::SHA1,
            Self::Sha256 => oids::SHA256,
            Self::Sha384 => oids::SHA384,
            Self::Sha512 => oids::SHA512,
        }
    }

    /// The `micalg` parameter name (RFC 8551 §3.5.3.2).
    pub fn micalg(self) -> &'static str {
        match self {
            Self::Sha1 => "sha-1",
            Self::Sha256 => "sha-256",
            Self::Sha384 => "sha-384",
            Self::Sha512 => "sha-512",
        }
    }

    /// Whether the algorithm is too weak to trust without a warning.
    pub fn is_weak(self) -> bool {
        self == Self::Sha1
    }

    pub(crate) fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// The digest implied by a certificate signature algorithm (for chain checks).
pub(crate) fn digest_of_signature_alg(alg: &AlgorithmIdentifierOwned) -> Result<DigestAlgorithm> {
    Ok(match alg.oid {
        oids::SHA1_WITH_RSA | oids::ECDSA_WITH_SHA1 => DigestAlgorithm::Sha1,
        oids::SHA256_WITH_RSA | oids::ECDSA_WITH_SHA256 => DigestAlgorithm::Sha256,
        oids::SHA384_WITH_RSA | oids::ECDSA_WITH_SHA384 => DigestAlgorithm::Sha384,
        oids::SHA512_WITH_RSA | oids::ECDSA_WITH_SHA512 => DigestAlgorithm::Sha512,
        oids::RSASSA_PSS => pss_params(alg)?.0,
        other => {
            return Err(SmimeError::UnsupportedAlgorithm(format!(
                "signature algorithm {other}"
            )))
        }
    })
}

/// Hash and salt length from RSASSA-PSS-params (RFC 4055 §3.1); defaults are SHA-1 and 20.
fn pss_params(alg: &AlgorithmIdentifierOwned) -> Result<(DigestAlgorithm, usize)> {
    let Some(p) = &alg.parameters else {
        return Ok((DigestAlgorithm::Sha1, 20));
    };
    let der = p.to_der()?;
    let params = pkcs1::RsaPssParamsOwned::from_der(&der)
        .map_err(|e| SmimeError::MalformedCms(format!("RSASSA-PSS parameters: {e}")))?;
    let hash = DigestAlgorithm::from_oid(&params.hash.oid)?;
    if params.mask_gen.oid != oids::MGF1 {
        return Err(SmimeError::UnsupportedAlgorithm(
            "RSASSA-PSS mask generation other than MGF1".into(),
        ));
    }
    if let Some(mgf_hash) = &params.mask_gen.parameters {
        if DigestAlgorithm::from_oid(&mgf_hash.oid)? != hash {
            return Err(SmimeError::UnsupportedAlgorithm(
                "RSASSA-PSS with different MGF1 hash".into(),
            ));
        }
    }
    Ok((hash, usize::from(params.salt_len)))
}

fn rsa_key(spki: &SubjectPublicKeyInfoOwned) -> Result<RsaPublicKey> {
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| SmimeError::CertificateUnusable("public key bit string".into()))?;
    RsaPublicKey::from_pkcs1_der(bits)
        .map_err(|e| SmimeError::CertificateUnusable(format!("RSA public key: {e}")))
}

fn pkcs1_scheme(d: DigestAlgorithm) -> Pkcs1v15Sign {
    match d {
        DigestAlgorithm::Sha1 => Pkcs1v15Sign::new::<sha1::Sha1>(),
        DigestAlgorithm::Sha256 => Pkcs1v15Sign::new::<sha2::Sha256>(),
        DigestAlgorithm::Sha384 => Pkcs1v15Sign::new::<sha2::Sha384>(),
        DigestAlgorithm::Sha512 => Pkcs1v15Sign::new::<sha2::Sha512>(),
    }
}

fn pss_verify(
    key: &RsaPublicKey,
    d: DigestAlgorithm,
    salt: usize,
    hashed: &[u8],
    sig: &[u8],
) -> rsa::Result<()> {
    match d {
        DigestAlgorithm::Sha1 => key.verify(Pss::<sha1::Sha1>::new_with_salt(salt), hashed, sig),
        DigestAlgorithm::Sha256 => {
            key.verify(Pss::<sha2::Sha256>::new_with_salt(salt), hashed, sig)
        }
        DigestAlgorithm::Sha384 => {
            key.verify(Pss::<sha2::Sha384>::new_with_salt(salt), hashed, sig)
        }
        DigestAlgorithm::Sha512 => {
            key.verify(Pss::<sha2::Sha512>::new_with_salt(salt), hashed, sig)
        }
    }
}

/// The fast path of RSA PKCS#1 v1.5 verification: aws-lc's public-key operation is several
/// times faster than the `rsa` crate's (issue 15: it was 5 % of the CPU of a decrypted and
/// verified message). Only a "yes" is taken from it; on any "no" (including keys outside its
/// 2048–8192-bit range or exponents it does not take) the `rsa` crate decides, so the verdict
/// is the one the `rsa` crate always gave.
fn aws_lc_pkcs1_accepts(
    spki: &SubjectPublicKeyInfoOwned,
    digest: DigestAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let alg: &'static dyn VerificationAlgorithm = match digest {
        DigestAlgorithm::Sha1 => &lc::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        DigestAlgorithm::Sha256 => &lc::RSA_PKCS1_2048_8192_SHA256,
        DigestAlgorithm::Sha384 => &lc::RSA_PKCS1_2048_8192_SHA384,
        DigestAlgorithm::Sha512 => &lc::RSA_PKCS1_2048_8192_SHA512,
    };
    let Some(key) = spki.subject_public_key.as_bytes() else {
        return false;
    };
    UnparsedPublicKey::new(alg, key)
        .verify(message, signature)
        .is_ok()
}

/// Verifies `signature` over `message` with the key in `spki`.
///
/// `digest` is the hash the signer used (SignerInfo digestAlgorithm, or the one implied by a
/// certificate's signature algorithm); for RSASSA-PSS the parameters decide.
pub(crate) fn verify(
    spki: &SubjectPublicKeyInfoOwned,
    sig_alg: &AlgorithmIdentifierOwned,
    digest: DigestAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<()> {
    let bad = |what: &str| SmimeError::BadSignature(what.to_string());
    match sig_alg.oid {
        oids::RSA_ENCRYPTION
        | oids::SHA1_WITH_RSA
        | oids::SHA256_WITH_RSA
        | oids::SHA384_WITH_RSA
        | oids::SHA512_WITH_RSA => {
            if aws_lc_pkcs1_accepts(spki, digest, message, signature) {
                return Ok(());
            }
            let key = rsa_key(spki)?;
            let hashed = digest.hash(message);
            key.verify(pkcs1_scheme(digest), &hashed, signature)
                .map_err(|_| bad("RSA PKCS#1 v1.5 signature does not match"))
        }
        oids::RSASSA_PSS => {
            let (hash, salt) = pss_params(sig_alg)?;
            let key = rsa_key(spki)?;
            let hashed = hash.hash(message);
            pss_verify(&key, hash, salt, &hashed, signature)
                .map_err(|_| bad("RSASSA-PSS signature does not match"))
        }
        oids::ECDSA_WITH_SHA1
        | oids::ECDSA_WITH_SHA256
        | oids::ECDSA_WITH_SHA384
        | oids::ECDSA_WITH_SHA512
        | oids::EC_PUBLIC_KEY => {
            if spki.algorithm.oid != oids::EC_PUBLIC_KEY {
                return Err(bad("ECDSA signature with a non-EC key"));
            }
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| {
                    SmimeError::UnsupportedAlgorithm("EC key without named curve".into())
                })?;
            let alg: &'static dyn VerificationAlgorithm = match (curve, digest) {
                (oids::SECP256R1, DigestAlgorithm::Sha1) => &lc::ECDSA_P256_SHA1_ASN1,
                (oids::SECP256R1, DigestAlgorithm::Sha256) => &lc::ECDSA_P256_SHA256_ASN1,
                (oids::SECP256R1, DigestAlgorithm::Sha384) => &lc::ECDSA_P256_SHA384_ASN1,
                (oids::SECP256R1, DigestAlgorithm::Sha512) => &lc::ECDSA_P256_SHA512_ASN1,
                (oids::SECP384R1, DigestAlgorithm::Sha256) => &lc::ECDSA_P384_SHA256_ASN1,
                (oids::SECP384R1, DigestAlgorithm::Sha384) => &lc::ECDSA_P384_SHA384_ASN1,
                (oids::SECP384R1, DigestAlgorithm::Sha512) => &lc::ECDSA_P384_SHA512_ASN1,
                (c, _) => return Err(SmimeError::UnsupportedAlgorithm(format!("EC curve {c}"))),
            };
            let point = spki
                .subject_public_key
                .as_bytes()
                .ok_or_else(|| bad("EC public key bit string"))?;
            UnparsedPublicKey::new(alg, point)
                .verify(message, signature)
                .map_err(|_| bad("ECDSA signature does not match"))
        }
        other => Err(SmimeError::UnsupportedAlgorithm(format!(
            "signature algorithm {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// An RSA key of `bits` made with openssl, its SPKI, and its signature over `msg`.
    fn openssl_signed(bits: u32, msg: &[u8]) -> (SubjectPublicKeyInfoOwned, Vec<u8>) {
        let d = tempfile::tempdir().unwrap();
        let (key, data, sig) = (
            d.path().join("k.pem"),
            d.path().join("m"),
            d.path().join("s"),
        );
        std::fs::write(&data, msg).unwrap();
        let run = |args: &[&str]| {
            let out = Command::new("openssl").args(args).output().unwrap();
            assert!(out.status.success(), "{args:?}: {out:?}");
            out.stdout
        };
        let k = key.to_str().unwrap();
        run(&["genrsa", "-out", k, &bits.to_string()]);
        let pubder = run(&["rsa", "-in", k, "-pubout", "-outform", "DER"]);
        let (s, m) = (sig.to_str().unwrap(), data.to_str().unwrap());
        run(&["dgst", "-sha256", "-sign", k, "-out", s, m]);
        let spki = SubjectPublicKeyInfoOwned::from_der(&pubder).unwrap();
        (spki, std::fs::read(&sig).unwrap())
    }

    #[test]
    fn rsa_verdicts_are_the_same_on_both_paths() {
        let alg = AlgorithmIdentifierOwned {
            oid: oids::SHA256_WITH_RSA,
            parameters: None,
        };
        // 2048 bits: aws-lc's fast path; 1024 bits: outside its range, the rsa crate decides.
        for bits in [2048, 1024] {
            let (spki, sig) = openssl_signed(bits, b"signed attributes");
            let d = DigestAlgorithm::Sha256;
            verify(&spki, &alg, d, b"signed attributes", &sig).expect("valid");
            assert!(verify(&spki, &alg, d, b"other attributes", &sig).is_err());
            let mut bad = sig.clone();
            bad[10] ^= 1;
            assert!(verify(&spki, &alg, d, b"signed attributes", &bad).is_err());
            assert!(
                verify(
                    &spki,
                    &alg,
                    DigestAlgorithm::Sha512,
                    b"signed attributes",
                    &sig
                )
                .is_err(),
                "{bits}: the digest the signer named must match"
            );
        }
    }
}
