//! A message being received, made durable by [`IncomingFile::finish_and_commit`]. The SMTP
//! session never opens spool files itself.
//!
//! The data is gathered in memory up to [`SPILL`] bytes (the usual case). In the one-file layout
//! the message then takes a file from the spool's [`super::pool`] when one is free: its id is
//! the file's, and at the end message, record and footer are written into that file in one
//! write, cut to length and fsynced — durable under its final name, no rename, no directory
//! fsync. Without a pool file, or once a message outgrows [`SPILL`], it is written to
//! `tmp/<id>.mail` (or `tmp/<id>.msg` in the two-file layout, [`super::Layout`]) in one
//! blocking call per [`SPILL`] bytes, fsynced and renamed into the queue (replacing the pool
//! file it took, if any), and the directory fsynced. Memory per session stays bounded by
//! [`SPILL`], whatever the message size.
//!
//! A write error does not interrupt the data phase (the client must still be read up to the
//! final dot before an answer makes sense): it is kept and reported by `finish_and_commit`.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use std::sync::Arc;

use super::{io_err, mailfile, pool::Pool, Envelope, Layout, Spool, SpoolError};

/// Bytes gathered in memory before they are written to the file.
const SPILL: usize = 256 * 1024;

/// The file of one message being received.
pub struct IncomingFile {
    /// The message's queue id: its pool file's, or a new one.
    id: String,
    disk: Disk,
    /// The pool file this message took (`queue/<id>.mail`), until it is written or given back.
    pooled: Option<Arc<Pool>>,
    /// The layout the message is stored in, fixed when it starts.
    layout: Layout,
    /// Message bytes received so far.
    len: u64,
    buf: Vec<u8>,
    error: Option<io::Error>,
    /// Checksum of everything written so far, for the envelope record.
    sum: super::checksum::Running,
}

impl Spool {
    /// Start receiving a message; its id is [`IncomingFile::id`]. Never fails here: a file that
    /// cannot be created is reported by [`IncomingFile::finish_and_commit`], after the client
    /// sent its data.
    pub async fn create_incoming(&self) -> IncomingFile {
        let layout = self.new_layout();
        let pooled = match layout {
            Layout::OneFile => self.pool.take(),
            Layout::TwoFiles => None,
        };
        let id = pooled.clone().unwrap_or_else(super::new_queue_id);
        IncomingFile {
            disk: Disk {
                path: self.tmp_path(&id, layout),
                file: None,
            },
            pooled: pooled.map(|_| self.pool.clone()),
            id,
            layout,
            len: 0,
            buf: Vec::with_capacity(16 * 1024),
            error: None,
            sum: Default::default(),
        }
    }
}

/// The temporary file a message is written to once it does not fit in memory (or has no pool
/// file). Moves to a blocking thread for each write and comes back.
struct Disk {
    /// `tmp/<id>.mail` (or `.msg`).
    path: PathBuf,
    /// Created at the first write to disk.
    file: Option<File>,
}

impl Disk {
    /// This, leaving an empty one in its place (for the trip to a blocking thread).
    fn take(&mut self) -> Disk {
        std::mem::replace(
            self,
            Disk {
                path: PathBuf::new(),
                file: None,
            },
        )
    }

