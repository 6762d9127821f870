//! Own keys: import (PKCS#12, PEM), generation with the built-in CA, CSRs for an external CA
//! and the import of the certificate it issues, listing and certificate export.
//! Every addition runs the rollover check, as the issue asks.

use der::{Encode, EncodePem};
use zeroize::Zeroizing;

use super::error::{KeystoreError, Result};
use super::import::{self, Imported};
use super::model::{self, KeyInfo, KeyRecord, KeySource, KeyState, Purpose};
use super::{ca, new_id, Keystore, T_KEYS};
use crate::smime::AwsLcRsaKey;

/// Whom an imported key serves.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// The addresses in the certificate.
    Individual,
    /// A function mailbox with this id.
    Mailbox(String),
    /// A whole local domain.
    Domain(String),
}

fn check_mail(addr: &str) -> Result<String> {
    let a = crate::address::normalize(addr);
    match a.split_once('@') {
        Some((l, d)) if !l.is_empty() && crate::config::is_domain(d) && a.is_ascii() => Ok(a),
        _ => Err(KeystoreError::BadInput(format!(
            "{addr:?} is not a mail address"
        ))),
    }
}

fn check_mailbox_id(id: &str) -> Result<()> {
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(KeystoreError::BadInput(format!(
            "{id:?} is not a mailbox id"
        )));
    }
    Ok(())
}

fn der_of(c: &x509_cert::Certificate) -> Result<Vec<u8>> {
    c.to_der()
        .map_err(|e| KeystoreError::BadInput(format!("certificate encoding: {e}")))
}

impl Keystore {
    /// Imports a PKCS#12 file as an own key.
    pub fn import_p12(&self, p12: &[u8], password: &str, target: Target) -> Result<KeyInfo> {
        let imp = import::p12::import(p12, password)?;
        self.add_imported(imp, target, KeySource::Imported)
    }

    /// Imports a PEM private key with its certificate (one text, key and certificates).
    pub fn import_pem(&self, pem: &[u8], target: Target) -> Result<KeyInfo> {
        let imp = import::pem::import(pem)?;
        self.add_imported(imp, target, KeySource::Imported)
    }

    fn add_imported(&self, imp: Imported, target: Target, source: KeySource) -> Result<KeyInfo> {
        let cert_der = der_of(&imp.cert)?;
        let addresses = model::cert_addresses(&imp.cert);
        let (purpose, mailbox, domain) = match target {
            Target::Individual => (Purpose::Individual, None, None),
            Target::Mailbox(id) => {
                check_mailbox_id(&id)?;
                (Purpose::Mailbox, Some(id), None)
            }
            Target::Domain(d) => {
                let d = crate::address::normalize(&d);
                if !crate::config::is_domain(&d) {
                    return Err(KeystoreError::BadInput(format!("{d:?} is not a domain")));
                }
                (Purpose::Domain, None, Some(d))
            }
        };
        if purpose != Purpose::Domain && addresses.is_empty() {
            return Err(KeystoreError::BadInput(
                "the certificate names no mail address (use --domain for a domain certificate)"
                    .into(),
            ));
        }
        let _w = self.lock_writer();
        if self
            .snapshot()
            .keys
            .iter()
            .any(|l| l.rec.cert.as_deref() == Some(&cert_der[..]))
        {
            return Err(KeystoreError::Conflict(
                "this certificate is already in the keystore".into(),
            ));
        }
        let id = new_id()?;
        let (nb, na) = model::validity(&imp.cert);
        let mut chain = Vec::new();
        for c in &imp.chain {
            chain.push(der_of(c)?);
        }
        let rec = KeyRecord {
            sealed_key: self.seal_key(&id, &imp.pkcs8)?,
            id: id.clone(),
            purpose,
            mailbox,
            domain,
            addresses,
            source,
            state: KeyState::Active,
            cert: Some(cert_der),
            chain,
            csr_pem: None,
            created: model::now(),
            not_before: nb,
            not_after: na,
            successor: None,
            pending_action: None,
        };
        self.put_json(T_KEYS, &id, &rec)?;
        self.commit()?;
        tracing::info!(key = %id, purpose = ?purpose, addresses = ?rec.addresses, "own key imported");
        self.rollover_locked(model::now())?;
        self.key_info(&id)
    }

    /// Makes a key and a certificate from the built-in CA for `email` (`days` of validity).
    pub fn generate(&self, email: &str, days: Option<u32>) -> Result<KeyInfo> {
        self.generate_for(email, days, None)
    }

