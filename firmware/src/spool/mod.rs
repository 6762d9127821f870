//! The spool: the only durable boundary of the mail path (Postfix style). A message is written to
//! `tmp/`, fsynced, renamed into `queue/` together with its envelope record, and the directory is
//! fsynced — only then does SMTP say `250`. The envelope file is written last: a message file
//! without an envelope was never acknowledged and is removed at start.
//!
//! Layout under `<data_dir>/spool/`: `tmp/` (being written), `queue/<id>.msg` + `queue/<id>.env`
//! (accepted, in process or delivery), `hold/` (quarantined: records that cannot be read, with a
//! `.reason` file an admin can see).

pub mod checksum;
mod dirsync;
pub mod envelope;
mod incoming;
mod status;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub use incoming::IncomingFile;
pub use status::EnhancedStatus;

pub use envelope::{
    Body, ClientInfo, Envelope, Listener, Notify, RcptState, Recipient, Ret, Stage, TlsInfo,
    ENVELOPE_VERSION,
};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    #[error("spool I/O error on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("envelope record {path} is unreadable: {message}")]
    BadRecord { path: PathBuf, message: String },
    #[error("no such message {0}")]
    NotFound(String),
    /// The message file does not match its record (cut off): it is held, never delivered.
    #[error("message file {path} is damaged: {message}")]
    Damaged { path: PathBuf, message: String },
}

impl SpoolError {
    /// Whether the failure is the disk being full (answer 452 4.3.1, not 451).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, SpoolError::Io { source, .. } if crate::durable::is_disk_full(source))
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug)]
pub struct Spool {
    root: PathBuf,
    tmp: PathBuf,
    queue: PathBuf,
    hold: PathBuf,
    /// fsyncs of `queue/`, shared by concurrent commits and removals (group commit).
    queue_sync: dirsync::DirSync,
}

/// Unique, sortable queue ids: arrival time in microseconds, a per-process counter and randomness,
/// so ids from a restarted process never collide with old ones.
pub fn new_queue_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) & 0xfff;
    let r: u32 = rand::random::<u32>() & 0xfffff;
    format!("{micros:013X}{n:03X}{r:05X}")
}