    /// Create the file if needed and append `buf` (blocking).
    fn write_out(&mut self, buf: &[u8]) -> io::Result<()> {
        let f = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(File::create(&self.path).inspect_err(|e| {
                tracing::error!(error = %e, path = %self.path.display(), "cannot create spool file");
            })?),
        };
        f.write_all(buf)
    }

    /// Write what is left and fsync (blocking); on failure the file is removed.
    fn finish(&mut self, error: Option<io::Error>, buf: &[u8]) -> io::Result<()> {
        let res = match error {
            Some(e) => Err(e),
            None => self.write_out(buf).and_then(|()| match &self.file {
                Some(f) => f.sync_all(),
                None => Err(io::Error::other("spool file could not be created")),
            }),
        };
        if res.is_err() {
            self.discard();
        }
        res
    }

    /// Nothing was acknowledged: the file goes (blocking).
    fn discard(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Writes `bytes` over pool file `path` from its start, cuts it to their length and fsyncs
/// (blocking). `NotFound` when the file is gone (the pool was emptied meanwhile).
fn write_in_place(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    let old = f.metadata()?.len();
    f.write_all(bytes)?;
    if old > bytes.len() as u64 {
        f.set_len(bytes.len() as u64)?;
    }
    f.sync_all()
}

impl IncomingFile {
    /// The message's queue id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Append `bytes`; after the first error, nothing more is written.
    pub async fn write(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        self.buf.extend_from_slice(bytes);
        self.sum.update(bytes);
        self.len += bytes.len() as u64;
        if self.buf.len() >= SPILL {
            self.spill().await;
        }
    }

    /// Write the gathered bytes to the file on a blocking thread.
    async fn spill(&mut self) {
        let mut disk = self.disk.take();
        let buf = std::mem::take(&mut self.buf);
        let joined = tokio::task::spawn_blocking(move || {
            let res = disk.write_out(&buf);
            (disk, buf, res)
        })
        .await;
        match joined {
            Ok((disk, mut buf, res)) => {
                self.disk = disk;
                buf.clear();
                self.buf = buf;
                if let Err(e) = res {
                    self.error = Some(e);
                }
            }
            Err(e) => self.error = Some(io::Error::other(e.to_string())),
        }
    }

    /// The checksum of the message written so far ([`crate::spool::checksum`]), for its record.
    pub fn checksum(&self) -> String {
        self.sum.finish()
    }

    /// Write what is left, fsync and commit with `env` (whose id must be [`IncomingFile::id`]),
    /// in one blocking call: one hand-off to a blocking thread per accepted message. In the
    /// one-file layout the record goes out in the same write as the message's last bytes, then
    /// one fsync — written into the pool file, that is all; else the rename into the queue and
    /// the queue directory's fsync follow. In the two-file layout the message is fsynced and
    /// renamed, then its envelope record written, fsynced and renamed, then the directory
    /// fsynced. Durable when this returns `Ok`.
    ///
    /// A message that never left memory (up to [`SPILL`] bytes, the usual case) comes back:
    /// the process stage can work on it without reading the file again.
    pub async fn finish_and_commit(
        mut self,
        spool: Arc<Spool>,
        env: Envelope,
    ) -> Result<Option<Vec<u8>>, SpoolError> {
        let path = self.disk.path.clone();
        let layout = self.layout;
        let in_memory = self.disk.file.is_none();
        let len = self.len;
        if env.id != self.id {
            self.error = Some(io::Error::other("the record names another message"));
        }
        if layout == Layout::OneFile && self.error.is_none() {
            match mailfile::tail(&env, self.len) {
                Ok(tail) => self.buf.extend_from_slice(&tail),
                Err(e) => self.error = Some(e),
            }
        }
        let (error, mut disk, buf) = self.take();
        let pooled = self.pooled.take();
        tokio::task::spawn_blocking(move || {
            if let (Some(pool), None, true) = (&pooled, &error, in_memory) {
                let at = pool.path(&env.id);
                match write_in_place(&at, &buf) {
                    Ok(()) => return Ok(kept(in_memory, buf, len)),
                    // Gone from under us (the pool was emptied): a new file, below.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        // Half written, never acknowledged: neither a message nor a pool file.
                        let _ = spool.remove(&env.id);
                        return Err(io_err(&at)(e));
                    }
                }
            }
            let res = disk
                .finish(error, &buf)
                .map_err(io_err(&disk.path))
                .and_then(|()| {
                    drop(disk.file.take());
                    spool.commit_from(&disk.path, &env, layout)
                });
            if let (Err(_), Some(pool)) = (&res, pooled) {
                // The pool file was not written into.
                pool.give_back(env.id.clone());
            }
            res.map(|()| kept(in_memory, buf, len))
        })
        .await
        .unwrap_or_else(|e| Err(io_err(&path)(io::Error::other(e.to_string()))))
    }

    fn take(&mut self) -> (Option<io::Error>, Disk, Vec<u8>) {
        (
            self.error.take(),
            self.disk.take(),
            std::mem::take(&mut self.buf),
        )
    }

    /// Drop the message (refused, timed out, connection lost): nothing was acknowledged. Its
    /// pool file, never written, is free again; a temporary file is removed on a blocking
    /// thread.
    pub async fn discard(mut self) {
        if let Some(pool) = self.pooled.take() {
            pool.give_back(std::mem::take(&mut self.id));
        }
        let mut disk = self.disk.take();
        if disk.file.is_some() {
            let _ = tokio::task::spawn_blocking(move || disk.discard()).await;
        }
    }
}

