//! The keystore: own keys, partner and domain certificates, trust anchors, CRLs, the built-in
//! CA and key rollover, on sled.
//!
//! # Design
//! - **Private keys never leave it.** They are sealed at rest ([`crypt`]), decrypted once when
//!   the store opens or a key is added, and kept in memory as aws-lc-rs key objects behind
//!   [`PrivateKeyOps`]; the policy stage gets `Arc<dyn PrivateKeyOps>` handles that sign and
//!   unwrap but cannot export. No API returns a private key; backups ([`backup`]) are the one
//!   exception and are encrypted under an administrator passphrase.
//! - **One object, one record.** Every key, certificate and CRL is a single record in a
//!   [`store::KvStore`], written atomically and flushed before success is reported, so a crash
//!   (or SIGKILL) leaves whole objects or none. sled sits behind that small trait.
//! - **The per-message path reads the store's memory.** Lookups ([`lookup`]) use an in-memory
//!   snapshot (`RwLock`) rebuilt after each change; CRLs are fetched by a background task
//!   ([`crl`]). The one exception: a recipient without a certificate here may be looked up in
//!   the LDAP directories of `[lookup]` ([`ldap`]), with a timeout and a cache.
//! - **Nothing is silently deleted.** Rollover ([`rollover`]) supersedes and archives keys; only
//!   an explicit administrator action deletes a partner certificate or anchor.

pub mod backup;
pub mod ca;
pub mod crl;
pub mod crypt;
pub mod dkim;
pub mod error;
pub mod import;
pub mod ldap;
pub mod lookup;
pub mod meta;
pub mod model;
pub mod own;
pub mod partners;
pub mod rollover;
pub mod store;
pub mod trust;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};

use x509_cert::Certificate;

pub use error::{KeystoreError, Result};
pub use lookup::DecryptionKeys;
pub use model::{
    AnchorRecord, CrlRecord, KeyInfo, KeySource, KeyState, PartnerRecord, PartnerSource, Purpose,
};

use crate::smime::{AwsLcRsaKey, PrivateKeyOps};
use crypt::Kek;
use model::KeyRecord;
use store::KvStore;

pub(crate) const T_KEYS: &str = "keys";
pub(crate) const T_PARTNERS: &str = "partners";
pub(crate) const T_ANCHORS: &str = "anchors";
pub(crate) const T_CRLS: &str = "crls";
pub(crate) const T_META: &str = "meta";

/// Keystore settings (from `[keystore]` of the configuration).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Roll over own keys whose certificate expires within this many days.
    pub rollover_days: u32,
    /// Archive superseded keys this many days after their certificate expired.
    pub keep_old_days: u32,
    /// Validity of certificates from the built-in CA when not given (and of successors).
    pub cert_days: u32,
    /// Validity of the built-in CA certificate.
    pub ca_days: u32,
    /// Name of the built-in CA (subject CN).
    pub ca_name: String,
    /// Empty: the device key; otherwise the passphrase file for the KEK.
    pub passphrase_file: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rollover_days: 7,
            keep_old_days: 7,
            cert_days: 365,
            ca_days: 3650,
            ca_name: "Segl built-in CA".into(),
            passphrase_file: String::new(),
        }
    }
}

impl Settings {
    /// The keystore settings of a gateway configuration.
    pub fn from_config(cfg: &crate::config::Config) -> Settings {
        let k = &cfg.keystore;
        Settings {
            rollover_days: k.rollover_days,
            keep_old_days: k.keep_old_days,
            cert_days: k.cert_days,
            ca_days: k.ca_days,
            ca_name: format!("{} ({})", k.ca_name, cfg.smtp.hostname),
            passphrase_file: k.passphrase_file.clone(),
        }
    }
}

/// An own key as held in memory: its record and, once certified, the usable key.
#[derive(Clone)]
pub(crate) struct Loaded {
    pub rec: KeyRecord,
    pub key: Option<Arc<AwsLcRsaKey>>,
    pub cert: Option<Certificate>,
    /// `rec.chain` parsed once here, not for every message signed.
    pub chain: Vec<Certificate>,
}

