//! Writing a slot image to the inactive slot's partition and reading it back from the disk.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::Path;

use sha2::Digest;

const CHUNK: usize = 1 << 20;

/// Writes `payload` at the start of `dev` and syncs it; `progress` gets the bytes written.
pub(super) fn write_slot(
    dev: &Path,
    payload: &[u8],
    progress: impl Fn(u64),
) -> std::io::Result<()> {
    let mut f = OpenOptions::new().write(true).open(dev)?;
    let mut done = 0u64;
    for chunk in payload.chunks(CHUNK) {
        f.write_all(chunk)?;
        done += chunk.len() as u64;
        progress(done);
    }
    f.sync_all()
}

/// SHA-256 (hex) of the first `len` bytes of `dev` as the disk holds them: the page cache of
/// the device is dropped first, so the read comes from the disk, not from what was just written.
pub(super) fn read_back_sha256(
    dev: &Path,
    len: u64,
    progress: impl Fn(u64),
) -> std::io::Result<String> {
    let mut f = OpenOptions::new().read(true).open(dev)?;
    drop_cache(&f);
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0u64;
    while done < len {
        let want = usize::try_from((len - done).min(CHUNK as u64)).unwrap_or(CHUNK);
        let n = f.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the slot is smaller than the payload",
            ));
        }
        h.update(&buf[..n]);
        done += n as u64;
        progress(done);
    }
    Ok(super::bundle::hex(&h.finalize()))
}

/// Asks the kernel to forget the cached pages of `f` (a no-op for regular files in tests).
fn drop_cache(f: &std::fs::File) {
    // An error only means the read may come from the cache.
    let _ = nix::fcntl::posix_fadvise(f, 0, 0, nix::fcntl::PosixFadviseAdvice::POSIX_FADV_DONTNEED);
}
