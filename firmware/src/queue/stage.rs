//! The stages the queue runs, as traits the queue owns: [`Process`] (what happens to an
//! accepted message: the policy) and [`Transport`] (one delivery attempt: the SMTP client).
//! `app.rs` wires the real ones in; the queue's tests use fakes. So the queue depends on
//! neither the policy, the keystore nor the SMTP client; they depend on these traits.

use std::future::Future;
use std::pin::Pin;

use crate::spool::Envelope;

/// The content of one output message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Byte-for-byte the incoming message (stored as a hard link, no copy).
    Unchanged,
    /// A new message (signed, encrypted, a notice...).
    New(Vec<u8>),
}

/// One message the process stage wants delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Recipients of this copy (addresses out of the envelope's recipient list, or new ones for
    /// notices).
    pub recipients: Vec<String>,
    /// Reverse path override (notices from Segl itself use the null sender).
    pub mail_from: Option<String>,
    pub content: Content,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessError {
    /// The message cannot be processed now (e.g. keystore busy); it stays queued.
    #[error("temporary processing failure: {0}")]
    Temporary(String),
    /// The message can never be processed; it is quarantined with this reason for an admin.
    #[error("{0}")]
    Quarantine(String),
}

/// The process stage: turns one accepted message into the messages to deliver.
pub trait Process: Send + Sync {
    /// Decide and apply what happens to one accepted message. CPU work that may block: the
    /// queue calls it on a blocking thread, and a panic in it quarantines the message.
    ///
    /// Invariant the queue relies on: every pending recipient of `env` is accounted for
    /// exactly once (in one output, or dropped with a notice output explaining why, or
    /// re-addressed); outputs never have an empty recipient list.
    fn process(&self, env: &Envelope, message: &[u8]) -> Result<Vec<Output>, ProcessError>;
}

/// What happened to one recipient in one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered {
        remote: String,
        reply: String,
    },
    /// Try again later.
    Deferred {
        remote: Option<String>,
        reason: String,
    },
    /// Give up: a DSN goes to the sender. `status` is the enhanced code for the DSN.
    Failed {
        remote: Option<String>,
        status: crate::spool::EnhancedStatus,
        reason: String,
    },
}

/// Recipients of one message that share one delivery attempt (one SMTP transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Where the batch goes, for the log (e.g. `mx:example.org`).
    pub route: String,
    pub recipients: Vec<String>,
}

/// A delivery attempt in progress: one outcome per recipient of the batch, in order.
pub type Delivery<'a> = Pin<Box<dyn Future<Output = Vec<Outcome>> + Send + 'a>>;

/// The delivery stage.
pub trait Transport: Send + Sync {
    /// Group the due recipients of one message into batches that can share an attempt.
    fn batches(&self, recipients: Vec<String>) -> Vec<Batch>;

    /// One attempt for `batch` (made by [`Transport::batches`]) of the message `env`.
    fn deliver<'a>(
        &'a self,
        batch: &'a Batch,
        env: &'a Envelope,
        message: &'a [u8],
    ) -> Delivery<'a>;
}
