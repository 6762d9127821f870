//! DKIM keys in the keystore: one record per (domain, selector) in the `dkim` tree, the private
//! key sealed like every other private key ([`super::crypt`], the record id as associated
//! data), decrypted once into the in-memory snapshot, never returned by any API.
//!
//! Rollover: a new key for a domain (generated or imported, with a new selector) becomes the
//! signing key at once, and the key it replaces turns *retired*: it no longer signs, but stays
//! listed with the date it was retired, because its DNS record must stay published until
//! every mail it signed has been verified (mail in queues, `x=` not yet reached). Only
//! `segl ctl dkim delete DOMAIN SELECTOR` removes it (nothing is silently deleted);
//! `dkim list` says from when that is safe (`dkim.keep_retired_days` after retirement).

use serde::{Deserialize, Serialize};

use super::error::{KeystoreError, Result};
use super::{model, Keystore};
use crate::dkim::{self, key, record, Algorithm, DkimError, KeyMaterial, SigningKey};

pub(crate) const T_DKIM: &str = "dkim";

impl From<DkimError> for KeystoreError {
    fn from(e: DkimError) -> Self {
        match e {
            DkimError::Unsupported(m) => KeystoreError::Unsupported(m),
            DkimError::Crypto(m) => KeystoreError::Issue(m),
            other => KeystoreError::BadInput(other.to_string()),
        }
    }
}

/// Where a DKIM key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DkimSource {
    /// Made on this box.
    Generated,
    /// Imported from a PEM file (e.g. the key the old mail server signed with).
    Imported,
}

/// Whether a DKIM key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DkimState {
    /// The domain's signing key (one per domain).
    Active,
    /// Replaced by a newer key; signs nothing, its record stays published until deleted.
    Retired,
}

/// One DKIM key as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DkimKeyRecord {
    pub domain: String,
    pub selector: String,
    pub algorithm: Algorithm,
    pub bits: u32,
    /// As published in `p=` (RSA: SubjectPublicKeyInfo DER; Ed25519: 32 raw bytes).
    pub public_key: Vec<u8>,
    /// PKCS#8, sealed under the KEK with `dkim:<domain>/<selector>` as associated data.
    pub sealed_key: Vec<u8>,
    pub source: DkimSource,
    pub state: DkimState,
    /// Unix seconds.
    pub created: i64,
    /// When a newer key replaced it (unix seconds).
    pub retired: Option<i64>,
}

impl DkimKeyRecord {
    fn id(&self) -> String {
        record_id(&self.domain, &self.selector)
    }
}

fn record_id(domain: &str, selector: &str) -> String {
    format!("{domain}/{selector}")
}

fn aad(id: &str) -> Vec<u8> {
    format!("dkim:{id}").into_bytes()
}

/// What the API and `segl ctl dkim list|show` see of a key: never key material.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DkimKeyInfo {
    pub domain: String,
    pub selector: String,
    /// `rsa` or `ed25519`.
    pub algorithm: Algorithm,
    /// `rsa-sha256` or `ed25519-sha256` (the signatures' `a=`).
    pub signature_algorithm: String,
    pub bits: u32,
    pub source: DkimSource,
    pub state: DkimState,
    pub created: i64,
    pub retired: Option<i64>,
    /// Where the record is published: `<selector>._domainkey.<domain>`.
    pub dns_name: String,
    /// The TXT record's text.
    pub txt: String,
    /// The record as a zone-file line (strings of at most 255 octets).
    pub zone_line: String,
}

impl DkimKeyInfo {
    fn of(r: &DkimKeyRecord) -> DkimKeyInfo {
        let txt = record::text(r.algorithm, &r.public_key);
        DkimKeyInfo {
            domain: r.domain.clone(),
            selector: r.selector.clone(),
            algorithm: r.algorithm,
            signature_algorithm: r.algorithm.signature_algorithm().into(),
            bits: r.bits,
            source: r.source,
            state: r.state,
            created: r.created,
            retired: r.retired,
            dns_name: record::name(&r.selector, &r.domain),
            zone_line: record::zone_line(&r.selector, &r.domain, &txt),
            txt,
        }
    }
}

/// A DKIM key as held in memory: its record and, for the active key, the usable key.
#[derive(Clone)]
pub(crate) struct LoadedDkim {
    pub rec: DkimKeyRecord,
    pub key: Option<SigningKey>,
}

/// The key that signs a domain's mail, for the last outbound stage.
#[derive(Debug, Clone)]
pub struct DkimSigner {
    pub domain: String,
    pub selector: String,
    pub key: SigningKey,
}

