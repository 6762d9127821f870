//! Group commit of the queue directory's fsync. Every commit in `queue/` must be durable before
//! it is acknowledged, but one fsync of the directory makes every rename and unlink done before
//! it started durable. So concurrent sessions share fsyncs: a caller takes a ticket after its own
//! rename, and returns once a fsync that *started after* that ticket has completed — run by
//! itself if none is running, or by whichever caller leads the next round while it waits. Under
//! load one fsync covers many messages; alone, a caller pays one fsync as before. Nothing is
//! acknowledged earlier than with a private fsync.
//!
//! Removals ([`DirSync::sync_soon`]) acknowledge nothing to anyone: the message was delivered
//! (the next hop said `250`) or its outputs are durable already. So the remover does not wait:
//! the next commit's fsync covers its unlink, or a background thread runs one right away when
//! none is under way. A power cut in that window (a few milliseconds) can only make a delivered
//! message go out once more, never lose one — Postfix does not fsync removals at all.
//!
//! The same thread also does the removals themselves when asked ([`DirSync::soon`]): a
//! delivery then hands its file over instead of waiting for a blocking thread to unlink it, and
//! under load one wake-up of the thread removes many files and syncs them with one fsync.
//! A job may leave something to do once its change is durable ([`After`]): a delivered file
//! renamed into the spool's pool ([`super::pool`]) is handed out only after a fsync that began
//! after the rename, whoever ran it.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

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
    /// The newest ticket of [`DirSync::sync_soon`]: the background thread syncs up to it.
    soon: u64,
    /// The background thread runs.
    flusher: bool,
    /// Work on the directory the background thread is to do ([`DirSync::soon`]).
    jobs: Vec<Job>,
    /// The background thread is doing jobs taken from `jobs`.
    working: bool,
    /// What jobs left to do once their ticket is synced ([`Job`]).
    after: Vec<(u64, Pending)>,
}

/// A change in the directory to make on the background thread (a removal), which may name
/// what to do once the change is durable.
pub struct Job(Box<dyn FnOnce() -> Option<After> + Send>);

/// What a [`Job`] leaves to do after a directory fsync that began after the job was done.
pub type After = Box<dyn FnOnce() + Send>;

/// An [`After`] in the state (which is `Debug`).
struct Pending(After);

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("After")
    }
}

