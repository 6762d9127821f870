//! Running an incoming message through the process stage: its outputs replace it in the spool
//! (children first, then the parent is removed), or it waits, or it is quarantined.

use std::sync::Arc;

use super::{Content, Entry, Output, Process, ProcessError, Queue};
use crate::spool::{Envelope, Recipient, Spool, Stage};

impl Queue {
    /// Run the process stage on an incoming message and replace it by its outputs.
    pub(super) async fn process_one(&self, env: Envelope) {
        let id = env.id.clone();
        let message = match self.read_message(&env).await {
            Ok(m) => m,
            Err(e) => {
                return self
                    .quarantine(&id, &format!("message file unreadable: {e}"))
                    .await
            }
        };
        // The stage runs on a blocking thread: it is CPU work (S/MIME), and a panic in it is
        // caught here and turns into a quarantine instead of a lost message.
        let spool = self.spool.clone();
        let stage = self.stages.process.clone();
        let result =
            tokio::task::spawn_blocking(move || process_and_store(&*stage, &spool, &env, &message))
                .await;
        match result {
            Ok(Ok(children)) => {
                let ids: Vec<&str> = children.iter().map(|c| c.id.as_str()).collect();
                tracing::info!(id = %id, outputs = ?ids, "processed");
                let mut map = self.lock();
                map.remove(&id);
                for c in children {
                    map.insert(c.id.clone(), Entry::new(c));
                }
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
}

/// Process `env` and store its outputs as outgoing children `<id>-1`, `<id>-2`, …, then remove
/// the parent. Storing is idempotent, so a crash in between repeats it harmlessly.
fn process_and_store(
    stage: &dyn Process,
    spool: &Arc<Spool>,
    env: &Envelope,
    message: &[u8],
) -> Result<Vec<Envelope>, ProcessError> {
    let recipients: Vec<&str> = env.recipients.iter().map(|r| r.address.as_str()).collect();
    crate::testhook::panic_if("process", &recipients.join(","));
    let outputs = stage.process(env, message)?;
    report_processed(env, message, &outputs);
    let mut children = vec![];
    for (i, out) in outputs.into_iter().enumerate() {
        let child = store_output(spool, env, i + 1, out)?;
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
    Ok(children)
}

/// Store output number `n` of `env`; its recipients keep their DSN parameters from `env`.
fn store_output(
    spool: &Spool,
    env: &Envelope,
    n: usize,
    out: Output,
) -> Result<Envelope, ProcessError> {
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
    if let Some(from) = out.mail_from {
        child.mail_from = from;
    }
    let res = match out.content {
        Content::Unchanged => spool.store_linked(&child, &env.id),
        Content::New(bytes) => {
            child.size = bytes.len() as u64;
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
