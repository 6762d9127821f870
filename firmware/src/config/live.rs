//! [`Live`]: a value the running gateway can swap while it runs (the configuration, the policy
//! context built from it, the delivery stage). Readers take a snapshot (`get`), an `Arc` they
//! keep for as long as one unit of work lasts (an SMTP session, one message's processing,
//! one delivery attempt), so a change never alters the rules in the middle of that work.
//! Here, in the leaf `config`, so every layer may hold one; changes are made by `liveconf`.

use std::sync::Arc;

use tokio::sync::watch;

use super::Config;

/// A swappable `Arc<T>`; a watch channel, so tasks may also wait for changes.
#[derive(Debug)]
pub struct Live<T> {
    tx: watch::Sender<Arc<T>>,
}

impl<T> Live<T> {
    pub fn new(value: Arc<T>) -> Arc<Live<T>> {
        Arc::new(Live {
            tx: watch::Sender::new(value),
        })
    }

    /// The current value, a snapshot that stays as it is while the caller holds it.
    pub fn get(&self) -> Arc<T> {
        self.tx.borrow().clone()
    }

    /// Replace the value; later `get`s see the new one, holders of old snapshots keep theirs.
    pub fn set(&self, value: Arc<T>) {
        self.tx.send_replace(value);
    }

    /// A receiver that wakes on every `set`.
    pub fn subscribe(&self) -> watch::Receiver<Arc<T>> {
        self.tx.subscribe()
    }
}

/// The live configuration handle shared by the SMTP server, the admin API and the rebuilders.
pub type LiveConfig = Live<Config>;