/// Ids are ours (hex plus `-` and digits for derived ones); anything else from an API is refused,
/// so an id can never name a path outside the spool.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl Spool {
    pub fn open(data_dir: &Path) -> Result<Spool, SpoolError> {
        let root = data_dir.join("spool");
        let s = Spool {
            tmp: root.join("tmp"),
            queue: root.join("queue"),
            hold: root.join("hold"),
            queue_sync: dirsync::DirSync::new(root.join("queue")),
            root,
        };
        for d in [&s.root, &s.tmp, &s.queue, &s.hold] {
            fs::create_dir_all(d).map_err(io_err(d))?;
        }
        // Whatever is in tmp/ was never acknowledged.
        for e in fs::read_dir(&s.tmp).map_err(io_err(&s.tmp))?.flatten() {
            let _ = fs::remove_file(e.path());
        }
        Ok(s)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn tmp_path(&self, id: &str) -> PathBuf {
        self.tmp.join(format!("{id}.msg"))
    }

    pub fn message_path(&self, id: &str) -> PathBuf {
        self.queue.join(format!("{id}.msg"))
    }

    fn env_path(&self, id: &str) -> PathBuf {
        self.queue.join(format!("{id}.env"))
    }

    /// Commit a message whose bytes were written (and fsynced) to its temporary file
    /// ([`IncomingFile`], [`Spool::store`]): write its
    /// envelope, rename both into the queue, fsync the queue directory.
    /// On failure the temporary file is removed (it was never acknowledged).
    pub fn commit(&self, env: &Envelope) -> Result<(), SpoolError> {
        let tmp_msg = self.tmp_path(&env.id);
        let msg = self.message_path(&env.id);
        let res = fs::rename(&tmp_msg, &msg)
            .map_err(io_err(&msg))
            .and_then(|()| self.write_envelope(env));
        if res.is_err() {
            let _ = fs::remove_file(&tmp_msg);
        }
        res
    }

    /// Store a message given as bytes (DSNs, processed output) in one step. Callers record the
    /// checksum in `env` ([`Envelope::set_content`]) so later record updates keep it; a record
    /// without one gets it here.
    pub fn store(&self, env: &Envelope, bytes: &[u8]) -> Result<(), SpoolError> {
        let tmp_msg = self.tmp_path(&env.id);
        write_synced(&tmp_msg, bytes)?;
        if env.checksum.is_none() {
            let mut with_sum = env.clone();
            with_sum.checksum = Some(checksum::of(bytes));
            return self.commit(&with_sum);
        }
        self.commit(env)
    }

    /// Store a derived message whose bytes equal an existing one's: a hard link, no copy.
    /// Idempotent, so a crash between writing children and removing the parent is harmless.
    pub fn store_linked(&self, env: &Envelope, source_id: &str) -> Result<(), SpoolError> {
        let src = self.message_path(source_id);
        let dst = self.message_path(&env.id);
        match fs::hard_link(&src, &dst) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err(&dst)(e)),
        }
        self.write_envelope(env)
    }

    /// Atomically replace a message's envelope record (status updates), durable on return.
    pub fn write_envelope(&self, env: &Envelope) -> Result<(), SpoolError> {
        let json = serde_json::to_vec_pretty(env).map_err(|e| SpoolError::BadRecord {
            path: self.env_path(&env.id),
            message: e.to_string(),
        })?;
        let tmp = self.tmp.join(format!("{}.env", env.id));
        write_synced(&tmp, &json)?;
        let dst = self.env_path(&env.id);
        fs::rename(&tmp, &dst).map_err(io_err(&dst))?;
        self.queue_sync.sync().map_err(io_err(&self.queue))
    }

    pub fn read_message(&self, id: &str) -> Result<Vec<u8>, SpoolError> {
        let p = self.message_path(id);
        fs::read(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => SpoolError::NotFound(id.to_string()),
            _ => io_err(&p)(e),
        })
    }

    /// Reads the message of `env` and checks it against the size and checksum its record
    /// gives: a file shorter than that was cut off (a damaged disk, a power cut on a filesystem
    /// without data ordering), one with other bytes was damaged in place; neither may be
    /// delivered as if whole.
    pub fn read_checked(&self, env: &Envelope) -> Result<Vec<u8>, SpoolError> {
        let bytes = self.read_message(&env.id)?;
        if (bytes.len() as u64) < env.size {
            return Err(self.truncated(env, bytes.len() as u64));
        }
        if let Some(sum) = &env.checksum {
            checksum::verify(sum, &bytes).map_err(|message| SpoolError::Damaged {
                path: self.message_path(&env.id),
                message,
            })?;
        }
        Ok(bytes)
    }

    /// The length check of [`Spool::read_checked`] on the file's metadata (at start).
    fn check_length(&self, env: &Envelope) -> Result<(), String> {
        let p = self.message_path(&env.id);
        let len = fs::metadata(&p)
            .map_err(|e| format!("message file unreadable: {e}"))?
            .len();
        if len < env.size {
            return Err(self.truncated(env, len).to_string());
        }
        Ok(())
    }

    fn truncated(&self, env: &Envelope, len: u64) -> SpoolError {
        SpoolError::Damaged {
            path: self.message_path(&env.id),
            message: format!(
                "message file is truncated: {len} of {} bytes on disk",
                env.size
            ),
        }
    }

    /// Remove a message: the envelope first (the message is then no longer accepted state).
    pub fn remove(&self, id: &str) -> Result<(), SpoolError> {
        let env = self.env_path(id);
        match fs::remove_file(&env) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&env)(e)),
        }
        let msg = self.message_path(id);
        let _ = fs::remove_file(&msg);
        self.queue_sync.sync().map_err(io_err(&self.queue))
    }

    /// Load every committed envelope. Message files without a record are removed (never
    /// acknowledged); records that cannot be read are moved to `hold/` with a reason file.
    pub fn load_all(&self) -> Result<(Vec<Envelope>, Vec<String>), SpoolError> {
        let mut envs = vec![];
        let mut problems = vec![];
        let mut msgs = std::collections::HashSet::new();
        let mut env_ids = vec![];
        for e in fs::read_dir(&self.queue).map_err(io_err(&self.queue))? {
            let e = e.map_err(io_err(&self.queue))?;
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(id) = name.strip_suffix(".msg") {
                msgs.insert(id.to_string());
            } else if let Some(id) = name.strip_suffix(".env") {
                env_ids.push(id.to_string());
            }
        }
        for id in env_ids {
            let p = self.env_path(&id);
            let parsed = fs::read(&p)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Envelope>(&b).map_err(|e| e.to_string()))
                .and_then(|env| {
                    if env.version > ENVELOPE_VERSION {
                        Err(format!(
                            "record version {} is newer than this firmware",
                            env.version
                        ))
                    } else if env.id != id {
                        Err(format!("record names id {} but file is {id}", env.id))
                    } else if !msgs.contains(&id) {
                        Err("message file is missing".to_string())
                    } else {
                        self.check_length(&env).map(|()| env)
                    }
                });
            match parsed {
                Ok(env) => {
                    msgs.remove(&id);
                    envs.push(env);
                }
                Err(why) => {
                    msgs.remove(&id);
                    self.quarantine(&id, &why)?;
                    problems.push(format!("{id}: {why}"));
                }
            }
        }
        for orphan in msgs {
            let _ = fs::remove_file(self.message_path(&orphan));
        }
        envs.sort_by(|a, b| a.id.cmp(&b.id));
        Ok((envs, problems))
    }

    /// Move a message and its record to `hold/` with a human-readable reason.
    pub fn quarantine(&self, id: &str, reason: &str) -> Result<(), SpoolError> {
        for ext in ["msg", "env"] {
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
    /// stays held. Order keeps a crash safe: the envelope moves first (an envelope without its
    /// message is quarantined again at start, never lost), then the message, each made durable
    /// before the next step; the reason file goes last.
    pub fn release(&self, id: &str) -> Result<Envelope, SpoolError> {
        let held_env = self.hold.join(format!("{id}.env"));
        let held_msg = self.hold.join(format!("{id}.msg"));
        if !valid_id(id) || !self.hold.join(format!("{id}.reason")).exists() {
            return Err(SpoolError::NotFound(id.to_string()));
        }
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
        for (src, dst) in [
            (&held_env, self.env_path(id)),
            (&held_msg, self.message_path(id)),
        ] {
            fs::File::open(src)
                .and_then(|f| f.sync_all())
                .map_err(io_err(src))?;
            fs::rename(src, &dst).map_err(io_err(&dst))?;
            sync_dir(&self.queue)?;
            sync_dir(&self.hold)?;
        }
        let reason = self.hold.join(format!("{id}.reason"));
        fs::remove_file(&reason).map_err(io_err(&reason))?;
        sync_dir(&self.hold)?;
        Ok(env)
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

    /// Free space in the spool's filesystem, in bytes.
    pub fn free_bytes(&self) -> Option<u64> {
        nix::sys::statvfs::statvfs(&self.root)
            .ok()
            .map(|s| s.blocks_available().saturating_mul(s.fragment_size()))
    }
}

/// Write a file and fsync it before returning ([`crate::durable::write_synced`]).
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), SpoolError> {
    crate::durable::write_synced(path, bytes).map_err(io_err(path))
}

/// fsync a spool directory ([`crate::durable::sync_dir`]).
pub fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    crate::durable::sync_dir(dir).map_err(io_err(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::envelope::*;

    pub(crate) fn sample(id: &str) -> Envelope {
        Envelope {
            version: ENVELOPE_VERSION,
            id: id.into(),
            parent: None,
            stage: Stage::Process,
            arrived: 0,
            client: ClientInfo {
                ip: None,
                port: 0,
                helo: "h".into(),
                listener: Listener::Mx,
                tls: None,
                auth_user: None,
                auth_addresses: vec![],
                trusted_network: false,
            },
            mail_from: "a@b.c".into(),
            body: None,
            smtputf8: false,
            ret: None,
            envid: None,
            size: 3,
            recipients: vec![Recipient::new("u@example.org".into(), None, None)],
            paused: None,
            checksum: None,
        }
    }

    #[test]
    fn quarantine_release_roundtrip() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::open(d.path()).unwrap();
        s.store(&sample("B1"), b"abc").unwrap();
        s.quarantine("B1", "why").unwrap();
        assert!(s.load_all().unwrap().0.is_empty());
        assert!(matches!(s.release("NOPE"), Err(SpoolError::NotFound(_))));
        let env = s.release("B1").unwrap();
        assert_eq!(env.id, "B1");
        assert!(s.held().is_empty());
        assert_eq!(s.load_all().unwrap().0.len(), 1);
        assert_eq!(s.read_message("B1").unwrap(), b"abc");
    }

    #[test]
    fn store_load_remove() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::open(d.path()).unwrap();
        s.store(&sample("A1"), b"abc").unwrap();
        let (envs, problems) = s.load_all().unwrap();
        assert_eq!(envs.len(), 1);
        assert!(problems.is_empty());
        assert_eq!(s.read_message("A1").unwrap(), b"abc");
        s.remove("A1").unwrap();
        assert!(s.load_all().unwrap().0.is_empty());
    }

    #[test]
    fn orphans_and_tmp_are_cleaned_and_bad_records_held() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::open(d.path()).unwrap();
        fs::write(s.message_path("ORPHAN"), b"x").unwrap();
        fs::write(s.tmp_path("HALF"), b"x").unwrap();
        fs::write(s.message_path("BAD"), b"x").unwrap();
        fs::write(s.env_path("BAD"), b"{not json").unwrap();
        let s = Spool::open(d.path()).unwrap();
        let (envs, problems) = s.load_all().unwrap();
        assert!(envs.is_empty());
        assert_eq!(problems.len(), 1);
        assert!(!s.message_path("ORPHAN").exists());
        assert!(!s.tmp_path("HALF").exists());
        let held = s.held();
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].0, "BAD");
    }

    #[test]
    fn truncated_message_is_held_at_start_and_refused_on_read() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::open(d.path()).unwrap();
        s.store(&sample("T1"), b"abc").unwrap();
        s.store(&sample("T2"), b"abc").unwrap();
        fs::write(s.message_path("T2"), b"a").unwrap();
        assert!(s.read_checked(&sample("T2")).is_err());
        assert_eq!(s.read_checked(&sample("T1")).unwrap(), b"abc");
        let (envs, problems) = s.load_all().unwrap();
        assert_eq!(envs.len(), 1);
        assert!(
            problems[0].contains("truncated: 1 of 3 bytes"),
            "{problems:?}"
        );
        assert_eq!(s.held()[0].0, "T2");
    }

    #[test]
    fn linked_children_share_bytes() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::open(d.path()).unwrap();
        s.store(&sample("P"), b"body").unwrap();
        let child = sample("P").derive("P-1".into(), Stage::Deliver, vec![]);
        s.store_linked(&child, "P").unwrap();
        s.store_linked(&child, "P").unwrap(); // idempotent
        s.remove("P").unwrap();
        assert_eq!(s.read_message("P-1").unwrap(), b"body");
    }

    #[test]
    fn ids_are_unique_and_safe() {
        let a = new_queue_id();
        let b = new_queue_id();
        assert_ne!(a, b);
        assert!(valid_id(&a));
        assert!(!valid_id("../etc"));
        assert!(!valid_id(""));
    }
}
