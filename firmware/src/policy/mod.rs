//! The process stage between spool and delivery. It decides, per recipient, what happens to a
//! message and may split one incoming message into several outgoing ones (e.g. an encrypted copy
//! for recipients with a certificate and a signed-only copy for the rest).
//!
//! For now it passes every message through unchanged; the S/MIME policy plugs in here.

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

/// Decide and apply what happens to one accepted message.
///
/// Invariant the queue relies on: every pending recipient of `env` appears in exactly one output
/// (or is deliberately dropped with a notice output to the sender explaining why).
pub fn process(env: &Envelope, _message: &[u8]) -> Result<Vec<Output>, ProcessError> {
    let recipients: Vec<String> = env.pending().map(|r| r.address.clone()).collect();
    if recipients.is_empty() {
        return Ok(vec![]);
    }
    Ok(vec![Output {
        recipients,
        mail_from: None,
        content: Content::Unchanged,
    }])
}
