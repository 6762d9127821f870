//! Who may use the admin API and the web admin: administrators with Argon2id passwords and
//! roles, server-side sessions with a CSRF synchronizer token, the login rate limit, the
//! one-time set-up link for the first administrator, and the middleware that enforces it all.

pub mod admins;
pub mod guard;
mod token;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use crate::webkit::{ratelimit, session};
pub use admins::{AdminError, AdminInfo, AdminStore, Lang, Role};
pub use guard::{Principal, Via};
pub use token::ensure_token;

use super::audit::AuditLog;
use crate::monitor::Monitor;

/// How long a set-up link is valid.
pub const SETUP_VALIDITY: Duration = Duration::from_secs(24 * 3600);

/// Authentication state of the admin listener.
#[derive(Debug)]
pub struct AuthState {
    pub admins: AdminStore,
    pub sessions: session::Sessions,
    pub limiter: ratelimit::LoginLimiter,
    pub audit: AuditLog,
    pub monitor: Arc<Monitor>,
    /// Whether the listener speaks HTTPS (cookies get `Secure` and the `__Host-` prefix).
    pub https: bool,
    /// SHA-256 of the set-up token and its expiry, while no administrator exists.
    setup: Mutex<Option<([u8; 32], SystemTime)>>,
}

impl AuthState {
    pub fn open(
        data_dir: &Path,
        https: bool,
        monitor: Arc<Monitor>,
    ) -> Result<AuthState, AdminError> {
        let admins = AdminStore::open(data_dir)?;
        let sessions = session::Sessions::open(data_dir);
        sessions.sync_users(|name| admins.get(name).map(|a| (a.role, a.lang)));
        Ok(AuthState {
            admins,
            sessions,
            limiter: ratelimit::LoginLimiter::default(),
            audit: AuditLog::new(data_dir),
            monitor,
            https,
            setup: Mutex::new(None),
        })
    }

    /// While no administrator exists: make a new one-time set-up token (valid 24 h) and
    /// return it. Each start makes a new one; only its hash is kept.
    pub fn new_setup_token(&self) -> Option<String> {
        if !self.admins.is_empty() {
            return None;
        }
        let token: String = rand::random::<[u8; 24]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Ok(mut s) = self.setup.lock() {
            *s = Some((hash, SystemTime::now() + SETUP_VALIDITY));
        }
        Some(token)
    }

    /// Whether `token` is the live set-up token (and no administrator exists yet).
    pub fn setup_valid(&self, token: &str) -> bool {
        if !self.admins.is_empty() {
            return false;
        }
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        match self.setup.lock().ok().and_then(|s| *s) {
            Some((h, until)) => bool::from(h.ct_eq(&hash)) && SystemTime::now() < until,
            None => false,
        }
    }

    /// The set-up link was used: it never works again.
    pub fn setup_done(&self) {
        if let Ok(mut s) = self.setup.lock() {
            *s = None;
        }
    }
}

/// Write the set-up link where the console and the log show it: the log line, and
/// `<data_dir>/setup-link.txt` (0600, removed once the first admin exists).
pub fn announce_setup(data_dir: &Path, base_url: &str, token: &str) {
    let url = format!("{base_url}/setup?token={token}");
    tracing::warn!(
        url = %url,
        "no administrator yet: open this one-time set-up link within 24 hours to create the first one"
    );
    let p = data_dir.join("setup-link.txt");
    if std::fs::write(&p, format!("{url}\n")).is_ok() {
        crate::durable::set_private(&p);
    }
}
