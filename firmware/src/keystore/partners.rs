//! Partner certificates (by address) and partner domain certificates (by domain): import,
//! harvesting from verified signatures (automatic or pending approval), enable, disable,
//! approve, delete. A record's id is its certificate's fingerprint, so re-importing or
//! re-harvesting the same certificate never duplicates it.

use der::Encode;
use x509_cert::Certificate;

use super::error::{KeystoreError, Result};
use super::import;
use super::model::{self, PartnerRecord, PartnerSource};
use super::{Keystore, T_PARTNERS};
use crate::smime::certs;

fn record(
    cert: &Certificate,
    domain: Option<String>,
    source: PartnerSource,
    pending: bool,
) -> Result<PartnerRecord> {
    let der = cert
        .to_der()
        .map_err(|e| KeystoreError::BadInput(format!("certificate encoding: {e}")))?;
    let (nb, na) = model::validity(cert);
    let tbs = cert.tbs_certificate();
    Ok(PartnerRecord {
        id: model::fingerprint(&der)[..16].to_string(),
        addresses: if domain.is_some() {
            vec![]
        } else {
            model::cert_addresses(cert)
        },
        domain,
        enabled: true,
        pending,
        source,
        subject: tbs.subject().to_string(),
        issuer: tbs.issuer().to_string(),
        not_before: model::iso(nb),
        not_after: model::iso(na),
        encryption_capable: certs::check_encryption_cert(cert).is_ok(),
        added: model::now(),
        harvested_from: None,
        cert: der,
    })
}

impl Keystore {
    /// Imports partner certificates (PEM or DER); with `domain`, as that domain's certificate.
    pub fn import_partner(&self, input: &[u8], domain: Option<&str>) -> Result<Vec<PartnerRecord>> {
        let domain = match domain {
            Some(d) => {
                let d = crate::address::normalize(d);
                if !crate::config::is_domain(&d) {
                    return Err(KeystoreError::BadInput(format!("{d:?} is not a domain")));
                }
                Some(d)
            }
            None => None,
        };
        let mut out = Vec::new();
        let _w = self.lock_writer();
        for cert in import::pem::certificates(input)? {
            let rec = record(&cert, domain.clone(), PartnerSource::Imported, false)?;
            if rec.domain.is_none() && rec.addresses.is_empty() {
                return Err(KeystoreError::BadInput(format!(
                    "{}: the certificate names no mail address (use --domain for a domain certificate)",
                    rec.subject
                )));
            }
            self.put_json(T_PARTNERS, &rec.id, &rec)?;
            tracing::info!(partner = %rec.id, addresses = ?rec.addresses, domain = ?rec.domain, "partner certificate imported");
            out.push(rec);
        }
        self.commit()?;
        Ok(out)
    }

    /// Stores a certificate harvested from a verified signature of `address`. With `pending`
    /// it waits for approval. An already known certificate keeps its record (an administrator's
    /// disable is not undone by the next signed mail).
    pub fn add_harvested(
        &self,
        address: &str,
        cert: &Certificate,
        pending: bool,
    ) -> Result<PartnerRecord> {
        // The common case — a partner already known signs again — is answered from the
        // snapshot before the record (names, addresses, key checks) is built.
        if let Some(known) = self.known_partner(cert) {
            return Ok(known);
        }
        let mut rec = record(cert, None, PartnerSource::Harvested, pending)?;
        let address = crate::address::normalize(address);
        rec.harvested_from = Some(address.clone());
        if !rec.addresses.contains(&address) {
            rec.addresses.push(address);
        }
        let _w = self.lock_writer();
        if let Some(existing) = self
            .snapshot()
            .partners
            .iter()
            .find(|(p, _)| p.id == rec.id)
        {
            return Ok(existing.0.clone());
        }
        self.put_json(T_PARTNERS, &rec.id, &rec)?;
        self.commit()?;
        tracing::info!(partner = %rec.id, pending, "certificate harvested");
        Ok(rec)
    }

    /// The stored record of `cert`, if it is a partner certificate already (by fingerprint).
    fn known_partner(&self, cert: &Certificate) -> Option<PartnerRecord> {
        let der = cert.to_der().ok()?;
        let fp = model::fingerprint(&der);
        let id = fp.get(..16)?;
        self.snapshot()
            .partners
            .iter()
            .find(|(p, _)| p.id == id)
            .map(|(p, _)| p.clone())
    }

    /// Caches a certificate found in an LDAP directory for `address` (source `ldap`, used at
    /// once). The same certificate found again refreshes the record's time (`added`), so the
    /// directory is asked again only after `lookup.cache_hours`; an administrator's disable is
    /// kept.
    pub fn add_from_directory(&self, address: &str, cert: &Certificate) -> Result<PartnerRecord> {
        let mut rec = record(cert, None, PartnerSource::Ldap, false)?;
        let address = crate::address::normalize(address);
        rec.harvested_from = Some(address.clone());
        if !rec.addresses.contains(&address) {
            rec.addresses.push(address);
        }
        let _w = self.lock_writer();
        if let Some((existing, _)) = self
            .snapshot()
            .partners
            .iter()
            .find(|(p, _)| p.id == rec.id)
        {
            if existing.source != PartnerSource::Ldap {
                return Ok(existing.clone());
            }
            rec.enabled = existing.enabled;
        }
        self.put_json(T_PARTNERS, &rec.id, &rec)?;
        self.commit()?;
        Ok(rec)
    }

    /// Approved partner certificates (enabled or not).
    pub fn list_partners(&self) -> Vec<PartnerRecord> {
        self.snapshot()
            .partners
            .iter()
            .filter(|(p, _)| !p.pending)
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Certificates waiting for approval.
    pub fn pending_partners(&self) -> Vec<PartnerRecord> {
        self.snapshot()
            .partners
            .iter()
            .filter(|(p, _)| p.pending)
            .map(|(p, _)| p.clone())
            .collect()
    }

    fn update_partner(
        &self,
        id: &str,
        f: impl FnOnce(&mut PartnerRecord),
    ) -> Result<PartnerRecord> {
        let _w = self.lock_writer();
        let mut rec = self
            .snapshot()
            .partners
            .iter()
            .find(|(p, _)| p.id == id)
            .map(|(p, _)| p.clone())
            .ok_or_else(|| KeystoreError::NotFound(format!("partner certificate {id}")))?;
        f(&mut rec);
        self.put_json(T_PARTNERS, id, &rec)?;
        self.commit()?;
        Ok(rec)
    }

    /// Approves a pending certificate: from now on it is used.
    pub fn approve_partner(&self, id: &str) -> Result<PartnerRecord> {
        self.update_partner(id, |p| p.pending = false)
    }

    /// Enables or disables a partner certificate.
    pub fn set_partner_enabled(&self, id: &str, enabled: bool) -> Result<PartnerRecord> {
        self.update_partner(id, |p| p.enabled = enabled)
    }

    /// Deletes a partner certificate (an explicit administrator action).
    pub fn delete_partner(&self, id: &str) -> Result<()> {
        let _w = self.lock_writer();
        if !self.snapshot().partners.iter().any(|(p, _)| p.id == id) {
            return Err(KeystoreError::NotFound(format!("partner certificate {id}")));
        }
        self.store.delete(T_PARTNERS, id)?;
        self.commit()?;
        tracing::info!(partner = %id, "partner certificate deleted");
        Ok(())
    }
}
