//! Licences (DESIGN §8, docs/license.md): signed licence files that unlock signing and
//! decryption with individual S/MIME keys.
//!
//! - [`format`]: the file (TOML terms + detached Ed25519 signature), parsed without I/O.
//! - [`keys`]: the vendor public key embedded at build time (production or development).
//! - [`limits`]: seats (addresses and function mailboxes with an active key), first come
//!   first licensed.
//! - [`state`]: the phase of a licence (valid, grace, expired, ...) and the view shown.
//! - [`gate`]: the policy's per-message questions, answered from a cached state.
//! - [`parked`]: inbound mail that stayed encrypted for want of a licence, kept to be
//!   processed again once a licence covers its key.
//! - `vendor` (feature `vendor-tool` only): key generation and signing for `segl-license`.
//!
//! The licence text and the box id are stored in the keystore (`keystore::meta`), so every
//! change (a key added, a licence installed, a backup restored) bumps the keystore generation,
//! which is what the cache here watches; the day is the other input. The per-message cost is a
//! read lock, two integer compares and one hash lookup.

pub mod format;
pub mod keys;
pub mod limits;
pub mod notice;
pub mod parked;
#[cfg(test)]
mod release_key;
pub mod state;
#[cfg(feature = "vendor-tool")]
pub mod vendor;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

pub use format::{LicenseError, LicenseFile, Terms};
pub use state::{Phase, Status};

use crate::keystore::Keystore;

/// The state derived from the keystore generation `generation` on day `day`.
struct Cached {
    generation: u64,
    day: format::Day,
    status: Arc<Status>,
    /// Per individual-key certificate (DER): whether it may sign and decrypt.
    keys: HashMap<Vec<u8>, bool>,
}

/// Whether a key may be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Use {
    /// A domain key (or not an own key): licences do not restrict it.
    Free,
    Licensed,
    /// An individual or function-mailbox key the licence does not cover, and why.
    Unlicensed(String),
}

/// The licensing of one box: installed licence, box id, cached state.
pub struct Licensing {
    keystore: Arc<Keystore>,
    parked_dir: PathBuf,
    cache: RwLock<Option<Arc<Cached>>>,
}

impl std::fmt::Debug for Licensing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Licensing").finish_non_exhaustive()
    }
}

impl Licensing {
    /// Licensing over `keystore` (whose meta tree holds the box id and licence); parked mail
    /// goes to `<data_dir>/license/parked/`.
    pub fn open(
        keystore: Arc<Keystore>,
        data_dir: &std::path::Path,
    ) -> Result<Arc<Licensing>, LicenseError> {
        // Made here on first start, so that the page shows it before any licence exists.
        let box_id = keystore
            .box_id()
            .map_err(|e| LicenseError::Storage(e.to_string()))?;
        let l = Arc::new(Licensing {
            keystore,
            parked_dir: data_dir.join("license").join("parked"),
            cache: RwLock::new(None),
        });
        let s = l.status();
        tracing::info!(box_id = %box_id, development = keys::DEVELOPMENT, state = ?s.state, summary = %s.summary, "licence state");
        Ok(l)
    }

    /// This box's id (a restored backup brings its own).
    pub fn box_id(&self) -> String {
        self.status().box_id.clone()
    }

