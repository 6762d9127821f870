//! The mail log (tracking center): one JSON line per message transition in
//! `<data_dir>/maillog.jsonl`, rotated to `maillog.jsonl.1` at 16 MiB, so the last 32 MiB of
//! history (some 100,000 transitions) can be searched by address, queue id and time.
//! Appends are not fsynced: the log is for people, the spool is the durable record.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

const ROTATE_AT: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct MailEvent {
    /// Unix seconds.
    pub time: i64,
    /// Queue id.
    pub id: String,
    /// accepted, processed, delivered, deferred, failed, quarantined.
    pub event: String,
    pub from: String,
    pub to: Vec<String>,
    pub detail: String,
}

/// A search of the mail log; empty fields match everything.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
pub struct MailQuery {
    /// Part of a sender or recipient address.
    #[serde(default)]
    pub address: String,
    /// Queue id or its prefix (finds the outputs of a message too).
    #[serde(default)]
    pub id: String,
    /// Unix seconds, inclusive.
    #[serde(default)]
    pub since: Option<i64>,
    #[serde(default)]
    pub until: Option<i64>,
}

#[derive(Debug)]
pub struct MailLog {
    path: PathBuf,
    /// The open log and its length: kept open between events (three per message), so an
    /// append is one write, not a stat, an open, a write and a close.
    file: Mutex<Option<(File, u64)>>,
}

impl MailLog {
    pub fn new(data_dir: &Path) -> MailLog {
        MailLog {
            path: data_dir.join("maillog.jsonl"),
            file: Mutex::new(None),
        }
    }

    pub fn append(&self, e: &MailEvent) {
        let Ok(mut open) = self.file.lock() else {
            return;
        };
        let r = (|| -> std::io::Result<()> {
            let mut line = serde_json::to_vec(e).map_err(std::io::Error::other)?;
            line.push(b'\n');
            if open.as_ref().is_none_or(|(_, len)| *len > ROTATE_AT) {
                *open = None;
                if std::fs::metadata(&self.path).is_ok_and(|m| m.len() > ROTATE_AT) {
                    std::fs::rename(&self.path, self.path.with_extension("jsonl.1"))?;
                }
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?;
                let len = f.metadata()?.len();
                *open = Some((f, len));
            }
            match open.as_mut() {
                Some((f, len)) => {
                    *len += line.len() as u64;
                    f.write_all(&line)
                }
                None => Ok(()),
            }
        })();
        if let Err(err) = r {
            // Opened again at the next event (the disk may have been full).
            *open = None;
            tracing::warn!(error = %err, "cannot write the mail log");
        }
    }

    /// Matching events, newest first, at most `limit`.
    pub fn search(&self, q: &MailQuery, limit: usize) -> Vec<MailEvent> {
        let addr = crate::address::normalize(&q.address);
        let id = q.id.trim();
        let mut out = vec![];
        for p in [self.path.clone(), self.path.with_extension("jsonl.1")] {
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            for line in text.lines().rev() {
                let Ok(e) = serde_json::from_str::<MailEvent>(line) else {
                    continue;
                };
                let ok = (addr.is_empty()
                    || e.from.to_ascii_lowercase().contains(&addr)
                    || e.to.iter().any(|t| t.to_ascii_lowercase().contains(&addr)))
                    && (id.is_empty() || e.id.starts_with(id) || e.detail.contains(id))
                    && q.since.is_none_or(|s| e.time >= s)
                    && q.until.is_none_or(|u| e.time <= u);
                if ok {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> MailEvent {
        MailEvent {
            time: 1,
            id: id.into(),
            event: "accepted".into(),
            from: "a@example.org".into(),
            to: vec!["b@example.net".into()],
            detail: String::new(),
        }
    }

    #[test]
    fn appends_go_to_the_open_file_and_survive_a_restart() {
        let d = tempfile::tempdir().unwrap();
        let log = MailLog::new(d.path());
        log.append(&event("A"));
        log.append(&event("B"));
        let again = MailLog::new(d.path());
        again.append(&event("C"));
        let ids: Vec<String> = again
            .search(&MailQuery::default(), 10)
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, ["C", "B", "A"]);
        let text = std::fs::read_to_string(d.path().join("maillog.jsonl")).unwrap();
        assert_eq!(text.lines().count(), 3);
    }
}
