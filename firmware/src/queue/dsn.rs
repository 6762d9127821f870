//! Delivery status notifications (RFC 3464, multipart/report RFC 6522) for recipients we gave up on.
//! Sent from the null sender, so a DSN that cannot be delivered is never bounced again.

use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::MimePart;
use mail_builder::MessageBuilder;

use crate::clock::rfc2822;
use crate::config::{Config, Language};
use crate::message::texts::{fill, texts};
use crate::spool::{
    ClientInfo, EnhancedStatus, Envelope, Listener, Notify, RcptState, Recipient, Ret, Stage,
    ENVELOPE_VERSION,
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
    match crate::smime::mime::split_fields(message) {
        (_, Some(body)) => &message[..body],
        (_, None) => message,
    }
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
    let t = texts(cfg.mark.language);
    let report = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
        vec![
            MimePart::new("text/plain", human_part(cfg, failed)).inline(),
            MimePart::new(
                "message/delivery-status",
                status_part(host, env, failed, now).into_bytes(),
            )
            .transfer_encoding("7bit"),
            returned_part(env, original),
        ],
    );
    let postmaster = format!("MAILER-DAEMON@{host}");
    let bytes = MessageBuilder::new()
        .from((t.dsn_from_name, postmaster.as_str()))
        .to(env.mail_from.as_str())
        .subject(t.dsn_subject)
        // Local time of the box's zone (System › Time), read now, so a change applies at once.
        .header(
            "Date",
            mail_builder::headers::raw::Raw::new(crate::appliance::zone::date_header(cfg, now)),
        )
        .message_id(format!("{id}@{host}"))
        .header(
            "Auto-Submitted",
            mail_builder::headers::raw::Raw::new("auto-replied"),
        )
        .body(report)
        .write_to_vec()
        .unwrap_or_default();
    let mut dsn_env = dsn_envelope(host, env, id, now, bytes.len());
    dsn_env.set_content(&bytes);
    (dsn_env, bytes)
}

/// The text for people, in the language of the gateway's system mail (`mark.language`) and,
/// when that is not English, in English after it: a DSN often goes to a sender outside the
/// organisation. One line per failed recipient with the reason.
fn human_part(cfg: &Config, failed: &[Recipient]) -> String {
    let host = cfg.smtp.hostname.as_str();
    let crlf = |t: &str| t.replace('\n', "\r\n");
    let mut human = crlf(&fill(texts(cfg.mark.language).dsn_intro, &[("host", host)]));
    human.push_str("\r\n\r\n");
    if cfg.mark.language != Language::En {
        human.push_str(&crlf(&fill(
            texts(Language::En).dsn_intro,
            &[("host", host)],
        )));
        human.push_str("\r\n\r\n");
    }
    for r in failed {
        if let RcptState::Failed { reply, .. } = &r.state {
            human.push_str(&format!("<{}>: {}\r\n", r.address, reply));
        }
    }
    human
}

/// The machine-readable part (RFC 3464 §2): per-message fields, then one block per recipient.
fn status_part(host: &str, env: &Envelope, failed: &[Recipient], now: i64) -> String {
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
            _ => (EnhancedStatus::PERMANENT, ""),
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
    status
}

/// The returned message: whole up to [`MAX_RETURNED`] unless the sender asked for headers only.
fn returned_part(env: &Envelope, original: &[u8]) -> MimePart<'static> {
    let encoding = |b: &[u8]| if b.is_ascii() { "7bit" } else { "8bit" };
    if env.ret == Some(Ret::Hdrs) || original.len() > MAX_RETURNED {
        let h = header_block(original).to_vec();
        let enc = encoding(&h);
        MimePart::new("text/rfc822-headers", h).transfer_encoding(enc)
    } else {
        MimePart::new("message/rfc822", original.to_vec()).transfer_encoding(encoding(original))
    }
}

/// The DSN's envelope: from the null sender, so it is never bounced again.
fn dsn_envelope(host: &str, env: &Envelope, id: String, now: i64, size: usize) -> Envelope {
    Envelope {
        version: ENVELOPE_VERSION,
        id,
        parent: Some(env.id.clone()),
        stage: Stage::Deliver,
        arrived: now,
        client: ClientInfo {
            ip: None,
            port: 0,
            helo: host.to_string(),
            listener: Listener::Generated,
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
        size: size as u64,
        recipients: vec![Recipient::new(env.mail_from.clone(), None, None)],
        paused: None,
        checksum: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(recipients: Vec<Recipient>) -> Envelope {
        Envelope {
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
            recipients,
            paused: None,
            checksum: None,
        }
    }

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
        let env = envelope(vec![r.clone()]);
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
        assert!(
            text.contains("Subject: Undelivered Mail Returned to Sender"),
            "{text}"
        );
        assert!(text.contains("This is the mail system at host"), "{text}");

        // In German for the organisation's readers, with the English text after it.
        let mut de = Config::default_config();
        de.mark.language = crate::config::Language::De;
        let (_, bytes) = failure_dsn(&de, &env, &env.recipients, orig, 1_700_000_100, "D2".into());
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let (german, english) = (
            text.find("konnte leider").expect("German text"),
            text.find("could not").expect("English text"),
        );
        assert!(german < english, "{text}");
        assert!(text.contains("Mail-Zustellsystem"), "{text}");
        assert!(text.contains("Status: 5.1.1"));
    }

    #[test]
    fn dsn_date_is_local_time_of_the_box_zone() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::default_config();
        cfg.storage.data_dir = dir.path().to_path_buf();
        let env = envelope(vec![]);
        let dsn = |cfg: &Config| {
            let (_, bytes) = failure_dsn(cfg, &env, &[], b"\r\n", 1_700_000_100, "D3".into());
            String::from_utf8(bytes).unwrap()
        };
        // No time.conf: UTC.
        assert!(dsn(&cfg).contains("Date: Tue, 14 Nov 2023 22:15:00 +0000\r\n"));
        let store = crate::appliance::Store::for_config(&cfg);
        let t = crate::appliance::TimeSettings {
            ntp: vec![],
            timezone: "Europe/Copenhagen".into(),
        };
        store.save_time(t).unwrap();
        let text = dsn(&cfg);
        assert!(
            text.contains("Date: Tue, 14 Nov 2023 23:15:00 +0100\r\n"),
            "{text}"
        );
    }
}