    /// The installed licence, if readable (it was verified when installed; it is verified
    /// again here, so a licence signed for another build's key does not count).
    fn installed(&self) -> Option<LicenseFile> {
        let text = match self.keystore.license_text() {
            Ok(t) => t?,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the installed licence");
                return None;
            }
        };
        match format::parse(text.as_bytes()).and_then(|f| keys::verify(&f).map(|()| f)) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::error!(error = %e, "the installed licence is not valid");
                None
            }
        }
    }

    fn current(&self) -> Arc<Cached> {
        let generation = self.keystore.generation();
        let day = state::today();
        {
            let g = self.cache.read().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = g.as_ref() {
                if c.generation == generation && c.day == day {
                    return c.clone();
                }
            }
        }
        let installed = self.installed();
        let box_id = self.keystore.box_id().unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read the box id");
            String::new()
        });
        let (status, count) = state::evaluate(
            installed.as_ref(),
            &self.keystore.key_facts(),
            day,
            &box_id,
            keys::DEVELOPMENT,
            &keys::vendor_key_id(),
        );
        let c = Arc::new(Cached {
            generation,
            day,
            status: Arc::new(status),
            keys: count.keys,
        });
        let mut g = self.cache.write().unwrap_or_else(|p| p.into_inner());
        *g = Some(c.clone());
        c
    }

    /// The state now.
    pub fn status(&self) -> Arc<Status> {
        self.current().status.clone()
    }

    /// One line for `segl ctl status` and the dashboard.
    pub fn summary(&self) -> String {
        self.status().summary.clone()
    }

    /// Whether the own key with certificate `cert_der` may sign and decrypt now.
    pub fn key_use(&self, cert_der: &[u8]) -> Use {
        let c = self.current();
        match c.keys.get(cert_der) {
            None => Use::Free,
            Some(true) => Use::Licensed,
            Some(false) => Use::Unlicensed(self.reason(&c.status)),
        }
    }

    fn reason(&self, s: &Status) -> String {
        match (s.state, &s.license) {
            (Phase::None, _) | (_, None) => "no licence installed".into(),
            (Phase::Valid | Phase::Grace, Some(t)) => format!(
                "over the licensed count: {} key(s) in use, licence {} covers {}",
                s.keys_in_use, t.id, t.keys
            ),
            (Phase::Expired, Some(t)) => format!("licence {} expired on {}", t.id, t.expires),
            (Phase::NotYetValid, Some(t)) => {
                format!("licence {} is not valid before {}", t.id, t.starts)
            }
            (Phase::OtherBox, Some(t)) => format!("licence {} is bound to another box", t.id),
        }
    }

    /// Parses and verifies a licence file for this box today, without installing it.
    pub fn check(&self, text: &[u8]) -> Result<LicenseFile, LicenseError> {
        let f = format::parse(text)?;
        keys::verify(&f)?;
        state::installable(&f, state::today(), &self.box_id())?;
        Ok(f)
    }

    /// Installs a licence file; a refused file leaves the current licence in place.
    pub fn install(&self, text: &[u8]) -> Result<Arc<Status>, LicenseError> {
        let f = self.check(text)?;
        let text = String::from_utf8_lossy(text).replace("\r\n", "\n");
        self.keystore
            .set_license_text(&text)
            .map_err(|e| LicenseError::Storage(e.to_string()))?;
        let s = self.status();
        tracing::info!(license = %f.terms.id, customer = %f.terms.customer, keys = f.terms.keys, expires = %f.terms.expires, summary = %s.summary, "licence installed");
        Ok(s)
    }

    /// Where parked inbound mail is kept.
    pub fn parked_dir(&self) -> &std::path::Path {
        &self.parked_dir
    }
}

#[cfg(all(test, feature = "vendor-tool"))]
mod tests {
    use super::*;
    use crate::keystore::crypt::Kek;
    use crate::keystore::store::MemStore;

    fn keystore() -> Arc<Keystore> {
        let kek = Kek::from_bytes(&[7u8; 32]).expect("kek");
        Keystore::with_store(
            std::env::temp_dir(),
            Arc::new(MemStore::default()),
            kek,
            crate::keystore::Settings::default(),
        )
        .expect("keystore")
    }

    fn cert_der(ks: &Keystore, addr: &str) -> Vec<u8> {
        let key = ks.signing_key(addr).expect("key");
        crate::smime::keyops::certificate_der(key.certificate()).expect("der")
    }

    #[test]
    fn keys_are_licensed_first_come_and_the_check_is_cheap() {
        let ks = keystore();
        ks.generate("alice@example.org", None).expect("alice");
        ks.generate("bob@example.org", None).expect("bob");
        let dir = tempfile::tempdir().expect("dir");
        let l = Licensing::open(ks.clone(), dir.path()).expect("licensing");
        let (alice, bob) = (
            cert_der(&ks, "alice@example.org"),
            cert_der(&ks, "bob@example.org"),
        );
        assert!(matches!(l.key_use(&alice), Use::Unlicensed(_)));
        assert_eq!(l.key_use(b"not an own key"), Use::Free);

        let terms = Terms {
            format: 1,
            id: "L-T".into(),
            customer: "C".into(),
            issued: "2020-01-01".into(),
            starts: "2020-01-01".into(),
            expires: "2999-12-31".into(),
            keys: 1,
            grace_days: 0,
            features: vec![],
            box_id: Some(l.box_id()),
        };
        let dev = vendor::VendorKey::development().expect("dev key");
        let text = dev.issue(&terms).expect("issue");
        if keys::DEVELOPMENT {
            l.install(text.as_bytes()).expect("install");
            assert_eq!(l.key_use(&alice), Use::Licensed);
            assert!(
                matches!(l.key_use(&bob), Use::Unlicensed(w) if w.contains("over the licensed count"))
            );
        }
        // A licence from another vendor key is refused, naming the development key when a
        // production build meets a development licence.
        let other = vendor::VendorKey::generate().expect("key");
        let f = format::parse(text.as_bytes()).expect("parse");
        let e = keys::verify_with(&f, &other.public_key()).expect_err("other key");
        assert!(e.to_string().contains("development key"), "{e}");

        // The per-message check: cached, no re-evaluation while nothing changes.
        let n = 100_000u32;
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(l.key_use(std::hint::black_box(&alice)));
        }
        let per = t.elapsed() / n;
        eprintln!("key_use: {per:?} per call");
        assert!(per < std::time::Duration::from_micros(50), "{per:?}");
    }
}
