//! Backup and restore of the whole keystore as one file, encrypted under an administrator
//! passphrase (Argon2id + AES-256-GCM), never under the device key: the backup must survive
//! the loss of the box. Private keys are re-sealed under the restoring box's key.
//!
//! File: `SEGLBAK1` · 16-byte salt · sealed JSON.

use base64::Engine;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::ca::CaRecord;
use super::crypt::{self, Kek};
use super::error::{KeystoreError, Result};
use super::model::{self, AnchorRecord, CrlRecord, KeyRecord, PartnerRecord};
use super::{Keystore, T_ANCHORS, T_CRLS, T_KEYS, T_META, T_PARTNERS};

const MAGIC: &[u8] = b"SEGLBAK1";
const AAD: &[u8] = b"segl-backup-v1";

#[derive(Serialize, Deserialize)]
struct Bundle {
    created: i64,
    keys: Vec<(KeyRecord, String)>,
    ca: Option<(String, String, String)>,
    partners: Vec<PartnerRecord>,
    anchors: Vec<AnchorRecord>,
    crls: Vec<CrlRecord>,
    /// The box id and the installed licence (older backups have none).
    #[serde(default)]
    box_id: Option<String>,
    #[serde(default)]
    license: Option<String>,
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn unb64(s: &str) -> Result<Zeroizing<Vec<u8>>> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map(Zeroizing::new)
        .map_err(|e| KeystoreError::BadInput(format!("backup: {e}")))
}

impl Keystore {
    /// The whole keystore as one encrypted file.
    pub fn backup(&self, passphrase: &str) -> Result<Vec<u8>> {
        if passphrase.len() < 8 {
            return Err(KeystoreError::BadInput(
                "backup passphrase must have at least 8 characters".into(),
            ));
        }
        let _w = self.lock_writer();
        let mut keys = Vec::new();
        for mut rec in self.list_json::<KeyRecord>(T_KEYS)? {
            let pkcs8 = self.unseal_key(&rec)?;
            rec.sealed_key = Vec::new();
            keys.push((rec, b64(&pkcs8)));
        }
        let ca = match self.store.get(T_META, "ca")? {
            Some(raw) => {
                let r: CaRecord = serde_json::from_slice(&raw)?;
                let k = self.kek.open(b"ca", &r.sealed_key)?;
                Some((r.name, b64(&r.cert), b64(&k)))
            }
            None => None,
        };
        let (box_id, license) = self.meta_for_backup()?;
        let bundle = Bundle {
            box_id,
            license,
            created: model::now(),
            keys,
            ca,
            partners: self.list_json(T_PARTNERS)?,
            anchors: self.list_json(T_ANCHORS)?,
            crls: self.list_json(T_CRLS)?,
        };
        let json = Zeroizing::new(serde_json::to_vec(&bundle)?);
        drop(bundle);
        let salt: [u8; 16] = crypt::random()?;
        let kek = Kek::from_passphrase(passphrase.as_bytes(), &salt)?;
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&salt);
        out.extend_from_slice(&kek.seal(AAD, &json)?);
        tracing::info!(keys = self.snapshot().keys.len(), "keystore backup made");
        Ok(out)
    }

    /// Replaces the keystore's contents with a backup. Returns the number of own keys restored.
    pub fn restore(&self, file: &[u8], passphrase: &str) -> Result<usize> {
        if file.len() < MAGIC.len() + 16 || &file[..MAGIC.len()] != MAGIC {
            return Err(KeystoreError::BadInput("not a Segl keystore backup".into()));
        }
        let salt = &file[MAGIC.len()..MAGIC.len() + 16];
        let kek = Kek::from_passphrase(passphrase.as_bytes(), salt)?;
        let json = kek.open(AAD, &file[MAGIC.len() + 16..]).map_err(|_| {
            KeystoreError::WrongPassword(
                "the backup passphrase is wrong or the file is damaged".into(),
            )
        })?;
        let bundle: Bundle = serde_json::from_slice(&json)?;
        let _w = self.lock_writer();
        // Seal everything first, so a bad record fails the restore before anything changes.
        let mut keys = Vec::new();
        for (mut rec, pkcs8) in bundle.keys {
            rec.sealed_key = self.seal_key(&rec.id, &unb64(&pkcs8)?)?;
            keys.push(rec);
        }
        let ca = match bundle.ca {
            Some((name, cert, key)) => Some(CaRecord {
                name,
                cert: unb64(&cert)?.to_vec(),
                sealed_key: self.kek.seal(b"ca", &unb64(&key)?)?,
            }),
            None => None,
        };
        for tree in [T_KEYS, T_PARTNERS, T_ANCHORS, T_CRLS] {
            for (k, _) in self.store.list(tree)? {
                self.store.delete(tree, &k)?;
            }
        }
        self.store.delete(T_META, "ca")?;
        let n = keys.len();
        for r in &keys {
            self.put_json(T_KEYS, &r.id, r)?;
        }
        if let Some(ca) = &ca {
            self.put_json(T_META, "ca", ca)?;
        }
        for p in &bundle.partners {
            self.put_json(T_PARTNERS, &p.id, p)?;
        }
        for a in &bundle.anchors {
            self.put_json(T_ANCHORS, &a.id, a)?;
        }
        for c in &bundle.crls {
            self.put_json(T_CRLS, &c.id, c)?;
        }
        self.restore_meta(bundle.box_id.as_deref(), bundle.license.as_deref())?;
        self.commit()?;
        tracing::info!(keys = n, "keystore restored from backup");
        Ok(n)
    }
}
