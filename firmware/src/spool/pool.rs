//! Files in `queue/` that already carry the name of the next messages: `queue/<id>.mail` for
//! ids no message has yet. A message that arrives takes one, gets its id, and is written
//! *into place*: write, fsync, `250`. No rename into the queue and no fsync of the queue
//! directory — the name was made durable before the file was handed out. That was the second
//! device flush of every message (about 7 % of its CPU on the stop 16 box, and a second wait
//! on the disk before the `250`).
//!
//! Where the files come from: a delivered message's `.mail` file of up to [`MAX_SIZE`] is
//! renamed to a fresh id instead of unlinked, and is free once a directory fsync that began
//! after the rename has completed ([`super::dirsync`] runs the hand-over after it). Its old
//! bytes stay until the next message writes over them (no block allocation either, as with
//! the `free/` directory of the firmware before, which this replaces). At most [`MAX_FILES`]
//! are kept; the rest are unlinked as before.
//!
//! Why old bytes in a file can never pass for a message: a record is only ever written with the
//! id of the file it is in, and a pool file's id is fresh and random. A file whose newest
//! record names *another* id is a pool file (or one a crash caught while a new message was
//! being written over it, which was never acknowledged); so is an empty one. At start both are
//! taken back into the pool ([`super::Spool::load_all`]), and no bytes a sender put in a
//! message can forge a record for an id it does not know yet.
//!
//! A message larger than the receiver keeps in memory goes to `tmp/` as before and its rename
//! replaces the pool file; a refused message gives the untouched file back. The firmware before
//! the pool would hold its files as damaged messages: they are emptied when new messages switch
//! to the two-file layout, and removed from disk before a downgrade ([`drop_pool_files`]).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Most files kept in the pool, free or waiting for their directory fsync: more than the
/// messages in flight at 50 sessions, at most 32 MiB of disk.
pub const MAX_FILES: usize = 128;
/// Largest delivered file kept for reuse (bytes); larger ones are unlinked.
pub const MAX_SIZE: u64 = 256 * 1024;

#[derive(Debug)]
pub struct Pool {
    queue: PathBuf,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Ids whose `queue/<id>.mail` is a pool file with a durable name.
    free: Vec<String>,
    /// Files renamed into the pool whose new names are not durable yet.
    waiting: usize,
}

impl Pool {
    /// An empty pool for the files of `queue`.
    pub fn new(queue: PathBuf) -> Pool {
        Pool {
            queue,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Counters and a list changed by single steps: never half-written.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The file of pool id `id`.
    pub fn path(&self, id: &str) -> PathBuf {
        self.queue.join(format!("{id}.{}", super::mailfile::EXT))
    }

    /// A free file for a new message: its id, the message's from now on.
    pub fn take(&self) -> Option<String> {
        self.lock().free.pop()
    }

    /// A taken file that was not written (a refused message), or a pool file found at start
    /// once its name is durable: free again; unlinked when the pool is full.
    pub fn give_back(&self, id: String) {
        let mut st = self.lock();
        if st.free.len() + st.waiting < MAX_FILES {
            st.free.push(id);
        } else {
            drop(st);
            let _ = fs::remove_file(self.path(&id));
        }
    }

    /// Takes a delivered message's file `path` out of the queue (blocking): renamed to a fresh
    /// id when the pool has room and the file is small enough (`Ok(Some(id))`: free after the
    /// next directory fsync, [`Pool::ready`]), else unlinked (`Ok(None)`). `NotFound` when
    /// there is no such file.
    pub fn recycle(&self, path: &Path) -> io::Result<Option<String>> {
        let len = fs::metadata(path)?.len();
        if len <= MAX_SIZE && self.reserve() {
            let id = super::new_queue_id();
            match fs::rename(path, self.path(&id)) {
                Ok(()) => return Ok(Some(id)),
                Err(e) => {
                    self.lock().waiting -= 1;
                    if e.kind() == io::ErrorKind::NotFound {
                        return Err(e);
                    }
                }
            }
        }
        fs::remove_file(path).map(|()| None)
    }

    /// Counts one more file waiting for its name to be durable, if there is room.
    fn reserve(&self) -> bool {
        let mut st = self.lock();
        let room = st.free.len() + st.waiting < MAX_FILES;
        if room {
            st.waiting += 1;
        }
        room
    }

    /// The name a [`Pool::recycle`] gave is durable: the file is free.
    pub fn ready(&self, id: String) {
        let mut st = self.lock();
        st.waiting = st.waiting.saturating_sub(1);
        st.free.push(id);
    }

    /// Unlinks every free file (blocking): new messages stop using the pool (the two-file
    /// layout, which the firmware before reads; a pool file would puzzle it).
    pub fn drain(&self) {
        let ids = std::mem::take(&mut self.lock().free);
        for id in ids {
            let _ = fs::remove_file(self.path(&id));
        }
    }

    /// Free files (tests).
    #[cfg(test)]
    pub fn free_files(&self) -> usize {
        self.lock().free.len()
    }
}

/// Removes the pool's files from `<data_dir>/spool/queue` (before a downgrade: the firmware
/// before the pool would hold them as damaged messages). A running spool that hands one out
/// afterwards writes its message as a new file instead. Returns how many went.
pub fn drop_pool_files(data_dir: &Path) -> usize {
    let queue = data_dir.join("spool").join("queue");
    let pool_files: Vec<PathBuf> = fs::read_dir(&queue)
        .into_iter()
        .flat_map(|rd| rd.flatten())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == super::mailfile::EXT) && is_pool_file(p))
        .collect();
    let gone = pool_files
        .iter()
        .filter(|p| fs::remove_file(p).is_ok())
        .count();
    if gone > 0 {
        let _ = crate::durable::sync_dir(&queue);
    }
    gone
}

