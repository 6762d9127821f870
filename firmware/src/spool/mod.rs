//! The spool: the only durable boundary of the mail path (Postfix style). A message and its
//! envelope record are written into a [`pool`] file that already carries the message's name in
//! `queue/` and fsynced, or written to `tmp/`, fsynced, renamed into `queue/` and the directory
//! fsynced — only then does SMTP say `250`.
//!
//! Layout under `<data_dir>/spool/`: `tmp/` (being written), `queue/` (accepted, in process or
//! delivery), `hold/` (quarantined, with a `.reason` file an admin can see), and, in `queue/`,
//! files named for the next messages ([`pool`]: a message written into one needs no rename and
//! no directory fsync). A queued message is stored in one of two layouts:
//!
//! - **one file**, `queue/<id>.mail` ([`mailfile`]): message, record and footer written,
//!   fsynced and renamed together; record updates are appended. What this firmware writes.
//! - **two files**, `queue/<id>.msg` + `queue/<id>.env` (the record, JSON): what firmware before
//!   it wrote. The envelope file is written last: a message file without one was never
//!   acknowledged and is removed at start. Still read, updated and delivered, and still
//!   *written* while the running firmware slot is on trial ([`Spool::set_one_file`]): a trial
//!   that falls back must leave a spool the firmware before it can read.

pub mod checksum;
mod dirsync;
pub mod envelope;
mod hold;
mod incoming;
pub mod mailfile;
pub mod pool;
mod status;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub use incoming::IncomingFile;
pub use pool::drop_pool_files;
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
    queue_sync: std::sync::Arc<dirsync::DirSync>,
    /// Files in `queue/` named for the next messages, written over by them.
    pool: std::sync::Arc<pool::Pool>,
    /// New messages are written in the one-file layout ([`mailfile`]); off while the firmware
    /// slot is on trial.
    one_file: AtomicBool,
}

/// Which layout a queued message is stored in (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `<id>.mail`.
    OneFile,
    /// `<id>.msg` + `<id>.env`.
    TwoFiles,
}

/// A delivered message's file could not be removed: it stays, and its message would be
/// delivered again after a restart (never lost).
fn removal_failed(path: &Path, e: &io::Error) {
    tracing::error!(error = %e, path = %path.display(), "cannot remove a delivered message's spool file");
}

/// The paths a queued message may have, in either layout ([`Spool::files_of`]).
struct QueuedFiles {
    mail: PathBuf,
    env: PathBuf,
    msg: PathBuf,
}

impl QueuedFiles {
    /// Removes the message's files (blocking): its `.mail` file — into `pool` when given, else
    /// unlinked — or else its `.env` record first and then its `.msg` file, so that a crash in
    /// between leaves a message file without a record (never acknowledged state, removed at
    /// start). A file already gone is no error, and a `.msg` file that cannot be removed is
    /// only logged (the start removes it).
    fn remove(self, pool: Option<&pool::Pool>) -> Result<Removed, SpoolError> {
        let mail = match pool {
            Some(pool) => pool.recycle(&self.mail),
            None => fs::remove_file(&self.mail).map(|()| None),
        };
        match mail {
            Ok(pooled) => return Ok(Removed::OneFile(pooled)),
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(&self.mail)(e)),
            Err(_) => {}
        }
        match fs::remove_file(&self.env) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(&self.env)(e)),
            _ => {}
        }
        match fs::remove_file(&self.msg) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => removal_failed(&self.msg, &e),
            _ => {}
        }
        Ok(Removed::TwoFiles)
    }
}

