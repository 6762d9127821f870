//! What the portal keeps on disk, in `<data_dir>/portal/`:
//!
//! - `portal.key`: the portal key (32 random bytes), sealed (AES-256-GCM) under the keystore's
//!   key-encryption key, like every other private key of the box: a stolen disk without the
//!   device key (or passphrase) opens no message.
//! - `messages/<id>.msg`: one held message, sealed under the portal key with its id as
//!   associated data (a file cannot be swapped for another's); `messages/<id>.json` its
//!   metadata (recipient, sender, times, read) — no subject, no content.
//! - `users/<sha256(address)>.json`: one portal user: Argon2id password hash, the SHA-256 of a
//!   pending set-up link, the Argon2id hash of its code, failures and lockout.
//!
//! Every write is tmp + fsync + rename + directory fsync ([`crate::durable`]), so a message is
//! on disk before the policy hands the notification to the queue and the original is released.
//! Records are read from disk on each use: the portal's traffic is small, and an administrator
//! (or a test) sees and changes one truth.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::config::Config;
use crate::keystore::crypt::{self, Kek};

/// How long a set-up link is valid.
pub const SETUP_VALIDITY_SECS: i64 = 7 * 24 * 3600;
/// Wrong passwords (or set-up codes) in a row that lock an account until a new code. Below
/// the login limiter's five a minute per client address, so that a lockout is what a guesser
/// meets, and the owner (same address) can set up again at once with the new code.
pub const MAX_FAILURES: u32 = 3;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PortalError {
    #[error("portal store {path}: {message}")]
    File { path: String, message: String },
    #[error("portal key: {0}")]
    Key(String),
    #[error("no such message")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
}

impl PortalError {
    /// Whether retrying later may help (a full disk, not a broken record).
    pub fn is_temporary(&self) -> bool {
        matches!(self, PortalError::File { .. })
    }
}

type Result<T> = std::result::Result<T, PortalError>;

