//! Certificate revocation lists: import from a file, and a background refresh from the
//! CRL distribution points (HTTP) of the certificates we hold. Fetching happens only in that
//! task; the per-message path reads the stored lists from memory.
//! A CRL is accepted only when its signature verifies with a trust anchor or a certificate
//! of a stored chain, and it replaces a stored one of the same issuer only when it is newer.

use std::time::Duration;

use der::{Decode, Encode};
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::CrlDistributionPoints;
use x509_cert::Certificate;

use super::error::{KeystoreError, Result};
use super::import;
use super::model::{self, CrlRecord};
use super::{Keystore, T_CRLS};
use crate::smime::pubkey;

/// Largest CRL we download (bytes).
const MAX_CRL: u64 = 20 * 1024 * 1024;

fn parse(input: &[u8]) -> Result<(Vec<u8>, CertificateList)> {
    let der = if input.first() == Some(&0x30) {
        input.to_vec()
    } else {
        import::pem::blocks(input)?
            .into_iter()
            .find(|(l, _)| l == "X509 CRL")
            .map(|(_, d)| d.to_vec())
            .ok_or_else(|| KeystoreError::BadInput("no X509 CRL found".into()))?
    };
    let crl = CertificateList::from_der(&der)
        .map_err(|e| KeystoreError::BadInput(format!("CRL: {e}")))?;
    Ok((der, crl))
}

fn signed_by(crl: &CertificateList, issuer: &Certificate) -> bool {
    if &crl.tbs_cert_list.issuer != issuer.tbs_certificate().subject() {
        return false;
    }
    let (Ok(tbs), Some(sig)) = (crl.tbs_cert_list.to_der(), crl.signature.as_bytes()) else {
        return false;
    };
    let Ok(digest) = pubkey::digest_of_signature_alg(&crl.signature_algorithm) else {
        return false;
    };
    pubkey::verify(
        issuer.tbs_certificate().subject_public_key_info(),
        &crl.signature_algorithm,
        digest,
        &tbs,
        sig,
    )
    .is_ok()
}

fn time_secs(t: &x509_cert::time::Time) -> i64 {
    t.to_system_time()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Keystore {
    /// Certificates that may sign CRLs: anchors and chain certificates of own keys.
    fn crl_issuers(&self) -> Vec<Certificate> {
        let snap = self.snapshot();
        let mut v: Vec<Certificate> = snap.anchors.iter().map(|(_, c)| c.clone()).collect();
        for l in &snap.keys {
            v.extend(
                l.rec
                    .chain
                    .iter()
                    .filter_map(|d| crate::smime::certs::parse_der(d).ok()),
            );
        }
        v
    }

    /// Imports a CRL (DER or PEM) after checking its signature.
    pub fn import_crl(&self, input: &[u8]) -> Result<CrlRecord> {
        self.store_crl(input, "")
    }

    fn store_crl(&self, input: &[u8], url: &str) -> Result<CrlRecord> {
        let (der, crl) = parse(input)?;
        let issuer_name = crl.tbs_cert_list.issuer.to_string();
        if !self.crl_issuers().iter().any(|c| signed_by(&crl, c)) {
            return Err(KeystoreError::BadInput(format!(
                "the CRL of {issuer_name} is not signed by a trust anchor (import the CA first)"
            )));
        }
        let issuer_der = crl
            .tbs_cert_list
            .issuer
            .to_der()
            .map_err(|e| KeystoreError::BadInput(e.to_string()))?;
        let id = model::fingerprint(&issuer_der)[..16].to_string();
        let this_update = time_secs(&crl.tbs_cert_list.this_update);
        let _w = self.lock_writer();
        if let Some((old, _)) = self.snapshot().crls.iter().find(|(r, _)| r.id == id) {
            if let Ok(old_crl) =
                CertificateList::<x509_cert::certificate::Rfc5280>::from_der(&old.der)
            {
                if time_secs(&old_crl.tbs_cert_list.this_update) > this_update {
                    return Err(KeystoreError::Conflict(format!(
                        "a newer CRL of {issuer_name} is already stored"
                    )));
                }
            }
        }
        let rec = CrlRecord {
            id: id.clone(),
            issuer: issuer_name,
            this_update: model::iso(this_update),
            next_update: crl
                .tbs_cert_list
                .next_update
                .as_ref()
                .map(|t| model::iso(time_secs(t))),
            revoked: crl
                .tbs_cert_list
                .revoked_certificates
                .as_ref()
                .map_or(0, Vec::len),
            url: url.to_string(),
            fetched: model::now(),
            der,
        };
        self.put_json(T_CRLS, &id, &rec)?;
        self.commit()?;
        tracing::info!(issuer = %rec.issuer, revoked = rec.revoked, url, "CRL stored");
        Ok(rec)
    }

    /// The stored CRLs.
    pub fn list_crls(&self) -> Vec<CrlRecord> {
        self.snapshot()
            .crls
            .iter()
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// HTTP(S) CRL distribution points named by the certificates we hold.
    pub fn distribution_points(&self) -> Vec<String> {
        let snap = self.snapshot();
        let mut certs: Vec<Certificate> = snap.anchors.iter().map(|(_, c)| c.clone()).collect();
        certs.extend(snap.partners.iter().map(|(_, c)| c.clone()));
        for l in &snap.keys {
            certs.extend(l.cert.iter().cloned());
            certs.extend(
                l.rec
                    .chain
                    .iter()
                    .filter_map(|d| crate::smime::certs::parse_der(d).ok()),
            );
        }
        let mut urls = Vec::new();
        for c in certs {
            if let Ok(Some((_, dps))) = c.tbs_certificate().get_extension::<CrlDistributionPoints>()
            {
                for dp in dps.0 {
                    if let Some(DistributionPointName::FullName(names)) = dp.distribution_point {
                        for n in names {
                            if let GeneralName::UniformResourceIdentifier(u) = n {
                                let u = u.to_string();
                                if u.starts_with("http://") || u.starts_with("https://") {
                                    urls.push(u);
                                }
                            }
                        }
                    }
                }
            }
        }
        urls.sort();
        urls.dedup();
        urls
    }

    /// Fetches every distribution point once (blocking; run it off the async runtime).
    /// Returns how many CRLs were stored and the failures.
    pub fn refresh_crls(&self) -> (usize, Vec<KeystoreError>) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let mut ok = 0;
        let mut errors = Vec::new();
        for url in self.distribution_points() {
            let fetched = agent
                .get(&url)
                .call()
                .map_err(|e| e.to_string())
                .and_then(|mut r| {
                    r.body_mut()
                        .with_config()
                        .limit(MAX_CRL)
                        .read_to_vec()
                        .map_err(|e| e.to_string())
                });
            match fetched {
                Ok(body) => match self.store_crl(&body, &url) {
                    Ok(_) => ok += 1,
                    Err(e) => errors.push(KeystoreError::Fetch {
                        url: url.clone(),
                        message: e.to_string(),
                    }),
                },
                Err(message) => errors.push(KeystoreError::Fetch {
                    url: url.clone(),
                    message,
                }),
            }
        }
        for e in &errors {
            tracing::warn!(error = %e, "CRL refresh");
        }
        (ok, errors)
    }
}