impl Loaded {
    /// The chain certificates are parsed here, once per reload, not for every message signed.
    fn new(rec: KeyRecord, key: Option<Arc<AwsLcRsaKey>>, cert: Option<Certificate>) -> Loaded {
        let chain = rec
            .chain
            .iter()
            .filter_map(|d| crate::smime::certs::parse_der(d).ok())
            .collect();
        Loaded {
            rec,
            key,
            cert,
            chain,
        }
    }
}

/// The in-memory snapshot the lookups read.
#[derive(Default)]
pub(crate) struct Snapshot {
    pub keys: Vec<Loaded>,
    pub partners: Vec<(PartnerRecord, Certificate)>,
    pub anchors: Vec<(AnchorRecord, Certificate)>,
    pub crls: Vec<(CrlRecord, x509_cert::crl::CertificateList)>,
    pub dkim: Vec<dkim::LoadedDkim>,
    /// Records that cannot be read (damaged on disk): left out of everything above, named here
    /// so the administrator sees which entry is broken while the rest keeps working.
    pub damaged: Vec<DamagedRecord>,
}

/// A keystore record that cannot be decoded, as `segl ctl status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DamagedRecord {
    /// The tree (`keys`, `partners`, `anchors`, `crls`).
    pub tree: String,
    /// The record's id.
    pub id: String,
    /// Why it cannot be read.
    pub error: String,
}