fn ferr(path: &Path, e: impl std::fmt::Display) -> PortalError {
    PortalError::File {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha256_hex(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

/// A portal user (one external address).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct User {
    pub address: String,
    /// PHC string; empty until the user set a password.
    #[serde(default)]
    pub password_hash: String,
    /// SHA-256 (hex) of the live set-up token; empty: none.
    #[serde(default)]
    pub setup_hash: String,
    /// Unix seconds after which the set-up link is dead.
    #[serde(default)]
    pub setup_expires: i64,
    /// Argon2id hash of the set-up code; empty: no code needed.
    #[serde(default)]
    pub code_hash: String,
    #[serde(default)]
    pub failures: u32,
    /// Too many wrong passwords or codes: only a new code (sender's resend, admin) opens it.
    #[serde(default)]
    pub locked: bool,
    /// An administrator revoked the access; a new message brings a new set-up.
    #[serde(default)]
    pub revoked: bool,
    /// The user asked for a new password: the sender's next message brings a new link and code.
    #[serde(default)]
    pub reset_requested: bool,
    pub created: i64,
}

impl User {
    /// Whether the user can log in with a password now.
    pub fn active(&self) -> bool {
        !self.password_hash.is_empty() && !self.locked && !self.revoked
    }
}

/// A held message's metadata (no content).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub id: String,
    pub recipient: String,
    /// The original sender (From), who gets replies and the expiry notice.
    pub sender: String,
    /// Queue id of the original message (for the sender's notices).
    pub queue_id: String,
    pub created: i64,
    pub expires: i64,
    #[serde(default)]
    pub read: bool,
}

/// A new set-up for a user: the link token and the code (when one is required).
#[derive(Debug, Clone)]
pub struct Setup {
    pub token: String,
    pub code: Option<String>,
}

/// The portal's store. Cheap to share.
pub struct Store {
    dir: PathBuf,
    key: Kek,
    /// Serialises read-modify-write of user records.
    lock: Mutex<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// One store per data directory in this process: the policy (on the queue's blocking
/// threads), the portal listener and the admin pages share it without a new field in every
/// context struct.
pub fn shared(cfg: &Config) -> Result<Arc<Store>> {
    static STORES: OnceLock<Mutex<HashMap<PathBuf, Arc<Store>>>> = OnceLock::new();
    let data = cfg.storage.data_dir.clone();
    let map = STORES.get_or_init(Default::default);
    let mut m = map
        .lock()
        .map_err(|_| PortalError::Key("store registry poisoned".into()))?;
    if let Some(s) = m.get(&data) {
        return Ok(s.clone());
    }
    let s = Arc::new(Store::open(&data, &cfg.keystore.passphrase_file)?);
    m.insert(data, s.clone());
    Ok(s)
}

const KEY_AAD: &[u8] = b"segl-portal-key";

/// A random code a person can read out on the phone: 10 characters without look-alikes.
pub fn new_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    rand::random::<[u8; 10]>()
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// Codes compare without case, spaces and dashes (read out on the phone).
fn normal_code(c: &str) -> String {
    c.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

impl Store {
    /// Opens (or creates) `<data_dir>/portal/`, with the portal key sealed under the
    /// keystore's key-encryption key.
    pub fn open(data_dir: &Path, passphrase_file: &str) -> Result<Store> {
        let dir = data_dir.join("portal");
        for d in [dir.clone(), dir.join("messages"), dir.join("users")] {
            std::fs::create_dir_all(&d).map_err(|e| ferr(&d, e))?;
            crate::durable::set_private(&d);
        }
        let kek = crypt::load_kek(&data_dir.join("keystore"), passphrase_file)
            .map_err(|e| PortalError::Key(e.to_string()))?;
        let key_path = dir.join("portal.key");
        let raw: Zeroizing<Vec<u8>> = match std::fs::read(&key_path) {
            Ok(sealed) => kek
                .open(KEY_AAD, &sealed)
                .map_err(|e| PortalError::Key(e.to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let k = Zeroizing::new(
                    crypt::random::<32>()
                        .map_err(|e| PortalError::Key(e.to_string()))?
                        .to_vec(),
                );
                let sealed = kek
                    .seal(KEY_AAD, &k)
                    .map_err(|e| PortalError::Key(e.to_string()))?;
                crate::durable::write_private(&key_path, &sealed)
                    .map_err(|e| ferr(&key_path, e))?;
                k
            }
            Err(e) => return Err(ferr(&key_path, e)),
        };
        let key = Kek::from_bytes(&raw).map_err(|e| PortalError::Key(e.to_string()))?;
        Ok(Store {
            dir,
            key,
            lock: Mutex::new(()),
        })
    }

    fn msg_path(&self, id: &str, ext: &str) -> Result<PathBuf> {
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PortalError::NotFound);
        }
        Ok(self.dir.join("messages").join(format!("{id}.{ext}")))
    }

    fn user_path(&self, address: &str) -> PathBuf {
        let key = sha256_hex(&crate::address::normalize(address));
        self.dir.join("users").join(format!("{}.json", &key[..32]))
    }

    fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(v).map_err(|e| ferr(path, e))?;
        crate::durable::write_private(path, &bytes).map_err(|e| ferr(path, e))
    }

    fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| ferr(path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ferr(path, e)),
        }
    }

    /// Keeps `message` for `recipient`, sealed and synced to disk before this returns.
    pub fn put_message(
        &self,
        recipient: &str,
        sender: &str,
        queue_id: &str,
        message: &[u8],
        retention_days: u32,
    ) -> Result<Meta> {
        let id = hex(&crypt::random::<16>().map_err(|e| PortalError::Key(e.to_string()))?);
        let sealed = self
            .key
            .seal(id.as_bytes(), message)
            .map_err(|e| PortalError::Key(e.to_string()))?;
        let now = crate::clock::unix_now();
        let meta = Meta {
            id: id.clone(),
            recipient: crate::address::normalize(recipient),
            sender: sender.to_string(),
            queue_id: queue_id.to_string(),
            created: now,
            expires: now + i64::from(retention_days) * 86_400,
            read: false,
        };
        let body = self.msg_path(&id, "msg")?;
        crate::durable::write_private(&body, &sealed).map_err(|e| ferr(&body, e))?;
        Self::write_json(&self.msg_path(&id, "json")?, &meta)?;
        Ok(meta)
    }

    pub fn meta(&self, id: &str) -> Result<Meta> {
        Self::read_json(&self.msg_path(id, "json")?)?.ok_or(PortalError::NotFound)
    }

    /// The message `id` if it is `owner`'s (else [`PortalError::NotFound`], the same answer
    /// as for an id that does not exist).
    pub fn open_message(&self, owner: &str, id: &str) -> Result<(Meta, Zeroizing<Vec<u8>>)> {
        let meta = self.meta(id)?;
        if !meta.recipient.eq_ignore_ascii_case(owner.trim()) {
            return Err(PortalError::NotFound);
        }
        let path = self.msg_path(id, "msg")?;
        let sealed = std::fs::read(&path).map_err(|e| ferr(&path, e))?;
        let plain = self
            .key
            .open(id.as_bytes(), &sealed)
            .map_err(|e| PortalError::Key(e.to_string()))?;
        Ok((meta, plain))
    }

    pub fn mark_read(&self, id: &str) -> Result<()> {
        let _g = self.lock.lock();
        let mut m = self.meta(id)?;
        if !m.read {
            m.read = true;
            Self::write_json(&self.msg_path(id, "json")?, &m)?;
        }
        Ok(())
    }

    /// All held messages, oldest first.
    pub fn messages(&self) -> Vec<Meta> {
        let dir = self.dir.join("messages");
        let mut out: Vec<Meta> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| Self::read_json::<Meta>(&e.path()).ok().flatten())
            .collect();
        out.sort_by_key(|m| (m.created, m.id.clone()));
        out
    }

    pub fn messages_of(&self, owner: &str) -> Vec<Meta> {
        let mut v: Vec<Meta> = self
            .messages()
            .into_iter()
            .filter(|m| m.recipient.eq_ignore_ascii_case(owner.trim()))
            .collect();
        v.reverse();
        v
    }

    pub fn delete_message(&self, id: &str) -> Result<()> {
        for ext in ["json", "msg"] {
            let p = self.msg_path(id, ext)?;
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ferr(&p, e)),
            }
        }
        let d = self.dir.join("messages");
        crate::durable::sync_dir(&d).map_err(|e| ferr(&d, e))
    }

    pub fn user(&self, address: &str) -> Result<Option<User>> {
        Self::read_json(&self.user_path(address))
    }

    pub fn users(&self) -> Vec<User> {
        let dir = self.dir.join("users");
        let mut out: Vec<User> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| Self::read_json::<User>(&e.path()).ok().flatten())
            .collect();
        out.sort_by(|a, b| a.address.cmp(&b.address));
        out
    }

    fn update<T>(&self, address: &str, f: impl FnOnce(&mut User) -> Result<T>) -> Result<T> {
        let _g = self
            .lock
            .lock()
            .map_err(|_| PortalError::Invalid("store lock poisoned".into()))?;
        let path = self.user_path(address);
        let mut u = Self::read_json::<User>(&path)?.unwrap_or_else(|| User {
            address: crate::address::normalize(address),
            created: crate::clock::unix_now(),
            ..User::default()
        });
        let out = f(&mut u)?;
        Self::write_json(&path, &u)?;
        Ok(out)
    }

    /// Makes the user if new; when it cannot log in (new, locked, revoked) it gets a new
    /// set-up link (and code: `code` as chosen by the sender, or a random one when
    /// `require_code`). `None`: the user logs in with its password as before.
    pub fn prepare(
        &self,
        address: &str,
        require_code: bool,
        code: Option<&str>,
    ) -> Result<Option<Setup>> {
        if self
            .user(address)?
            .is_some_and(|u| u.active() && !u.reset_requested)
        {
            return Ok(None);
        }
        self.new_setup(address, require_code, code).map(Some)
    }

    /// A new set-up link (and code) for `address`, whatever its state: the sender's resend
    /// after a lockout, or an administrator's reset. The old link dies.
    pub fn new_setup(
        &self,
        address: &str,
        require_code: bool,
        code: Option<&str>,
    ) -> Result<Setup> {
        let token = hex(&crypt::random::<24>().map_err(|e| PortalError::Key(e.to_string()))?);
        let code = require_code.then(|| code.map_or_else(new_code, str::to_string));
        let code_hash = match &code {
            Some(c) => crate::password::hash(&normal_code(c))
                .map_err(|e| PortalError::Invalid(e.to_string()))?,
            None => String::new(),
        };
        let token_hash = sha256_hex(&token);
        self.update(address, |u| {
            u.setup_hash = token_hash;
            u.setup_expires = crate::clock::unix_now() + SETUP_VALIDITY_SECS;
            u.code_hash = code_hash;
            u.reset_requested = false;
            Ok(())
        })?;
        Ok(Setup { token, code })
    }

    /// The user whose live set-up link is `token`, or why not.
    pub fn setup_user(&self, token: &str) -> std::result::Result<User, SetupRefused> {
        let hash = sha256_hex(token);
        let found = self.users().into_iter().find(|u| {
            !u.setup_hash.is_empty() && bool::from(u.setup_hash.as_bytes().ct_eq(hash.as_bytes()))
        });
        match found {
            None => Err(SetupRefused::Invalid),
            Some(u) if u.setup_expires < crate::clock::unix_now() => Err(SetupRefused::Expired),
            Some(u) => Ok(u),
        }
    }

    /// Completes a set-up: the link (checked again) and code must match; sets the password,
    /// kills the link and clears a lockout. A wrong code counts as a failure.
    pub fn complete_setup(
        &self,
        token: &str,
        code: &str,
        password: &str,
    ) -> std::result::Result<String, SetupRefused> {
        let user = self.setup_user(token)?;
        if !user.code_hash.is_empty()
            && !crate::password::verify(Some(&user.code_hash), &normal_code(code))
        {
            let _ = self.failed(&user.address);
            return Err(SetupRefused::WrongCode);
        }
        let hash = crate::password::hash(password).map_err(|_| SetupRefused::Invalid)?;
        let hash_t = sha256_hex(token);
        self.update(&user.address, |u| {
            // The link may have been used or replaced meanwhile.
            if u.setup_hash != hash_t {
                return Err(PortalError::Invalid("link used".into()));
            }
            u.password_hash = hash;
            u.setup_hash.clear();
            u.code_hash.clear();
            u.setup_expires = 0;
            u.failures = 0;
            u.locked = false;
            u.revoked = false;
            Ok(())
        })
        .map_err(|_| SetupRefused::Invalid)?;
        Ok(user.address)
    }

    /// Checks a password. Locked, revoked and unknown users are refused after the same work.
    pub fn login(&self, address: &str, password: &str) -> LoginOutcome {
        let user = self.user(address).ok().flatten();
        let hash = user
            .as_ref()
            .map(|u| u.password_hash.as_str())
            .filter(|h| !h.is_empty());
        let ok = crate::password::verify(hash, password);
        match user {
            Some(u) if u.locked => LoginOutcome::Locked,
            Some(u) if u.active() && ok => {
                if u.failures > 0 {
                    let _ = self.update(address, |u| {
                        u.failures = 0;
                        Ok(())
                    });
                }
                LoginOutcome::Ok(u.address)
            }
            Some(u) if u.active() => {
                if self.failed(&u.address).unwrap_or(false) {
                    LoginOutcome::Locked
                } else {
                    LoginOutcome::Wrong
                }
            }
            _ => LoginOutcome::Wrong,
        }
    }

    /// Counts a failure; returns whether the account is now locked (the set-up link dies too).
    fn failed(&self, address: &str) -> Result<bool> {
        self.update(address, |u| {
            u.failures += 1;
            if u.failures >= MAX_FAILURES {
                u.locked = true;
                u.setup_hash.clear();
            }
            Ok(u.locked)
        })
    }

    /// The user forgot the password: the next message brings a new link and code (the
    /// password works until then). Unknown addresses are ignored (the page says the same).
    pub fn request_reset(&self, address: &str) -> Result<()> {
        if self.user(address)?.is_none() {
            return Ok(());
        }
        self.update(address, |u| {
            u.reset_requested = true;
            Ok(())
        })
    }

    /// An administrator revokes the access: password and link gone; messages stay until they
    /// expire (a new message brings a new set-up).
    pub fn revoke(&self, address: &str) -> Result<()> {
        if self.user(address)?.is_none() {
            return Err(PortalError::NotFound);
        }
        self.update(address, |u| {
            u.revoked = true;
            u.password_hash.clear();
            u.setup_hash.clear();
            u.code_hash.clear();
            Ok(())
        })
    }
}

