//! Licence housekeeping in the background: parked mail is put back into the queue once a
//! licence covers its key (checked when the keystore or the day changes, and every few
//! minutes), and dropped after the keep time. The per-message path never waits for this.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::queue::Queue;

/// Days parked mail is kept when no licence covers it (it was delivered encrypted anyway).
pub const DEFAULT_KEEP_DAYS: u32 = 30;

/// Releases parked mail now (also called right after a licence is installed).
pub fn release_now(queue: &Arc<Queue>) -> super::parked::Released {
    let q = queue.clone();
    super::parked::release(queue.policy(), DEFAULT_KEEP_DAYS, move |env, bytes| {
        q.inject(env, bytes).map_err(|e| e.to_string())
    })
}

/// Runs until `stop`.
pub async fn run(queue: Arc<Queue>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    let mut seen: Option<(u64, i64)> = None;
    let mut ticks: u32 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        ticks = ticks.wrapping_add(1);
        let now = (queue.policy().keystore.generation(), super::state::today());
        // Something changed, or every 15 minutes in any case (expiry of parked copies).
        if seen == Some(now) && !ticks.is_multiple_of(15) {
            continue;
        }
        seen = Some(now);
        let q = queue.clone();
        match tokio::task::spawn_blocking(move || release_now(&q)).await {
            Ok(r) if !r.requeued.is_empty() || !r.expired.is_empty() => {
                tracing::info!(
                    requeued = r.requeued.len(),
                    expired = r.expired.len(),
                    "parked mail checked"
                );
            }
            _ => {}
        }
    }
}
