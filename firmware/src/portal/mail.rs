//! Mail the portal puts into the queue itself: a portal user's reply to the original sender,
//! and the notice to the sender when a message expired unread.

use crate::config::Config;
use crate::message::fields::Message;
use crate::spool::{ClientInfo, Envelope, Listener, Recipient, Stage};

/// An envelope for mail made on the box (it passes the policy unchanged).
pub fn local_envelope(cfg: &Config, mail_from: &str, to: &str, size: usize) -> Envelope {
    Envelope {
        version: crate::spool::ENVELOPE_VERSION,
        id: crate::spool::new_queue_id(),
        parent: None,
        stage: Stage::Process,
        arrived: crate::clock::unix_now(),
        client: ClientInfo {
            ip: None,
            port: 0,
            helo: cfg.smtp.hostname.clone(),
            listener: Listener::Generated,
            tls: None,
            auth_user: None,
            auth_addresses: vec![],
            trusted_network: false,
        },
        mail_from: mail_from.to_string(),
        body: None,
        smtputf8: false,
        ret: None,
        envid: None,
        size: size as u64,
        recipients: vec![Recipient::new(to.to_string(), None, None)],
        paused: None,
        checksum: None,
    }
}

fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// A plain-text message; header values RFC 2047-encoded where needed by [`Message`].
fn text_message(cfg: &Config, headers: &[(&str, String)], body: &str) -> Vec<u8> {
    let mut msg = Message::parse(b"");
    for (k, v) in headers {
        msg.append(k, &clean(v));
    }
    let now = crate::clock::unix_now();
    msg.append("Date", &crate::appliance::zone::date_header(cfg, now));
    let rnd: String = rand::random::<[u8; 12]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    msg.append(
        "Message-ID",
        &format!("<{rnd}.portal@{}>", clean(&cfg.smtp.hostname)),
    );
    msg.set_text_body(body);
    msg.to_bytes()
}

/// The portal user's reply to `to` (the original sender), marked as coming from the portal.
pub fn reply(
    cfg: &Config,
    user: &str,
    to: &str,
    subject: &str,
    in_reply_to: Option<&str>,
    text: &str,
) -> (Envelope, Vec<u8>) {
    let mt = super::texts::mail(cfg.mark.language);
    let subject = if subject.to_ascii_lowercase().starts_with("re:") {
        subject.to_string()
    } else {
        format!("Re: {subject}")
    };
    let mut headers = vec![
        ("From", format!("<{user}>")),
        ("To", format!("<{to}>")),
        ("Subject", subject),
        ("X-Segl-Portal", format!("{}: {user}", mt.reply_marker)),
    ];
    if let Some(id) = in_reply_to.filter(|i| !i.is_empty()) {
        headers.push(("In-Reply-To", format!("<{id}>")));
        headers.push(("References", format!("<{id}>")));
    }
    let body = format!("{text}\n\n-- \n{}: {user}\n", mt.reply_marker);
    let bytes = text_message(cfg, &headers, &body);
    (local_envelope(cfg, user, to, bytes.len()), bytes)
}

/// The notice to `sender` that the message to `recipient` expired unread.
pub fn expired(cfg: &Config, sender: &str, recipient: &str, queue_id: &str) -> (Envelope, Vec<u8>) {
    let mt = super::texts::mail(cfg.mark.language);
    let t = crate::message::texts::texts(cfg.mark.language);
    let host = clean(&cfg.smtp.hostname);
    let headers = [
        ("From", format!("{} <postmaster@{host}>", t.system_name)),
        ("To", format!("<{sender}>")),
        ("Subject", mt.expired_subject.to_string()),
        ("Auto-Submitted", "auto-generated".to_string()),
    ];
    let body = format!(
        "{}\n\n{}: {queue_id}\n",
        crate::message::texts::fill(
            mt.expired_intro,
            &[
                ("recipient", recipient),
                ("days", &cfg.portal.retention_days.to_string())
            ]
        ),
        t.queue_id
    );
    let bytes = text_message(cfg, &headers, &body);
    (local_envelope(cfg, "", sender, bytes.len()), bytes)
}
