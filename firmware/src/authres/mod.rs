//! The inbound authentication check (`[authres]`, RFC 8601; `docs/dkim.md`): DKIM, SPF and
//! DMARC of mail from outside, verified with `mail-auth` on the message exactly as it arrived —
//! before decryption, which changes the body a DKIM signature covers — and recorded in one
//! `Authentication-Results` field at the top of the delivered mail. Information for the internal
//! mail server's filters and the reader; Segl never rejects or holds mail on it by itself.
//!
//! Whether the check is on or off, an `Authentication-Results` field from outside that claims
//! this box's authserv-id is forged (RFC 8601 §5) and removed, so downstream filters that trust
//! our name are not fooled.

mod check;
mod forged;

use crate::config::Config;
use crate::message::fields::Message;
use crate::spool::Envelope;

pub use check::verify;
pub use forged::authserv_id_of;

/// The authserv-id this box writes and recognises: `authres.authserv_id`, or `smtp.hostname`.
pub fn authserv_id(cfg: &Config) -> &str {
    match cfg.authres.authserv_id.trim() {
        "" => cfg.smtp.hostname.trim(),
        id => id,
    }
}

/// The message as it goes on to the inbound policy: forged fields removed and, with
/// `authres.verify`, our `Authentication-Results` at the top. `None` when nothing changes (the
/// caller keeps its bytes, no copy).
///
/// Runs on the process stage's blocking thread; the DNS lookups are bounded by
/// `authres.timeout_secs`.
pub fn annotate(cfg: &Config, env: &Envelope, message: &[u8]) -> Option<Vec<u8>> {
    let id = authserv_id(cfg);
    let mut msg = Message::parse(message);
    let forged = forged::remove(&mut msg, id);
    if forged > 0 {
        tracing::warn!(id = %env.id, fields = forged, authserv_id = %id,
            "removed Authentication-Results from outside that claimed this box's name");
    }
    let result = if cfg.authres.verify {
        check::verify_blocking(cfg, env, message)
    } else {
        None
    };
    if forged == 0 && result.is_none() {
        return None;
    }
    if let Some(value) = result {
        tracing::info!(id = %env.id, result = %value.replace("\r\n\t", " "), "authentication results");
        msg.prepend("Authentication-Results", &value);
    }
    Some(msg.to_bytes())
}
