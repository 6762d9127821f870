//! The per-message lookups: memory only, no I/O, no key parsing.
//!
//! - signing: the newest *active*, currently valid own key naming the address (an exact
//!   address key beats the domain key);
//! - decryption: every own key we hold, superseded and archived included, so mail encrypted
//!   to an old certificate still opens;
//! - encryption: the newest enabled, approved, valid, not revoked partner certificate that
//!   allows keyEncipherment, with the partner domain certificate as fallback.

use std::collections::HashSet;
use std::sync::Arc;

use cms::enveloped_data::RecipientIdentifier;
use x509_cert::crl::CertificateList;
use x509_cert::Certificate;

use super::model::{self, KeyState, PartnerRecord, PartnerSource, Purpose};
use super::{Keystore, Snapshot};
use crate::smime::keyops::recipient_matches;
use crate::smime::{certs, AwsLcRsaKey, KeyLookup, PrivateKeyOps};

/// All own private keys, for [`crate::smime::decrypt`]. A snapshot: cheap to make per message.
#[derive(Clone, Default)]
pub struct DecryptionKeys(Vec<Arc<AwsLcRsaKey>>);

impl DecryptionKeys {
    /// The certificates of the keys, DER: equal lists mean the same keys.
    pub fn identity(&self) -> Vec<Vec<u8>> {
        use der::Encode;
        let mut ids: Vec<Vec<u8>> = self
            .0
            .iter()
            .filter_map(|k| k.certificate().to_der().ok())
            .collect();
        ids.sort();
        ids
    }
    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The certificates of the keys.
    pub fn certificates(&self) -> Vec<Certificate> {
        self.0.iter().map(|k| k.certificate().clone()).collect()
    }
    /// Splits off the keys whose certificate fails `keep` (licensing withholds unlicensed keys).
    pub fn split_off_unless(&mut self, keep: impl Fn(&Certificate) -> bool) -> DecryptionKeys {
        let (kept, withheld) = std::mem::take(&mut self.0)
            .into_iter()
            .partition(|k| keep(k.certificate()));
        self.0 = kept;
        DecryptionKeys(withheld)
    }
}

impl KeyLookup for DecryptionKeys {
    fn find(&self, rid: &RecipientIdentifier) -> Option<&dyn PrivateKeyOps> {
        self.0
            .iter()
            .find(|k| recipient_matches(rid, k.certificate()))
            .map(|k| k.as_ref() as &dyn PrivateKeyOps)
    }
}

fn domain_of(address: &str) -> Option<String> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
}

/// Ids of the keys that currently sign for their addresses.
pub(crate) fn signing_ids(snap: &Snapshot, now: i64) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut targets: Vec<String> = Vec::new();
    for l in &snap.keys {
        targets.extend(l.rec.addresses.iter().cloned());
        if let Some(d) = &l.rec.domain {
            targets.push(format!("@{d}"));
        }
    }
    for t in targets {
        if let Some(i) = best_signing(snap, &t, now) {
            out.insert(snap.keys[i].rec.id.clone());
        }
    }
    out
}

/// Index of the best signing key for `address` (`@domain` asks for the domain key only).
fn best_signing(snap: &Snapshot, address: &str, now: i64) -> Option<usize> {
    let address = crate::address::normalize(address);
    let domain = domain_of(&address);
    let usable = |i: &usize| {
        let l = &snap.keys[*i];
        l.rec.state == KeyState::Active
            && l.key.is_some()
            && l.rec.not_before <= now
            && now <= l.rec.not_after
    };
    let exact = (0..snap.keys.len())
        .filter(usable)
        .filter(|i| snap.keys[*i].rec.addresses.contains(&address))
        .max_by_key(|i| (snap.keys[*i].rec.not_before, snap.keys[*i].rec.created));
    exact.or_else(|| {
        (0..snap.keys.len())
            .filter(usable)
            .filter(|i| {
                let r = &snap.keys[*i].rec;
                r.purpose == Purpose::Domain && r.domain.is_some() && r.domain == domain
            })
            .max_by_key(|i| (snap.keys[*i].rec.not_before, snap.keys[*i].rec.created))
    })
}

fn revoked_in(crls: &[(model::CrlRecord, CertificateList)], cert: &Certificate) -> bool {
    let tbs = cert.tbs_certificate();
    crls.iter()
        .filter(|(_, c)| &c.tbs_cert_list.issuer == tbs.issuer())
        .any(|(_, c)| {
            c.tbs_cert_list
                .revoked_certificates
                .iter()
                .flatten()
                .any(|r| &r.serial_number == tbs.serial_number())
        })
}

fn encryption_ok(p: &PartnerRecord, c: &Certificate, now: i64, snap: &Snapshot) -> bool {
    let (nb, na) = model::validity(c);
    p.enabled
        && !p.pending
        && nb <= now
        && now <= na
        && certs::check_encryption_cert(c).is_ok()
        && !revoked_in(&snap.crls, c)
}

impl Keystore {
    /// The current signing key of `address` (a function mailbox's address works the same).
    pub fn signing_key(&self, address: &str) -> Option<Arc<dyn PrivateKeyOps>> {
        let snap = self.snapshot();
        let i = best_signing(&snap, address, model::now())?;
        snap.keys[i]
            .key
            .clone()
            .map(|k| k as Arc<dyn PrivateKeyOps>)
    }

    /// The chain certificates (intermediates, root) to send along with `address`'s signature.
    pub fn signing_chain(&self, address: &str) -> Vec<Certificate> {
        let snap = self.snapshot();
        best_signing(&snap, address, model::now())
            .map(|i| snap.keys[i].chain.clone())
            .unwrap_or_default()
    }

