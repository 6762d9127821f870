//! Segl's built-in CA: made on first use, its key sealed like every own key, its certificate
//! a trust anchor here and downloadable (`GET /api/v1/keys/ca`) so partners can trust it.
//! Also makes fresh key pairs and CSRs for external CAs. Uses rcgen over aws-lc-rs.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::error::{KeystoreError, Result};
use super::model::{self, AnchorRecord};
use super::{crypt, Keystore, T_ANCHORS, T_META};

/// The built-in CA as stored (`meta/ca`); its key is sealed with the associated data `ca`.
#[derive(Serialize, Deserialize)]
pub(crate) struct CaRecord {
    pub name: String,
    #[serde(with = "model::b64")]
    pub cert: Vec<u8>,
    pub sealed_key: Vec<u8>,
}

fn serial() -> Result<SerialNumber> {
    let mut b: [u8; 16] = crypt::random()?;
    b[0] &= 0x7f;
    b[0] |= 0x01;
    Ok(SerialNumber::from_slice(&b))
}

fn ca_params(name: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn.push(DnType::OrganizationName, "Segl");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p
}

fn validity(p: &mut CertificateParams, days: u32) {
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::hours(1);
    p.not_after = now + time::Duration::days(i64::from(days));
}

/// A new RSA-2048 key pair (aws-lc-rs); returns it with its PKCS#8 DER.
pub fn new_key_pair() -> Result<(KeyPair, Zeroizing<Vec<u8>>)> {
    let kp = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)?;
    let der = Zeroizing::new(kp.serialized_der().to_vec());
    Ok((kp, der))
}

fn key_pair_from(pkcs8: &[u8]) -> Result<KeyPair> {
    KeyPair::try_from(pkcs8).map_err(KeystoreError::from)
}

/// Parameters of an S/MIME end-entity certificate (or CSR) for `addresses`.
pub fn leaf_params(common_name: &str, addresses: &[String]) -> Result<CertificateParams> {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    p.distinguished_name = dn;
    for a in addresses {
        let ia5 = a
            .as_str()
            .try_into()
            .map_err(|_| KeystoreError::BadInput(format!("{a:?} is not an ASCII mail address")))?;
        p.subject_alt_names.push(SanType::Rfc822Name(ia5));
    }
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection];
    p.use_authority_key_identifier_extension = true;
    Ok(p)
}

/// A CSR (PEM) for `addresses` signed with the key `pkcs8`.
pub fn csr_pem(pkcs8: &[u8], common_name: &str, addresses: &[String]) -> Result<String> {
    let kp = key_pair_from(pkcs8)?;
    let mut p = leaf_params(common_name, addresses)?;
    p.use_authority_key_identifier_extension = false;
    Ok(p.serialize_request(&kp)?.pem()?)
}

impl Keystore {
    /// The built-in CA's certificate (DER), made on first use.
    pub fn ca_certificate(&self) -> Result<Vec<u8>> {
        let _w = self.lock_writer();
        self.ensure_ca().map(|(_, cert)| cert)
    }

    /// Loads or creates the CA; the caller holds the writer lock.
    fn ensure_ca(&self) -> Result<(CaRecord, Vec<u8>)> {
        if let Some(raw) = self.store.get(T_META, "ca")? {
            let rec: CaRecord = serde_json::from_slice(&raw)?;
            let cert = rec.cert.clone();
            return Ok((rec, cert));
        }
        let name = self.settings.ca_name.clone();
        let (kp, pkcs8) = new_key_pair()?;
        let mut p = ca_params(&name);
        validity(&mut p, self.settings.ca_days);
        p.serial_number = Some(serial()?);
        let cert = p.self_signed(&kp)?;
        let der = cert.der().to_vec();
        let rec = CaRecord {
            name,
            cert: der.clone(),
            sealed_key: self.kek.seal(b"ca", &pkcs8)?,
        };
        self.put_json(T_META, "ca", &rec)?;
        let parsed = crate::smime::certs::parse_der(&der)?;
        let id = model::fingerprint(&der)[..16].to_string();
        let anchor = AnchorRecord {
            id: id.clone(),
            subject: parsed.tbs_certificate().subject().to_string(),
            not_after: model::iso(model::validity(&parsed).1),
            source: "builtin_ca".into(),
            cert: der.clone(),
        };
        self.put_json(T_ANCHORS, &id, &anchor)?;
        self.store.flush()?;
        tracing::info!(ca = %anchor.subject, "built-in CA created");
        Ok((rec, der))
    }

    /// Issues a certificate from the built-in CA for the key `pkcs8`; returns the DER.
    /// The caller holds the writer lock.
    pub(crate) fn issue_locked(
        &self,
        pkcs8: &[u8],
        common_name: &str,
        addresses: &[String],
        days: u32,
    ) -> Result<Vec<u8>> {
        let (ca, _) = self.ensure_ca()?;
        let ca_key = self.kek.open(b"ca", &ca.sealed_key)?;
        let issuer = rcgen::Issuer::new(ca_params(&ca.name), key_pair_from(&ca_key)?);
        let leaf_kp = key_pair_from(pkcs8)?;
        let mut p = leaf_params(common_name, addresses)?;
        validity(&mut p, days.max(1));
        p.serial_number = Some(serial()?);
        let cert = p.signed_by(&leaf_kp, &issuer)?;
        Ok(cert.der().to_vec())
    }
}
