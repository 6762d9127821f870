//! The envelope record stored beside every spooled message: everything later stages need about
//! how the message arrived and where it must go, kept across restarts. Versioned, so an upgraded
//! firmware can read the spool of an older one.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Version of the on-disk record. Bump it when a field changes meaning; readers of a newer
/// version put the message on hold instead of guessing.
pub const ENVELOPE_VERSION: u32 = 1;

// ESMTP parameters (RFC 3461, RFC 6152) the envelope keeps: parsed by `smtp::wire`, used
// by the DSN and by the SMTP client on the way out.

/// RFC 6152 BODY= of MAIL FROM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Body {
    #[serde(rename = "7BIT")]
    SevenBit,
    #[serde(rename = "8BITMIME")]
    EightBitMime,
}

/// RFC 3461 RET= of MAIL FROM: what a DSN returns of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Ret {
    #[serde(rename = "FULL")]
    Full,
    #[serde(rename = "HDRS")]
    Hdrs,
}

/// RFC 3461 NOTIFY: NEVER, or any of SUCCESS, FAILURE, DELAY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Notify {
    pub never: bool,
    pub success: bool,
    pub failure: bool,
    pub delay: bool,
}

impl Notify {
    /// Whether a failure DSN may be sent (the default without NOTIFY is yes).
    pub fn wants_failure(n: Option<Notify>) -> bool {
        n.is_none_or(|n| n.failure)
    }
}

impl fmt::Display for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.never {
            return f.write_str("NEVER");
        }
        let mut parts = vec![];
        if self.success {
            parts.push("SUCCESS");
        }
        if self.failure {
            parts.push("FAILURE");
        }
        if self.delay {
            parts.push("DELAY");
        }
        f.write_str(&parts.join(","))
    }
}