    /// The signing key of a function mailbox by its id (e.g. `advokatkontoret`).
    pub fn mailbox_key(&self, mailbox: &str) -> Option<Arc<dyn PrivateKeyOps>> {
        let addr = {
            let snap = self.snapshot();
            snap.keys
                .iter()
                .find(|l| l.rec.mailbox.as_deref() == Some(mailbox))
                .and_then(|l| l.rec.addresses.first().cloned())
        }?;
        self.signing_key(&addr)
    }

    /// Whether `cert` is the certificate of one of our keys that counts as the company key:
    /// a key whose addresses or domain are listed in `company` (addresses, `@domain`), or, with
    /// an empty list, any domain key (one certificate for a whole local domain). Old keys of
    /// the company count too (mail encrypted before a rollover).
    pub fn is_company_key(&self, cert: &Certificate, company: &[String]) -> bool {
        use der::Encode;
        let Ok(der) = cert.to_der() else {
            return false;
        };
        self.snapshot().keys.iter().any(|l| {
            if l.rec.cert.as_deref() != Some(der.as_slice()) {
                return false;
            }
            if company.is_empty() {
                return l.rec.purpose == Purpose::Domain;
            }
            let domain = l.rec.domain.as_ref().map(|d| format!("@{d}"));
            company.iter().any(|c| {
                let c = crate::address::normalize(c);
                l.rec.addresses.contains(&c) || domain.as_deref() == Some(c.as_str())
            })
        })
    }

    /// Every own key we hold, including superseded and archived ones.
    pub fn decryption_keys(&self) -> DecryptionKeys {
        DecryptionKeys(
            self.snapshot()
                .keys
                .iter()
                .filter_map(|l| l.key.clone())
                .collect(),
        )
    }

    /// The own keys that may decrypt mail for the envelope recipient `rcpt` (old ones too): an
    /// individual key only when its certificate names the address, a function-mailbox key for
    /// its mailbox address, a domain key for addresses of its domain.
    pub fn decryption_keys_for(&self, rcpt: &str) -> DecryptionKeys {
        let rcpt = crate::address::normalize(rcpt);
        let domain = domain_of(&rcpt);
        DecryptionKeys(
            self.snapshot()
                .keys
                .iter()
                .filter(|l| {
                    let Some(key) = &l.key else { return false };
                    let cert = key.certificate();
                    match l.rec.purpose {
                        Purpose::Individual => {
                            certs::match_address(cert, &rcpt) == certs::AddressMatch::Exact
                        }
                        Purpose::Mailbox => {
                            l.rec.addresses.contains(&rcpt)
                                || certs::match_address(cert, &rcpt) == certs::AddressMatch::Exact
                        }
                        Purpose::Domain => {
                            domain.is_some()
                                && (l.rec.domain == domain
                                    || certs::match_address(cert, &rcpt)
                                        == certs::AddressMatch::Domain)
                        }
                    }
                })
                .filter_map(|l| l.key.clone())
                .collect(),
        )
    }

    /// The best certificate to encrypt to `address`: valid now, keyEncipherment allowed,
    /// enabled and approved, not revoked; newest wins; the partner domain certificate is the
    /// fallback.
    pub fn encryption_cert(&self, address: &str) -> Option<Certificate> {
        self.encryption_partner(address).map(|(_, c)| c)
    }

    /// Like [`Keystore::encryption_cert`], with the partner record it comes from.
    pub fn encryption_partner(&self, address: &str) -> Option<(PartnerRecord, Certificate)> {
        let address = crate::address::normalize(address);
        let domain = domain_of(&address)?;
        let now = model::now();
        let snap = self.snapshot();
        let newest = |it: Vec<&(PartnerRecord, Certificate)>| {
            it.into_iter()
                .max_by_key(|(_, c)| model::validity(c).0)
                .cloned()
        };
        let exact: Vec<_> = snap
            .partners
            .iter()
            .filter(|(p, c)| {
                p.domain.is_none()
                    && p.addresses.contains(&address)
                    && encryption_ok(p, c, now, &snap)
            })
            .collect();
        newest(exact).or_else(|| {
            let dom: Vec<_> = snap
                .partners
                .iter()
                .filter(|(p, c)| {
                    p.domain.as_deref() == Some(domain.as_str()) && encryption_ok(p, c, now, &snap)
                })
                .collect();
            newest(dom)
        })
    }

    /// Enabled, approved partner certificates (for path building and pinned trust). Directory
    /// (LDAP) certificates are not among them: a directory vouches for encryption keys, not
    /// for signatures.
    pub fn partner_certificates(&self) -> Vec<Certificate> {
        self.snapshot()
            .partners
            .iter()
            .filter(|(p, _)| p.enabled && !p.pending && p.source != PartnerSource::Ldap)
            .map(|(_, c)| c.clone())
            .collect()
    }

    /// The trust anchors (imported CA certificates and the built-in CA).
    pub fn trust_anchors(&self) -> Vec<Certificate> {
        self.snapshot()
            .anchors
            .iter()
            .map(|(_, c)| c.clone())
            .collect()
    }

    /// The CRLs we hold (verified when imported or fetched).
    pub fn crls(&self) -> Vec<CertificateList> {
        self.snapshot()
            .crls
            .iter()
            .map(|(_, c)| c.clone())
            .collect()
    }

    /// Whether a CRL we hold lists `cert` as revoked.
    pub fn is_revoked(&self, cert: &Certificate) -> bool {
        revoked_in(&self.snapshot().crls, cert)
    }
}