impl Job {
    pub fn new(f: impl FnOnce() -> Option<After> + Send + 'static) -> Job {
        Job(Box::new(f))
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl DirSync {
    pub fn new(path: PathBuf) -> Arc<DirSync> {
        Arc::new(DirSync {
            path,
            state: Mutex::new(State::default()),
            done: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is counters updated together under the lock: never half-written.
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
                let res;
                (st, res) = self.round(st);
                // On failure the others try their own round and see their own error.
                res?;
                continue;
            }
            st = self.done.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Makes every change made before this call durable soon, without waiting (removals).
    pub fn sync_soon(self: &Arc<Self>) {
        let mut st = self.lock();
        st.issued += 1;
        st.soon = st.issued;
        self.start_flusher(&mut st);
        self.done.notify_all();
    }

    /// Does `job` (a change in the directory: removals of delivered messages) soon, on the
    /// background thread, and makes it durable soon after, without waiting.
    pub fn soon(self: &Arc<Self>, job: Job) {
        let mut st = self.lock();
        st.jobs.push(job);
        self.start_flusher(&mut st);
        self.done.notify_all();
    }

    /// Returns once every job handed to [`DirSync::soon`] is done (not necessarily synced):
    /// what is in the directory then is the queue. Does what the background thread did not
    /// take yet itself.
    pub fn finish_jobs(&self) {
        let mut st = self.lock();
        let jobs = std::mem::take(&mut st.jobs);
        while st.working {
            st = self.wait(st, Duration::from_millis(100));
        }
        drop(st);
        let after = run_jobs(jobs);
        self.issue_after(&mut self.lock(), after);
    }

    /// A ticket for the jobs just done, and what they left to do once it is synced.
    fn issue_after(&self, st: &mut State, after: Vec<After>) {
        st.issued += 1;
        st.soon = st.issued;
        let ticket = st.issued;
        st.after
            .extend(after.into_iter().map(|a| (ticket, Pending(a))));
    }

    /// Starts the background thread unless it runs.
    fn start_flusher(self: &Arc<Self>, st: &mut State) {
        if !st.flusher {
            st.flusher = true;
            let me = Arc::clone(self);
            let spawned = std::thread::Builder::new()
                .name("spool-dirsync".into())
                .spawn(move || me.flush_in_background());
            if let Err(e) = spawned {
                // Without the thread the next commit's fsync still covers the change.
                st.flusher = false;
                tracing::warn!(error = %e, "cannot start the spool's directory sync thread");
                // Nor can it do the jobs: do them here (rare; the caller tolerates the wait).
                let after = run_jobs(std::mem::take(&mut st.jobs));
                self.issue_after(st, after);
            }
        }
    }

    /// Leads one fsync round for every ticket issued so far: their changes were all made before
    /// it starts.
    fn round<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
    ) -> (MutexGuard<'a, State>, io::Result<()>) {
        st.running = true;
        let upto = st.issued;
        drop(st);
        let res = crate::durable::sync_dir(&self.path);
        let mut st = self.lock();
        st.running = false;
        if res.is_ok() {
            st.synced = st.synced.max(upto);
            if st.after.iter().any(|(t, _)| *t <= upto) {
                let (ready, later) = std::mem::take(&mut st.after)
                    .into_iter()
                    .partition(|(t, _)| *t <= upto);
                st.after = later;
                drop(st);
                for (_, Pending(a)) in ready {
                    a();
                }
                st = self.lock();
            }
        }
        self.done.notify_all();
        (st, res)
    }

    /// The background thread of [`DirSync::sync_soon`]; ends when the spool is dropped.
    fn flush_in_background(self: Arc<Self>) {
        let mut st = self.lock();
        loop {
            if !st.jobs.is_empty() {
                let jobs = std::mem::take(&mut st.jobs);
                st.working = true;
                drop(st);
                let after = run_jobs(jobs);
                st = self.lock();
                st.working = false;
                self.issue_after(&mut st, after);
                self.done.notify_all();
                continue;
            }
            if st.soon > st.synced && !st.running {
                let res;
                (st, res) = self.round(st);
                if let Err(e) = res {
                    tracing::warn!(error = %e, dir = %self.path.display(), "cannot sync the spool directory; trying again");
                    st = self.wait(st, Duration::from_secs(1));
                }
                continue;
            }
            if Arc::strong_count(&self) == 1 {
                st.flusher = false;
                return;
            }
            st = self.wait(st, Duration::from_secs(1));
        }
    }

    /// Jobs handed over and not taken yet (tests).
    #[cfg(test)]
    pub fn jobs_pending(&self) -> usize {
        self.lock().jobs.len()
    }

    fn wait<'a>(&'a self, st: MutexGuard<'a, State>, d: Duration) -> MutexGuard<'a, State> {
        match self.done.wait_timeout(st, d) {
            Ok((st, _)) => st,
            Err(p) => p.into_inner().0,
        }
    }
}

/// Does `jobs` and returns what they left for after the next fsync.
fn run_jobs(jobs: Vec<Job>) -> Vec<After> {
    jobs.into_iter().filter_map(|j| (j.0)()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn concurrent_callers_all_return_synced() {
        let d = tempfile::tempdir().unwrap();
        let s = DirSync::new(d.path().to_path_buf());
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

    #[test]
    fn removals_are_synced_soon_by_the_background_thread() {
        let d = tempfile::tempdir().unwrap();
        let s = DirSync::new(d.path().to_path_buf());
        std::fs::write(d.path().join("f"), b"x").unwrap();
        s.sync_soon();
        s.sync_soon();
        let t = std::time::Instant::now();
        while s.lock().synced < 2 {
            assert!(t.elapsed() < Duration::from_secs(10), "never synced");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(s.lock().flusher, "the thread runs while the spool lives");
        let weak = Arc::downgrade(&s);
        drop(s);
        let t = std::time::Instant::now();
        while weak.strong_count() > 0 {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "the thread never ends"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn jobs_are_done_and_synced_soon() {
        let d = tempfile::tempdir().unwrap();
        let s = DirSync::new(d.path().to_path_buf());
        let rm = |n: &str| {
            let p = d.path().join(n);
            std::fs::write(&p, b"x").unwrap();
            Job::new(move || {
                std::fs::remove_file(p).unwrap();
                None
            })
        };
        s.soon(rm("a"));
        s.soon(rm("b"));
        let t = std::time::Instant::now();
        while s.jobs_pending() > 0 || s.lock().synced == 0 {
            assert!(t.elapsed() < Duration::from_secs(10), "never done");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!d.path().join("a").exists() && !d.path().join("b").exists());
        // What a job leaves for after its fsync runs once that fsync is done.
        let after = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = after.clone();
        s.soon(Job::new(move || {
            Some(Box::new(move || {
                flag.store(true, std::sync::atomic::Ordering::SeqCst)
            }))
        }));
        let t = std::time::Instant::now();
        while !after.load(std::sync::atomic::Ordering::SeqCst) {
            assert!(t.elapsed() < Duration::from_secs(10), "never run");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(s.lock().after.is_empty());
        // finish_jobs: done on return, whoever did it.
        for n in ["c", "d"] {
            s.soon(rm(n));
            s.finish_jobs();
            assert!(!d.path().join(n).exists());
        }
    }
}
