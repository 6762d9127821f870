//! The queue: in-memory index of the spool, a scheduler, and the two stages that work on queued
//! messages — process (policy, splitting) and delivery (per-recipient status, retry with backoff,
//! expiry, DSN). The spool on disk is the truth; this index is rebuilt from it at start.

pub mod dsn;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{watch, Notify, Semaphore};

use crate::clock::unix_now;
use crate::config::Config;
use crate::keystore::Keystore;
use crate::monitor;
use crate::policy::{self, Content, ProcessError};
use crate::smtp::outbound::deliver::{Deliverer, Outcome};
use crate::smtp::outbound::route::{route_for, Route};
use crate::smtp::wire::domain_of;
use crate::spool::{new_queue_id, Envelope, RcptState, Recipient, Spool, Stage};

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
}

impl Entry {
    fn due_at(&self) -> Option<i64> {
        if self.env.hold.is_some() {
            return None;
        }
        match self.env.stage {
            Stage::Incoming => Some(self.not_before),
            Stage::Outgoing => self.env.pending().map(|r| r.next_attempt).min(),
        }
    }
}

/// One row of `segl ctl queue list`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct QueueItem {
    pub id: String,
    pub parent: Option<String>,
    pub stage: String,
    pub arrived: i64,
    pub sender: String,
    pub size: u64,
    pub recipients: Vec<QueueRecipient>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct QueueRecipient {
    pub address: String,
    pub state: String,
    pub attempts: u32,
    pub next_attempt: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, Default)]
pub struct QueueStats {
    pub messages: usize,
    pub incoming: usize,
    pub recipients_pending: usize,
    pub deferred: usize,
    pub held: usize,
}

pub struct Queue {
    cfg: Arc<Config>,
    spool: Arc<Spool>,
    deliverer: Arc<Deliverer>,
    policy: Arc<policy::PolicyCtx>,
    entries: Mutex<HashMap<String, Entry>>,
    wake: Notify,
    slots: Arc<Semaphore>,
}

