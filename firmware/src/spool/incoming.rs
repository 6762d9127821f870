//! A message being received: written to `tmp/<id>.mail` (or `tmp/<id>.msg` in the two-file
//! layout, [`super::Layout`]) as it streams in from the SMTP data phase, then made durable by
//! [`IncomingFile::finish_and_commit`]. The SMTP session never opens spool files itself.
//!
//! The data is gathered in memory up to [`SPILL`] bytes and written to the file in one blocking
//! call when that fills, or in [`IncomingFile::finish_and_commit`] together with the fsync: a typical
//! message costs one trip to a blocking thread (create, write, fsync) instead of one per step.
//! Memory per session stays bounded by [`SPILL`], whatever the message size.
//!
//! In the one-file layout the file is a delivered message's file from `free/` when one is
//! there ([`super::recycle`]): written over from its start and cut to the new length before the
//! fsync, then renamed into the queue like a new one.
//!
//! A write error does not interrupt the data phase (the client must still be read up to the
//! final dot before an answer makes sense): it is kept and reported by `finish_and_commit`.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;

use std::sync::Arc;

use super::{io_err, mailfile, Envelope, Layout, Spool, SpoolError};

/// Bytes gathered in memory before they are written to the file.
const SPILL: usize = 256 * 1024;

/// The temporary file of one message being received.
pub struct IncomingFile {
    disk: Disk,
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
    /// Start receiving message `id`. Never fails here: a file that cannot be created is
    /// reported by [`IncomingFile::finish_and_commit`], after the client sent its data.
    pub async fn create_incoming(&self, id: &str) -> IncomingFile {
        let layout = self.new_layout();
        let tmp = self.tmp_path(id, layout);
        let reused = match layout {
            Layout::OneFile => self.recycler.take(),
            Layout::TwoFiles => None,
        };
        IncomingFile {
            disk: Disk {
                path: reused.clone().unwrap_or_else(|| tmp.clone()),
                tmp,
                reused: reused.map(|_| self.recycler.clone()),
                file: None,
                old_len: 0,
                written: 0,
            },
            layout,
            len: 0,
            buf: Vec::with_capacity(16 * 1024),
            error: None,
            sum: Default::default(),
        }
    }
}

/// The file a message is written to, and what was written. Moves to a blocking thread for each
/// write and comes back.
struct Disk {
    /// Where the message is written: `tmp` or a reused file in `free/`.
    path: PathBuf,
    /// `tmp/<id>.mail` (or `.msg`): a new file, also when a reused one cannot be opened.
    tmp: PathBuf,
    /// The pool `path` came from, while it is a reused file.
    reused: Option<Arc<super::recycle::Recycler>>,
    /// Opened at the first write to disk.
    file: Option<File>,
    /// Length of the reused file before (its end is cut off at `finish`).
    old_len: u64,
    /// Bytes written to the file.
    written: u64,
}

impl Disk {
    /// This, leaving an empty one in its place (for the trip to a blocking thread).
    fn take(&mut self) -> Disk {
        std::mem::replace(
            self,
            Disk {
                path: PathBuf::new(),
                tmp: PathBuf::new(),
                reused: None,
                file: None,
                old_len: 0,
                written: 0,
            },
        )
    }

    /// Open the file if needed and append `buf` (blocking).
    fn write_out(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.file.is_none() {
            self.file = Some(self.open()?);
        }
        match &mut self.file {
            Some(f) => f.write_all(buf)?,
            None => return Err(io::Error::other("spool file could not be created")),
        }
        self.written += buf.len() as u64;
        Ok(())
    }

    /// The reused file, written over from its start; or a new temporary file.
    fn open(&mut self) -> io::Result<File> {
        if self.reused.is_some() {
            let opened = std::fs::OpenOptions::new().write(true).open(&self.path);
            match opened.and_then(|f| Ok((f.metadata()?.len(), f))) {
                Ok((len, f)) => {
                    self.old_len = len;
                    return Ok(f);
                }
                Err(e) => {
                    tracing::warn!(error = %e, path = %self.path.display(), "cannot reuse a spool file; creating one");
                    self.reused = None;
                    self.path = self.tmp.clone();
                }
            }
        }
        File::create(&self.path).inspect_err(|e| {
            tracing::error!(error = %e, path = %self.path.display(), "cannot create spool file");
        })
    }

    /// Write what is left, cut a reused file to its new length and fsync (blocking); on
    /// failure the file is removed.
    fn finish(&mut self, error: Option<io::Error>, buf: &[u8]) -> io::Result<()> {
        let res = match error {
            Some(e) => Err(e),
            None => self.write_out(buf).and_then(|()| match &self.file {
                Some(f) if self.old_len > self.written => {
                    f.set_len(self.written)?;
                    f.sync_all()
                }
                Some(f) => f.sync_all(),
                None => Err(io::Error::other("spool file could not be created")),
            }),
        };
        if res.is_err() {
            drop(self.file.take());
            let _ = std::fs::remove_file(&self.path);
        }
        res
    }

