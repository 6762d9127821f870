//! The mail transaction (MAIL .. DATA), apart from the connection: it is begun by MAIL, grows with
//! each accepted RCPT, and is either committed to the spool or dropped (RSET, EHLO, errors).
//! Also the MAIL and RCPT commands that build it.

use super::session::Session;
use crate::smtp::reply;
use crate::smtp::wire::{domain_of, MailFrom, RcptTo};
use crate::spool::Listener;

#[derive(Debug, Clone)]
pub struct Transaction {
    pub mail: MailFrom,
    pub rcpts: Vec<RcptTo>,
}

/// Whether `address` is a valid inbound recipient by the `relay.local_recipients` list
/// (empty list: every address of a local domain is).
pub fn listed_recipient(list: &[String], address: &str) -> bool {
    if list.is_empty() {
        return true;
    }
    let lower = address.to_ascii_lowercase();
    list.iter().any(|e| {
        let e = e.to_ascii_lowercase();
        if e.starts_with('@') {
            lower.ends_with(&e)
        } else {
            e == lower
        }
    })
}

impl Session {
    pub(super) async fn mail(&mut self, m: MailFrom) -> super::session::Next {
        use super::session::Next;
        let cfg = &self.cfg;
        if self.helo.is_none() {
            self.reply(&reply::HELO_FIRST);
        } else if self.tx.is_some() {
            self.reply(&reply::NESTED_MAIL);
        } else if self.listener == Listener::Submission && self.tls.is_none() {
            self.reply(&reply::TLS_REQUIRED);
        } else if self.listener == Listener::Submission && self.auth.is_none() {
            self.reply(&reply::AUTH_REQUIRED);
        } else if m.size.is_some_and(|s| s > cfg.smtp.max_message_size) {
            self.reply(&reply::SIZE_PARAM_TOO_BIG);
        } else if self
            .server
            .spool
            .free_bytes()
            .is_some_and(|free| free < cfg.storage.min_free_mb * 1024 * 1024 + m.size.unwrap_or(0))
        {
            tracing::warn!(peer = %self.peer, "refusing mail: data disk nearly full");
            self.reply(&reply::DISK_FULL);
        } else {
            self.tx = Some(Transaction {
                mail: m,
                rcpts: vec![],
            });
            self.reply(&reply::SENDER_OK);
        }
        Next::Continue
    }

    pub(super) async fn rcpt(&mut self, mut r: RcptTo) -> super::session::Next {
        use super::session::Next;
        let Some(tx) = &self.tx else {
            self.reply(&reply::NEED_MAIL);
            return Next::Continue;
        };
        let cfg = self.cfg.clone();
        if tx.rcpts.len() >= cfg.smtp.max_recipients {
            self.reply(&reply::TOO_MANY_RECIPIENTS);
            return Next::Continue;
        }
        // Bare <postmaster> is our own postmaster, at the first local domain.
        if r.address == "postmaster" {
            match cfg.relay.local_domains.first() {
                Some(d) => r.address = format!("postmaster@{d}"),
                None => {
                    self.reply(&reply::NO_SUCH_USER);
                    return Next::Continue;
                }
            }
        }
        let domain = domain_of(&r.address).unwrap_or_default();
        if cfg.is_local_domain(&domain) {
            let is_postmaster = r.address.to_ascii_lowercase().starts_with("postmaster@");
            if !is_postmaster && !listed_recipient(&cfg.relay.local_recipients, &r.address) {
                tracing::info!(peer = %self.peer, to = %r.address, "unknown local recipient");
                self.reply(&reply::NO_SUCH_USER);
                return Next::Continue;
            }
            if cfg.relay.recipient_callout && !is_postmaster {
                match self.server.callout.check(&r.address).await {
                    super::callout::Verdict::Exists => {}
                    super::callout::Verdict::Rejected(why) => {
                        tracing::info!(peer = %self.peer, to = %r.address, reason = %why, "callout rejected recipient");
                        self.reply(&reply::CALLOUT_REJECTED);
                        return Next::Continue;
                    }
                    super::callout::Verdict::Unknown(why) => {
                        tracing::warn!(to = %r.address, reason = %why, "recipient callout failed");
                        self.reply(&reply::CALLOUT_TEMPFAIL);
                        return Next::Continue;
                    }
                }
            }
        } else if !(self.trusted || self.auth.is_some()) {
            tracing::info!(peer = %self.peer, to = %r.address, "relay denied");
            self.reply(&reply::RELAY_DENIED);
            return Next::Continue;
        }
        if let Some(tx) = &mut self.tx {
            if !tx
                .rcpts
                .iter()
                .any(|x| x.address.eq_ignore_ascii_case(&r.address))
            {
                tx.rcpts.push(r);
            }
        }
        self.reply(&reply::RECIPIENT_OK);
        Next::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_list_matching() {
        let list = vec![
            "alice@example.org".to_string(),
            "@sales.example.org".to_string(),
        ];
        assert!(listed_recipient(&list, "Alice@Example.org"));
        assert!(listed_recipient(&list, "x@sales.example.org"));
        assert!(!listed_recipient(&list, "bob@example.org"));
        assert!(listed_recipient(&[], "anyone@example.org"));
    }
}
