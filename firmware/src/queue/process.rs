//! Running an incoming message through the process stage. Its outputs replace it in the spool
//! (children first, then the parent is removed), or it waits, or it is quarantined.
//!
//! The common case — one output for exactly the message's recipients, from the same sender —
//! is delivered straight from memory (see [`Queue::deliver_direct`]): the original stays in the
//! spool until the outcome is recorded, so the processed copy need not be made durable first
//! (after a crash the original is simply processed again, as for any unfinished processing run).
//! Only a copy that still has recipients to try later is stored.

use std::sync::Arc;

use super::{dsn, Content, Entry, Output, Process, ProcessError, Queue};
use crate::spool::{Envelope, Recipient, Spool, Stage};

/// What the blocking part of processing produced.
enum Processed {
    /// Outputs stored in the spool and the parent removed.
    Stored(Vec<Envelope>),
    /// One output for every recipient, to be delivered from memory now.
    Direct {
        child: Box<Envelope>,
        bytes: Vec<u8>,
    },
}

impl Queue {
    /// Run the process stage on an incoming message and replace it by its outputs.
    /// `kept`: the message as accepted, when it is still in memory (else it is read from the
    /// spool).
    pub(super) async fn process_one(&self, env: Envelope, kept: Option<super::kept::Kept>) {
        let id = env.id.clone();
        // Reading and the stage run on one blocking thread: file I/O and CPU work (S/MIME);
        // a panic in the stage is caught here and turns into a quarantine, not a lost message.
        let spool = self.spool.clone();
        let stage = self.stages.process.clone();
        let result = tokio::task::spawn_blocking(move || {
            let message = match kept {
                Some(k) => Ok(k.into_bytes()),
                None => spool.read_checked(&env),
            };
            message.map(|message| process_and_store(&*stage, &spool, &env, message))
        })
        .await;
        let result = match result {
            Ok(Ok(processed)) => Ok(processed),
            Ok(Err(e)) => {
                return self
                    .quarantine(&id, &format!("message file unreadable: {e}"))
                    .await
            }
            Err(join) => Err(join),
        };
        match result {
            Ok(Ok(Processed::Stored(children))) => {
                let ids: Vec<&str> = children.iter().map(|c| c.id.as_str()).collect();
                tracing::info!(id = %id, outputs = ?ids, "processed");
                let mut map = self.lock();
                map.remove(&id);
                for c in children {
                    map.insert(c.id.clone(), Entry::new(c));
                }
            }
            Ok(Ok(Processed::Direct { child, bytes })) => {
                tracing::info!(id = %id, outputs = ?[&child.id], "processed");
                self.deliver_direct(&id, *child, bytes).await
            }
            Ok(Err(ProcessError::Temporary(why))) => {
                tracing::warn!(id = %id, reason = %why, "processing deferred");
                let not_before = self.now() + self.cfg.delivery.retry_initial_secs as i64;
                if let Some(e) = self.lock().get_mut(&id) {
                    e.not_before = not_before;
                }
            }
            Ok(Err(ProcessError::Quarantine(why))) => self.quarantine(&id, &why).await,
            Err(join) => {
                self.quarantine(
                    &id,
                    &format!("internal error while processing (please report): {join}"),
                )
                .await
            }
        }
    }

