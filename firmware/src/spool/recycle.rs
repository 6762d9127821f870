//! Reuse of delivered messages' files (`spool/free/`). Creating a file and unlinking it are
//! the dearest file-system steps per message (ext4 allocates and frees an inode and its blocks:
//! about 6 % of a signed-and-encrypted message's CPU in the stop 15 profile). So a delivered
//! message's `.mail` file of up to [`MAX_SIZE`] is renamed into `free/` instead of unlinked,
//! and the next message arriving is written over it and renamed into `queue/`: two renames
//! instead of a create, a rename and an unlink, and mostly no block allocation.
//!
//! Nothing in `free/` is a message: its contents are garbage, whatever they look like. A file
//! is written, cut to the new length and fsynced before it is renamed into `queue/`, so a
//! queued file never shows old bytes. At most [`MAX_FILES`] files are kept (at most 16 MiB of
//! disk); the rest are unlinked as before.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Most files kept in `free/`.
pub const MAX_FILES: usize = 64;
/// Largest file kept for reuse (bytes); larger ones are unlinked.
pub const MAX_SIZE: u64 = 256 * 1024;

#[derive(Debug)]
pub struct Recycler {
    dir: PathBuf,
    free: Mutex<Vec<PathBuf>>,
}

impl Recycler {
    /// The pool in `dir` (created if missing), with the files left in it.
    pub fn open(dir: PathBuf) -> io::Result<Recycler> {
        fs::create_dir_all(&dir)?;
        let mut free = vec![];
        for e in fs::read_dir(&dir)?.flatten() {
            let p = e.path();
            if free.len() < MAX_FILES && e.file_type().is_ok_and(|t| t.is_file()) {
                free.push(p);
            } else {
                let _ = fs::remove_file(&p);
            }
        }
        Ok(Recycler {
            dir,
            free: Mutex::new(free),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<PathBuf>> {
        // A plain list, changed by single pushes and pops.
        self.free.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A free file to write a new message over, if there is one; the caller owns it now.
    pub fn take(&self) -> Option<PathBuf> {
        self.lock().pop()
    }

    /// A taken file that was not used after all (a refused message): free again.
    pub fn give_back(&self, path: PathBuf) {
        let mut free = self.lock();
        if free.len() < MAX_FILES {
            free.push(path);
        } else {
            drop(free);
            let _ = fs::remove_file(&path);
        }
    }

    /// Takes a delivered message's file `path` out of the queue: renamed into the pool when it
    /// has room and the file is small enough, else unlinked. `Ok` also when it is gone already.
    pub fn put(&self, path: &Path) -> io::Result<()> {
        let room = self.lock().len() < MAX_FILES;
        let small = room
            && match fs::metadata(path) {
                Ok(m) => m.len() <= MAX_SIZE,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            };
        if small {
            let name = self.dir.join(super::new_queue_id());
            match fs::rename(path, &name) {
                Ok(()) => {
                    self.give_back(name);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                // Not movable (another file system?): unlink it as before.
                Err(_) => {}
            }
        }
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Files in the pool (tests).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_files_are_kept_up_to_the_limit_and_large_ones_unlinked() {
        let d = tempfile::tempdir().unwrap();
        let r = Recycler::open(d.path().join("free")).unwrap();
        let big = d.path().join("big.mail");
        fs::write(&big, vec![0u8; MAX_SIZE as usize + 1]).unwrap();
        r.put(&big).unwrap();
        assert!(!big.exists());
        assert_eq!(r.len(), 0, "too large to keep");
        for i in 0..MAX_FILES + 3 {
            let p = d.path().join(format!("{i}.mail"));
            fs::write(&p, b"old message").unwrap();
            r.put(&p).unwrap();
            assert!(!p.exists());
        }
        assert_eq!(r.len(), MAX_FILES);
        assert_eq!(
            fs::read_dir(d.path().join("free")).unwrap().count(),
            MAX_FILES
        );
        r.put(&d.path().join("gone.mail")).unwrap();
        // Kept across a restart.
        let again = Recycler::open(d.path().join("free")).unwrap();
        assert_eq!(again.len(), MAX_FILES);
        let taken = again.take().unwrap();
        assert_eq!(fs::read(&taken).unwrap(), b"old message");
        assert_eq!(again.len(), MAX_FILES - 1);
    }
}