/// The keystore. Cheap to share (`Arc<Keystore>`); all methods take `&self`.
pub struct Keystore {
    dir: PathBuf,
    store: Arc<dyn KvStore>,
    kek: Kek,
    settings: Settings,
    snap: RwLock<Snapshot>,
    /// Serialises writers, so read-modify-write sequences do not interleave.
    writer: Mutex<()>,
    /// Counts snapshot rebuilds, so caches over the keystore (licensing) know when to refresh.
    generation: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keystore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

const CANARY: &[u8] = b"segl-keystore-v1";

impl Keystore {
    /// Opens (or creates) the keystore in `<data_dir>/keystore/`.
    pub fn open(data_dir: &Path, settings: Settings) -> Result<Arc<Keystore>> {
        let dir = data_dir.join("keystore");
        std::fs::create_dir_all(&dir).map_err(|e| KeystoreError::File {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        }
        let kek = crypt::load_kek(&dir, &settings.passphrase_file)?;
        let store: Arc<dyn KvStore> = Arc::new(store::SledStore::open(&dir.join("db"))?);
        Keystore::with_store(dir, store, kek, settings)
    }

    /// A keystore over any [`KvStore`] (tests use the in-memory one).
    pub fn with_store(
        dir: PathBuf,
        store: Arc<dyn KvStore>,
        kek: Kek,
        settings: Settings,
    ) -> Result<Arc<Keystore>> {
        // The canary tells a wrong passphrase (or a lost device key) apart from damage.
        match store.get(T_META, "canary")? {
            Some(sealed) => {
                kek.open(b"canary", &sealed).map_err(|_| {
                    KeystoreError::Sealed(
                        "the keystore was sealed with another device key or passphrase".into(),
                    )
                })?;
            }
            None => {
                store.put(T_META, "canary", &kek.seal(b"canary", CANARY)?)?;
                store.flush()?;
            }
        }
        let ks = Arc::new(Keystore {
            dir,
            store,
            kek,
            settings,
            snap: RwLock::new(Snapshot::default()),
            writer: Mutex::new(()),
            generation: std::sync::atomic::AtomicU64::new(0),
        });
        ks.reload()?;
        Ok(ks)
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub(crate) fn lock_writer(&self) -> MutexGuard<'_, ()> {
        match self.writer.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub(crate) fn snapshot(&self) -> RwLockReadGuard<'_, Snapshot> {
        match self.snap.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub(crate) fn put_json<T: serde::Serialize>(&self, tree: &str, id: &str, v: &T) -> Result<()> {
        self.store.put(tree, id, &serde_json::to_vec(v)?)
    }

    pub(crate) fn list_json<T: serde::de::DeserializeOwned>(&self, tree: &str) -> Result<Vec<T>> {
        self.list_json_noting(tree, &mut Vec::new())
    }

    /// Like [`Keystore::list_json`], and notes each record that cannot be decoded in `damaged`
    /// (a damaged record costs that entry, never the store).
    fn list_json_noting<T: serde::de::DeserializeOwned>(
        &self,
        tree: &str,
        damaged: &mut Vec<DamagedRecord>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        for (k, v) in self.store.list(tree)? {
            match serde_json::from_slice(&v) {
                Ok(r) => out.push(r),
                Err(e) => {
                    tracing::error!(tree, id = %k, error = %e, "unreadable keystore record skipped");
                    damaged.push(DamagedRecord {
                        tree: tree.to_string(),
                        id: k,
                        error: format!("record cannot be decoded: {e}"),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Records that cannot be read; empty on a healthy store.
    pub fn damaged(&self) -> Vec<DamagedRecord> {
        self.snapshot().damaged.clone()
    }

    /// Flushes the store and rebuilds the in-memory snapshot: the end of every change.
    pub(crate) fn commit(&self) -> Result<()> {
        self.store.flush()?;
        self.reload()
    }

    pub(crate) fn seal_key(&self, id: &str, pkcs8: &[u8]) -> Result<Vec<u8>> {
        self.kek.seal(id.as_bytes(), pkcs8)
    }

    pub(crate) fn unseal_key(&self, rec: &KeyRecord) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        self.kek.open(rec.id.as_bytes(), &rec.sealed_key)
    }

    /// Rebuilds the snapshot from the store. Keys already in memory with the same
    /// certificate are reused, so a change does not re-decrypt every key.
    fn reload(&self) -> Result<()> {
        let old: HashMap<String, Loaded> = self
            .snapshot()
            .keys
            .iter()
            .map(|l| (l.rec.id.clone(), l.clone()))
            .collect();
        let old_dkim = self.snapshot().dkim.clone();
        let mut snap = Snapshot::default();
        let mut damaged = Vec::new();
        for rec in self.list_json_noting::<KeyRecord>(T_KEYS, &mut damaged)? {
            let cert = match &rec.cert {
                Some(der) => match crate::smime::certs::parse_der(der) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        tracing::error!(key = %rec.id, error = %e, "stored certificate unreadable");
                        damaged.push(DamagedRecord {
                            tree: T_KEYS.into(),
                            id: rec.id.clone(),
                            error: format!("stored certificate unreadable: {e}"),
                        });
                        None
                    }
                },
                None => None,
            };
            let reuse = old
                .get(&rec.id)
                .filter(|l| l.rec.cert == rec.cert)
                .and_then(|l| l.key.clone());
            let key = match (reuse, &cert) {
                (Some(k), _) => Some(k),
                (None, Some(c)) => match self
                    .unseal_key(&rec)
                    .and_then(|p| Ok(AwsLcRsaKey::from_pkcs8(&p, c.clone())?))
                {
                    Ok(k) => Some(Arc::new(k)),
                    Err(e) => {
                        tracing::error!(key = %rec.id, error = %e, "own key unusable");
                        damaged.push(DamagedRecord {
                            tree: T_KEYS.into(),
                            id: rec.id.clone(),
                            error: format!("private key unusable: {e}"),
                        });
                        None
                    }
                },
                (None, None) => None,
            };
            snap.keys.push(Loaded::new(rec, key, cert));
        }
        for p in self.list_json_noting::<PartnerRecord>(T_PARTNERS, &mut damaged)? {
            if let Ok(c) = crate::smime::certs::parse_der(&p.cert) {
                snap.partners.push((p, c));
            }
        }
        for a in self.list_json_noting::<AnchorRecord>(T_ANCHORS, &mut damaged)? {
            if let Ok(c) = crate::smime::certs::parse_der(&a.cert) {
                snap.anchors.push((a, c));
            }
        }
        for r in self.list_json_noting::<CrlRecord>(T_CRLS, &mut damaged)? {
            use der::Decode;
            if let Ok(c) = x509_cert::crl::CertificateList::from_der(&r.der) {
                snap.crls.push((r, c));
            }
        }
        snap.dkim = self.load_dkim(&old_dkim)?;
        snap.damaged = damaged;
        match self.snap.write() {
            Ok(mut g) => *g = snap,
            Err(p) => *p.into_inner() = snap,
        }
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Release);
        Ok(())
    }
}

/// A short random id (hex).
pub(crate) fn new_id() -> Result<String> {
    let b: [u8; 8] = crypt::random()?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// The current signing key handle type.
pub type SigningKey = Arc<dyn PrivateKeyOps>;
