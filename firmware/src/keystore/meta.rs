//! Box-wide facts kept beside the keys: the box id and the installed licence text.
//!
//! They live in the keystore's `meta` tree rather than in loose files so that they share its
//! crash safety (one record, flushed before success) and travel in the keystore backup: a
//! replacement box restored from a backup keeps the box id and with it its licence, while a
//! factory reset (a new data dir) makes a new id.

use std::sync::atomic::Ordering;

use super::error::Result;
use super::model::{KeyState, Purpose};
use super::{Keystore, T_META};

const BOX_ID: &str = "box_id";
const LICENSE: &str = "license";

/// What licensing needs to know about one own key (no key material).
#[derive(Debug, Clone)]
pub struct KeyFacts {
    pub id: String,
    pub purpose: Purpose,
    pub mailbox: Option<String>,
    pub addresses: Vec<String>,
    /// Active, certified and loaded: it signs or decrypts for its addresses today.
    pub active: bool,
    /// Unix seconds when the record was made (orders the licensed seats: first come first).
    pub created: i64,
    /// Certificate DER, the key's identity on the per-message path.
    pub cert: Option<Vec<u8>>,
}

/// A fresh random box id: `segl-` and five groups of four hex digits (80 bits).
fn new_box_id() -> Result<String> {
    let b: [u8; 10] = super::crypt::random()?;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let groups: Vec<&str> = (0..5).map(|i| &hex[i * 4..i * 4 + 4]).collect();
    Ok(format!("segl-{}", groups.join("-")))
}

impl Keystore {
    /// Counts snapshot rebuilds (every committed change): caches compare it to know when to
    /// refresh.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The box id, made (and stored) on first call.
    pub fn box_id(&self) -> Result<String> {
        if let Some(v) = self.store.get(T_META, BOX_ID)? {
            if let Ok(s) = String::from_utf8(v) {
                return Ok(s);
            }
        }
        let _w = self.lock_writer();
        if let Some(v) = self.store.get(T_META, BOX_ID)? {
            if let Ok(s) = String::from_utf8(v) {
                return Ok(s);
            }
        }
        let id = new_box_id()?;
        self.store.put(T_META, BOX_ID, id.as_bytes())?;
        self.commit()?;
        tracing::info!(box_id = %id, "box id made");
        Ok(id)
    }

    /// The installed licence file, as installed.
    pub fn license_text(&self) -> Result<Option<String>> {
        Ok(self
            .store
            .get(T_META, LICENSE)?
            .and_then(|v| String::from_utf8(v).ok()))
    }

    /// Stores (replaces) the licence file; the caller has verified it.
    pub fn set_license_text(&self, text: &str) -> Result<()> {
        let _w = self.lock_writer();
        self.store.put(T_META, LICENSE, text.as_bytes())?;
        self.commit()
    }

    /// The box id and licence for a backup.
    pub(crate) fn meta_for_backup(&self) -> Result<(Option<String>, Option<String>)> {
        let get = |k| -> Result<Option<String>> {
            Ok(self
                .store
                .get(T_META, k)?
                .and_then(|v| String::from_utf8(v).ok()))
        };
        Ok((get(BOX_ID)?, get(LICENSE)?))
    }

    /// Restores the box id and licence of a backup (the writer lock is held by the caller).
    pub(crate) fn restore_meta(&self, box_id: Option<&str>, license: Option<&str>) -> Result<()> {
        if let Some(b) = box_id {
            self.store.put(T_META, BOX_ID, b.as_bytes())?;
        }
        if let Some(l) = license {
            self.store.put(T_META, LICENSE, l.as_bytes())?;
        }
        Ok(())
    }

    /// Facts about every own key, for counting licensed keys.
    pub fn key_facts(&self) -> Vec<KeyFacts> {
        self.snapshot()
            .keys
            .iter()
            .map(|l| KeyFacts {
                id: l.rec.id.clone(),
                purpose: l.rec.purpose,
                mailbox: l.rec.mailbox.clone(),
                addresses: l.rec.addresses.clone(),
                active: l.rec.state == KeyState::Active && l.key.is_some(),
                created: l.rec.created,
                cert: l.rec.cert.clone(),
            })
            .collect()
    }
}
