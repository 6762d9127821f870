//! Licence housekeeping in the background: parked mail is put back into the queue once a
//! licence covers its key (checked when the keystore or the day changes, and every few
//! minutes), and dropped after the keep time; the weekly notice to `notify.admin_address`. The per-message path never waits for this.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::license_gate::{addressed_to, decryption_keys_for};
use super::PolicyCtx;
use crate::license::{notice, parked, state};
use crate::queue::Queue;

/// The licence settings of the configuration: where notices go (empty: nowhere) and how long
/// parked mail is kept.
fn settings(cfg: &crate::config::Config) -> (String, u32) {
    (
        cfg.notify.admin_address.trim().to_string(),
        cfg.license.keep_parked_days,
    )
}

/// Releases parked mail now (also called right after a licence is installed).
pub fn release_now(queue: &Arc<Queue>, ctx: &Arc<PolicyCtx>) -> parked::Released {
    let q = queue.clone();
    let (_, keep_days) = settings(&ctx.cfg);
    let licensed_now = |recipient: &str, message: &[u8]| {
        addressed_to(message, &decryption_keys_for(ctx, recipient))
    };
    parked::release(&ctx.license, keep_days, licensed_now, move |env, bytes| {
        q.inject(env, bytes).map_err(|e| e.to_string())
    })
}

/// Sends the weekly licence notice when it is due.
fn notify(queue: &Arc<Queue>, ctx: &PolicyCtx) {
    let (to, _) = settings(&ctx.cfg);
    if to.trim().is_empty() {
        return;
    }
    let data_dir = &ctx.cfg.storage.data_dir;
    let status = ctx.license.status();
    let now = crate::clock::unix_now();
    if !notice::due(data_dir, &status, now) {
        return;
    }
    let (env, bytes) = notice::message(&ctx.cfg.smtp.hostname, to.trim(), &status, now);
    let id = env.id.clone();
    match queue.inject(env, &bytes) {
        Ok(()) => {
            tracing::info!(id = %id, to = %to, "licence notice queued");
            if let Err(e) = notice::sent(data_dir, now) {
                tracing::error!(error = %e, "cannot note the licence notice");
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot queue the licence notice"),
    }
}

/// Runs until `stop`.
/// `live` is the process stage's live context: each round uses the one current then.
pub async fn run(
    queue: Arc<Queue>,
    live: Arc<crate::config::Live<PolicyCtx>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut seen: Option<(u64, i64)> = None;
    let mut ticks: u32 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        ticks = ticks.wrapping_add(1);
        let ctx = live.get();
        let now = (ctx.keystore.generation(), state::today());
        // Something changed, or every 15 minutes in any case (expiry of parked copies, the
        // weekly notice).
        if seen == Some(now) && !ticks.is_multiple_of(180) {
            continue;
        }
        seen = Some(now);
        let q = queue.clone();
        let c = ctx.clone();
        match tokio::task::spawn_blocking(move || {
            notify(&q, &c);
            release_now(&q, &c)
        })
        .await
        {
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
