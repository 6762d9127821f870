//! The scheduler: picks due messages and runs each through its stage, with at most
//! `delivery.max_concurrency` at once, until shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Queue;
use crate::spool::Stage;

/// Longest sleep between two looks at the queue (seconds).
const MAX_WAIT: i64 = 60;
/// How often an untrusted clock is looked at again (seconds).
const CLOCK_WAIT: u64 = 2;

impl Queue {
    /// Run due work until `shutdown` changes.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut told = false;
        loop {
            if !self.clock_trusted() {
                // Mail stays spooled until the clock is trustworthy (appliance::trust).
                if !told {
                    tracing::warn!(
                        "clock not trusted yet: mail is spooled, not processed or delivered"
                    );
                    told = true;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(CLOCK_WAIT)) => continue,
                    _ = shutdown.changed() => return,
                }
            }
            if told {
                tracing::info!("clock trusted: processing and delivering the queue");
                told = false;
            }
            let (due, next) = self.take_due(self.now());
            for id in due {
                let permit = tokio::select! {
                    p = self.slots.clone().acquire_owned() => p,
                    _ = shutdown.changed() => return,
                };
                let Ok(permit) = permit else { return };
                let q = self.clone();
                tokio::spawn(async move {
                    // Released on drop: also when the work panics, so the message is tried
                    // again instead of staying busy until a restart.
                    let _busy = BusyGuard {
                        q: q.clone(),
                        id: id.clone(),
                        _permit: permit,
                    };
                    q.work(&id).await;
                });
            }
            let wait = next.map_or(MAX_WAIT, |t| (t - self.now()).clamp(1, MAX_WAIT)) as u64;
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(wait)) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Marks every message due at `now` busy and returns their ids (sorted, so older ids go
    /// first), and the time the next one is due.
    fn take_due(&self, now: i64) -> (Vec<String>, Option<i64>) {
        let mut due = vec![];
        let mut next: Option<i64> = None;
        let mut map = self.lock();
        for (id, e) in map.iter_mut() {
            if e.busy {
                continue;
            }
            match e.due_at() {
                Some(t) if t <= now => {
                    e.busy = true;
                    due.push(id.clone());
                }
                Some(t) => next = Some(next.map_or(t, |n: i64| n.min(t))),
                None => {}
            }
        }
        due.sort();
        (due, next)
    }

    fn clear_busy(&self, id: &str) {
        // Also runs while a panicking task unwinds: never panic here.
        if let Some(e) = self.lock().get_mut(id) {
            e.busy = false;
        }
    }

    /// One round of work on message `id` in the stage it is in.
    async fn work(&self, id: &str) {
        let Some((env, kept)) = self
            .lock()
            .get_mut(id)
            .map(|e| (e.env.clone(), e.kept.take()))
        else {
            return;
        };
        match env.stage {
            Stage::Process => self.process_one(env, kept).await,
            Stage::Deliver => self.deliver_one(env).await,
        }
    }

    /// Runs everything due now, one message after the other (the tests' scheduler).
    #[cfg(test)]
    pub(super) async fn run_due(&self) -> usize {
        if !self.clock_trusted() {
            return 0;
        }
        let (due, _) = self.take_due(self.now());
        for id in &due {
            self.work(id).await;
            self.clear_busy(id);
        }
        due.len()
    }
}

/// A message taken for work: on drop (done, or unwinding from a panic) the message is no longer
/// busy, its concurrency slot is free and the scheduler looks again.
struct BusyGuard {
    q: Arc<Queue>,
    id: String,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!(id = %self.id, "work on the message panicked; it stays queued and is tried again");
        }
        self.q.clear_busy(&self.id);
        self.q.wake.notify_one();
    }
}