    /// Deliver the single output of `parent_id` from memory, then record the result: a DSN for
    /// recipients that failed for good is stored first (as in a normal delivery round); then the
    /// output is stored with its recipients' state if some are left to try later, and the
    /// parent is removed. Until that removal the parent is the durable record: a crash before
    /// it processes and delivers the message again (at least once, never lost).
    async fn deliver_direct(&self, parent_id: &str, mut child: Envelope, bytes: Vec<u8>) {
        crate::testhook::panic_if(
            "deliver",
            &child
                .pending()
                .map(|r| r.address.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        );
        let newly_failed = self.attempt_due(&mut child, &bytes).await;
        let wanted: Vec<Recipient> = newly_failed
            .into_iter()
            .filter(|r| dsn::wants_dsn(&child, r))
            .collect();
        if !wanted.is_empty() {
            self.queue_dsn(&mut child, &wanted, &bytes).await;
        }
        let done = child.is_done();
        let res = if done {
            // The common case: the parent's file goes on the spool's own thread, nothing waits
            // for it (a restart before it is gone would deliver the message again).
            self.spool.remove_soon(parent_id);
            Ok(Ok(()))
        } else {
            let spool = self.spool.clone();
            let (stored, parent) = (child.clone(), parent_id.to_string());
            tokio::task::spawn_blocking(move || {
                spool.store(&stored, &bytes)?;
                spool.remove(&parent)
            })
            .await
        };
        let mut map = self.lock();
        match res {
            Ok(Ok(())) => {
                map.remove(parent_id);
                if done {
                    tracing::info!(id = %child.id, "removed: all recipients done");
                } else {
                    map.insert(child.id.clone(), Entry::new(child));
                }
            }
            Ok(Err(e)) => {
                tracing::error!(id = %parent_id, error = %e, "cannot record the delivery; the message is processed again later");
                let not_before = self.now() + self.cfg.delivery.retry_initial_secs as i64;
                if let Some(e) = map.get_mut(parent_id) {
                    e.not_before = not_before;
                }
            }
            Err(e) => {
                tracing::error!(id = %parent_id, error = %e, "recording the delivery panicked")
            }
        }
    }
}

/// Process `env`; a single output for all its recipients is handed back for direct delivery,
/// any other set of outputs is stored as outgoing children `<id>-1`, `<id>-2`, …, then the
/// parent is removed. Storing is idempotent, so a crash in between repeats it harmlessly.
fn process_and_store(
    stage: &dyn Process,
    spool: &Arc<Spool>,
    env: &Envelope,
    message: Vec<u8>,
) -> Result<Processed, ProcessError> {
    let recipients: Vec<&str> = env.recipients.iter().map(|r| r.address.as_str()).collect();
    crate::testhook::panic_if("process", &recipients.join(","));
    let mut outputs = stage.process(env, &message)?;
    report_processed(env, &message, &outputs);
    if is_direct(env, &outputs) {
        if let Some(out) = outputs.pop() {
            let mut child = child_envelope(env, 1, &out);
            crate::testhook::stall_if("processed", &recipients.join(" "));
            let bytes = match out.content {
                Content::Unchanged => message,
                Content::New(bytes) => {
                    child.set_content(&bytes);
                    bytes
                }
            };
            return Ok(Processed::Direct {
                child: Box::new(child),
                bytes,
            });
        }
    }
    let mut children = vec![];
    for (i, out) in outputs.into_iter().enumerate() {
        let child = store_output(spool, env, i + 1, out, &message)?;
        children.push(child);
    }
    crate::testhook::stall_if(
        "processed",
        &env.pending()
            .map(|r| r.address.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    );
    spool
        .remove(&env.id)
        .map_err(|e| ProcessError::Temporary(e.to_string()))?;
    Ok(Processed::Stored(children))
}

/// Whether the outputs are one copy for exactly the message's pending recipients from the same
/// sender: nothing else (notices, receipts, split copies) whose sending must be recorded before
/// the original goes.
fn is_direct(env: &Envelope, outputs: &[Output]) -> bool {
    let [out] = outputs else { return false };
    if out.mail_from.is_some() || env.recipients.iter().any(|r| !r.is_pending()) {
        return false;
    }
    let mut want: Vec<&str> = env.recipients.iter().map(|r| r.address.as_str()).collect();
    let mut got: Vec<&str> = out.recipients.iter().map(String::as_str).collect();
    want.sort_unstable();
    got.sort_unstable();
    want == got
}

/// The envelope of output number `n` of `env`; its recipients keep their DSN parameters.
fn child_envelope(env: &Envelope, n: usize, out: &Output) -> Envelope {
    let recipients: Vec<Recipient> = out
        .recipients
        .iter()
        .map(|a| {
            env.recipients
                .iter()
                .find(|r| &r.address == a)
                .cloned()
                .unwrap_or_else(|| Recipient::new(a.clone(), None, None))
        })
        .collect();
    let mut child = env.derive(format!("{}-{n}", env.id), Stage::Deliver, recipients);
    if let Some(from) = &out.mail_from {
        child.mail_from = from.clone();
    }
    child
}

/// Store output number `n` of `env`; its recipients keep their DSN parameters from `env`.
fn store_output(
    spool: &Spool,
    env: &Envelope,
    n: usize,
    out: Output,
    message: &[u8],
) -> Result<Envelope, ProcessError> {
    let mut child = child_envelope(env, n, &out);
    let res = match out.content {
        Content::Unchanged => spool.store_unchanged(&child, &env.id, message),
        Content::New(bytes) => {
            child.set_content(&bytes);
            spool.store(&child, &bytes)
        }
    };
    res.map_err(|e| ProcessError::Temporary(e.to_string()))?;
    Ok(child)
}

/// Tell the monitor what the policy stage made of message `env` (outputs are numbered
/// `<id>-<n>` as the queue stores them; notices with an empty sender are not the message's).
fn report_processed(env: &Envelope, input: &[u8], outputs: &[Output]) {
    if crate::monitor::installed().is_none() {
        return;
    }
    let outs = outputs
        .iter()
        .enumerate()
        .filter(|(_, o)| o.mail_from.as_deref() != Some(""))
        .map(|(i, o)| {
            let content = match &o.content {
                Content::Unchanged => None,
                Content::New(b) => Some(b.as_slice()),
            };
            (
                format!("{}-{}", env.id, i + 1),
                o.recipients.clone(),
                content,
            )
        })
        .collect();
    crate::monitor::event(
        &env.id,
        crate::monitor::Transition::Processed {
            from: &env.mail_from,
            input,
            outputs: outs,
        },
    );
}