/// The queue stage a message waits for. Not the mail's direction: inbound and outbound are
/// decided per recipient by the policy. Stored (and listed) as `incoming` / `outgoing`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Stage {
    /// Accepted from a client, not yet through the process (policy) stage.
    #[serde(rename = "incoming")]
    Process,
    /// Processed: ready for delivery to its recipients.
    #[serde(rename = "outgoing")]
    Deliver,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Listener {
    /// The MX / relay port (`smtp.listen`).
    Mx,
    /// The submission port (`smtp.submission_listen`).
    Submission,
    /// Not received at all: made by Segl itself (DSNs, notices, receipts). Stored as `local`
    /// (the name of earlier versions, which must still read records after a fallback).
    #[serde(rename = "local")]
    Generated,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TlsInfo {
    pub protocol: String,
    pub cipher: String,
}

/// Who handed us the message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub port: u16,
    pub helo: String,
    pub listener: Listener,
    pub tls: Option<TlsInfo>,
    /// SMTP AUTH user name, and that user's addresses at the time of sending.
    pub auth_user: Option<String>,
    #[serde(default)]
    pub auth_addresses: Vec<String>,
    /// Whether the client's address is in `relay.trusted_networks`.
    #[serde(default)]
    pub trusted_network: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum RcptState {
    /// Waiting for (another) delivery attempt.
    Pending,
    Delivered {
        at: i64,
        reply: String,
    },
    /// Permanently failed; `dsn_sent` once a DSN for it is queued (or none is wanted).
    Failed {
        at: i64,
        status: super::EnhancedStatus,
        reply: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Recipient {
    pub address: String,
    #[serde(default)]
    pub orcpt: Option<String>,
    #[serde(default)]
    pub notify: Option<Notify>,
    pub state: RcptState,
    #[serde(default)]
    pub attempts: u32,
    /// Unix seconds of the next attempt (0: as soon as possible).
    #[serde(default)]
    pub next_attempt: i64,
    /// Last temporary failure, for the queue listing and the expiry DSN.
    #[serde(default)]
    pub last_error: Option<String>,
    /// The host that gave the last answer.
    #[serde(default)]
    pub remote: Option<String>,
}

impl Recipient {
    pub fn new(address: String, orcpt: Option<String>, notify: Option<Notify>) -> Recipient {
        Recipient {
            address,
            orcpt,
            notify,
            state: RcptState::Pending,
            attempts: 0,
            next_attempt: 0,
            last_error: None,
            remote: None,
        }
    }

    pub fn is_pending(&self) -> bool {
        self.state == RcptState::Pending
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Envelope {
    pub version: u32,
    pub id: String,
    /// For a message made from another (split copies, processed output): the original's id.
    #[serde(default)]
    pub parent: Option<String>,
    pub stage: Stage,
    /// Unix seconds when the original message was accepted (kept through splits; drives expiry).
    pub arrived: i64,
    pub client: ClientInfo,
    /// Reverse path; empty for the null sender (bounces), which never gets a DSN.
    pub mail_from: String,
    #[serde(default)]
    pub body: Option<Body>,
    #[serde(default)]
    pub smtputf8: bool,
    #[serde(default)]
    pub ret: Option<Ret>,
    #[serde(default)]
    pub envid: Option<String>,
    /// Size of the stored message in bytes.
    pub size: u64,
    pub recipients: Vec<Recipient>,
    /// Set while delivery is paused for this message, with the reason (not delivered until
    /// resumed). Not the quarantine ("held" messages live in `spool/hold/`). Stored as `hold`,
    /// the name earlier versions read.
    #[serde(default, rename = "hold")]
    pub paused: Option<String>,
    /// Checksum of the stored message file ([`super::checksum`]), taken as it was written and
    /// checked whenever the message is read for processing or delivery. Records of earlier
    /// firmware have none (only the length is checked then); earlier firmware ignores the
    /// field, so the record version stays the same and a fallback still reads the spool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

impl Envelope {
    pub fn pending(&self) -> impl Iterator<Item = &Recipient> {
        self.recipients.iter().filter(|r| r.is_pending())
    }

    /// Records the stored bytes of the message: their size and checksum.
    pub fn set_content(&mut self, bytes: &[u8]) {
        self.size = bytes.len() as u64;
        self.checksum = Some(super::checksum::of(bytes));
    }

    pub fn is_done(&self) -> bool {
        self.recipients.iter().all(|r| !r.is_pending())
    }

    /// A copy of this envelope for a derived message with its own id and recipients.
    pub fn derive(&self, id: String, stage: Stage, recipients: Vec<Recipient>) -> Envelope {
        Envelope {
            version: ENVELOPE_VERSION,
            id,
            parent: Some(self.id.clone()),
            stage,
            recipients,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_roundtrips_and_names_its_version() {
        let env = Envelope {
            version: ENVELOPE_VERSION,
            id: "X1".into(),
            parent: None,
            stage: Stage::Process,
            arrived: 1,
            client: ClientInfo {
                ip: Some("192.0.2.1".parse().unwrap()),
                port: 1234,
                helo: "h".into(),
                listener: Listener::Mx,
                tls: Some(TlsInfo {
                    protocol: "TLSv1.3".into(),
                    cipher: "TLS13_AES_256_GCM_SHA384".into(),
                }),
                auth_user: None,
                auth_addresses: vec![],
                trusted_network: false,
            },
            mail_from: "a@b.c".into(),
            body: Some(Body::EightBitMime),
            smtputf8: false,
            ret: Some(Ret::Hdrs),
            envid: Some("E".into()),
            size: 10,
            recipients: vec![Recipient::new(
                "u@example.org".into(),
                Some("rfc822;u@example.org".into()),
                Some(Notify {
                    failure: true,
                    ..Default::default()
                }),
            )],
            paused: None,
            checksum: None,
        };
        let json = serde_json::to_string(&env).unwrap();
        assert!(json.contains("\"version\":1"));
        assert!(json.contains("\"body\":\"8BITMIME\""));
        let back: Envelope = serde_json::from_str(&json).unwrap();
        assert_eq!(back, env);
    }
}
