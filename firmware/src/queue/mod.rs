//! The queue: the in-memory index of the spool and a scheduler over the two stages that work
//! on queued messages — process (the policy, which may split a message) and delivery
//! (per-recipient status, retry with backoff, expiry, DSN, quarantine). The spool on disk is
//! the truth; this index is rebuilt from it at start.
//!
//! The stages are traits the queue owns ([`stage`]); `app.rs` wires in the policy and the SMTP
//! client. [`schedule`] picks due work, [`process`] and [`deliver`] run one message through a
//! stage, [`dsn`] writes the failure reports, [`view`] is what the admin API shows.

mod deliver;
pub mod dsn;
mod kept;
mod process;
mod schedule;
pub mod stage;
#[cfg(test)]
mod tests;
mod view;

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, Semaphore};

use crate::clock::Clock;
use crate::config::Config;
use crate::monitor;
use crate::spool::{Envelope, Spool, Stage};

pub use stage::{Batch, Content, Delivery, Outcome, Output, Process, ProcessError, Transport};
pub use view::{QueueItem, QueueRecipient, QueueStats};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    #[error("no message {0} in the queue")]
    NotFound(String),
    #[error("message {0} is being delivered right now; try again in a moment")]
    Busy(String),
    #[error("spool: {0}")]
    Spool(#[from] crate::spool::SpoolError),
}

struct Entry {
    env: Envelope,
    busy: bool,
    /// In-memory earliest time for the next processing attempt of an incoming message.
    not_before: i64,
    /// The message as accepted, until the process stage takes it ([`kept`]).
    kept: Option<kept::Kept>,
}

impl Entry {
    fn new(env: Envelope) -> Entry {
        Entry {
            env,
            busy: false,
            not_before: 0,
            kept: None,
        }
    }

    /// When this message has work next; `None` while its delivery is paused.
    fn due_at(&self) -> Option<i64> {
        if self.env.paused.is_some() {
            return None;
        }
        match self.env.stage {
            Stage::Process => Some(self.not_before),
            Stage::Deliver => self.env.pending().map(|r| r.next_attempt).min(),
        }
    }
}

/// The stages and the clock the queue runs with.
pub struct Stages {
    pub process: Arc<dyn Process>,
    pub transport: Arc<dyn Transport>,
    pub clock: Arc<dyn Clock>,
}

pub struct Queue {
    cfg: Arc<Config>,
    spool: Arc<Spool>,
    stages: Stages,
    entries: Mutex<HashMap<String, Entry>>,
    wake: Notify,
    slots: Arc<Semaphore>,
    /// Bytes of messages kept in memory for the process stage ([`kept::BUDGET`]).
    kept_bytes: Arc<AtomicUsize>,
    /// (wall, monotonic) seconds at the first trusted look at the clock: queue time is the
    /// wall time then plus the monotonic time since (see [`Queue::now`]).
    anchor: Mutex<Option<(i64, i64)>>,
}

