//! Expiry: messages older than `portal.retention_days` are deleted; the sender is told when
//! one was never read. The notice is queued (durably) before the message is deleted, so a
//! crash between the two repeats the notice rather than losing it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::Config;
use crate::queue::Queue;

/// How often the sweep runs.
pub const SWEEP: Duration = Duration::from_secs(10);

/// Deletes what has expired by `now`; returns how many messages went.
pub fn sweep(cfg: &Config, queue: &Queue, now: i64) -> usize {
    let Ok(store) = super::shared(cfg) else {
        return 0;
    };
    let mut n = 0;
    for m in store.messages().into_iter().filter(|m| m.expires <= now) {
        if !m.read && !m.sender.is_empty() {
            let (env, bytes) = super::mail::expired(cfg, &m.sender, &m.recipient, &m.queue_id);
            if let Err(e) = queue.inject(env, &bytes) {
                tracing::error!(error = %e, portal_id = %m.id, "cannot queue the expiry notice; message kept");
                continue;
            }
        }
        match store.delete_message(&m.id) {
            Ok(()) => {
                tracing::info!(portal_id = %m.id, to = %m.recipient, read = m.read, "portal message expired");
                n += 1;
            }
            Err(e) => {
                tracing::error!(error = %e, portal_id = %m.id, "cannot delete an expired portal message")
            }
        }
    }
    n
}

/// Runs the sweep until `stop`.
pub async fn run(cfg: Arc<Config>, queue: Arc<Queue>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(SWEEP);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let (c, q) = (cfg.clone(), queue.clone());
                let _ = tokio::task::spawn_blocking(move || sweep(&c, &q, crate::clock::unix_now())).await;
            }
            _ = stop.changed() => return,
        }
    }
}
