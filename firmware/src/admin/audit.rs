//! The audit log: who changed what, when, through which door (web, API, ctl). One JSON line
//! per change in `<data_dir>/audit.log`, appended and synced before the change is reported
//! done; the file is rotated to `audit.log.1` at 8 MiB, so about 50,000 changes stay readable.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

const ROTATE_AT: u64 = 8 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Unix seconds.
    pub time: i64,
    /// Administrator name, or `ctl` for the local token.
    pub who: String,
    /// `web`, `api` or `ctl`.
    pub via: String,
    /// Client address.
    pub from: String,
    /// What was done, e.g. `POST /api/v1/partners/ab12/disable`.
    pub what: String,
    /// HTTP status of the answer (2xx: done).
    pub status: u16,
}

#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    lock: Mutex<()>,
}

impl AuditLog {
    pub fn new(data_dir: &Path) -> AuditLog {
        AuditLog {
            path: data_dir.join("audit.log"),
            lock: Mutex::new(()),
        }
    }

    /// Append one entry (durable on return). A failure is logged, never fatal: refusing admin
    /// work because the audit disk is full would lock the administrator out of fixing it.
    pub fn record(&self, e: &AuditEntry) {
        let Ok(_g) = self.lock.lock() else { return };
        tracing::info!(who = %e.who, via = %e.via, what = %e.what, status = e.status, "audit");
        let r = (|| -> std::io::Result<()> {
            if std::fs::metadata(&self.path).is_ok_and(|m| m.len() > ROTATE_AT) {
                std::fs::rename(&self.path, self.path.with_extension("log.1"))?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            let mut line = serde_json::to_vec(e).map_err(std::io::Error::other)?;
            line.push(b'\n');
            f.write_all(&line)?;
            f.sync_data()
        })();
        if let Err(err) = r {
            tracing::error!(error = %err, path = %self.path.display(), "cannot write the audit log");
        }
    }

    /// The newest entries first, at most `limit`, those containing `query` (case-insensitive)
    /// in who or what when given.
    pub fn recent(&self, limit: usize, query: &str) -> Vec<AuditEntry> {
        let q = query.trim().to_ascii_lowercase();
        let mut out = vec![];
        for p in [self.path.clone(), self.path.with_extension("log.1")] {
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            for line in text.lines().rev() {
                let Ok(e) = serde_json::from_str::<AuditEntry>(line) else {
                    continue;
                };
                if q.is_empty()
                    || e.who.to_ascii_lowercase().contains(&q)
                    || e.what.to_ascii_lowercase().contains(&q)
                {
                    out.push(e);
                    if out.len() >= limit {
                        return out;
                    }
                }
            }
        }
        out
    }
}