/// The selector a new key gets when none is given: `segl` and the date (`segl20261130`),
/// with `-2`, `-3`, ... when that one exists already (a second rollover the same day).
fn default_selector(taken: &[String]) -> String {
    let now = time::OffsetDateTime::now_utc();
    let base = format!(
        "segl{:04}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    );
    let mut s = base.clone();
    let mut n = 2;
    while taken.contains(&s) {
        s = format!("{base}-{n}");
        n += 1;
    }
    s
}

impl Keystore {
    /// Makes a new key for `domain` on this box; it signs from now on, and the domain's
    /// previous key is retired (its record must stay published for a while).
    pub fn dkim_generate(
        &self,
        domain: &str,
        selector: Option<&str>,
        algorithm: Algorithm,
    ) -> Result<DkimKeyInfo> {
        let material = key::generate(algorithm)?;
        self.dkim_add(domain, selector, material, DkimSource::Generated)
    }

    /// Imports a PEM private key (PKCS#8 or PKCS#1) for `domain`; like [`Keystore::dkim_generate`]
    /// it becomes the signing key.
    pub fn dkim_import(
        &self,
        domain: &str,
        selector: Option<&str>,
        pem: &[u8],
    ) -> Result<DkimKeyInfo> {
        let material = key::import_pem(pem)?;
        self.dkim_add(domain, selector, material, DkimSource::Imported)
    }

    fn dkim_add(
        &self,
        domain: &str,
        selector: Option<&str>,
        material: KeyMaterial,
        source: DkimSource,
    ) -> Result<DkimKeyInfo> {
        let domain = dkim::dns_name("domain", domain)?;
        if !domain.contains('.') {
            return Err(KeystoreError::BadInput(format!(
                "{domain:?} is not a mail domain (no dot)"
            )));
        }
        let _w = self.lock_writer();
        let mut existing: Vec<DkimKeyRecord> = self
            .list_json::<DkimKeyRecord>(T_DKIM)?
            .into_iter()
            .filter(|r| r.domain == domain)
            .collect();
        let taken: Vec<String> = existing.iter().map(|r| r.selector.clone()).collect();
        let selector = match selector.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => dkim::dns_name("selector", s)?,
            None => default_selector(&taken),
        };
        if taken.contains(&selector) {
            return Err(KeystoreError::Conflict(format!(
                "{domain} already has a key with selector {selector}; a new key needs a new \
                 selector (the old record stays published while mail signed with it travels)"
            )));
        }
        if existing
            .iter()
            .any(|r| r.state == DkimState::Active && r.public_key == material.public_key)
        {
            return Err(KeystoreError::Conflict(format!(
                "this key already signs for {domain}"
            )));
        }
        let now = model::now();
        let id = record_id(&domain, &selector);
        let rec = DkimKeyRecord {
            sealed_key: self.kek.seal(&aad(&id), &material.pkcs8)?,
            domain: domain.clone(),
            selector: selector.clone(),
            algorithm: material.algorithm,
            bits: material.bits,
            public_key: material.public_key.clone(),
            source,
            state: DkimState::Active,
            created: now,
            retired: None,
        };
        // Check the sealed key opens into a usable signing key before anything is stored.
        SigningKey::from_pkcs8(rec.algorithm, &material.pkcs8)?;
        for old in existing.iter_mut().filter(|r| r.state == DkimState::Active) {
            old.state = DkimState::Retired;
            old.retired = Some(now);
            self.put_json(T_DKIM, &old.id(), old)?;
            tracing::info!(domain = %domain, selector = %old.selector, "DKIM key retired; keep its DNS record published until it is deleted");
        }
        self.put_json(T_DKIM, &id, &rec)?;
        self.commit()?;
        tracing::info!(domain = %domain, selector = %selector, algorithm = rec.algorithm.key_type(), source = ?source, "DKIM key added; it signs from now on");
        Ok(DkimKeyInfo::of(&rec))
    }

    /// All DKIM keys: by domain, the signing key first, then retired ones newest first.
    pub fn dkim_list(&self) -> Vec<DkimKeyInfo> {
        let mut recs: Vec<DkimKeyRecord> =
            self.snapshot().dkim.iter().map(|l| l.rec.clone()).collect();
        recs.sort_by(|a, b| {
            (&a.domain, a.state != DkimState::Active, -a.created).cmp(&(
                &b.domain,
                b.state != DkimState::Active,
                -b.created,
            ))
        });
        recs.iter().map(DkimKeyInfo::of).collect()
    }

    /// The keys of one domain (signing key first); not found when it has none.
    pub fn dkim_show(&self, domain: &str) -> Result<Vec<DkimKeyInfo>> {
        let domain = dkim::dns_name("domain", domain)?;
        let keys: Vec<DkimKeyInfo> = self
            .dkim_list()
            .into_iter()
            .filter(|k| k.domain == domain)
            .collect();
        if keys.is_empty() {
            return Err(KeystoreError::NotFound(format!(
                "no DKIM key for {domain} (segl ctl dkim generate {domain})"
            )));
        }
        Ok(keys)
    }

    /// Deletes one key. The signing key is only deleted with `force` (the domain's mail then
    /// leaves unsigned); a retired one whenever its record may go from DNS.
    pub fn dkim_delete(&self, domain: &str, selector: &str, force: bool) -> Result<DkimKeyInfo> {
        let domain = dkim::dns_name("domain", domain)?;
        let selector = dkim::dns_name("selector", selector)?;
        let _w = self.lock_writer();
        let id = record_id(&domain, &selector);
        let raw = self
            .store
            .get(T_DKIM, &id)?
            .ok_or_else(|| KeystoreError::NotFound(format!("DKIM key {selector} of {domain}")))?;
        let rec: DkimKeyRecord = serde_json::from_slice(&raw)?;
        if rec.state == DkimState::Active && !force {
            return Err(KeystoreError::Conflict(format!(
                "{selector} is the signing key of {domain}; generate its successor first \
                 (segl ctl dkim generate {domain}), or delete with --force to stop signing"
            )));
        }
        self.store.delete(T_DKIM, &id)?;
        self.commit()?;
        tracing::info!(domain = %domain, selector = %selector, "DKIM key deleted; its DNS record can go");
        Ok(DkimKeyInfo::of(&rec))
    }

    /// The key that signs mail from `domain` (or, failing that, from a parent domain).
    pub fn dkim_signer(&self, domain: &str) -> Option<DkimSigner> {
        let snap = self.snapshot();
        dkim::sign::candidate_domains(domain).find_map(|d| {
            snap.dkim.iter().find_map(|l| {
                let key = l.key.as_ref().filter(|_| l.rec.domain == d)?;
                Some(DkimSigner {
                    domain: l.rec.domain.clone(),
                    selector: l.rec.selector.clone(),
                    key: key.clone(),
                })
            })
        })
    }

    /// The DKIM part of a snapshot rebuild: the active keys decrypted, reusing those already
    /// in memory so that a change does not re-decrypt every key.
    pub(crate) fn load_dkim(&self, old: &[LoadedDkim]) -> Result<Vec<LoadedDkim>> {
        let mut out = Vec::new();
        for rec in self.list_json::<DkimKeyRecord>(T_DKIM)? {
            let key = if rec.state != DkimState::Active {
                None
            } else if let Some(k) = old
                .iter()
                .find(|l| l.rec.sealed_key == rec.sealed_key)
                .and_then(|l| l.key.clone())
            {
                Some(k)
            } else {
                match self
                    .kek
                    .open(&aad(&rec.id()), &rec.sealed_key)
                    .and_then(|p| Ok(SigningKey::from_pkcs8(rec.algorithm, &p)?))
                {
                    Ok(k) => Some(k),
                    Err(e) => {
                        tracing::error!(domain = %rec.domain, selector = %rec.selector, error = %e, "DKIM key unusable; that domain's mail leaves unsigned");
                        None
                    }
                }
            };
            out.push(LoadedDkim { rec, key });
        }
        Ok(out)
    }

    /// The DKIM keys for a backup: records without their sealed keys, and the PKCS#8 (base64),
    /// which the backup encrypts under the administrator's passphrase.
    pub(crate) fn dkim_backup(&self) -> Result<Vec<(DkimKeyRecord, String)>> {
        use base64::Engine;
        let mut out = Vec::new();
        for mut rec in self.list_json::<DkimKeyRecord>(T_DKIM)? {
            let pkcs8 = self.kek.open(&aad(&rec.id()), &rec.sealed_key)?;
            rec.sealed_key = Vec::new();
            out.push((
                rec,
                base64::engine::general_purpose::STANDARD.encode(&*pkcs8),
            ));
        }
        Ok(out)
    }

    /// The backup's DKIM keys sealed under this box's key (before anything is replaced).
    pub(crate) fn dkim_reseal(
        &self,
        keys: Vec<(DkimKeyRecord, String)>,
    ) -> Result<Vec<DkimKeyRecord>> {
        use base64::Engine;
        let mut out = Vec::new();
        for (mut rec, pkcs8) in keys {
            let der = zeroize::Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(pkcs8)
                    .map_err(|e| KeystoreError::BadInput(format!("backup: {e}")))?,
            );
            rec.sealed_key = self.kek.seal(&aad(&rec.id()), &der)?;
            out.push(rec);
        }
        Ok(out)
    }

    /// Replaces all DKIM records (restore); the caller holds the writer lock and commits.
    pub(crate) fn dkim_replace(&self, recs: &[DkimKeyRecord]) -> Result<()> {
        for (k, _) in self.store.list(T_DKIM)? {
            self.store.delete(T_DKIM, &k)?;
        }
        for r in recs {
            self.put_json(T_DKIM, &r.id(), r)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::keystore::crypt::Kek;
    use crate::keystore::store::MemStore;
    use crate::keystore::Settings;

    fn ks() -> Arc<Keystore> {
        let dir = std::env::temp_dir();
        Keystore::with_store(
            dir,
            Arc::new(MemStore::default()),
            Kek::from_bytes(&[9u8; 32]).unwrap(),
            Settings::default(),
        )
        .unwrap()
    }

    #[test]
    fn rollover_retires_the_old_key_and_delete_needs_force_for_the_signing_key() {
        let ks = ks();
        assert!(ks.dkim_signer("example.org").is_none());
        let a = ks
            .dkim_generate("Example.org", Some("s1"), Algorithm::Ed25519)
            .unwrap();
        assert_eq!(a.domain, "example.org");
        assert_eq!(a.dns_name, "s1._domainkey.example.org");
        assert!(a.txt.starts_with("v=DKIM1; k=ed25519; p="));
        assert_eq!(ks.dkim_signer("example.org").unwrap().selector, "s1");
        assert_eq!(
            ks.dkim_signer("news.example.org").unwrap().domain,
            "example.org"
        );
        assert!(ks.dkim_signer("example.net").is_none());
        // Same selector twice: refused.
        assert!(matches!(
            ks.dkim_generate("example.org", Some("s1"), Algorithm::Rsa),
            Err(KeystoreError::Conflict(_))
        ));
        let b = ks
            .dkim_generate("example.org", None, Algorithm::Rsa)
            .unwrap();
        assert!(b.selector.starts_with("segl"));
        assert!(b.txt.starts_with("v=DKIM1; k=rsa; p=MII"));
        assert_eq!(ks.dkim_signer("example.org").unwrap().selector, b.selector);
        let list = ks.dkim_list();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].state, DkimState::Active);
        assert_eq!(list[1].state, DkimState::Retired);
        assert!(list[1].retired.is_some());
        assert!(matches!(
            ks.dkim_delete("example.org", &b.selector, false),
            Err(KeystoreError::Conflict(_))
        ));
        ks.dkim_delete("example.org", "s1", false).unwrap();
        assert_eq!(ks.dkim_show("example.org").unwrap().len(), 1);
        ks.dkim_delete("example.org", &b.selector, true).unwrap();
        assert!(ks.dkim_signer("example.org").is_none());
        assert!(matches!(
            ks.dkim_show("example.org"),
            Err(KeystoreError::NotFound(_))
        ));
    }

    #[test]
    fn sealed_at_rest_and_restored_from_backup() {
        let ks = ks();
        ks.dkim_generate("example.org", Some("s1"), Algorithm::Ed25519)
            .unwrap();
        let raw = ks.store.list(T_DKIM).unwrap();
        let rec: DkimKeyRecord = serde_json::from_slice(&raw[0].1).unwrap();
        let m = key::generate(Algorithm::Ed25519).unwrap();
        assert_eq!(rec.sealed_key[0], 1, "sealed record version");
        assert!(rec.sealed_key.len() > m.pkcs8.len());
        let file = ks.backup("long enough passphrase").unwrap();
        let other = self::ks();
        other.restore(&file, "long enough passphrase").unwrap();
        assert_eq!(other.dkim_signer("example.org").unwrap().selector, "s1");
        // A sealed key moved to another record id does not open.
        let mut moved = rec.clone();
        moved.selector = "s2".into();
        assert!(ks.kek.open(&aad(&moved.id()), &moved.sealed_key).is_err());
    }
}