/// What [`QueuedFiles::remove`] removed.
enum Removed {
    /// A `.mail` file; renamed into the pool under this id, if it was.
    OneFile(Option<String>),
    /// The two files (or nothing was there).
    TwoFiles,
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
        fs::create_dir_all(&root).map_err(io_err(&root))?;
        // The pool of the firmware before this one (delivered files to write over); nothing in
        // it was ever a message.
        let _ = fs::remove_dir_all(root.join("free"));
        let s = Spool {
            pool: std::sync::Arc::new(pool::Pool::new(root.join("queue"))),
            tmp: root.join("tmp"),
            queue: root.join("queue"),
            hold: root.join("hold"),
            queue_sync: dirsync::DirSync::new(root.join("queue")),
            one_file: AtomicBool::new(true),
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

    /// Whether new messages are written in the one-file layout. `app` turns it off while the
    /// firmware slot is on trial ([`crate::update::Updater::on_trial`]) and on once it is marked
    /// good: the firmware before this one reads only the two-file layout.
    pub fn set_one_file(&self, on: bool) {
        self.one_file.store(on, Ordering::Relaxed);
        if !on {
            // The pool's files are `.mail` files the firmware before would not understand.
            self.pool.drain();
            self.queue_sync.sync_soon();
        }
    }

    /// The layout new messages are written in.
    pub fn new_layout(&self) -> Layout {
        if self.one_file.load(Ordering::Relaxed) {
            Layout::OneFile
        } else {
            Layout::TwoFiles
        }
    }

    fn tmp_path(&self, id: &str, layout: Layout) -> PathBuf {
        match layout {
            Layout::OneFile => self.tmp.join(format!("{id}.{}", mailfile::EXT)),
            Layout::TwoFiles => self.tmp.join(format!("{id}.msg")),
        }
    }

    fn mail_path(&self, id: &str) -> PathBuf {
        self.queue.join(format!("{id}.{}", mailfile::EXT))
    }

    fn message_path(&self, id: &str) -> PathBuf {
        self.queue.join(format!("{id}.msg"))
    }

    fn env_path(&self, id: &str) -> PathBuf {
        self.queue.join(format!("{id}.env"))
    }

    /// The layout queued message `id` is stored in (a `.mail` file, or else the two files).
    pub fn layout_of(&self, id: &str) -> Layout {
        if self.mail_path(id).exists() {
            Layout::OneFile
        } else {
            Layout::TwoFiles
        }
    }

    /// Commit a message whose bytes were written (and fsynced) to its temporary file
    /// ([`IncomingFile`] or [`Spool::store`]) in `layout`: a `.mail` file (record included) is
    /// renamed into the queue; a `.msg` file is renamed and its envelope record written. Then the
    /// queue directory is fsynced. On failure the temporary file is removed (it was never
    /// acknowledged).
    pub fn commit(&self, env: &Envelope, layout: Layout) -> Result<(), SpoolError> {
        self.commit_from(&self.tmp_path(&env.id, layout), env, layout)
    }

    /// [`Spool::commit`] of the file at `tmp`.
    fn commit_from(&self, tmp: &Path, env: &Envelope, layout: Layout) -> Result<(), SpoolError> {
        let res = match layout {
            Layout::OneFile => {
                let dst = self.mail_path(&env.id);
                fs::rename(tmp, &dst)
                    .map_err(io_err(&dst))
                    .and_then(|()| self.queue_sync.sync().map_err(io_err(&self.queue)))
            }
            Layout::TwoFiles => {
                let msg = self.message_path(&env.id);
                fs::rename(tmp, &msg)
                    .map_err(io_err(&msg))
                    .and_then(|()| self.write_envelope_file(env))
            }
        };
        if res.is_err() {
            let _ = fs::remove_file(tmp);
        }
        res
    }

    /// Store a message given as bytes (DSNs, processed output) in one step. Callers record the
    /// checksum in `env` ([`Envelope::set_content`]) so later record updates keep it; a record
    /// without one gets it here.
    pub fn store(&self, env: &Envelope, bytes: &[u8]) -> Result<(), SpoolError> {
        let mut env = std::borrow::Cow::Borrowed(env);
        if env.checksum.is_none() {
            env.to_mut().checksum = Some(checksum::of(bytes));
        }
        let layout = self.new_layout();
        let tmp = self.tmp_path(&env.id, layout);
        match layout {
            Layout::OneFile => {
                let tail = mailfile::tail(&env, bytes.len() as u64).map_err(io_err(&tmp))?;
                crate::durable::write_synced_parts(&tmp, &[bytes, &tail]).map_err(io_err(&tmp))?
            }
            Layout::TwoFiles => write_synced(&tmp, bytes)?,
        }
        self.commit(&env, layout)
    }

    /// Store a derived message whose bytes equal queued message `source_id`'s (`bytes`). In the
    /// two-file layout a hard link, no copy; a `.mail` file holds its own record, so it is a
    /// copy. Idempotent, so a crash between writing children and removing the parent is
    /// harmless.
    pub fn store_unchanged(
        &self,
        env: &Envelope,
        source_id: &str,
        bytes: &[u8],
    ) -> Result<(), SpoolError> {
        if self.new_layout() == Layout::OneFile || self.layout_of(source_id) == Layout::OneFile {
            return self.store(env, bytes);
        }
        let src = self.message_path(source_id);
        let dst = self.message_path(&env.id);
        match fs::hard_link(&src, &dst) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err(&dst)(e)),
        }
        self.write_envelope_file(env)
    }

    /// Replace a queued message's envelope record (status updates), durable on return: appended
    /// to its `.mail` file, or its `.env` file replaced.
    pub fn write_envelope(&self, env: &Envelope) -> Result<(), SpoolError> {
        let mail = self.mail_path(&env.id);
        if mail.exists() {
            return mailfile::append_record(&mail, env).map_err(io_err(&mail));
        }
        self.write_envelope_file(env)
    }

    /// Atomically replace the `.env` record of a two-file message.
    fn write_envelope_file(&self, env: &Envelope) -> Result<(), SpoolError> {
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
        let mail = self.mail_path(id);
        match fs::File::open(&mail) {
            Ok(mut f) => {
                return mailfile::read_message(&mut f)
                    .map(|(_, msg)| msg)
                    .map_err(|message| SpoolError::Damaged {
                        path: mail,
                        message,
                    })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&mail)(e)),
        }
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
                path: self.stored_path(&env.id),
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

    /// The file holding message `id`'s bytes (for messages to the admin).
    fn stored_path(&self, id: &str) -> PathBuf {
        match self.layout_of(id) {
            Layout::OneFile => self.mail_path(id),
            Layout::TwoFiles => self.message_path(id),
        }
    }

    fn truncated(&self, env: &Envelope, len: u64) -> SpoolError {
        SpoolError::Damaged {
            path: self.stored_path(&env.id),
            message: format!(
                "message file is truncated: {len} of {} bytes on disk",
                env.size
            ),
        }
    }

    /// [`Spool::remove`] without waiting: the spool's background thread removes the files of
    /// either layout soon (a small `.mail` file goes into the [`pool`] for the next message
    /// once its new name is durable) and syncs the directory after. For messages whose
    /// delivery is recorded as done: until the file is gone a restart would deliver the message
    /// again, never lose it.
    pub fn remove_soon(&self, id: &str) {
        let files = self.files_of(id);
        let pool = self.pool.clone();
        self.queue_sync
            .soon(dirsync::Job::new(move || match files.remove(Some(&pool)) {
                Ok(Removed::OneFile(Some(id))) => {
                    Some(Box::new(move || pool.ready(id)) as dirsync::After)
                }
                Ok(_) => None,
                Err(e) => {
                    tracing::error!(error = %e, "cannot remove a delivered message's spool file");
                    None
                }
            }));
    }

    /// Remove a message: its `.mail` file, made durable soon without waiting
    /// ([`dirsync::DirSync::sync_soon`]: a power cut in between can only repeat a delivery); or
    /// the envelope first and then the message file (the message is then no longer accepted
    /// state), durable on return.
    pub fn remove(&self, id: &str) -> Result<(), SpoolError> {
        match self.files_of(id).remove(None)? {
            Removed::OneFile(_) => self.queue_sync.sync_soon(),
            Removed::TwoFiles => self.queue_sync.sync().map_err(io_err(&self.queue))?,
        }
        Ok(())
    }

    /// The files queued message `id` may be stored in, for [`QueuedFiles::remove`].
    fn files_of(&self, id: &str) -> QueuedFiles {
        QueuedFiles {
            mail: self.mail_path(id),
            env: self.env_path(id),
            msg: self.message_path(id),
        }
    }

    /// Load every committed envelope, of both layouts. Message files without a record are
    /// removed (never acknowledged); records that cannot be read are moved to `hold/` with a
    /// reason file.
    pub fn load_all(&self) -> Result<(Vec<Envelope>, Vec<String>), SpoolError> {
        // Messages whose removal was handed over are gone, not queued.
        self.queue_sync.finish_jobs();
        let mut envs = vec![];
        let mut problems = vec![];
        let mut msgs = std::collections::HashSet::new();
        let mut records = vec![];
        let mut pooled = vec![];
        for e in fs::read_dir(&self.queue).map_err(io_err(&self.queue))? {
            let e = e.map_err(io_err(&self.queue))?;
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(id) = name.strip_suffix(".msg") {
                msgs.insert(id.to_string());
            } else if let Some(id) = name.strip_suffix(".env") {
                records.push((id.to_string(), Layout::TwoFiles));
            } else if let Some(id) = name.strip_suffix(".mail") {
                records.push((id.to_string(), Layout::OneFile));
            }
        }
        for (id, layout) in records {
            let parsed = match layout {
                Layout::OneFile => match self.load_mail(&id) {
                    Ok(Some(env)) => Ok(env),
                    Ok(None) => {
                        pooled.push(id);
                        continue;
                    }
                    Err(why) => Err(why),
                },
                Layout::TwoFiles => self.load_two_files(&id, &msgs),
            };
            msgs.remove(&id);
            match parsed {
                Ok(env) => envs.push(env),
                Err(why) => {
                    self.quarantine(&id, &why)?;
                    problems.push(format!("{id}: {why}"));
                }
            }
        }
        for orphan in msgs {
            let _ = fs::remove_file(self.message_path(&orphan));
        }
        // The pool files' names were read from the directory, which may not be on disk yet (a
        // restart, not a power cut): durable before a message is written into one.
        self.queue_sync.sync().map_err(io_err(&self.queue))?;
        tracing::debug!(files = pooled.len(), "spool: pool files found");
        for id in pooled {
            self.pool.give_back(id);
        }
        envs.sort_by(|a, b| a.id.cmp(&b.id));
        Ok((envs, problems))
    }

    /// The record of a `.mail` file, checked as [`Spool::load_two_files`] checks an `.env`;
    /// `None` for a pool file ([`pool`]: empty, or its newest record is another message's).
    fn load_mail(&self, id: &str) -> Result<Option<Envelope>, String> {
        let p = self.mail_path(id);
        let mut f = fs::File::open(&p).map_err(|e| format!("message file unreadable: {e}"))?;
        let Some(rec) = pool::own_record(&mut f, id)? else {
            return Ok(None);
        };
        check_record(&rec.env, id)?;
        if rec.message_len < rec.env.size {
            return Err(self.truncated(&rec.env, rec.message_len).to_string());
        }
        Ok(Some(rec.env))
    }

    /// The `.env` record of a two-file message, checked against its message file.
    fn load_two_files(
        &self,
        id: &str,
        msgs: &std::collections::HashSet<String>,
    ) -> Result<Envelope, String> {
        let bytes = fs::read(self.env_path(id)).map_err(|e| e.to_string())?;
        let env: Envelope = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        check_record(&env, id)?;
        if !msgs.contains(id) {
            return Err("message file is missing".to_string());
        }
        self.check_length(&env)?;
        Ok(env)
    }

    /// Free space in the spool's filesystem, in bytes.
    pub fn free_bytes(&self) -> Option<u64> {
        nix::sys::statvfs::statvfs(&self.root)
            .ok()
            .map(|s| s.blocks_available().saturating_mul(s.fragment_size()))
    }
}

/// How many messages in `<data_dir>/spool` (queued or held) are stored in the one-file layout:
/// firmware older than this one cannot read them (the updater refuses such a downgrade). The
/// files of the [`pool`] are no messages.
pub fn one_file_entries(data_dir: &Path) -> usize {
    ["queue", "hold"]
        .iter()
        .filter_map(|d| fs::read_dir(data_dir.join("spool").join(d)).ok())
        .flat_map(|rd| rd.flatten())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == mailfile::EXT) && !pool::is_pool_file(p))
        .count()
}

/// What every record must satisfy to be used: a version this firmware knows, and its own id.
fn check_record(env: &Envelope, id: &str) -> Result<(), String> {
    if env.version > ENVELOPE_VERSION {
        Err(format!(
            "record version {} is newer than this firmware",
            env.version
        ))
    } else if env.id != id {
        Err(format!("record names id {} but file is {id}", env.id))
    } else {
        Ok(())
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
pub(crate) mod tests;
