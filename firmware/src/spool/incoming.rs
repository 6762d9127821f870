//! A message being received: written to `tmp/<id>.mail` (or `tmp/<id>.msg` in the two-file
//! layout, [`super::Layout`]) as it streams in from the SMTP data phase, then made durable by
//! [`IncomingFile::finish_and_commit`]. The SMTP session never opens spool files itself.
//!
//! The data is gathered in memory up to [`SPILL`] bytes and written to the file in one blocking
//! call when that fills, or in [`IncomingFile::finish`] together with the fsync: a typical
//! message costs one trip to a blocking thread (create, write, fsync) instead of one per step.
//! Memory per session stays bounded by [`SPILL`], whatever the message size.
//!
//! A write error does not interrupt the data phase (the client must still be read up to the
//! final dot before an answer makes sense): it is kept and reported by `finish`.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use std::sync::Arc;

use super::{io_err, mailfile, Envelope, Layout, Spool, SpoolError};

/// Bytes gathered in memory before they are written to the file.
const SPILL: usize = 256 * 1024;

/// The temporary file of one message being received.
pub struct IncomingFile {
    path: PathBuf,
    /// The layout the message is stored in, fixed when it starts.
    layout: Layout,
    /// Message bytes received so far.
    len: u64,
    /// Created at the first write to disk.
    file: Option<File>,
    buf: Vec<u8>,
    error: Option<io::Error>,
    /// Checksum of everything written so far, for the envelope record.
    sum: super::checksum::Running,
}

impl Spool {
    /// Start receiving message `id`. Never fails here: a file that cannot be created is
    /// reported by [`IncomingFile::finish`], after the client sent its data.
    pub async fn create_incoming(&self, id: &str) -> IncomingFile {
        let layout = self.new_layout();
        IncomingFile {
            path: self.tmp_path(id, layout),
            layout,
            len: 0,
            file: None,
            buf: Vec::with_capacity(16 * 1024),
            error: None,
            sum: Default::default(),
        }
    }
}

/// Create the file if needed and append `buf` (blocking).
fn write_out(path: &Path, file: &mut Option<File>, buf: &[u8]) -> io::Result<()> {
    if file.is_none() {
        *file = Some(File::create(path).inspect_err(|e| {
            tracing::error!(error = %e, path = %path.display(), "cannot create spool file");
        })?);
    }
    match file {
        Some(f) => f.write_all(buf),
        None => Err(io::Error::other("spool file could not be created")),
    }
}

/// Write what is left and fsync (blocking); on failure the file is removed.
fn finish_blocking(
    path: &Path,
    error: Option<io::Error>,
    file: &mut Option<File>,
    buf: &[u8],
) -> io::Result<()> {
    let res = match error {
        Some(e) => Err(e),
        None => write_out(path, file, buf).and_then(|()| match file {
            Some(f) => f.sync_all(),
            None => Err(io::Error::other("spool file could not be created")),
        }),
    };
    if res.is_err() {
        drop(file.take());
        let _ = std::fs::remove_file(path);
    }
    res
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
        let path = self.path.clone();
        let mut file = self.file.take();
        let buf = std::mem::take(&mut self.buf);
        let joined = tokio::task::spawn_blocking(move || {
            let res = write_out(&path, &mut file, &buf);
            (file, buf, res)
        })
        .await;
        match joined {
            Ok((file, mut buf, res)) => {
                self.file = file;
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

    /// Write what is left and fsync, in one blocking call; then the message can be committed.
    /// On failure the file is removed.
    pub async fn finish(mut self) -> Result<(), SpoolError> {
        let path = self.path.clone();
        let (error, mut file, buf) = self.take();
        tokio::task::spawn_blocking(move || finish_blocking(&path, error, &mut file, &buf))
            .await
            .unwrap_or_else(|e| Err(io::Error::other(e.to_string())))
            .map_err(io_err(&self.path))
    }

    /// [`IncomingFile::finish`] and [`Spool::commit`] with `env` in one blocking call: one
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
        let path = self.path.clone();
        let layout = self.layout;
        let in_memory = self.file.is_none();
        let len = self.len;
        if layout == Layout::OneFile && self.error.is_none() {
            match mailfile::tail(&env, self.len) {
                Ok(tail) => self.buf.extend_from_slice(&tail),
                Err(e) => self.error = Some(e),
            }
        }
        let (error, mut file, mut buf) = self.take();
        tokio::task::spawn_blocking(move || {
            finish_blocking(&path, error, &mut file, &buf).map_err(io_err(&path))?;
            drop(file);
            spool.commit(&env, layout)?;
            Ok(in_memory.then(|| {
                buf.truncate(usize::try_from(len).unwrap_or(usize::MAX));
                buf
            }))
        })
        .await
        .unwrap_or_else(|e| Err(io_err(&self.path)(io::Error::other(e.to_string()))))
    }

    fn take(&mut self) -> (Option<io::Error>, Option<File>, Vec<u8>) {
        (
            self.error.take(),
            self.file.take(),
            std::mem::take(&mut self.buf),
        )
    }

    /// Drop the message (refused, timed out, connection lost): nothing was acknowledged.
    pub async fn discard(mut self) {
        if self.file.take().is_some() {
            let _ = tokio::fs::remove_file(&self.path).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn small_and_large_messages_arrive_whole() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::open(d.path()).unwrap();
        for (id, len) in [("S", 10_000usize), ("L", 3 * SPILL + 17)] {
            let mut f = s.create_incoming(id).await;
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for chunk in data.chunks(1000) {
                f.write(chunk).await;
            }
            let sum = f.checksum();
            f.finish().await.unwrap();
            assert_eq!(
                std::fs::read(s.tmp_path(id, Layout::OneFile)).unwrap(),
                data
            );
            assert_eq!(sum, crate::spool::checksum::of(&data));
        }
    }

    #[tokio::test]
    async fn a_file_that_cannot_be_created_fails_at_finish() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::open(d.path()).unwrap();
        std::fs::remove_dir_all(d.path().join("spool/tmp")).unwrap();
        let mut f = s.create_incoming("X").await;
        f.write(b"abc").await;
        assert!(f.finish().await.is_err());
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
}