/// Whether `.mail` file `path` is a pool file ([`own_record`] says so).
pub(super) fn is_pool_file(path: &Path) -> bool {
    let Some(id) = path.file_stem().and_then(|s| s.to_str()) else {
        return false;
    };
    fs::File::open(path).is_ok_and(|mut f| matches!(own_record(&mut f, id), Ok(None)))
}

/// The newest record of `.mail` file `file` named `id`, or `None` when it is a pool file: empty,
/// or its newest record names another id (see the module doc). `Err` says why it has none.
pub(super) fn own_record(
    file: &mut fs::File,
    id: &str,
) -> Result<Option<super::mailfile::Record>, String> {
    if file.metadata().is_ok_and(|m| m.len() == 0) {
        return Ok(None);
    }
    let rec = super::mailfile::read_record(file)?;
    Ok((rec.env.id == id).then_some(rec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_files_are_kept_up_to_the_limit_and_large_ones_unlinked() {
        let d = tempfile::tempdir().unwrap();
        let p = Pool::new(d.path().to_path_buf());
        let big = d.path().join("big.mail");
        fs::write(&big, vec![0u8; MAX_SIZE as usize + 1]).unwrap();
        assert_eq!(p.recycle(&big).unwrap(), None);
        assert!(!big.exists());
        let mut ids = vec![];
        for i in 0..MAX_FILES + 3 {
            let f = d.path().join(format!("{i}.mail"));
            fs::write(&f, b"old message").unwrap();
            if let Some(id) = p.recycle(&f).unwrap() {
                assert_eq!(fs::read(p.path(&id)).unwrap(), b"old message");
                ids.push(id);
            }
            assert!(!f.exists());
        }
        assert_eq!(ids.len(), MAX_FILES, "full: the rest are unlinked");
        assert_eq!(p.free_files(), 0, "none is free before its name is durable");
        for id in ids {
            p.ready(id);
        }
        assert_eq!(p.free_files(), MAX_FILES);
        assert_eq!(
            p.recycle(&d.path().join("gone.mail")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        let taken = p.take().unwrap();
        assert!(p.path(&taken).exists());
        p.give_back(taken);
        assert_eq!(p.free_files(), MAX_FILES);
        p.drain();
        assert_eq!(p.free_files(), 0);
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0, "all unlinked");
    }
}
