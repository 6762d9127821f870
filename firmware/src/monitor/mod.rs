//! What the dashboard and the mail log show: counters of mail per hour and day, and a bounded
//! structured log of every message transition (accepted, processed with its S/MIME actions,
//! delivered, deferred, failed, quarantined), both kept in the data dir across restarts.
//!
//! The queue reports through [`event`], a process-wide sink installed by `segl serve`; without
//! one (library tests) events are dropped. That keeps the hot path to one call per transition
//! and the queue free of dashboard concerns.

pub mod counters;
pub mod maillog;

use std::path::Path;
use std::sync::{Arc, OnceLock};

pub use counters::{Counter, Counters};
pub use maillog::{MailEvent, MailLog};

/// The dashboard's counters and the mail log of one gateway.
#[derive(Debug)]
pub struct Monitor {
    pub counters: Counters,
    pub log: MailLog,
    local_domains: Vec<String>,
}

static GLOBAL: OnceLock<Arc<Monitor>> = OnceLock::new();

impl Monitor {
    pub fn open(data_dir: &Path, local_domains: &[String]) -> Arc<Monitor> {
        Arc::new(Monitor {
            counters: Counters::open(data_dir),
            log: MailLog::new(data_dir),
            local_domains: local_domains
                .iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
        })
    }

    fn is_local(&self, address: &str) -> bool {
        address
            .rsplit_once('@')
            .is_some_and(|(_, d)| self.local_domains.iter().any(|l| l.eq_ignore_ascii_case(d)))
    }
}

impl Monitor {
    /// Counts what the policy did to `input` (signed, encrypted, decrypted, verified) and
    /// returns the log line's detail: the actions and the output ids.
    fn count_processed(&self, now: i64, input: &[u8], outputs: &[OutputCopy<'_>]) -> String {
        let before = Kind::of(input);
        let mut actions: Vec<&str> = vec![];
        for (_, to, content) in outputs {
            let after = content.map(Kind::of).unwrap_or(before);
            let inbound = to.iter().any(|a| self.is_local(a));
            let mut act = |c: Counter, name: &'static str| {
                self.counters.add(now, c);
                if !actions.contains(&name) {
                    actions.push(name);
                }
            };
            if after == Kind::Encrypted && before != Kind::Encrypted {
                act(Counter::Encrypted, "encrypted");
            }
            if after == Kind::Signed && before != Kind::Signed {
                act(Counter::Signed, "signed");
            }
            if before == Kind::Encrypted && after != Kind::Encrypted {
                act(Counter::Decrypted, "decrypted");
            }
            if before == Kind::Signed && inbound {
                act(Counter::Verified, "verified");
            }
        }
        let ids: Vec<&str> = outputs.iter().map(|o| o.0.as_str()).collect();
        if actions.is_empty() {
            format!("passed unchanged → {}", ids.join(", "))
        } else {
            format!("{} → {}", actions.join(", "), ids.join(", "))
        }
    }
}

/// Install the process-wide monitor (first call wins; later ones return the installed one).
pub fn install(m: Arc<Monitor>) -> Arc<Monitor> {
    GLOBAL.get_or_init(|| m).clone()
}

pub fn installed() -> Option<&'static Arc<Monitor>> {
    GLOBAL.get()
}

/// One output of the policy stage: its queue id, recipients and new content (none: unchanged).
pub type OutputCopy<'a> = (String, Vec<String>, Option<&'a [u8]>);

/// What became of a message, as the queue reports it.
#[derive(Debug)]
pub enum Transition<'a> {
    Accepted {
        from: &'a str,
        to: Vec<&'a str>,
        size: u64,
    },
    /// The policy stage made these outputs (`(id, recipients, new content or None)`).
    Processed {
        from: &'a str,
        input: &'a [u8],
        outputs: Vec<OutputCopy<'a>>,
    },
    Delivered {
        to: &'a str,
        detail: String,
    },
    Deferred {
        to: &'a str,
        detail: String,
    },
    Failed {
        to: &'a str,
        detail: String,
    },
    Quarantined {
        reason: &'a str,
    },
}

/// Report a transition of message `id`.
pub fn event(id: &str, t: Transition<'_>) {
    let Some(m) = GLOBAL.get() else { return };
    let now = crate::clock::unix_now();
    let mut e = MailEvent {
        time: now,
        id: id.to_string(),
        event: String::new(),
        from: String::new(),
        to: vec![],
        detail: String::new(),
    };
    match t {
        Transition::Accepted { from, to, size } => {
            let inbound = to.iter().any(|a| m.is_local(a));
            m.counters.add(
                now,
                if inbound {
                    Counter::Inbound
                } else {
                    Counter::Outbound
                },
            );
            e.event = "accepted".into();
            e.from = from.to_string();
            e.to = to.iter().map(|s| s.to_string()).collect();
            e.detail = format!("{size} bytes");
        }
        Transition::Processed {
            from,
            input,
            outputs,
        } => {
            e.event = "processed".into();
            e.from = from.to_string();
            e.to = outputs.iter().flat_map(|o| o.1.iter().cloned()).collect();
            e.detail = m.count_processed(now, input, &outputs);
        }
        Transition::Delivered { to, detail } => {
            m.counters.add(now, Counter::Delivered);
            e.event = "delivered".into();
            e.to = vec![to.to_string()];
            e.detail = detail;
        }
        Transition::Deferred { to, detail } => {
            m.counters.add(now, Counter::Deferred);
            e.event = "deferred".into();
            e.to = vec![to.to_string()];
            e.detail = detail;
        }
        Transition::Failed { to, detail } => {
            m.counters.add(now, Counter::Failed);
            e.event = "failed".into();
            e.to = vec![to.to_string()];
            e.detail = detail;
        }
        Transition::Quarantined { reason } => {
            m.counters.add(now, Counter::Held);
            e.event = "quarantined".into();
            e.detail = reason.to_string();
        }
    }
    m.log.append(&e);
}

/// What a message is at its top level, read from its Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Signed,
    Encrypted,
}

impl Kind {
    fn of(message: &[u8]) -> Kind {
        use crate::smime::mime::{split_fields, unfold};
        // The top-level header only: a message without an empty line is not split whole.
        let (fields, _) = split_fields(&message[..message.len().min(64 * 1024)]);
        let is_ct = |f: &&&[u8]| {
            f.split(|&b| b == b':')
                .next()
                .is_some_and(|n| n.trim_ascii().eq_ignore_ascii_case(b"content-type"))
        };
        let Some(ct) = fields
            .iter()
            .find(is_ct)
            .map(|f| unfold(f).to_ascii_lowercase())
        else {
            return Kind::Plain;
        };
        if ct.contains("multipart/signed") || ct.contains("signed-data") {
            Kind::Signed
        } else if ct.contains("pkcs7-mime") {
            Kind::Encrypted
        } else {
            Kind::Plain
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(Kind::of(b"Subject: x\r\n\r\nhi"), Kind::Plain);
        assert_eq!(
            Kind::of(b"Content-Type: multipart/signed;\r\n protocol=\"application/pkcs7-signature\"\r\n\r\n"),
            Kind::Signed
        );
        assert_eq!(
            Kind::of(b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data\n\nx"),
            Kind::Encrypted
        );
    }
}
