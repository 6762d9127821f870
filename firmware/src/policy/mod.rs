//! The process stage between spool and delivery. It decides, per recipient, what happens to a
//! message and may split one incoming message into several outgoing ones (e.g. an encrypted copy
//! for recipients with a certificate and a signed-only copy for the rest).
//!
//! Direction is decided per recipient: a recipient in `relay.local_domains` is *inbound*
//! (strip forged markings, decrypt, verify, mark, harvest: [`inbound`]); any other recipient of
//! mail from an authenticated client or `relay.trusted_networks` is *outbound* (sender trust,
//! sign, encrypt opportunistically or mandatorily: [`outbound`]). Anything else (mail Segl made
//! itself, DSNs) passes unchanged.

pub mod always_to;
pub mod auto_issue;
pub mod digital_post;
pub mod domain_key;
pub mod finish;
pub mod inbound;
pub mod layers;
pub mod license_gate;
pub mod license_tasks;
pub mod mailbox;
pub mod marks;
pub mod outbound;
pub mod parts;
pub mod portal;
pub mod switches;

/// The message and text helpers the policy stages share (homed in [`crate::message`]).
pub use crate::message::{fields, texts};

use std::sync::Arc;

use crate::config::Config;
use crate::keystore::Keystore;
use crate::smtp::wire::domain_of;
use crate::spool::{Envelope, Listener};

/// What the process stage needs besides the message: configuration and keys.
pub struct PolicyCtx {
    pub cfg: Arc<Config>,
    pub keystore: Arc<Keystore>,
    /// LDAP directories for recipient certificates (`[lookup]`), when configured.
    pub directory: Option<Arc<crate::keystore::ldap::Directory>>,
    /// The licence: which own keys may sign and decrypt.
    pub license: Arc<crate::license::Licensing>,
    /// The registered users (`keystore.auto_issue` issues keys for them); none in tools
    /// that run the policy without a gateway.
    pub users: Option<Arc<crate::users::UserStore>>,
}

impl PolicyCtx {
    /// The texts for people, in the configured language.
    pub fn texts(&self) -> &'static texts::Texts {
        texts::texts(self.cfg.mark.language)
    }

    /// The certificate to encrypt to for `address`: keystore first, then the directories.
    pub fn encryption_cert(&self, address: &str) -> Option<crate::smime::Certificate> {
        crate::keystore::ldap::encryption_cert(&self.keystore, self.directory.as_deref(), address)
    }
}

/// Our status headers: every field with this prefix is removed from incoming mail.
pub const HEADER_PREFIX: &str = "X-Segl-";

pub use crate::queue::{Content, Output, ProcessError};

/// The policy is the queue's process stage.
impl crate::queue::Process for PolicyCtx {
    fn process(&self, env: &Envelope, message: &[u8]) -> Result<Vec<Output>, ProcessError> {
        process(self, env, message)
    }
}

/// Decide and apply what happens to one accepted message.
///
/// Invariant the queue relies on: every pending recipient of `env` is accounted for exactly
/// once: it appears in one output, or is deliberately dropped with a notice output to the
/// sender explaining why, or (Digital Post distribution) its copy was re-addressed to the local
/// recipients of a rule. Outputs never have an empty recipient list.
pub fn process(
    ctx: &PolicyCtx,
    env: &Envelope,
    message: &[u8],
) -> Result<Vec<Output>, ProcessError> {
    // Lines over 998 octets are made to fit first (re-encoded, never truncated), so what is
    // signed and passed on is what a strict next hop accepts.
    let fitted = fit_long_lines(env, message);
    let message = fitted.as_deref().unwrap_or(message);
    let mut outputs = decide(ctx, env, message)?;
    if let Some(bytes) = fitted {
        for o in &mut outputs {
            if matches!(o.content, Content::Unchanged) {
                o.content = Content::New(bytes.clone());
            }
        }
    }
    Ok(outputs)
}

/// `message` with its long lines re-encoded ([`crate::smime::lines`]), when it has any.
fn fit_long_lines(env: &Envelope, message: &[u8]) -> Option<Vec<u8>> {
    let limits = crate::smime::unwrap::Limits::default();
    match crate::smime::lines::fit(message, limits.max_depth) {
        Ok(Some(bytes)) => {
            tracing::info!(id = %env.id, "lines over 998 octets re-encoded");
            Some(bytes)
        }
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(id = %env.id, error = %e, "lines over 998 octets left as they are");
            None
        }
    }
}

/// The per-recipient decision of [`process`] on the (fitted) message.
fn decide(ctx: &PolicyCtx, env: &Envelope, message: &[u8]) -> Result<Vec<Output>, ProcessError> {
    let mut local = vec![];
    let mut out = vec![];
    let mut other = vec![];
    let from_inside = env.client.listener != Listener::Generated
        && (env.client.auth_user.is_some() || env.client.trusted_network);
    for r in env.pending() {
        let is_local = domain_of(&r.address).is_some_and(|d| ctx.cfg.is_local_domain(&d));
        if env.client.listener == Listener::Generated {
            other.push(r.address.clone());
        } else if is_local {
            local.push(r.address.clone());
        } else if from_inside {
            out.push(r.address.clone());
        } else {
            other.push(r.address.clone());
        }
    }
    let mut outputs = vec![];
    if !other.is_empty() {
        outputs.push(Output {
            recipients: other,
            mail_from: None,
            content: Content::Unchanged,
        });
    }
    if !local.is_empty() {
        // Mail from outside: our Authentication-Results (or at least no forged one) first,
        // on the bytes as they arrived.
        let annotated = (!from_inside)
            .then(|| crate::authres::annotate(&ctx.cfg, env, message))
            .flatten();
        let message = annotated.as_deref().unwrap_or(message);
        let inbound = inbound::process(ctx, env, message, local)?;
        outputs.extend(crate::policy::license_gate::inbound_outputs(
            ctx, env, message, inbound,
        ));
    }
    let (forced, out) = always_to::partition(ctx, out);
    for (mailbox, rcpts) in forced {
        outputs.extend(outbound::process_as(
            ctx,
            env,
            message,
            rcpts,
            Some(&mailbox),
        )?);
    }
    if !out.is_empty() {
        outputs.extend(outbound::process(ctx, env, message, out)?);
    }
    Ok(outputs)
}

/// Whether `addr` is listed in `list` (full addresses or `@domain`), case-insensitively.
pub(crate) fn listed(list: &[String], addr: &str) -> bool {
    let addr = crate::address::normalize(addr);
    let domain = domain_of(&addr);
    list.iter().any(|e| {
        let e = crate::address::normalize(e);
        match e.strip_prefix('@') {
            Some(d) => domain.as_deref() == Some(d),
            None => e == addr,
        }
    })
}
