//! Server-side sessions of the web admin. The browser holds only a random id; the store keeps
//! SHA-256 of it (a leaked memory dump or timing of the map lookup reveals no usable id), the
//! administrator, a CSRF synchronizer token and the times for idle and absolute expiry.
//! Sessions live in memory: a restart logs everyone out, which is what a firmware update wants.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::admins::{Lang, Role};

/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// And after this long in any case.
pub const ABSOLUTE: Duration = Duration::from_secs(12 * 3600);

#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub role: Role,
    pub lang: Lang,
    /// Synchronizer token for forms and session-authenticated API writes (64 hex).
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
    /// A message shown once on the next page (ok?, text).
    pub flash: Option<(bool, String)>,
}

#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    /// A new session; returns the id for the cookie.
    pub fn create(&self, user: &str, role: Role, lang: Lang) -> String {
        let id = hex(&rand::random::<[u8; 32]>());
        let now = Instant::now();
        let s = Session {
            user: user.to_string(),
            role,
            lang,
            csrf: hex(&rand::random::<[u8; 32]>()),
            created: now,
            last_seen: now,
            flash: None,
        };
        if let Ok(mut m) = self.map.lock() {
            m.retain(|_, s| live(s, now));
            m.insert(key(&id), s);
        }
        id
    }

    /// The live session of this id (its idle timer restarts), or none.
    pub fn touch(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut m = self.map.lock().ok()?;
        let k = key(id);
        match m.get_mut(&k) {
            Some(s) if live(s, now) => {
                s.last_seen = now;
                let out = s.clone();
                s.flash = None;
                Some(out)
            }
            Some(_) => {
                m.remove(&k);
                None
            }
            None => None,
        }
    }

    pub fn remove(&self, id: &str) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(&key(id));
        }
    }

    /// End every session of an administrator (deleted, or password changed elsewhere).
    pub fn remove_user(&self, user: &str) {
        if let Ok(mut m) = self.map.lock() {
            m.retain(|_, s| s.user != user);
        }
    }

    /// Update role or language of a user's sessions.
    pub fn set_lang(&self, user: &str, lang: Lang) {
        if let Ok(mut m) = self.map.lock() {
            m.values_mut()
                .filter(|s| s.user == user)
                .for_each(|s| s.lang = lang);
        }
    }

    pub fn flash(&self, id: &str, ok: bool, text: impl Into<String>) {
        if let Ok(mut m) = self.map.lock() {
            if let Some(s) = m.get_mut(&key(id)) {
                s.flash = Some((ok, text.into()));
            }
        }
    }
}

fn live(s: &Session, now: Instant) -> bool {
    now.duration_since(s.last_seen) < IDLE && now.duration_since(s.created) < ABSOLUTE
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
}