/// The message bytes of `buf` (message, record, footer) when the message stayed in memory.
fn kept(in_memory: bool, mut buf: Vec<u8>, len: u64) -> Option<Vec<u8>> {
    in_memory.then(|| {
        buf.truncate(usize::try_from(len).unwrap_or(usize::MAX));
        buf
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn small_and_large_messages_arrive_whole() {
        let d = tempfile::tempdir().unwrap();
        let s = Arc::new(Spool::open(d.path()).unwrap());
        for len in [10_000usize, 3 * SPILL + 17] {
            let mut f = s.create_incoming().await;
            let id = f.id().to_string();
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for chunk in data.chunks(1000) {
                f.write(chunk).await;
            }
            let sum = f.checksum();
            assert_eq!(sum, crate::spool::checksum::of(&data));
            let mut env = envelope(&id);
            env.size = len as u64;
            env.checksum = Some(sum);
            let kept = f.finish_and_commit(s.clone(), env.clone()).await.unwrap();
            // Only a message that stayed in memory comes back.
            assert_eq!(kept.is_some(), len < SPILL);
            assert_eq!(s.read_checked(&env).unwrap(), data);
        }
    }

    #[tokio::test]
    async fn a_file_that_cannot_be_created_fails_at_finish() {
        let d = tempfile::tempdir().unwrap();
        let s = Arc::new(Spool::open(d.path()).unwrap());
        std::fs::remove_dir_all(d.path().join("spool/tmp")).unwrap();
        let mut f = s.create_incoming().await;
        let id = f.id().to_string();
        f.write(b"abc").await;
        assert!(f.finish_and_commit(s.clone(), envelope(&id)).await.is_err());
        assert!(s.read_message(&id).is_err(), "nothing was queued");
    }

    #[tokio::test]
    async fn discard_removes_a_spilled_file() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::open(d.path()).unwrap();
        let mut f = s.create_incoming().await;
        let tmp = s.tmp_path(f.id(), Layout::OneFile);
        f.write(&vec![b'x'; SPILL + 1]).await;
        assert!(tmp.exists());
        f.discard().await;
        assert!(!tmp.exists());
    }

    fn envelope(id: &str) -> Envelope {
        let mut env: Envelope = serde_json::from_value(serde_json::json!({
            "version": crate::spool::ENVELOPE_VERSION, "id": id, "stage": "incoming",
            "arrived": 1, "client": {"port": 0, "helo": "h", "listener": "mx"},
            "mail_from": "a@example.org", "size": 0, "recipients": []
        }))
        .unwrap();
        env.recipients.push(crate::spool::Recipient::new(
            "b@example.net".into(),
            None,
            None,
        ));
        env
    }

    /// Receives `data` as a new message and commits it; its envelope.
    async fn receive(s: &Arc<Spool>, data: &[u8]) -> Envelope {
        let mut f = s.create_incoming().await;
        f.write(data).await;
        let mut env = envelope(f.id());
        env.size = data.len() as u64;
        env.checksum = Some(f.checksum());
        let kept = f.finish_and_commit(s.clone(), env.clone()).await.unwrap();
        assert_eq!(kept.as_deref(), Some(data));
        env
    }

    /// Waits until the delivered message `id` is gone and its file free in the pool.
    fn delivered(s: &Spool, id: &str, free: usize) {
        s.remove_soon(id);
        s.queue_sync.finish_jobs();
        s.queue_sync.sync().unwrap();
        let t = std::time::Instant::now();
        while s.pool.free_files() < free {
            assert!(t.elapsed().as_secs() < 10, "never free");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(s.read_message(id).is_err());
    }

    /// A delivered message's file goes to the pool under a fresh id; the next message takes
    /// that id and is written over the file in place (longer and shorter than before: the file
    /// holds the new message and its record only), with no temporary file and no rename. A
    /// refused message gives its file back. After a restart the pool files are found again,
    /// not held, and not counted as messages.
    #[tokio::test]
    async fn delivered_files_are_reused_in_place_under_the_next_id() {
        let d = tempfile::tempdir().unwrap();
        let s = Arc::new(Spool::open(d.path()).unwrap());
        let first = receive(&s, &vec![b'o'; 20_000]).await;
        delivered(&s, &first.id, 1);
        let mut last = first.id.clone();
        for (n, len) in [5_000usize, 9_000, 30_000].into_iter().enumerate() {
            let data: Vec<u8> = (0..len).map(|i| b"abcdefgh\r\n"[i % 10]).collect();
            let pooled = s.pool.path(&s.pool.take().unwrap());
            // (taken and given back: the next message takes the same one)
            s.pool
                .give_back(pooled.file_stem().unwrap().to_string_lossy().to_string());
            let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&pooled).unwrap());
            let env = receive(&s, &data).await;
            assert_ne!(env.id, last, "a fresh id");
            assert_eq!(
                s.mail_path(&env.id),
                pooled,
                "written where the pool file was"
            );
            assert_eq!(
                std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&pooled).unwrap()),
                inode,
                "the same file"
            );
            assert_eq!(s.pool.free_files(), 0, "the pool file was used");
            assert_eq!(s.read_checked(&env).unwrap(), data);
            let mut whole = data.clone();
            whole.extend(mailfile::tail(&env, data.len() as u64).unwrap());
            assert!(
                std::fs::read(&pooled).unwrap() == whole,
                "the message and its record, nothing of the old file (round {n})"
            );
            delivered(&s, &env.id, 1);
            last = env.id;
        }
        assert_eq!(
            std::fs::read_dir(d.path().join("spool/tmp"))
                .unwrap()
                .count(),
            0
        );
        // Refused: the pool file goes back untouched.
        let mut f = s.create_incoming().await;
        let refused = f.id().to_string();
        f.write(b"refused\r\n").await;
        f.discard().await;
        assert_eq!(s.pool.take().as_deref(), Some(refused.as_str()));
        s.pool.give_back(refused);
        // One message stays queued; a restart finds it and the pool file, holds nothing.
        let queued = receive(&s, b"queued\r\n").await;
        let second = receive(&s, b"second\r\n").await;
        delivered(&s, &second.id, 1);
        drop(s);
        let s = Arc::new(Spool::open(d.path()).unwrap());
        let (envs, problems) = s.load_all().unwrap();
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(envs.len(), 1);
        assert_eq!(envs[0].id, queued.id);
        assert_eq!(s.pool.free_files(), 1, "the pool file is free again");
        assert_eq!(crate::spool::one_file_entries(d.path()), 1);
        // The pool files removed from disk (before a downgrade): the message that takes the
        // listed one is written as a new file.
        assert_eq!(crate::spool::drop_pool_files(d.path()), 1);
        let after = receive(&s, b"after the drop\r\n").await;
        assert_eq!(s.read_checked(&after).unwrap(), b"after the drop\r\n");
        assert_eq!(crate::spool::one_file_entries(d.path()), 2);
    }
}
