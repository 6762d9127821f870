//! One delivery round for an outgoing message: the due recipients go to the transport in
//! batches; each outcome updates its recipient (delivered, retry with backoff, expired, failed);
//! failures get a DSN; the record is saved, or removed once every recipient is done.

use super::{dsn, Outcome, Queue};
use crate::monitor;
use crate::spool::{new_queue_id, Envelope, RcptState, Recipient};

/// Enhanced status of a recipient given up on because the queue lifetime ran out (RFC 3463).
const EXPIRED_STATUS: crate::spool::EnhancedStatus = crate::spool::EnhancedStatus::EXPIRED;

/// Which attempt an outcome belongs to, for the log and the expiry.
struct Attempt<'a> {
    id: &'a str,
    route: &'a str,
    now: i64,
    /// The message is older than `delivery.max_queue_lifetime_secs`: a deferral is final.
    expired: bool,
}

impl Queue {
    /// One delivery round for the due recipients of an outgoing message.
    pub(super) async fn deliver_one(&self, mut env: Envelope) {
        let id = env.id.clone();
        let message = match self.read_message(&env).await {
            Ok(m) => m,
            Err(e) => {
                return self
                    .quarantine(&id, &format!("message file unreadable: {e}"))
                    .await
            }
        };
        crate::testhook::panic_if(
            "deliver",
            &env.pending()
                .map(|r| r.address.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        );
        let newly_failed = self.attempt_due(&mut env, &message).await;
        // The DSN is stored before the record that says the recipient failed: a crash in
        // between can send a DSN twice, never zero times.
        let wanted: Vec<Recipient> = newly_failed
            .into_iter()
            .filter(|r| dsn::wants_dsn(&env, r))
            .collect();
        if !wanted.is_empty() {
            self.queue_dsn(&mut env, &wanted, &message).await;
        }
        self.save(env).await;
    }

    /// Hands the due recipients to the transport, batch by batch, and records the outcomes.
    /// Returns the recipients that failed for good in this round.
    pub(super) async fn attempt_due(&self, env: &mut Envelope, message: &[u8]) -> Vec<Recipient> {
        let now = self.now();
        let due: Vec<String> = env
            .pending()
            .filter(|r| r.next_attempt <= now)
            .map(|r| r.address.clone())
            .collect();
        let lifetime = self.cfg.delivery.max_queue_lifetime_secs as i64;
        let id = env.id.clone();
        let mut newly_failed = vec![];
        for batch in self.stages.transport.batches(due) {
            let outcomes = self.stages.transport.deliver(&batch, env, message).await;
            let now = self.now();
            let attempt = Attempt {
                id: &id,
                route: &batch.route,
                now,
                expired: now - env.arrived >= lifetime,
            };
            for (addr, outcome) in batch.recipients.iter().zip(outcomes) {
                let Some(r) = env.recipients.iter_mut().find(|r| &r.address == addr) else {
                    continue;
                };
                if self.record(&attempt, r, outcome) {
                    newly_failed.push(r.clone());
                }
            }
        }
        newly_failed
    }

    /// Applies one outcome to recipient `r`. Returns whether it failed for good now.
    fn record(&self, a: &Attempt<'_>, r: &mut Recipient, outcome: Outcome) -> bool {
        let (id, to, route, now) = (a.id, r.address.clone(), a.route, a.now);
        r.attempts += 1;
        match outcome {
            Outcome::Delivered { remote, reply } => {
                tracing::info!(id = %id, to = %to, route = %route, remote = %remote, reply = %reply, "delivered");
                let detail = format!("{route} {remote}: {reply}");
                monitor::event(id, monitor::Transition::Delivered { to: &to, detail });
                r.remote = Some(remote);
                r.state = RcptState::Delivered { at: now, reply };
                false
            }
            Outcome::Deferred { remote, reason } if a.expired => {
                tracing::warn!(id = %id, to = %to, reason = %reason, "expired");
                let detail = format!("expired: {reason}");
                monitor::event(id, monitor::Transition::Failed { to: &to, detail });
                r.remote = remote;
                r.state = RcptState::Failed {
                    at: now,
                    status: EXPIRED_STATUS,
                    reply: format!("delivery time expired; last error: {reason}"),
                };
                true
            }
            Outcome::Deferred { remote, reason } => {
                r.remote = remote;
                r.next_attempt = now + self.backoff(r.attempts);
                tracing::info!(id = %id, to = %to, route = %route, reason = %reason, retry_in = r.next_attempt - now, "deferred");
                let detail = reason.clone();
                monitor::event(id, monitor::Transition::Deferred { to: &to, detail });
                r.last_error = Some(reason);
                false
            }
            Outcome::Failed {
                remote,
                status,
                reason,
            } => {
                tracing::warn!(id = %id, to = %to, route = %route, status = %status, reason = %reason, "failed");
                let detail = format!("{status} {reason}");
                monitor::event(id, monitor::Transition::Failed { to: &to, detail });
                r.remote = remote;
                r.state = RcptState::Failed {
                    at: now,
                    status,
                    reply: reason,
                };
                true
            }
        }
    }

    /// Seconds until the next attempt after `attempts` tries: doubling from
    /// `delivery.retry_initial_secs`, at most `delivery.retry_max_secs`.
    fn backoff(&self, attempts: u32) -> i64 {
        let d = &self.cfg.delivery;
        let exp = attempts.saturating_sub(1).min(20);
        (d.retry_initial_secs.saturating_mul(1u64 << exp)).min(d.retry_max_secs) as i64
    }

    /// Stores and schedules a DSN for `failed` recipients of `env`. If it cannot be stored,
    /// those recipients go back to pending, so the failure is reported on a later round.
    pub(super) async fn queue_dsn(&self, env: &mut Envelope, failed: &[Recipient], message: &[u8]) {
        let (denv, bytes) =
            dsn::failure_dsn(&self.cfg, env, failed, message, self.now(), new_queue_id());
        let spool = self.spool.clone();
        let denv2 = denv.clone();
        match tokio::task::spawn_blocking(move || spool.store(&denv2, &bytes)).await {
            Ok(Ok(())) => {
                tracing::info!(id = %denv.id, parent = %env.id, to = %env.mail_from, "DSN queued");
                self.accepted(denv);
            }
            _ => {
                tracing::error!(id = %env.id, "cannot store DSN; will retry the failed recipients");
                let retry_at = self.now() + self.cfg.delivery.retry_initial_secs as i64;
                for r in env.recipients.iter_mut() {
                    if failed.iter().any(|w| w.address == r.address) {
                        r.state = RcptState::Pending;
                        r.next_attempt = retry_at;
                    }
                }
            }
        }
    }

    /// Writes the updated record durably, or removes the message once every recipient is done;
    /// then updates the index.
    async fn save(&self, env: Envelope) {
        let id = env.id.clone();
        let spool = self.spool.clone();
        let env2 = env.clone();
        let done = env.is_done();
        let res = if done {
            // Removed on the spool's own thread: nothing waits for it.
            spool.remove_soon(&env2.id);
            Ok(Ok(()))
        } else {
            tokio::task::spawn_blocking(move || spool.write_envelope(&env2)).await
        };
        match res {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(id = %id, error = %e, "cannot update queue record"),
            Err(e) => tracing::error!(id = %id, error = %e, "queue record update panicked"),
        }
        let mut map = self.lock();
        if done {
            map.remove(&id);
            tracing::info!(id = %id, "removed: all recipients done");
        } else if let Some(e) = map.get_mut(&id) {
            e.env = env;
        }
    }
}