    /// Like [`Keystore::generate`]; with `mailbox`, the key belongs to that function mailbox
    /// (e.g. `advokatkontoret`, found by [`Keystore::mailbox_key`]).
    pub fn generate_for(
        &self,
        email: &str,
        days: Option<u32>,
        mailbox: Option<String>,
    ) -> Result<KeyInfo> {
        let email = check_mail(email)?;
        let purpose = match &mailbox {
            Some(m) => {
                check_mailbox_id(m)?;
                Purpose::Mailbox
            }
            None => Purpose::Individual,
        };
        let _w = self.lock_writer();
        let id = self.generate_locked(
            &email,
            days.unwrap_or(self.settings.cert_days),
            purpose,
            mailbox,
            None,
        )?;
        self.rollover_locked(model::now())?;
        self.key_info(&id)
    }

    /// Generates and stores a built-in-CA key; the caller holds the writer lock.
    pub(crate) fn generate_locked(
        &self,
        email: &str,
        days: u32,
        purpose: Purpose,
        mailbox: Option<String>,
        domain: Option<String>,
    ) -> Result<String> {
        let (_, pkcs8) = ca::new_key_pair()?;
        let addresses = vec![email.to_string()];
        let cert_der = self.issue_locked(&pkcs8, email, &addresses, days)?;
        let cert = crate::smime::certs::parse_der(&cert_der)?;
        let (nb, na) = model::validity(&cert);
        let id = new_id()?;
        let rec = KeyRecord {
            sealed_key: self.seal_key(&id, &pkcs8)?,
            id: id.clone(),
            purpose,
            mailbox,
            domain,
            addresses,
            source: KeySource::BuiltinCa,
            state: KeyState::Active,
            cert: Some(cert_der),
            chain: vec![self.store_ca_der()?],
            csr_pem: None,
            created: model::now(),
            not_before: nb,
            not_after: na,
            successor: None,
            pending_action: None,
        };
        self.put_json(T_KEYS, &id, &rec)?;
        self.commit()?;
        tracing::info!(key = %id, address = %email, "key issued by the built-in CA");
        Ok(id)
    }

