//! Delivery status notifications (RFC 3464, multipart/report RFC 6522) for recipients we gave up on.
//! Sent from the null sender, so a DSN that cannot be delivered is never bounced again.

use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::MimePart;
use mail_builder::MessageBuilder;

use crate::clock::rfc2822;
use crate::config::Config;
use crate::spool::{
    ClientInfo, Envelope, Listener, Notify, RcptState, Recipient, Ret, Stage, ENVELOPE_VERSION,
};

/// Return the whole message only up to this size; beyond it, the headers.
const MAX_RETURNED: usize = 1024 * 1024;

/// Whether a failure of this recipient gets a DSN: never for the null sender (no bounce of a
/// bounce), and only when NOTIFY allows it.
pub fn wants_dsn(env: &Envelope, r: &Recipient) -> bool {
    !env.mail_from.is_empty() && Notify::wants_failure(r.notify)
}

/// The header block of a message (up to and including the empty line).
pub fn header_block(message: &[u8]) -> &[u8] {
    let end = find(message, b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| find(message, b"\n\n").map(|i| i + 2))
        .unwrap_or(message.len());
    &message[..end]
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// Build the DSN message and its envelope for `failed` recipients of `env`.
pub fn failure_dsn(
    cfg: &Config,
    env: &Envelope,
    failed: &[Recipient],
    original: &[u8],
    now: i64,
    id: String,
) -> (Envelope, Vec<u8>) {
    let host = &cfg.smtp.hostname;
    let mut human = format!(
        "This is the mail system at host {host}.\r\n\r\n\
         I'm sorry to have to inform you that your message could not\r\n\
         be delivered to one or more recipients. It's attached below.\r\n\r\n\
         For further assistance, please contact your postmaster.\r\n\r\n"
    );
    for r in failed {
        if let RcptState::Failed { reply, .. } = &r.state {
            human.push_str(&format!("<{}>: {}\r\n", r.address, reply));
        }
    }

    let mut status = format!("Reporting-MTA: dns; {host}\r\n");
    if let Some(e) = &env.envid {
        status.push_str(&format!("Original-Envelope-Id: {e}\r\n"));
    }
    if let Some(ip) = env.client.ip {
        status.push_str(&format!(
            "Received-From-MTA: dns; {} ({ip})\r\n",
            env.client.helo
        ));
    }
    status.push_str(&format!("Arrival-Date: {}\r\n", rfc2822(env.arrived)));
    for r in failed {
        let (code, reply) = match &r.state {
            RcptState::Failed { status, reply, .. } => (*status, reply.as_str()),
            _ => (crate::spool::EnhancedStatus::PERMANENT, ""),
        };
        status.push_str("\r\n");
        if let Some(o) = &r.orcpt {
            status.push_str(&format!("Original-Recipient: {o}\r\n"));
        }
        status.push_str(&format!(
            "Final-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: {code}\r\n",
            r.address
        ));
        if let Some(remote) = &r.remote {
            status.push_str(&format!("Remote-MTA: dns; {remote}\r\n"));
        }
        // A reply from a remote server is an smtp diagnostic; our own reasons are X-Segl.
        let diag_type = if r.remote.is_some() { "smtp" } else { "X-Segl" };
        let diag: String = reply.chars().filter(|c| !c.is_control()).collect();
        status.push_str(&format!("Diagnostic-Code: {diag_type}; {diag}\r\n"));
        status.push_str(&format!("Last-Attempt-Date: {}\r\n", rfc2822(now)));
    }

    let returned = if env.ret == Some(Ret::Hdrs) || original.len() > MAX_RETURNED {
        MimePart::new("text/rfc822-headers", header_block(original).to_vec()).transfer_encoding(
            if header_block(original).is_ascii() {
                "7bit"
            } else {
                "8bit"
            },
        )
    } else {
        MimePart::new("message/rfc822", original.to_vec())
            .transfer_encoding(if original.is_ascii() { "7bit" } else { "8bit" })
    };

    let report = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
        vec![
            MimePart::new("text/plain", human).inline(),
            MimePart::new("message/delivery-status", status.into_bytes()).transfer_encoding("7bit"),
            returned,
        ],
    );
    let postmaster = format!("MAILER-DAEMON@{host}");
    let bytes = MessageBuilder::new()
        .from(("Mail Delivery System", postmaster.as_str()))
        .to(env.mail_from.as_str())
        .subject("Undelivered Mail Returned to Sender")
        .date(now)
        .message_id(format!("{id}@{host}"))
        .header(
            "Auto-Submitted",
            mail_builder::headers::raw::Raw::new("auto-replied"),
        )
        .body(report)
        .write_to_vec()
        .unwrap_or_default();

    let dsn_env = Envelope {
        version: ENVELOPE_VERSION,
        id,
        parent: Some(env.id.clone()),
        stage: Stage::Deliver,
        arrived: now,
        client: ClientInfo {
            ip: None,
            port: 0,
            helo: host.clone(),
            listener: Listener::Local,
            tls: None,
            auth_user: None,
            auth_addresses: vec![],
            trusted_network: true,
        },
        mail_from: String::new(),
        body: None,
        smtputf8: env.smtputf8,
        ret: None,
        envid: None,
        size: bytes.len() as u64,
        recipients: vec![Recipient::new(env.mail_from.clone(), None, None)],
        hold: None,
    };
    (dsn_env, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_is_a_delivery_status_report() {
        let cfg = Config::default_config();
        let mut r = Recipient::new(
            "x@partner.test".into(),
            Some("rfc822;x@partner.test".into()),
            None,
        );
        r.state = RcptState::Failed {
            at: 0,
            status: crate::spool::EnhancedStatus::BAD_MAILBOX,
            reply: "550 5.1.1 no such user".into(),
        };
        r.remote = Some("mx.partner.test".into());
        let env = Envelope {
            version: 1,
            id: "ID1".into(),
            parent: None,
            stage: Stage::Deliver,
            arrived: 1_700_000_000,
            client: ClientInfo {
                ip: Some("127.0.0.1".parse().unwrap()),
                port: 1,
                helo: "client".into(),
                listener: Listener::Mx,
                tls: None,
                auth_user: None,
                auth_addresses: vec![],
                trusted_network: true,
            },
            mail_from: "sender@example.org".into(),
            body: None,
            smtputf8: false,
            ret: None,
            envid: Some("ENV1".into()),
            size: 10,
            recipients: vec![r.clone()],
            hold: None,
        };
        let orig = b"Subject: hi\r\nFrom: sender@example.org\r\n\r\nbody\r\n";
        let (denv, bytes) = failure_dsn(&cfg, &env, &[r], orig, 1_700_000_100, "D1".into());
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("multipart/report"), "{text}");
        assert!(
            text.contains("report-type=delivery-status")
                || text.contains("report-type=\"delivery-status\"")
        );
        assert!(text.contains("Final-Recipient: rfc822; x@partner.test"));
        assert!(text.contains("Status: 5.1.1"));
        assert!(text.contains("Action: failed"));
        assert!(text.contains("Original-Envelope-Id: ENV1"));
        assert!(text.contains("Diagnostic-Code: smtp; 550 5.1.1 no such user"));
        assert!(text.contains("message/rfc822"));
        assert!(text.contains("Subject: hi"));
        assert_eq!(denv.mail_from, "");
        assert_eq!(denv.recipients[0].address, "sender@example.org");
        assert!(!wants_dsn(&denv, &denv.recipients[0]));
    }
}
