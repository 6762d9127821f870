//! Server-side sessions of the web admin. The browser holds only a random id; the store keeps
//! SHA-256 of it (a leaked memory dump, a copy of the data dir or timing of the map lookup
//! reveals no usable id), the administrator, a CSRF synchronizer token and the times for idle
//! and absolute expiry.
//!
//! Sessions are kept in `<data_dir>/admin-sessions.json` (mode 0600, replaced atomically) so a
//! restart (a configuration change of a listener, an update) does not log everyone out; only
//! the hashes are stored. A session's last-seen time is written at most once a minute, so
//! after a restart its idle time may count from up to a minute earlier.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::account::{Lang, Role};

/// A session ends after this long without a request (seconds).
pub const IDLE: i64 = 30 * 60;
/// And after this long in any case.
pub const ABSOLUTE: i64 = 12 * 3600;
/// A last-seen time older than this on disk is written again at the next request.
const SAVE_SEEN_AFTER: i64 = 60;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub user: String,
    pub role: Role,
    pub lang: Lang,
    /// Synchronizer token for forms and session-authenticated API writes (64 hex).
    pub csrf: String,
    /// Unix seconds.
    created: i64,
    last_seen: i64,
    /// A message shown once on the next page (ok?, text); not kept across restarts.
    #[serde(skip)]
    pub flash: Option<(bool, String)>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Hex SHA-256 of the id → session.
    map: HashMap<String, Session>,
    /// When each session's last-seen time was last written.
    saved_seen: HashMap<String, i64>,
}

#[derive(Debug, Default)]
pub struct Sessions {
    inner: Mutex<Inner>,
    /// None: in memory only (tests of the store itself).
    path: Option<PathBuf>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn key(id: &str) -> String {
    hex(&Sha256::digest(id.as_bytes()))
}

fn now() -> i64 {
    crate::clock::unix_now()
}

impl Sessions {
    /// The sessions saved in `data_dir` (expired ones dropped; an unreadable file is logged
    /// and means "no sessions", never a failed start).
    pub fn open(data_dir: &Path) -> Sessions {
        let path = data_dir.join("admin-sessions.json");
        let map: HashMap<String, Session> = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "admin sessions unreadable; everyone logs in again");
                HashMap::new()
            }),
            Err(_) => HashMap::new(),
        };
        let t = now();
        let saved_seen = map.iter().map(|(k, s)| (k.clone(), s.last_seen)).collect();
        let s = Sessions {
            inner: Mutex::new(Inner { map, saved_seen }),
            path: Some(path),
        };
        if let Ok(mut i) = s.inner.lock() {
            i.map.retain(|_, s| live(s, t));
        }
        s
    }

    /// Keep only sessions of administrators for whom `keep` is true, with their current
    /// role and language (an administrator deleted or changed while the gateway was down).
    pub fn sync_users(&self, current: impl Fn(&str) -> Option<(Role, Lang)>) {
        if let Ok(mut i) = self.inner.lock() {
            i.map.retain(|_, s| match current(&s.user) {
                Some((role, lang)) => {
                    s.role = role;
                    s.lang = lang;
                    true
                }
                None => false,
            });
            self.save(&i);
        }
    }

    /// Write the sessions durably (0600). A failure is logged: sessions still work until the
    /// next restart.
    fn save(&self, i: &Inner) {
        let Some(path) = &self.path else { return };
        let r = serde_json::to_vec(&i.map)
            .map_err(std::io::Error::other)
            .and_then(|b| crate::durable::write_private(path, &b));
        if let Err(e) = r {
            tracing::warn!(error = %e, "cannot save the admin sessions");
        }
    }

    /// A new session; returns the id for the cookie.
    pub fn create(&self, user: &str, role: Role, lang: Lang) -> String {
        let id = hex(&rand::random::<[u8; 32]>());
        let t = now();
        let s = Session {
            user: user.to_string(),
            role,
            lang,
            csrf: hex(&rand::random::<[u8; 32]>()),
            created: t,
            last_seen: t,
            flash: None,
        };
        if let Ok(mut i) = self.inner.lock() {
            i.map.retain(|_, s| live(s, t));
            let k = key(&id);
            i.saved_seen.insert(k.clone(), t);
            i.map.insert(k, s);
            let keys: Vec<String> = i.map.keys().cloned().collect();
            i.saved_seen.retain(|k, _| keys.contains(k));
            self.save(&i);
        }
        id
    }

    /// The live session of this id (its idle timer restarts), or none.
    pub fn touch(&self, id: &str) -> Option<Session> {
        let t = now();
        let mut i = self.inner.lock().ok()?;
        let k = key(id);
        let out = match i.map.get_mut(&k) {
            Some(s) if live(s, t) => {
                s.last_seen = t;
                let out = s.clone();
                s.flash = None;
                Some(out)
            }
            Some(_) => {
                i.map.remove(&k);
                self.save(&i);
                return None;
            }
            None => return None,
        };
        if t - i.saved_seen.get(&k).copied().unwrap_or(0) >= SAVE_SEEN_AFTER {
            i.saved_seen.insert(k, t);
            self.save(&i);
        }
        out
    }

    pub fn remove(&self, id: &str) {
        if let Ok(mut i) = self.inner.lock() {
            i.map.remove(&key(id));
            self.save(&i);
        }
    }

    /// End every session of an administrator (deleted, or password changed elsewhere).
    pub fn remove_user(&self, user: &str) {
        if let Ok(mut i) = self.inner.lock() {
            i.map.retain(|_, s| s.user != user);
            self.save(&i);
        }
    }

    /// Update the language of a user's sessions.
    pub fn set_lang(&self, user: &str, lang: Lang) {
        if let Ok(mut i) = self.inner.lock() {
            i.map
                .values_mut()
                .filter(|s| s.user == user)
                .for_each(|s| s.lang = lang);
            self.save(&i);
        }
    }

    pub fn flash(&self, id: &str, ok: bool, text: impl Into<String>) {
        if let Ok(mut i) = self.inner.lock() {
            if let Some(s) = i.map.get_mut(&key(id)) {
                s.flash = Some((ok, text.into()));
            }
        }
    }
}