impl Queue {
    pub fn new(
        cfg: Arc<Config>,
        spool: Arc<Spool>,
        deliverer: Arc<Deliverer>,
        keystore: Arc<Keystore>,
        directory: Option<Arc<crate::keystore::ldap::Directory>>,
        license: Arc<crate::license::Licensing>,
    ) -> Arc<Queue> {
        let slots = Arc::new(Semaphore::new(cfg.delivery.max_concurrency));
        let policy = Arc::new(policy::PolicyCtx {
            cfg: cfg.clone(),
            keystore,
            directory,
            license,
        });
        Arc::new(Queue {
            policy,
            cfg,
            spool,
            deliverer,
            entries: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            slots,
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock cannot leave the map half-updated (every update is a
        // single insert/remove), so a poisoned lock is still safe to use.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Rebuild the index from the spool (at start). Returns the number of messages resumed.
    pub fn load(&self) -> Result<usize, QueueError> {
        let (envs, problems) = self.spool.load_all()?;
        for p in problems {
            tracing::error!(problem = %p, "spool record quarantined to spool/hold");
        }
        let mut map = self.lock();
        for env in envs {
            tracing::info!(id = %env.id, stage = ?env.stage, pending = env.pending().count(), "resumed from spool");
            map.insert(
                env.id.clone(),
                Entry {
                    env,
                    busy: false,
                    not_before: 0,
                },
            );
        }
        Ok(map.len())
    }

    /// The process stage's context (configuration, keys, licence).
    pub fn policy(&self) -> &Arc<policy::PolicyCtx> {
        &self.policy
    }

    /// Stores a new message durably in the spool and schedules it (parked mail released by a
    /// licence comes back this way).
    pub fn inject(&self, env: Envelope, bytes: &[u8]) -> Result<(), QueueError> {
        self.spool.store(&env, bytes)?;
        self.accepted(env);
        Ok(())
    }

    /// A message was committed to the spool: schedule it at once.
    pub fn accepted(&self, env: Envelope) {
        let to = env.recipients.iter().map(|r| r.address.as_str()).collect();
        monitor::event(
            &env.id,
            monitor::Transition::Accepted {
                from: &env.mail_from,
                to,
                size: env.size,
            },
        );
        self.lock().insert(
            env.id.clone(),
            Entry {
                env,
                busy: false,
                not_before: 0,
            },
        );
        self.wake.notify_one();
    }

    pub fn stats(&self) -> QueueStats {
        let map = self.lock();
        let mut s = QueueStats {
            messages: map.len(),
            held: self.spool.held().len(),
            ..Default::default()
        };
        for e in map.values() {
            if e.env.stage == Stage::Incoming {
                s.incoming += 1;
            }
            for r in e.env.pending() {
                s.recipients_pending += 1;
                if r.attempts > 0 {
                    s.deferred += 1;
                }
            }
        }
        s
    }

    /// Quarantined messages (`spool/hold/`) with their reasons.
    pub fn held(&self) -> Vec<(String, String)> {
        self.spool.held()
    }

    pub fn list(&self) -> Vec<QueueItem> {
        let map = self.lock();
        let mut items: Vec<QueueItem> = map
            .values()
            .map(|e| QueueItem {
                id: e.env.id.clone(),
                parent: e.env.parent.clone(),
                stage: match e.env.stage {
                    Stage::Incoming => "incoming".into(),
                    Stage::Outgoing => "outgoing".into(),
                },
                arrived: e.env.arrived,
                sender: e.env.mail_from.clone(),
                size: e.env.size,
                recipients: e
                    .env
                    .recipients
                    .iter()
                    .map(|r| QueueRecipient {
                        address: r.address.clone(),
                        state: match &r.state {
                            RcptState::Pending if r.attempts > 0 => "deferred".into(),
                            RcptState::Pending => "pending".into(),
                            RcptState::Delivered { .. } => "delivered".into(),
                            RcptState::Failed { .. } => "failed".into(),
                        },
                        attempts: r.attempts,
                        next_attempt: r.next_attempt,
                        last_error: r.last_error.clone(),
                    })
                    .collect(),
            })
            .collect();
        items.sort_by(|a, b| a.id.cmp(&b.id));
        items
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

    /// Remove a message for good (admin action; logged).
    pub fn delete(&self, id: &str) -> Result<(), QueueError> {
        let mut map = self.lock();
        match map.get(id) {
            None => return Err(QueueError::NotFound(id.to_string())),
            Some(e) if e.busy => return Err(QueueError::Busy(id.to_string())),
            Some(_) => {}
        }
        self.spool.remove(id)?;
        map.remove(id);
        tracing::warn!(id, "deleted from the queue by admin");
        Ok(())
    }

    /// The scheduler: runs due work with at most `delivery.max_concurrency` tasks until shutdown.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let now = unix_now();
            let mut due = vec![];
            let mut next: Option<i64> = None;
            {
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
            }
            due.sort();
            for id in due {
                let permit = tokio::select! {
                    p = self.slots.clone().acquire_owned() => p,
                    _ = shutdown.changed() => return,
                };
                let Ok(permit) = permit else { return };
                let q = self.clone();
                tokio::spawn(async move {
                    q.clone().work(&id).await;
                    if let Some(e) = q.lock().get_mut(&id) {
                        e.busy = false;
                    }
                    drop(permit);
                    q.wake.notify_one();
                });
            }
            let wait = next.map_or(60, |t| (t - unix_now()).clamp(1, 60)) as u64;
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(wait)) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn work(self: Arc<Self>, id: &str) {
        let Some(env) = self.lock().get(id).map(|e| e.env.clone()) else {
            return;
        };
        match env.stage {
            Stage::Incoming => self.process_one(env).await,
            Stage::Outgoing => self.deliver_one(env).await,
        }
    }

    async fn read_message(&self, id: &str) -> Result<Vec<u8>, String> {
        let spool = self.spool.clone();
        let id = id.to_string();
        tokio::task::spawn_blocking(move || spool.read_message(&id))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    fn quarantine(&self, id: &str, reason: &str) {
        match self.spool.quarantine(id, reason) {
            Ok(()) => {
                self.lock().remove(id);
                tracing::error!(id, reason, "message quarantined to spool/hold");
                monitor::event(id, monitor::Transition::Quarantined { reason });
            }
            Err(e) => tracing::error!(id, error = %e, "cannot quarantine message"),
        }
    }

    /// Run the process stage on an incoming message and replace it by its outputs.
    async fn process_one(&self, env: Envelope) {
        let id = env.id.clone();
        let message = match self.read_message(&id).await {
            Ok(m) => m,
            Err(e) => return self.quarantine(&id, &format!("message file unreadable: {e}")),
        };
        // Policy code runs on a blocking thread: it is CPU work (S/MIME), and a panic in it is
        // caught here and turns into a quarantine instead of a lost message.
        let env2 = env.clone();
        let spool = self.spool.clone();
        let ctx = self.policy.clone();
        let result = tokio::task::spawn_blocking(move || {
            let outputs = policy::process(&ctx, &env2, &message)?;
            monitor::processed(&env2, &message, &outputs);
            let mut children = vec![];
            for (i, out) in outputs.into_iter().enumerate() {
                let recipients: Vec<Recipient> = out
                    .recipients
                    .iter()
                    .map(|a| {
                        env2.recipients
                            .iter()
                            .find(|r| &r.address == a)
                            .cloned()
                            .unwrap_or_else(|| Recipient::new(a.clone(), None, None))
                    })
                    .collect();
                let mut child = env2.derive(
                    format!("{}-{}", env2.id, i + 1),
                    Stage::Outgoing,
                    recipients,
                );
                if let Some(from) = out.mail_from {
                    child.mail_from = from;
                }
                let res = match out.content {
                    Content::Unchanged => spool.store_linked(&child, &env2.id),
                    Content::New(bytes) => {
                        child.size = bytes.len() as u64;
                        spool.store(&child, &bytes)
                    }
                };
                res.map_err(|e| ProcessError::Temporary(e.to_string()))?;
                children.push(child);
            }
            spool
                .remove(&env2.id)
                .map_err(|e| ProcessError::Temporary(e.to_string()))?;
            Ok::<_, ProcessError>(children)
        })
        .await;
        match result {
            Ok(Ok(children)) => {
                let ids: Vec<&str> = children.iter().map(|c| c.id.as_str()).collect();
                tracing::info!(id = %id, outputs = ?ids, "processed");
                let mut map = self.lock();
                map.remove(&id);
                for c in children {
                    map.insert(
                        c.id.clone(),
                        Entry {
                            env: c,
                            busy: false,
                            not_before: 0,
                        },
                    );
                }
            }
            Ok(Err(ProcessError::Temporary(why))) => {
                tracing::warn!(id = %id, reason = %why, "processing deferred");
                if let Some(e) = self.lock().get_mut(&id) {
                    e.not_before = unix_now() + self.cfg.delivery.retry_initial_secs as i64;
                }
            }
            Ok(Err(ProcessError::Quarantine(why))) => self.quarantine(&id, &why),
            Err(join) => self.quarantine(
                &id,
                &format!("internal error while processing (please report): {join}"),
            ),
        }
    }

    fn backoff(&self, attempts: u32) -> i64 {
        let d = &self.cfg.delivery;
        let exp = attempts.saturating_sub(1).min(20);
        (d.retry_initial_secs.saturating_mul(1u64 << exp)).min(d.retry_max_secs) as i64
    }

    /// One delivery round for the due recipients of an outgoing message.
    async fn deliver_one(&self, mut env: Envelope) {
        let id = env.id.clone();
        let now = unix_now();
        let message = match self.read_message(&id).await {
            Ok(m) => m,
            Err(e) => return self.quarantine(&id, &format!("message file unreadable: {e}")),
        };
        // Recipients that share a route and a TLS requirement share one SMTP transaction.
        let mut groups: BTreeMap<(Route, bool), Vec<String>> = BTreeMap::new();
        for r in env.pending().filter(|r| r.next_attempt <= now) {
            let tls = domain_of(&r.address).is_some_and(|d| self.cfg.requires_tls(&d));
            groups
                .entry((route_for(&self.cfg, &r.address), tls))
                .or_default()
                .push(r.address.clone());
        }
        let mut newly_failed = vec![];
        for ((route, require_tls), rcpts) in groups {
            for chunk in rcpts.chunks(100) {
                let outcomes = self
                    .deliverer
                    .deliver(&route, require_tls, &env, chunk, &message)
                    .await;
                let now = unix_now();
                for (addr, outcome) in chunk.iter().zip(outcomes) {
                    let Some(r) = env.recipients.iter_mut().find(|r| &r.address == addr) else {
                        continue;
                    };
                    r.attempts += 1;
                    match outcome {
                        Outcome::Delivered { remote, reply } => {
                            tracing::info!(id = %id, to = %addr, route = %route, remote = %remote, reply = %reply, "delivered");
                            monitor::event(
                                &id,
                                monitor::Transition::Delivered {
                                    to: addr,
                                    detail: format!("{route} {remote}: {reply}"),
                                },
                            );
                            r.remote = Some(remote);
                            r.state = RcptState::Delivered { at: now, reply };
                        }
                        Outcome::Deferred { remote, reason } => {
                            r.remote = remote;
                            if now - env.arrived >= self.cfg.delivery.max_queue_lifetime_secs as i64
                            {
                                tracing::warn!(id = %id, to = %addr, reason = %reason, "expired");
                                monitor::event(
                                    &id,
                                    monitor::Transition::Failed {
                                        to: addr,
                                        detail: format!("expired: {reason}"),
                                    },
                                );
                                r.state = RcptState::Failed {
                                    at: now,
                                    status: "4.4.7".into(),
                                    reply: format!("delivery time expired; last error: {reason}"),
                                };
                                newly_failed.push(r.clone());
                            } else {
                                r.next_attempt = now + self.backoff(r.attempts);
                                tracing::info!(id = %id, to = %addr, route = %route, reason = %reason, retry_in = r.next_attempt - now, "deferred");
                                monitor::event(
                                    &id,
                                    monitor::Transition::Deferred {
                                        to: addr,
                                        detail: reason.clone(),
                                    },
                                );
                                r.last_error = Some(reason);
                            }
                        }
                        Outcome::Failed {
                            remote,
                            status,
                            reason,
                        } => {
                            tracing::warn!(id = %id, to = %addr, route = %route, status = %status, reason = %reason, "failed");
                            monitor::event(
                                &id,
                                monitor::Transition::Failed {
                                    to: addr,
                                    detail: format!("{status} {reason}"),
                                },
                            );
                            r.remote = remote;
                            r.state = RcptState::Failed {
                                at: now,
                                status,
                                reply: reason,
                            };
                            newly_failed.push(r.clone());
                        }
                    }
                }
            }
        }
        // The DSN is stored before the record that says the recipient failed: a crash in
        // between can send a DSN twice, never zero times.
        let wanted: Vec<Recipient> = newly_failed
            .into_iter()
            .filter(|r| dsn::wants_dsn(&env, r))
            .collect();
        if !wanted.is_empty() {
            let (denv, bytes) = dsn::failure_dsn(
                &self.cfg,
                &env,
                &wanted,
                &message,
                unix_now(),
                new_queue_id(),
            );
            let spool = self.spool.clone();
            let denv2 = denv.clone();
            match tokio::task::spawn_blocking(move || spool.store(&denv2, &bytes)).await {
                Ok(Ok(())) => {
                    tracing::info!(id = %denv.id, parent = %id, to = %env.mail_from, "DSN queued");
                    self.accepted(denv);
                }
                _ => {
                    tracing::error!(id = %id, "cannot store DSN; will retry the failed recipients");
                    for r in env.recipients.iter_mut() {
                        if wanted.iter().any(|w| w.address == r.address) {
                            r.state = RcptState::Pending;
                            r.next_attempt =
                                unix_now() + self.cfg.delivery.retry_initial_secs as i64;
                        }
                    }
                }
            }
        }
        let spool = self.spool.clone();
        let env2 = env.clone();
        let done = env.is_done();
        let res = tokio::task::spawn_blocking(move || {
            if done {
                spool.remove(&env2.id)
            } else {
                spool.write_envelope(&env2)
            }
        })
        .await;
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