impl Queue {
    pub fn new(cfg: Arc<Config>, spool: Arc<Spool>, stages: Stages) -> Arc<Queue> {
        let slots = Arc::new(Semaphore::new(cfg.delivery.max_concurrency));
        Arc::new(Queue {
            cfg,
            spool,
            stages,
            entries: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            slots,
            kept_bytes: Arc::new(AtomicUsize::new(0)),
            anchor: Mutex::new(None),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock cannot leave the map half-updated (every update is a
        // single insert/remove), so a poisoned lock is still safe to use.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue time, in unix seconds: the wall clock read once (when it is first trusted), then
    /// moved on by the monotonic clock. Retry times and expiry within one run are measured on
    /// it, so setting the wall clock back neither delays mail nor does setting it forward
    /// expire mail; the records keep wall-clock seconds, which count across restarts.
    fn now(&self) -> i64 {
        let wall = self.stages.clock.now();
        let Some(mono) = self.stages.clock.monotonic() else {
            return wall;
        };
        if !self.stages.clock.trusted() {
            return wall;
        }
        let mut a = self.anchor.lock().unwrap_or_else(|p| p.into_inner());
        match *a {
            Some((w, m)) => w + (mono - m),
            None => {
                *a = Some((wall, mono));
                wall
            }
        }
    }

    /// Whether the clock is trustworthy enough to process and deliver mail.
    pub fn clock_trusted(&self) -> bool {
        self.stages.clock.trusted()
    }

    /// Rebuild the index from the spool (at start). Returns the number of messages resumed.
    pub fn load(&self) -> Result<usize, QueueError> {
        let (envs, problems) = self.spool.load_all()?;
        for p in problems {
            tracing::error!(problem = %p, "spool record quarantined to spool/hold");
        }
        // Outputs of a processing run that a crash cut off before it removed the parent: they
        // were never scheduled (children enter the index only after the parent is gone), so
        // never delivered. The parent is processed again and stores them anew; scheduling them
        // too would deliver them twice.
        let unprocessed: std::collections::HashSet<String> = envs
            .iter()
            .filter(|e| e.stage == Stage::Process)
            .map(|e| e.id.clone())
            .collect();
        let mut map = self.lock();
        for env in envs {
            if let Some(parent) = env.parent.as_ref().filter(|p| unprocessed.contains(*p)) {
                tracing::info!(id = %env.id, parent = %parent, "dropped output of an interrupted processing run");
                self.spool.remove(&env.id)?;
                continue;
            }
            tracing::info!(id = %env.id, stage = ?env.stage, pending = env.pending().count(), "resumed from spool");
            map.insert(env.id.clone(), Entry::new(env));
        }
        Ok(map.len())
    }

    /// Stores a new message durably in the spool and schedules it (parked mail released by a
    /// licence comes back this way).
    pub fn inject(&self, mut env: Envelope, bytes: &[u8]) -> Result<(), QueueError> {
        env.set_content(bytes);
        self.spool.store(&env, bytes)?;
        self.accepted(env);
        Ok(())
    }

    /// A message was committed to the spool: schedule it at once.
    pub fn accepted(&self, env: Envelope) {
        self.accepted_with(env, None);
    }

    /// [`Queue::accepted`], with the message's bytes when the receiver still has them: the
    /// process stage then takes them from memory (within [`kept::BUDGET`]) instead of reading
    /// the spool file back.
    pub fn accepted_with(&self, env: Envelope, message: Option<Vec<u8>>) {
        let to = env.recipients.iter().map(|r| r.address.as_str()).collect();
        monitor::event(
            &env.id,
            monitor::Transition::Accepted {
                from: &env.mail_from,
                to,
                size: env.size,
            },
        );
        let mut entry = Entry::new(env);
        entry.kept = message.and_then(|m| kept::Kept::new(m, &self.kept_bytes));
        self.lock().insert(entry.env.id.clone(), entry);
        self.wake.notify_one();
    }

    /// Quarantined messages (`spool/hold/`) with their reasons.
    pub fn held(&self) -> Vec<(String, String)> {
        self.spool.held()
    }

    /// Release a quarantined message (admin action): move it back from `spool/hold/` into the
    /// queue (on a blocking thread: renames and fsyncs) and schedule it again in the stage its
    /// envelope records, so it is processed or delivered anew.
    pub async fn release(&self, id: &str) -> Result<(), QueueError> {
        let spool = self.spool.clone();
        let i = id.to_string();
        let env = tokio::task::spawn_blocking(move || spool.release(&i))
            .await
            .map_err(|e| crate::spool::SpoolError::Io {
                path: std::path::PathBuf::from(id),
                source: std::io::Error::other(e.to_string()),
            })?
            .map_err(|e| match e {
                crate::spool::SpoolError::NotFound(i) => QueueError::NotFound(i),
                other => QueueError::Spool(other),
            })?;
        tracing::warn!(id, stage = ?env.stage, "released from hold by admin");
        self.lock().insert(env.id.clone(), Entry::new(env));
        self.wake.notify_one();
        Ok(())
    }

    /// Make every pending recipient of one message due now.
    pub fn retry(&self, id: &str) -> Result<(), QueueError> {
        {
            let mut map = self.lock();
            let e = map
                .get_mut(id)
                .ok_or_else(|| QueueError::NotFound(id.to_string()))?;
            e.not_before = 0;
            for r in e.env.recipients.iter_mut().filter(|r| r.is_pending()) {
                r.next_attempt = 0;
            }
        }
        tracing::info!(id, "retry requested by admin");
        self.wake.notify_one();
        Ok(())
    }

    pub fn retry_all(&self) -> usize {
        let ids: Vec<String> = self.lock().keys().cloned().collect();
        let n = ids.iter().filter(|id| self.retry(id).is_ok()).count();
        self.wake.notify_one();
        n
    }

    /// Remove a message for good (admin action; logged). The message is marked busy while its
    /// files are removed on a blocking thread, so neither the runtime's threads nor the queue's
    /// lock wait for the fsync, and no delivery round picks it up meanwhile.
    pub async fn delete(&self, id: &str) -> Result<(), QueueError> {
        {
            let mut map = self.lock();
            match map.get_mut(id) {
                None => return Err(QueueError::NotFound(id.to_string())),
                Some(e) if e.busy => return Err(QueueError::Busy(id.to_string())),
                Some(e) => e.busy = true,
            }
        }
        let spool = self.spool.clone();
        let i = id.to_string();
        let removed = tokio::task::spawn_blocking(move || spool.remove(&i))
            .await
            .unwrap_or_else(|e| {
                Err(crate::spool::SpoolError::Io {
                    path: std::path::PathBuf::from(id),
                    source: std::io::Error::other(e.to_string()),
                })
            });
        let mut map = self.lock();
        match removed {
            Ok(()) => {
                map.remove(id);
                tracing::warn!(id, "deleted from the queue by admin");
                Ok(())
            }
            Err(e) => {
                if let Some(entry) = map.get_mut(id) {
                    entry.busy = false;
                }
                Err(e.into())
            }
        }
    }

    /// The message of `env`, read on a blocking thread and checked against the record's size.
    async fn read_message(&self, env: &Envelope) -> Result<Vec<u8>, String> {
        let spool = self.spool.clone();
        let env = env.clone();
        tokio::task::spawn_blocking(move || spool.read_checked(&env))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    /// Move a message to `spool/hold/` for an administrator, and out of the index. The moves
    /// and fsyncs run on a blocking thread, not on the runtime's.
    async fn quarantine(&self, id: &str, reason: &str) {
        let spool = self.spool.clone();
        let (i, r) = (id.to_string(), reason.to_string());
        let moved = tokio::task::spawn_blocking(move || spool.quarantine(&i, &r))
            .await
            .unwrap_or_else(|e| {
                Err(crate::spool::SpoolError::Io {
                    path: std::path::PathBuf::from(id),
                    source: std::io::Error::other(e.to_string()),
                })
            });
        match moved {
            Ok(()) => {
                self.lock().remove(id);
                tracing::error!(id, reason, "message quarantined to spool/hold");
                monitor::event(id, monitor::Transition::Quarantined { reason });
            }
            Err(e) => tracing::error!(id, error = %e, "cannot quarantine message"),
        }
    }
}