fn live(s: &Session, t: i64) -> bool {
    t - s.last_seen < IDLE && t - s.created < ABSOLUTE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_touch_remove() {
        let s = Sessions::default();
        let id = s.create("root", Role::Admin, Lang::En);
        let got = s.touch(&id).unwrap();
        assert_eq!(got.user, "root");
        assert_eq!(got.csrf.len(), 64);
        assert!(s.touch("not-a-session").is_none());
        s.remove_user("root");
        assert!(s.touch(&id).is_none());
    }

    #[test]
    fn sessions_survive_a_restart_hashed_at_rest() {
        let d = tempfile::tempdir().unwrap();
        let s = Sessions::open(d.path());
        let id = s.create("root", Role::Admin, Lang::En);
        let gone = s.create("eve", Role::Readonly, Lang::En);
        let csrf = s.touch(&id).unwrap().csrf;
        let file = std::fs::read_to_string(d.path().join("admin-sessions.json")).unwrap();
        assert!(!file.contains(&id), "the id itself is never stored");
        assert!(file.contains(&key(&id)));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.path().join("admin-sessions.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(s);
        let s = Sessions::open(d.path());
        s.sync_users(|u| (u == "root").then_some((Role::Readonly, Lang::De)));
        let got = s.touch(&id).expect("still logged in after the restart");
        assert_eq!(got.csrf, csrf);
        assert_eq!((got.role, got.lang), (Role::Readonly, Lang::De));
        assert!(
            s.touch(&gone).is_none(),
            "a deleted administrator's session ends"
        );
    }

    #[test]
    fn expired_sessions_are_not_restored() {
        let d = tempfile::tempdir().unwrap();
        let s = Sessions::open(d.path());
        let id = s.create("root", Role::Admin, Lang::En);
        if let Ok(mut i) = s.inner.lock() {
            i.map.values_mut().for_each(|x| x.last_seen -= IDLE + 1);
            s.save(&i);
        }
        let s = Sessions::open(d.path());
        assert!(s.touch(&id).is_none());
    }
}