/// Why a set-up link does not work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupRefused {
    /// Unknown, used or replaced.
    Invalid,
    Expired,
    WrongCode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    Ok(String),
    Wrong,
    Locked,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("keystore")).unwrap();
        let s = Store::open(d.path(), "").unwrap();
        (d, s)
    }

    #[test]
    fn messages_are_sealed_and_owned() {
        let (d, s) = store();
        let m = s
            .put_message(
                "Eve@Example.net",
                "a@example.org",
                "q1",
                b"Subject: hi\r\n\r\nsecret body",
                30,
            )
            .unwrap();
        let raw = std::fs::read(d.path().join(format!("portal/messages/{}.msg", m.id))).unwrap();
        assert!(!raw.windows(6).any(|w| w == b"secret"), "sealed at rest");
        let (_, plain) = s.open_message("eve@example.net", &m.id).unwrap();
        assert!(plain.ends_with(b"secret body"));
        assert!(matches!(
            s.open_message("mallory@example.net", &m.id),
            Err(PortalError::NotFound)
        ));
        assert!(matches!(
            s.open_message("eve@example.net", "../x"),
            Err(PortalError::NotFound)
        ));
        // The key opens again after a restart.
        let s2 = Store::open(d.path(), "").unwrap();
        assert!(s2.open_message("eve@example.net", &m.id).is_ok());
    }

    #[test]
    fn setup_is_single_use_and_lockout_needs_a_new_code() {
        let (_d, s) = store();
        let setup = s
            .prepare("eve@example.net", true, Some("abc-123"))
            .unwrap()
            .unwrap();
        assert_eq!(setup.code.as_deref(), Some("abc-123"));
        assert_eq!(
            s.complete_setup(&setup.token, "wrong", "pw pw pw pw"),
            Err(SetupRefused::WrongCode)
        );
        let who = s
            .complete_setup(&setup.token, "ABC123", "pw pw pw pw")
            .unwrap();
        assert_eq!(who, "eve@example.net");
        assert_eq!(
            s.complete_setup(&setup.token, "ABC123", "pw pw pw pw"),
            Err(SetupRefused::Invalid)
        );
        assert!(s.prepare("eve@example.net", true, None).unwrap().is_none());
        assert_eq!(
            s.login("eve@example.net", "pw pw pw pw"),
            LoginOutcome::Ok("eve@example.net".into())
        );
        for _ in 0..MAX_FAILURES - 1 {
            assert_eq!(s.login("eve@example.net", "nope"), LoginOutcome::Wrong);
        }
        assert_eq!(s.login("eve@example.net", "nope"), LoginOutcome::Locked);
        assert_eq!(
            s.login("eve@example.net", "pw pw pw pw"),
            LoginOutcome::Locked
        );
        let again = s.prepare("eve@example.net", true, None).unwrap().unwrap();
        let code = again.code.unwrap();
        s.complete_setup(&again.token, &code, "new pw new pw")
            .unwrap();
        assert!(matches!(
            s.login("eve@example.net", "new pw new pw"),
            LoginOutcome::Ok(_)
        ));
        // A forgotten password: the next message brings a link; the password works until then.
        s.request_reset("eve@example.net").unwrap();
        s.request_reset("nobody@example.net").unwrap();
        assert!(s.user("nobody@example.net").unwrap().is_none());
        assert!(s.prepare("eve@example.net", true, None).unwrap().is_some());
        assert!(matches!(
            s.login("eve@example.net", "new pw new pw"),
            LoginOutcome::Ok(_)
        ));
        assert!(s.prepare("eve@example.net", true, None).unwrap().is_none());
    }
}
