//! Durable file writing, one home for the rules the rest of the firmware relies on: a file is
//! written to a temporary name, fsynced, renamed into place, and its directory fsynced, so a
//! crash leaves the old file or the new one, never a torn one. Private files (keys, tokens,
//! password hashes) are created with mode 0600 from the start, never readable in between.
//! Also the one place that knows which I/O errors mean "the disk is full".

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` (created or truncated) and fsync the file before returning.
/// The caller renames it into place or fsyncs the directory as its protocol needs (the spool).
pub fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_file(path, bytes, 0o666)
}

/// [`write_synced`] of the concatenation of `parts`, without joining them in memory first.
pub fn write_synced_parts(path: &Path, parts: &[&[u8]]) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    for p in parts {
        f.write_all(p)?;
    }
    f.sync_all()
}

/// Replace `path` durably with `bytes`, readable by the owner only (0600): written to
/// `<path>.tmp`, fsynced, renamed, directory fsynced.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = tmp_path(path);
    write_file(&tmp, bytes, 0o600)?;
    // An existing tmp file keeps its old mode through `open`; make sure it is private.
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&tmp, path)?;
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => sync_dir(Path::new(".")),
    }
}

/// fsync a directory, so renames and removals in it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir).and_then(|d| d.sync_all())
}

/// Restrict an existing file to its owner (0600), e.g. one an older version wrote.
pub fn set_private(path: &Path) {
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

/// Whether an I/O error means the disk (or the quota) is full: answered with 452 4.3.1
/// ("try again later"), not as a local error.
pub fn is_disk_full(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(nix::libc::ENOSPC) | Some(nix::libc::EDQUOT)
    )
}

/// `<path>.tmp` (the whole file name plus `.tmp`, so `a.key` and `a.salt` never share one).
fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_are_0600_and_replaced_whole() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("secret");
        write_private(&p, b"one").unwrap();
        write_private(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!tmp_path(&p).exists());
    }

    #[test]
    fn disk_full_errors() {
        assert!(is_disk_full(&io::Error::from_raw_os_error(
            nix::libc::ENOSPC
        )));
        assert!(is_disk_full(&io::Error::from_raw_os_error(
            nix::libc::EDQUOT
        )));
        assert!(!is_disk_full(&io::Error::from_raw_os_error(
            nix::libc::EACCES
        )));
    }
}
