//! Parked mail: inbound messages delivered still encrypted because the recipient's key was not
//! licensed. The original is kept in `<data_dir>/license/parked/` (`<id>.msg` + `<id>.json`,
//! each written to a temporary name, fsynced and renamed), and put back into the queue as a new
//! incoming message once a licensed key can decrypt it, so the recipient then gets it
//! decrypted. Parked copies are dropped after `keep_days`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{LicenseError, Licensing};
use crate::spool::{new_queue_id, Envelope, Recipient, Stage};

/// One parked message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Parked {
    pub id: String,
    /// Unix seconds.
    pub parked_at: i64,
    /// The recipients whose keys were not licensed.
    pub recipients: Vec<String>,
    pub reason: String,
    /// The original envelope (client, sender).
    pub envelope: Envelope,
}

fn storage(e: impl std::fmt::Display) -> LicenseError {
    LicenseError::Storage(e.to_string())
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), LicenseError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    crate::spool::write_synced(&tmp, bytes).map_err(storage)?;
    std::fs::rename(&tmp, dir.join(name)).map_err(storage)
}

/// Keeps `message` for `recipients`; returns the parked id.
pub fn park(
    l: &Licensing,
    env: &Envelope,
    message: &[u8],
    recipients: &[String],
    reason: &str,
) -> Result<String, LicenseError> {
    let dir = l.parked_dir();
    std::fs::create_dir_all(dir).map_err(storage)?;
    let id = new_queue_id();
    let rec = Parked {
        id: id.clone(),
        parked_at: crate::clock::unix_now(),
        recipients: recipients.to_vec(),
        reason: reason.to_string(),
        envelope: env.clone(),
    };
    // The message first: a record without its message is never written.
    write_atomic(dir, &format!("{id}.msg"), message)?;
    write_atomic(
        dir,
        &format!("{id}.json"),
        &serde_json::to_vec_pretty(&rec).map_err(storage)?,
    )?;
    crate::spool::sync_dir(dir).map_err(storage)?;
    Ok(id)
}

fn paths(dir: &Path, id: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{id}.json")),
        dir.join(format!("{id}.msg")),
    )
}

/// Every parked message (unreadable records are skipped and logged).
pub fn list(l: &Licensing) -> Vec<Parked> {
    let Ok(rd) = std::fs::read_dir(l.parked_dir()) else {
        return vec![];
    };
    let mut out: Vec<Parked> = rd
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| {
            let raw = std::fs::read(e.path()).ok()?;
            match serde_json::from_slice(&raw) {
                Ok(p) => Some(p),
                Err(err) => {
                    tracing::error!(file = %e.path().display(), error = %err, "unreadable parked record");
                    None
                }
            }
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

fn remove(l: &Licensing, id: &str) {
    let (json, msg) = paths(l.parked_dir(), id);
    let _ = std::fs::remove_file(json);
    let _ = std::fs::remove_file(msg);
    let _ = crate::spool::sync_dir(l.parked_dir());
}

/// Keeps a parked record for the recipients `rest` only.
fn keep_for(l: &Licensing, p: &Parked, rest: Vec<String>) -> Result<(), LicenseError> {
    let mut rec = p.clone();
    rec.recipients = rest;
    write_atomic(
        l.parked_dir(),
        &format!("{}.json", p.id),
        &serde_json::to_vec_pretty(&rec).map_err(storage)?,
    )?;
    crate::spool::sync_dir(l.parked_dir()).map_err(storage)
}

/// What [`release`] did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Released {
    /// Parked ids put back into the queue (with the new queue ids).
    pub requeued: Vec<(String, String)>,
    /// Parked ids dropped after `keep_days`.
    pub expired: Vec<String>,
}

/// Puts parked mail a licensed key can now decrypt back into the queue through `inject`
/// (which stores it durably in the spool), and drops copies older than `keep_days` (0: keep).
/// `licensed_now(recipient, message)` says whether a key the licence covers now decrypts the
/// message for that recipient (the policy's licence gate answers it).
pub fn release(
    l: &Licensing,
    keep_days: u32,
    licensed_now: impl Fn(&str, &[u8]) -> bool,
    inject: impl Fn(Envelope, &[u8]) -> Result<(), String>,
) -> Released {
    let mut done = Released::default();
    let now = crate::clock::unix_now();
    for p in list(l) {
        let (_, msg_path) = paths(l.parked_dir(), &p.id);
        let Ok(message) = std::fs::read(&msg_path) else {
            tracing::error!(parked = %p.id, "parked message missing; record dropped");
            remove(l, &p.id);
            continue;
        };
        let ready: Vec<String> = p
            .recipients
            .iter()
            .filter(|r| licensed_now(r, &message))
            .cloned()
            .collect();
        if !ready.is_empty() {
            let rcpts = ready
                .iter()
                .map(|r| Recipient::new(r.clone(), None, None))
                .collect();
            let mut env = p.envelope.derive(new_queue_id(), Stage::Process, rcpts);
            env.size = message.len() as u64;
            let qid = env.id.clone();
            match inject(env, &message) {
                Ok(()) => {
                    tracing::info!(parked = %p.id, queue_id = %qid, rcpts = ?ready, "licensed now: parked mail queued to be decrypted and delivered again");
                    done.requeued.push((p.id.clone(), qid));
                    let rest: Vec<String> = p
                        .recipients
                        .iter()
                        .filter(|r| !ready.contains(r))
                        .cloned()
                        .collect();
                    if rest.is_empty() {
                        remove(l, &p.id);
                    } else if let Err(e) = keep_for(l, &p, rest) {
                        // Worst case the remaining recipients are tried again with the others.
                        tracing::error!(parked = %p.id, error = %e, "cannot update parked record");
                    }
                }
                Err(e) => {
                    tracing::error!(parked = %p.id, error = %e, "cannot queue parked mail; kept")
                }
            }
        } else if keep_days > 0 && now - p.parked_at > i64::from(keep_days) * 86_400 {
            tracing::warn!(parked = %p.id, rcpts = ?p.recipients, "parked mail dropped after the keep time (it was delivered encrypted)");
            remove(l, &p.id);
            done.expired.push(p.id.clone());
        }
    }
    done
}