    fn store_ca_der(&self) -> Result<Vec<u8>> {
        let raw = self
            .store
            .get(super::T_META, "ca")?
            .ok_or_else(|| KeystoreError::NotFound("built-in CA".into()))?;
        let v: serde_json::Value = serde_json::from_slice(&raw)?;
        let b = v["cert"].as_str().unwrap_or_default();
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| KeystoreError::Damaged(format!("built-in CA certificate: {e}")))
    }

    /// Makes a key and a CSR for an external CA; the key waits for `import_cert`.
    pub fn csr(&self, email: &str) -> Result<KeyInfo> {
        let email = check_mail(email)?;
        let _w = self.lock_writer();
        let id = self.csr_locked(&email, Purpose::Individual, None, None, None)?;
        self.key_info(&id)
    }

    pub(crate) fn csr_locked(
        &self,
        email: &str,
        purpose: Purpose,
        mailbox: Option<String>,
        domain: Option<String>,
        renews: Option<&str>,
    ) -> Result<String> {
        let (_, pkcs8) = ca::new_key_pair()?;
        let addresses = vec![email.to_string()];
        let csr = ca::csr_pem(&pkcs8, email, &addresses)?;
        let id = new_id()?;
        let rec = KeyRecord {
            sealed_key: self.seal_key(&id, &pkcs8)?,
            id: id.clone(),
            purpose,
            mailbox,
            domain,
            addresses,
            source: KeySource::ExternalCa,
            state: KeyState::PendingCertificate,
            cert: None,
            chain: vec![],
            csr_pem: Some(csr),
            created: model::now(),
            not_before: 0,
            not_after: 0,
            successor: None,
            pending_action: Some(match renews {
                Some(old) => format!("renewal of key {old}: have the CSR signed by your CA, then `segl ctl key import-cert FILE`"),
                None => "have the CSR signed by your CA, then `segl ctl key import-cert FILE`".into(),
            }),
        };
        self.put_json(T_KEYS, &id, &rec)?;
        self.commit()?;
        tracing::info!(key = %id, address = %email, "key and CSR made for an external CA");
        Ok(id)
    }

    /// Attaches the certificate an external CA issued for a pending CSR key.
    pub fn import_cert(&self, input: &[u8]) -> Result<KeyInfo> {
        let mut certs = import::pem::certificates(input)?;
        let _w = self.lock_writer();
        let pending: Vec<KeyRecord> = self
            .snapshot()
            .keys
            .iter()
            .filter(|l| l.rec.state == KeyState::PendingCertificate)
            .map(|l| l.rec.clone())
            .collect();
        for rec in pending {
            let pkcs8: Zeroizing<Vec<u8>> = self.unseal_key(&rec)?;
            let Some(pos) = certs
                .iter()
                .position(|c| AwsLcRsaKey::from_pkcs8(&pkcs8, c.clone()).is_ok())
            else {
                continue;
            };
            let cert = certs.remove(pos);
            let (nb, na) = model::validity(&cert);
            let mut rec = rec;
            rec.cert = Some(der_of(&cert)?);
            rec.chain = certs.iter().map(der_of).collect::<Result<_>>()?;
            rec.addresses = {
                let a = model::cert_addresses(&cert);
                if a.is_empty() {
                    rec.addresses
                } else {
                    a
                }
            };
            rec.state = KeyState::Active;
            rec.csr_pem = None;
            rec.pending_action = None;
            rec.not_before = nb;
            rec.not_after = na;
            self.put_json(T_KEYS, &rec.id, &rec)?;
            // The key this one renews no longer needs attention.
            let renewed: Vec<KeyRecord> = self
                .snapshot()
                .keys
                .iter()
                .filter(|l| {
                    l.rec
                        .pending_action
                        .as_deref()
                        .is_some_and(|p| p.contains(&rec.id))
                })
                .map(|l| l.rec.clone())
                .collect();
            for mut old in renewed {
                old.pending_action = None;
                old.successor = Some(rec.id.clone());
                old.state = KeyState::Superseded;
                self.put_json(T_KEYS, &old.id, &old)?;
            }
            self.commit()?;
            tracing::info!(key = %rec.id, "certificate from external CA attached");
            self.rollover_locked(model::now())?;
            return self.key_info(&rec.id);
        }
        Err(KeystoreError::NotFound(
            "no pending CSR key matches this certificate".into(),
        ))
    }

    /// All own keys (archived ones included, marked so).
    pub fn list_keys(&self) -> Vec<KeyInfo> {
        let snap = self.snapshot();
        let signing = super::lookup::signing_ids(&snap, model::now());
        snap.keys
            .iter()
            .map(|l| info(l, signing.contains(&l.rec.id)))
            .collect()
    }

    /// One own key's public view.
    pub fn key_info(&self, id: &str) -> Result<KeyInfo> {
        self.list_keys()
            .into_iter()
            .find(|k| k.id == id)
            .ok_or_else(|| KeystoreError::NotFound(format!("key {id}")))
    }

    /// The certificate (PEM, with chain) of the current key for an address, or of a key id.
    pub fn export_cert(&self, addr_or_id: &str) -> Result<String> {
        let want = addr_or_id.trim().to_ascii_lowercase();
        let snap = self.snapshot();
        let signing = super::lookup::signing_ids(&snap, model::now());
        let by_id = snap.keys.iter().find(|l| l.rec.id == want);
        let pick = by_id.or_else(|| {
            snap.keys
                .iter()
                .filter(|l| l.rec.addresses.contains(&want) && l.cert.is_some())
                .max_by_key(|l| (signing.contains(&l.rec.id), l.rec.not_before))
        });
        let l = pick.ok_or_else(|| {
            KeystoreError::NotFound(format!("no own certificate for {addr_or_id}"))
        })?;
        let cert = l.cert.as_ref().ok_or_else(|| {
            KeystoreError::NotFound(format!("key {} has no certificate yet", l.rec.id))
        })?;
        let mut out = cert
            .to_pem(der::pem::LineEnding::LF)
            .map_err(|e| KeystoreError::BadInput(e.to_string()))?;
        for c in &l.rec.chain {
            out.push_str(
                &der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, c)
                    .map_err(|e| KeystoreError::BadInput(e.to_string()))?,
            );
        }
        Ok(out)
    }
}

pub(crate) fn info(l: &super::Loaded, signing: bool) -> KeyInfo {
    let r = &l.rec;
    let c = l.cert.as_ref();
    KeyInfo {
        id: r.id.clone(),
        purpose: r.purpose,
        mailbox: r.mailbox.clone(),
        domain: r.domain.clone(),
        addresses: r.addresses.clone(),
        source: r.source,
        state: r.state,
        signing,
        subject: c.map(|c| c.tbs_certificate().subject().to_string()),
        issuer: c.map(|c| c.tbs_certificate().issuer().to_string()),
        serial: c.map(model::serial_hex),
        fingerprint_sha256: r.cert.as_deref().map(model::fingerprint),
        not_before: c.map(|_| model::iso(r.not_before)),
        not_after: c.map(|_| model::iso(r.not_after)),
        successor: r.successor.clone(),
        pending_action: r.pending_action.clone(),
        csr_pem: r.csr_pem.clone(),
    }
}
