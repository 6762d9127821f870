//! The vendor side: key generation and signing, for `segl-license` only. Compiled only with
//! the `vendor-tool` feature, which firmware builds leave out (docs/license.md).
//!
//! The development key pair is derived from a public seed ([`DEV_SEED_TEXT`]): anyone can
//! make development licences, which is the point (tests and demos), and why a release build
//! refuses to embed its public key (`firmware/build.rs`). Only its public half is committed
//! (`firmware/src/license/dev-key.pub`); a test checks that the two agree.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};

use super::format::{self, LicenseError, Terms};

/// SHA-256 of this text is the development key's Ed25519 seed.
pub const DEV_SEED_TEXT: &str =
    "segl development licence signing key v1 (public: never for production)";

/// A signing key (private).
pub struct VendorKey(Ed25519KeyPair);

impl VendorKey {
    /// The development key.
    pub fn development() -> Result<VendorKey, LicenseError> {
        use sha2::Digest;
        let seed = sha2::Sha256::digest(DEV_SEED_TEXT.as_bytes());
        Ed25519KeyPair::from_seed_unchecked(&seed)
            .map(VendorKey)
            .map_err(|e| LicenseError::Storage(format!("development key: {e}")))
    }

    /// The key derived from a public seed text (SHA-256 of it is the Ed25519 seed): the
    /// development keys of the licence and of firmware updates.
    pub fn from_seed_text(text: &str) -> Result<VendorKey, LicenseError> {
        use sha2::Digest;
        let seed = sha2::Sha256::digest(text.as_bytes());
        Ed25519KeyPair::from_seed_unchecked(&seed)
            .map(VendorKey)
            .map_err(|e| LicenseError::Storage(format!("key from seed: {e}")))
    }

    /// An Ed25519 signature of `msg` (firmware update manifests).
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.0.sign(msg).as_ref().to_vec()
    }

    /// A fresh random key.
    pub fn generate() -> Result<VendorKey, LicenseError> {
        Ed25519KeyPair::generate()
            .map(VendorKey)
            .map_err(|_| LicenseError::Storage("cannot generate a key".into()))
    }

    /// Reads a PEM `PRIVATE KEY` (PKCS#8, Ed25519) as `keygen` writes it.
    pub fn from_pem(pem: &str) -> Result<VendorKey, LicenseError> {
        let der = pem_decode(pem, "PRIVATE KEY")?;
        Ed25519KeyPair::from_pkcs8(&der)
            .map(VendorKey)
            .map_err(|e| LicenseError::Malformed(format!("not an Ed25519 private key: {e}")))
    }

    /// The private key as PEM (PKCS#8).
    pub fn private_pem(&self) -> Result<String, LicenseError> {
        let doc = self
            .0
            .to_pkcs8()
            .map_err(|_| LicenseError::Storage("cannot encode the key".into()))?;
        Ok(pem_encode("PRIVATE KEY", doc.as_ref()))
    }

    /// The raw public key.
    pub fn public_key(&self) -> Vec<u8> {
        self.0.public_key().as_ref().to_vec()
    }

    /// The public key as PEM (SubjectPublicKeyInfo), what `SEGL_LICENSE_PUBKEY` names.
    pub fn public_pem(&self) -> String {
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(self.0.public_key().as_ref());
        pem_encode("PUBLIC KEY", &der)
    }

    /// Signs `terms` into a licence file.
    pub fn issue(&self, terms: &Terms) -> Result<String, LicenseError> {
        let block = format::terms_block(terms)?;
        let kid = format::key_id(self.0.public_key().as_ref());
        let sig = self.0.sign(&format::signed_bytes(&kid, &block));
        Ok(format::assemble(&block, &kid, sig.as_ref()))
    }
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_decode(pem: &str, label: &str) -> Result<Vec<u8>, LicenseError> {
    use base64::Engine;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let b64: String = pem
        .lines()
        .skip_while(|l| l.trim() != begin)
        .skip(1)
        .take_while(|l| l.trim() != end)
        .map(str::trim)
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| LicenseError::Malformed(format!("not a PEM {label}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn development_key_matches_the_committed_public_key() {
        let k = VendorKey::development().expect("dev key");
        let committed = include_str!("dev-key.pub");
        assert_eq!(k.public_pem().trim(), committed.trim());
    }

    #[test]
    fn issued_licence_verifies_and_a_changed_byte_does_not() {
        let k = VendorKey::generate().expect("key");
        let terms = Terms {
            format: 1,
            id: "L-7".into(),
            customer: "Kunde".into(),
            issued: "2026-01-01".into(),
            starts: "2026-01-01".into(),
            expires: "2026-12-31".into(),
            keys: 3,
            grace_days: 0,
            features: vec![],
            box_id: Some("segl-0000-0000-0000-0000-0000".into()),
        };
        let text = k.issue(&terms).expect("issue");
        let f = format::parse(text.as_bytes()).expect("parse");
        super::super::keys::verify_with(&f, &k.public_key()).expect("verifies");
        let tampered = text.replace("keys = 3", "keys = 4");
        let f = format::parse(tampered.as_bytes()).expect("parse");
        assert_eq!(
            super::super::keys::verify_with(&f, &k.public_key()),
            Err(LicenseError::BadSignature)
        );
        let pem = k.private_pem().expect("pem");
        let back = VendorKey::from_pem(&pem).expect("from pem");
        assert_eq!(back.public_key(), k.public_key());
    }
}
