//! The weekly licence notice: while the licence state has warnings (expiry within 30 days,
//! grace period, expired, unlicensed keys), a plain-text mail to `notify.admin_address` once a
//! week. The time of the last notice is kept in `<data_dir>/license/notice-sent`.

use std::path::{Path, PathBuf};

use super::Status;
use crate::message::fields::Message;
use crate::spool::{new_queue_id, ClientInfo, Envelope, Listener, Recipient, Stage};

/// A week, in seconds.
pub const EVERY: i64 = 7 * 86_400;

fn stamp_path(data_dir: &Path) -> PathBuf {
    data_dir.join("license").join("notice-sent")
}

/// Whether a notice is due now.
pub fn due(data_dir: &Path, status: &Status, now: i64) -> bool {
    if status.warnings.is_empty() {
        return false;
    }
    let last = std::fs::read_to_string(stamp_path(data_dir))
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok());
    last.is_none_or(|t| now - t >= EVERY)
}

/// Notes that a notice went out at `now`.
pub fn sent(data_dir: &Path, now: i64) -> std::io::Result<()> {
    let p = stamp_path(data_dir);
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Durable, so that a crash right after a notice does not send it again at the next start.
    crate::durable::write_private(&p, format!("{now}\n").as_bytes())
}

/// The notice to `to` (null sender, from `postmaster@<hostname>`), ready for the queue; the
/// process stage passes mail made by Segl itself on unchanged.
pub fn message(hostname: &str, to: &str, status: &Status, now: i64) -> (Envelope, Vec<u8>) {
    let id = new_queue_id();
    let clean = |s: &str| -> String { s.chars().filter(|c| !c.is_control()).collect() };
    let mut body = format!(
        "The licence of the Segl gateway {hostname} (box id {}) needs attention:\n\n",
        status.box_id
    );
    for w in &status.warnings {
        body.push_str(&format!("  - {w}\n"));
    }
    body.push_str(&format!(
        "\nState: {}\n\nMail keeps flowing: keys that are not licensed do not sign, and mail \
         encrypted to them is delivered encrypted and kept until a licence covers them.\n\
         Install a new licence on System > Licences or with `segl ctl license install FILE`.\n\
         This notice repeats once a week while the licence needs attention.\n",
        status.summary
    ));
    let mut msg = Message::parse(b"");
    msg.append("From", &format!("Segl <postmaster@{}>", clean(hostname)));
    msg.append("To", &format!("<{}>", clean(to)));
    msg.append("Subject", "Segl licence needs attention");
    msg.append("Date", &crate::clock::rfc2822(now));
    msg.append("Message-ID", &format!("<{id}.license@{}>", clean(hostname)));
    msg.append("Auto-Submitted", "auto-generated");
    msg.append("MIME-Version", "1.0");
    msg.append("Content-Type", "text/plain; charset=utf-8");
    msg.append("Content-Transfer-Encoding", "8bit");
    msg.set_body(body.replace('\n', "\r\n").into_bytes());
    let bytes = msg.to_bytes();
    let env = Envelope {
        version: crate::spool::ENVELOPE_VERSION,
        id,
        parent: None,
        stage: Stage::Process,
        arrived: now,
        client: ClientInfo {
            ip: None,
            port: 0,
            helo: hostname.to_string(),
            listener: Listener::Generated,
            tls: None,
            auth_user: None,
            auth_addresses: vec![],
            trusted_network: false,
        },
        mail_from: String::new(),
        body: None,
        smtputf8: false,
        ret: None,
        envid: None,
        size: bytes.len() as u64,
        recipients: vec![Recipient::new(to.to_string(), None, None)],
        paused: None,
        checksum: None,
    };
    (env, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(warnings: &[&str]) -> Status {
        let (mut s, _) = crate::license::state::evaluate(None, &[], 20_000, "box", true, "k");
        s.warnings = warnings.iter().map(|w| w.to_string()).collect();
        s
    }

    /// A notice goes out when the licence needs attention, then again only after a week, and
    /// not at all while there is nothing to say.
    #[test]
    fn repeats_weekly_while_warnings_last() {
        let dir = tempfile::tempdir().unwrap();
        let warn = status(&["the licence expires in 12 days"]);
        let t0 = 1_800_000_000;
        assert!(due(dir.path(), &warn, t0), "first notice");
        sent(dir.path(), t0).unwrap();
        assert!(!due(dir.path(), &warn, t0), "not twice at once");
        assert!(
            !due(dir.path(), &warn, t0 + EVERY - 1),
            "not within the week"
        );
        assert!(due(dir.path(), &warn, t0 + EVERY), "again after a week");
        sent(dir.path(), t0 + EVERY).unwrap();
        assert!(!due(dir.path(), &warn, t0 + EVERY + 86_400));
        assert!(due(dir.path(), &warn, t0 + 2 * EVERY));
        assert!(
            !due(dir.path(), &status(&[]), t0 + 3 * EVERY),
            "quiet without warnings"
        );
        // A damaged stamp file counts as "never sent": one notice too many, never none.
        std::fs::write(stamp_path(dir.path()), "garbage").unwrap();
        assert!(due(dir.path(), &warn, t0 + 2 * EVERY + 1));
    }

    #[test]
    fn message_names_warnings_and_repeats() {
        let (env, bytes) = message("gw.example", "admin@example.org", &status(&["w1"]), 0);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("  - w1"));
        assert!(text.contains("once a week"));
        assert_eq!(env.mail_from, "");
        assert_eq!(env.recipients[0].address, "admin@example.org");
    }
}
