//! Group commit of the queue directory's fsync. Every commit and removal in `queue/` must be
//! durable before it is acknowledged, but one fsync of the directory makes every rename and
//! unlink done before it started durable. So concurrent sessions share fsyncs: a caller takes a
//! ticket after its own rename, and returns once a fsync that *started after* that ticket has
//! completed — run by itself if none is running, or by whichever caller leads the next round
//! while it waits. Under load one fsync covers many messages; alone, a caller pays one fsync as
//! before. Nothing is acknowledged earlier than with a private fsync.

use std::io;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard};

/// A directory whose fsyncs are shared by concurrent callers.
#[derive(Debug)]
pub struct DirSync {
    path: PathBuf,
    state: Mutex<State>,
    done: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Tickets handed out so far.
    issued: u64,
    /// Every ticket up to this one is durable.
    synced: u64,
    /// A fsync is running right now.
    running: bool,
}

impl DirSync {
    pub fn new(path: PathBuf) -> DirSync {
        DirSync {
            path,
            state: Mutex::new(State::default()),
            done: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is three counters updated together under the lock: never half-written.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Returns once every change made in the directory before this call is durable. Blocking:
    /// call it from a blocking thread, as the spool's other file operations.
    pub fn sync(&self) -> io::Result<()> {
        let mut st = self.lock();
        st.issued += 1;
        let ticket = st.issued;
        loop {
            if st.synced >= ticket {
                return Ok(());
            }
            if !st.running {
                // Lead a round for every ticket issued so far: their changes were all made
                // before this fsync starts.
                st.running = true;
                let upto = st.issued;
                drop(st);
                let res = crate::durable::sync_dir(&self.path);
                st = self.lock();
                st.running = false;
                if res.is_ok() {
                    st.synced = st.synced.max(upto);
                }
                self.done.notify_all();
                // On failure the others try their own round and see their own error.
                res?;
                continue;
            }
            st = self.done.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn concurrent_callers_all_return_synced() {
        let d = tempfile::tempdir().unwrap();
        let s = Arc::new(DirSync::new(d.path().to_path_buf()));
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let s = s.clone();
                let dir = d.path().to_path_buf();
                std::thread::spawn(move || {
                    std::fs::write(dir.join(format!("f{i}")), b"x").unwrap();
                    s.sync().unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let st = s.lock();
        assert_eq!(st.issued, 16);
        assert_eq!(st.synced, 16, "every ticket is covered");
        assert!(!st.running);
    }

    #[test]
    fn a_missing_directory_is_an_error_for_the_caller() {
        let d = tempfile::tempdir().unwrap();
        let s = DirSync::new(d.path().join("gone"));
        assert!(s.sync().is_err());
        assert!(s.sync().is_err(), "and again for the next caller");
    }
}