    /// Nothing was acknowledged: a reused file goes back to the pool, a new one is removed.
    fn discard(mut self) {
        drop(self.file.take());
        match self.reused.take() {
            Some(pool) => pool.give_back(self.path),
            None => {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

impl IncomingFile {
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

    /// Write what is left, fsync and [`Spool::commit`] with `env`, in one blocking call: one
    /// hand-off to a blocking thread per accepted message. In the one-file layout the record
    /// goes out in the same write as the message's last bytes, then one fsync, the rename and
    /// the queue directory's fsync; in the two-file layout the message is fsynced and renamed,
    /// then its envelope record written, fsynced and renamed, then the directory fsynced.
    /// Durable when this returns `Ok`.
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
        if layout == Layout::OneFile && self.error.is_none() {
            match mailfile::tail(&env, self.len) {
                Ok(tail) => self.buf.extend_from_slice(&tail),
                Err(e) => self.error = Some(e),
            }
        }
        let (error, mut disk, mut buf) = self.take();
        tokio::task::spawn_blocking(move || {
            disk.finish(error, &buf).map_err(io_err(&disk.path))?;
            drop(disk.file.take());
            spool.commit_from(&disk.path, &env, layout)?;
            Ok(in_memory.then(|| {
                buf.truncate(usize::try_from(len).unwrap_or(usize::MAX));
                buf
            }))
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

    /// Drop the message (refused, timed out, connection lost): nothing was acknowledged. A
    /// reused file goes back to the pool; a created one is removed on a blocking thread.
    pub async fn discard(mut self) {
        let mut disk = self.disk.take();
        match (disk.file.is_some(), disk.reused.take()) {
            // Never opened: back to the pool without a trip to a blocking thread.
            (false, Some(pool)) => pool.give_back(disk.path),
            (false, None) => {}
            (true, pool) => {
                disk.reused = pool;
                let _ = tokio::task::spawn_blocking(move || disk.discard()).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn small_and_large_messages_arrive_whole() {
        let d = tempfile::tempdir().unwrap();
        let s = Arc::new(Spool::open(d.path()).unwrap());
        for (id, len) in [("S", 10_000usize), ("L", 3 * SPILL + 17)] {
            let mut f = s.create_incoming(id).await;
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for chunk in data.chunks(1000) {
                f.write(chunk).await;
            }
            let sum = f.checksum();
            assert_eq!(sum, crate::spool::checksum::of(&data));
            let mut env = envelope(id);
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
        let mut f = s.create_incoming("X").await;
        f.write(b"abc").await;
        assert!(f.finish_and_commit(s.clone(), envelope("X")).await.is_err());
        assert!(s.read_message("X").is_err(), "nothing was queued");
    }

    #[tokio::test]
    async fn discard_removes_a_spilled_file() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::open(d.path()).unwrap();
        let mut f = s.create_incoming("D").await;
        f.write(&vec![b'x'; SPILL + 1]).await;
        assert!(s.tmp_path("D", Layout::OneFile).exists());
        f.discard().await;
        assert!(!s.tmp_path("D", Layout::OneFile).exists());
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

    /// A delivered message's file is written over by the next message: longer and shorter
    /// than before, the queued file holds the new message and its record only; a refused
    /// message gives its file back to the pool.
    #[tokio::test]
    async fn delivered_files_are_reused_without_their_old_bytes() {
        let d = tempfile::tempdir().unwrap();
        let s = Arc::new(Spool::open(d.path()).unwrap());
        let free = || {
            std::fs::read_dir(d.path().join("spool/free"))
                .unwrap()
                .count()
        };
        let old = s.tmp_path("old", Layout::OneFile);
        for (n, (old_len, new_len)) in [(20_000usize, 5_000usize), (3_000, 9_000)]
            .into_iter()
            .enumerate()
        {
            std::fs::write(&old, vec![b'o'; old_len]).unwrap();
            s.recycler.put(&old).unwrap();
            // The one just put is taken first (the newest).
            assert_eq!(free(), n + 1);
            let id = format!("N{n}");
            let mut f = s.create_incoming(&id).await;
            let data: Vec<u8> = (0..new_len).map(|i| b"abcdefgh\r\n"[i % 10]).collect();
            f.write(&data).await;
            let mut env = envelope(&id);
            env.size = data.len() as u64;
            env.checksum = Some(f.checksum());
            let kept = f.finish_and_commit(s.clone(), env.clone()).await.unwrap();
            assert_eq!(kept.as_deref(), Some(&data[..]));
            assert_eq!(free(), n, "the free file was used");
            assert_eq!(s.read_checked(&env).unwrap(), data);
            let mut whole = data.clone();
            whole.extend(mailfile::tail(&env, data.len() as u64).unwrap());
            let file = std::fs::read(s.mail_path(&id)).unwrap();
            assert!(
                file == whole,
                "the message and its record, nothing of the old file"
            );
            s.remove_soon(&id);
            s.queue_sync.finish_jobs();
            assert!(!s.mail_path(&id).exists());
        }
        assert_eq!(free(), 2, "the delivered files wait for reuse");
        let mut f = s.create_incoming("R").await;
        f.write(b"refused\r\n").await;
        f.discard().await;
        assert_eq!(free(), 2);
        assert_eq!(s.recycler.len(), 2, "given back to the pool");
    }
}
