//! A message being received: written to `tmp/<id>.msg` as it streams in from the SMTP data
//! phase, fsynced by [`IncomingFile::finish`], then made durable by [`Spool::commit`]. The
//! SMTP session never opens spool files itself.
//!
//! A write error does not interrupt the data phase (the client must still be read up to the
//! final dot before an answer makes sense): it is kept and reported by `finish`.

use std::io;
use std::path::PathBuf;

use tokio::io::{AsyncWriteExt, BufWriter};

use super::{io_err, Spool, SpoolError};

/// Buffer between the network and the file.
const BUFFER: usize = 64 * 1024;

/// The temporary file of one message being received.
pub struct IncomingFile {
    path: PathBuf,
    file: Option<BufWriter<tokio::fs::File>>,
    error: Option<io::Error>,
}

impl Spool {
    /// Start receiving message `id`. Never fails here: a file that cannot be created is
    /// reported by [`IncomingFile::finish`], after the client sent its data.
    pub async fn create_incoming(&self, id: &str) -> IncomingFile {
        let path = self.tmp_path(id);
        let (file, error) = match tokio::fs::File::create(&path).await {
            Ok(f) => (Some(BufWriter::with_capacity(BUFFER, f)), None),
            Err(e) => {
                tracing::error!(error = %e, path = %path.display(), "cannot create spool file");
                (None, Some(e))
            }
        };
        IncomingFile { path, file, error }
    }
}

impl IncomingFile {
    /// Append `bytes`; after the first error, nothing more is written.
    pub async fn write(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if let Some(f) = &mut self.file {
            if let Err(e) = f.write_all(bytes).await {
                self.error = Some(e);
            }
        }
    }

    /// Flush and fsync; then the message can be committed. On failure the file is removed.
    pub async fn finish(mut self) -> Result<(), SpoolError> {
        let synced = match (self.file.take(), self.error.take()) {
            (Some(mut f), None) => match f.flush().await {
                Ok(()) => f.get_ref().sync_all().await,
                Err(e) => Err(e),
            },
            (_, Some(e)) => Err(e),
            (None, None) => Err(io::Error::other("spool file could not be created")),
        };
        if let Err(e) = synced {
            let _ = tokio::fs::remove_file(&self.path).await;
            return Err(io_err(&self.path)(e));
        }
        Ok(())
    }

    /// Drop the message (refused, timed out, connection lost): nothing was acknowledged.
    pub async fn discard(mut self) {
        drop(self.file.take());
        let _ = tokio::fs::remove_file(&self.path).await;
    }
}
