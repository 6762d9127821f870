//! `spool/hold/`: messages an administrator must look at, each with a `.reason` file —
//! records that cannot be read, damaged message files, what the policy refused to pass. Both
//! spool layouts ([`super::Layout`]) are moved whole and can be released back into the queue.

use std::fs;
use std::io;

use super::{check_record, ENVELOPE_VERSION};
use super::{io_err, mailfile, sync_dir, valid_id, write_synced, Envelope, Spool, SpoolError};

/// A file to move on release: from `hold/`, to `queue/`.
type Move = (std::path::PathBuf, std::path::PathBuf);

impl Spool {
    /// Move a message and its record to `hold/` with a human-readable reason.
    pub fn quarantine(&self, id: &str, reason: &str) -> Result<(), SpoolError> {
        for ext in ["msg", "env", mailfile::EXT] {
            let src = self.queue.join(format!("{id}.{ext}"));
            if src.exists() {
                let dst = self.hold.join(format!("{id}.{ext}"));
                fs::rename(&src, &dst).map_err(io_err(&dst))?;
            }
        }
        let reason_path = self.hold.join(format!("{id}.reason"));
        write_synced(&reason_path, reason.as_bytes())?;
        sync_dir(&self.hold)?;
        sync_dir(&self.queue)
    }

    /// Move a quarantined message back into `queue/` (admin "release"), the reverse of
    /// [`Spool::quarantine`], and return its record. The record must parse, or the message
    /// stays held. Order keeps a crash safe: a `.mail` file moves in one step; of the two files,
    /// the envelope moves first (an envelope without its message is quarantined again at start,
    /// never lost), then the message, each made durable before the next step; the reason file
    /// goes last.
    pub fn release(&self, id: &str) -> Result<Envelope, SpoolError> {
        if !valid_id(id) || !self.hold.join(format!("{id}.reason")).exists() {
            return Err(SpoolError::NotFound(id.to_string()));
        }
        let held_mail = self.hold.join(format!("{id}.{}", mailfile::EXT));
        let (env, moves) = if held_mail.exists() {
            let env = fs::File::open(&held_mail)
                .map_err(|e| e.to_string())
                .and_then(|mut f| mailfile::read_record(&mut f))
                .and_then(|r| check_record(&r.env, id).map(|()| r.env))
                .map_err(|message| SpoolError::BadRecord {
                    path: held_mail.clone(),
                    message,
                })?;
            (env, vec![(held_mail, self.mail_path(id))])
        } else {
            self.held_two_files(id)?
        };
        for (src, dst) in &moves {
            fs::File::open(src)
                .and_then(|f| f.sync_all())
                .map_err(io_err(src))?;
            fs::rename(src, dst).map_err(io_err(dst))?;
            sync_dir(&self.queue)?;
            sync_dir(&self.hold)?;
        }
        let reason = self.hold.join(format!("{id}.reason"));
        fs::remove_file(&reason).map_err(io_err(&reason))?;
        sync_dir(&self.hold)?;
        Ok(env)
    }

    /// The record of a held two-file message and the moves that release it (envelope first).
    fn held_two_files(&self, id: &str) -> Result<(Envelope, Vec<Move>), SpoolError> {
        let held_env = self.hold.join(format!("{id}.env"));
        let held_msg = self.hold.join(format!("{id}.msg"));
        let bytes = fs::read(&held_env).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => SpoolError::BadRecord {
                path: held_env.clone(),
                message: "no envelope record".into(),
            },
            _ => io_err(&held_env)(e),
        })?;
        let env: Envelope = serde_json::from_slice(&bytes).map_err(|e| SpoolError::BadRecord {
            path: held_env.clone(),
            message: e.to_string(),
        })?;
        if env.id != id || env.version > ENVELOPE_VERSION || !held_msg.exists() {
            return Err(SpoolError::BadRecord {
                path: held_env,
                message: "record does not match, is too new, or its message is missing".into(),
            });
        }
        let moves = vec![
            (held_env, self.env_path(id)),
            (held_msg, self.message_path(id)),
        ];
        Ok((env, moves))
    }

    /// Messages in `hold/` with their reasons, for the admin.
    pub fn held(&self) -> Vec<(String, String)> {
        let mut out = vec![];
        if let Ok(rd) = fs::read_dir(&self.hold) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if let Some(id) = name.strip_suffix(".reason") {
                    let reason = fs::read_to_string(e.path()).unwrap_or_default();
                    out.push((id.to_string(), reason));
                }
            }
        }
        out.sort();
        out
    }
}
