//! Keys issued automatically (SecuMail: a registered user's certificate is made at the latest
//! with the user's first outbound mail): `keystore.auto_issue`.
//!
//! On outbound mail from a sender of a local domain that has no own key yet (a domain key does
//! not count) and who is a registered user (`segl ctl user list`) or matches
//! `keystore.auto_issue_for`, a key and certificate are issued from the built-in CA and that very
//! mail is signed with it. Only for senders who pass the [sign] sender trust rules, so nobody
//! gets a key made in someone else's name; at most `keystore.auto_issue_per_hour` keys an hour;
//! never beyond the licence (a key the licence would not cover is not made: it could not sign).
//! Every issued key is logged.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{listed, PolicyCtx};
use crate::license::Phase;
use crate::smime::PrivateKeyOps;
use crate::smtp::wire::domain_of;
use crate::spool::Envelope;

/// When keys were issued automatically in the last hour; the lock also makes two mails of the
/// same new sender, processed at once, issue one key.
static ISSUED: Mutex<VecDeque<Instant>> = Mutex::new(VecDeque::new());

const HOUR: Duration = Duration::from_secs(3600);

/// The signing key for `from`: the keystore's, or a new one issued now when the sender
/// qualifies for one (see the module documentation).
pub fn signing_key(ctx: &PolicyCtx, env: &Envelope, from: &str) -> Option<Arc<dyn PrivateKeyOps>> {
    let found = ctx.keystore.signing_key(from);
    let own = |k: &Option<Arc<dyn PrivateKeyOps>>| {
        k.as_ref()
            .is_some_and(|k| !super::domain_key::is_domain_signer(ctx, k.as_ref(), from))
    };
    if !ctx.cfg.keystore.auto_issue || !ctx.cfg.sign.enabled || own(&found) {
        return found;
    }
    if !domain_of(from).is_some_and(|d| ctx.cfg.is_local_domain(&d)) || !eligible(ctx, from) {
        return found;
    }
    if let Err(why) = super::outbound::sender_trust(ctx, env, from) {
        tracing::info!(id = %env.id, from, reason = %why, "no key issued automatically: sender not trusted");
        return found;
    }
    let mut issued = ISSUED.lock().unwrap_or_else(|p| p.into_inner());
    // Another mail of this sender may have made the key while we waited for the lock.
    let again = ctx.keystore.signing_key(from);
    if own(&again) {
        return again;
    }
    let now = Instant::now();
    while issued
        .front()
        .is_some_and(|t| now.duration_since(*t) >= HOUR)
    {
        issued.pop_front();
    }
    let limit = ctx.cfg.keystore.auto_issue_per_hour as usize;
    if issued.len() >= limit {
        tracing::warn!(id = %env.id, from, limit, "no key issued automatically: keystore.auto_issue_per_hour reached; the mail goes on without it");
        return found;
    }
    let status = ctx.license.status();
    let in_force = matches!(status.state, Phase::Valid | Phase::Grace);
    if !in_force || status.keys_in_use >= status.keys_licensed as usize {
        tracing::warn!(id = %env.id, from, keys_in_use = status.keys_in_use, keys_licensed = status.keys_licensed, licence = %status.summary, "no key issued automatically: the licence has no free key");
        return found;
    }
    match ctx.keystore.generate(from, None) {
        Ok(info) => {
            issued.push_back(now);
            tracing::info!(id = %env.id, from, key = %info.id, serial = info.serial.as_deref().unwrap_or(""), "key issued automatically by the built-in CA (keystore.auto_issue); counted against the licence");
            ctx.keystore.signing_key(from).or(found)
        }
        Err(e) => {
            tracing::error!(id = %env.id, from, error = %e, "cannot issue a key automatically");
            found
        }
    }
}

/// A registered user's address, or listed in `keystore.auto_issue_for`.
fn eligible(ctx: &PolicyCtx, from: &str) -> bool {
    listed(&ctx.cfg.keystore.auto_issue_for, from)
        || ctx.users.as_ref().is_some_and(|u| {
            u.list()
                .iter()
                .any(|u| u.addresses.iter().any(|a| a.eq_ignore_ascii_case(from)))
        })
}
