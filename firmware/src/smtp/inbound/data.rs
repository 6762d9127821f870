//! DATA: stream the message into the spool, and answer `250` only once it is durable.
//!
//! Only `<CRLF>.<CRLF>` ends the data. A bare LF (or CR) can never end it, so SMTP smuggling
//! (`<LF>.<LF>`, `<LF>.<CR><LF>`, `<CR>.<CR>`) cannot split one message into two: with
//! `smtp.bare_lf = "normalize"` such line ends become CRLF inside the message, with `"reject"`
//! the message is refused.

use crate::spool::EnhancedStatus as Es;
use tokio::io::AsyncBufReadExt;

use super::session::{Next, Session};
use crate::clock::{rfc2822, unix_now};
use crate::config::{BareLf, Config};
use crate::smtp::reply::{self, Reply};
use crate::spool::{ClientInfo, Envelope, IncomingFile, Recipient, Stage, ENVELOPE_VERSION};

/// Longest piece of a line handled at once; longer lines are streamed in pieces.
const PIECE: usize = 64 * 1024;

enum Piece {
    /// A piece ending in LF.
    Line,
    /// Part of a long line.
    Partial,
}

#[derive(Default)]
struct Scan {
    size: u64,
    too_big: bool,
    bare: bool,
    received: usize,
    in_headers: bool,
    at_line_start: bool,
    /// Whether the previous line ended with a proper CRLF (needed for the terminator).
    prev_crlf: bool,
}

/// How reading the data ended.
enum Received {
    /// The final dot arrived.
    Complete(Scan),
    /// The connection closed first.
    Closed,
    /// `smtp.data_timeout_secs` ran out.
    Timeout,
}

/// Why a completely received message is refused, if it is: too big, a bare line end with
/// `smtp.bare_lf = "reject"`, or more Received headers than `smtp.hop_limit` (a loop).
fn refusal(scan: &Scan, cfg: &Config) -> Option<Reply> {
    if scan.too_big {
        Some(reply::MESSAGE_TOO_BIG)
    } else if scan.bare && cfg.smtp.bare_lf == BareLf::Reject {
        Some(reply::BARE_LF)
    } else if scan.received > cfg.smtp.hop_limit {
        Some(reply::LOOP_DETECTED)
    } else {
        None
    }
}

impl Session {
    pub(super) async fn data(&mut self) -> Next {
        let Some(tx) = self.tx.clone() else {
            let r = if self.helo.is_none() {
                reply::HELO_FIRST
            } else {
                reply::NEED_MAIL
            };
            self.reply(&r);
            return Next::Continue;
        };
        if tx.rcpts.is_empty() {
            self.reply(&reply::NEED_RCPT);
            return Next::Continue;
        }
        self.reply(&reply::START_DATA);
        if self.flush().await.is_err() {
            return Next::Close;
        }
        let cfg = self.cfg.clone();
        let mut file = self.server.spool.create_incoming().await;
        let id = file.id().to_string();
        let received = self.received_header(&id, &tx.rcpts);
        file.write(received.as_bytes()).await;
        let deadline = std::time::Duration::from_secs(cfg.smtp.data_timeout_secs);
        let scan = match self
            .receive(&mut file, cfg.smtp.max_message_size, deadline)
            .await
        {
            Received::Complete(scan) => scan,
            Received::Timeout => {
                file.discard().await;
                tracing::info!(peer = %self.peer, "DATA timeout");
                self.reply(&reply::TIMEOUT);
                return Next::Close;
            }
            Received::Closed => {
                file.discard().await;
                tracing::info!(peer = %self.peer, "connection lost during DATA; nothing accepted");
                return Next::Close;
            }
        };
        self.tx = None;
        if let Some(r) = refusal(&scan, &cfg) {
            file.discard().await;
            tracing::info!(peer = %self.peer, from = %tx.mail.address, reply = %r.text, "message refused");
            self.reply(&r);
            return Next::Continue;
        }
        // Durable: written and fsynced under its final name (a pool file), or fsynced, renamed
        // into the queue and the directory fsynced — then 250.
        let checksum = file.checksum();
        let mut env = self.envelope(id, &tx, scan.size + received.len() as u64);
        env.checksum = Some(checksum);
        self.commit(file, env).await;
        Next::Continue
    }

    /// Reads the data up to the final dot into `file` (only while within `max` bytes), within
    /// `deadline`.
    async fn receive(
        &mut self,
        file: &mut IncomingFile,
        max: u64,
        deadline: std::time::Duration,
    ) -> Received {
        let mut scan = Scan {
            in_headers: true,
            at_line_start: true,
            prev_crlf: true,
            ..Default::default()
        };
        let mut piece = Vec::with_capacity(4096);
        let mut line_out = Vec::with_capacity(4096);
        let read_all = async {
            loop {
                let kind = match self.next_piece(&mut piece).await {
                    Ok(Some(k)) => k,
                    Ok(None) | Err(_) => return false,
                };
                let ended = scan_piece(&mut scan, &piece, &kind, &mut line_out);
                if ended {
                    return true;
                }
                scan.size += line_out.len() as u64;
                if scan.size > max {
                    scan.too_big = true;
                }
                if !scan.too_big {
                    file.write(&line_out).await;
                }
            }
        };
        match tokio::time::timeout(deadline, read_all).await {
            Ok(true) => Received::Complete(scan),
            Ok(false) => Received::Closed,
            Err(_) => Received::Timeout,
        }
    }

    /// Commits the received message to the spool and answers: `250 … queued as <id>` once it
    /// is durable, 452 when the disk is full, 451 otherwise.
    async fn commit(&mut self, file: IncomingFile, env: Envelope) {
        let id = env.id.clone();
        let committed = file
            .finish_and_commit(self.server.spool.clone(), env.clone())
            .await;
        match committed {
            Ok(message) => {
                let rcpts: Vec<&str> = env.recipients.iter().map(|r| r.address.as_str()).collect();
                tracing::info!(
                    id = %id, from = %env.mail_from, to = ?rcpts, size = env.size,
                    client = %self.peer.ip(), helo = %env.client.helo,
                    tls = env.client.tls.is_some(), auth = ?env.client.auth_user,
                    "accepted"
                );
                self.server.queue.accepted_with(env, message);
                self.reply(&Reply::with_text(
                    250,
                    Es::new(2, 0, 0),
                    format!("Ok: queued as {id}"),
                ));
            }
            Err(e) => {
                tracing::error!(id = %id, error = %e, "cannot write message to spool");
                let r = if e.is_disk_full() {
                    reply::DISK_FULL
                } else {
                    reply::LOCAL_ERROR
                };
                self.reply(&r);
            }
        }
    }

    /// Read the next piece of DATA: a line up to LF, or a part of a very long line.
    /// `Ok(None)` when the connection closed.
    async fn next_piece(&mut self, out: &mut Vec<u8>) -> std::io::Result<Option<Piece>> {
        out.clear();
        loop {
            let buf = self.io.fill_buf().await?;
            if buf.is_empty() {
                return Ok(None);
            }
            if let Some(i) = buf.iter().position(|b| *b == b'\n') {
                out.extend_from_slice(&buf[..=i]);
                self.io.consume(i + 1);
                return Ok(Some(Piece::Line));
            }
            let room = PIECE - out.len();
            if buf.len() >= room {
                let mut take = room;
                // Never split a CR from the LF that may follow it.
                if take > 1 && buf[take - 1] == b'\r' {
                    take -= 1;
                }
                out.extend_from_slice(&buf[..take]);
                self.io.consume(take);
                return Ok(Some(Piece::Partial));
            }
            let n = buf.len();
            out.extend_from_slice(buf);
            self.io.consume(n);
        }
    }

    fn received_header(&self, id: &str, rcpts: &[crate::smtp::wire::RcptTo]) -> String {
        let cfg = &self.cfg;
        let with = match (self.tls.is_some(), self.auth.is_some()) {
            (false, false) => "ESMTP",
            (true, false) => "ESMTPS",
            (false, true) => "ESMTPA",
            (true, true) => "ESMTPSA",
        };
        let tls = self
            .tls
            .as_ref()
            .map(|t| format!("\r\n\t(using {} with cipher {})", t.protocol, t.cipher))
            .unwrap_or_default();
        let for_clause = match rcpts {
            [one] => format!("\r\n\tfor <{}>", one.address),
            _ => String::new(),
        };
        let date = rfc2822(unix_now());
        let helo: String = self
            .helo
            .as_deref()
            .unwrap_or("unknown")
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        format!(
            "Received: from {helo} ([{}]){tls}\r\n\tby {} (Segl) with {with} id {id}{for_clause};\r\n\t{date}\r\n",
            self.peer.ip(),
            cfg.smtp.hostname
        )
    }

    fn envelope(&self, id: String, tx: &super::transaction::Transaction, size: u64) -> Envelope {
        Envelope {
            version: ENVELOPE_VERSION,
            id,
            parent: None,
            stage: Stage::Process,
            arrived: unix_now(),
            client: ClientInfo {
                ip: Some(self.peer.ip()),
                port: self.peer.port(),
                helo: self.helo.clone().unwrap_or_default(),
                listener: self.listener,
                tls: self.tls.clone(),
                auth_user: self.auth.as_ref().map(|a| a.name.clone()),
                auth_addresses: self
                    .auth
                    .as_ref()
                    .map(|a| a.addresses.clone())
                    .unwrap_or_default(),
                trusted_network: self.trusted,
            },
            mail_from: tx.mail.address.clone(),
            body: tx.mail.body,
            smtputf8: tx.mail.smtputf8,
            ret: tx.mail.ret,
            envid: tx.mail.envid.clone(),
            size,
            recipients: tx
                .rcpts
                .iter()
                .map(|r| Recipient::new(r.address.clone(), r.orcpt.clone(), r.notify))
                .collect(),
            paused: None,
            checksum: None,
        }
    }
}

/// Scan one piece: detect the terminator, un-stuff dots, normalise line ends into `out`, count
/// Received headers. Returns true at the end of data.
fn scan_piece(scan: &mut Scan, piece: &[u8], kind: &Piece, out: &mut Vec<u8>) -> bool {
    out.clear();
    let (content, ending_crlf, complete) = match kind {
        Piece::Line => match piece {
            [c @ .., b'\r', b'\n'] => (c, true, true),
            [c @ .., b'\n'] => (c, false, true),
            c => (c, false, true),
        },
        Piece::Partial => (piece, false, false),
    };
    if complete && scan.at_line_start && scan.prev_crlf && ending_crlf && content == b"." {
        return true;
    }
    let mut content = content;
    if scan.at_line_start {
        if let [b'.', rest @ ..] = content {
            content = rest;
        }
        if scan.in_headers {
            if content.is_empty() && complete {
                scan.in_headers = false;
            } else if content.len() >= 9 && content[..9].eq_ignore_ascii_case(b"received:") {
                scan.received += 1;
            }
        }
    }
    // Lone CRs become line breaks too (normalised), and count as bare line ends. Most lines
    // have none: they are copied whole.
    let mut rest = content;
    while let Some(i) = memchr::memchr(b'\r', rest) {
        scan.bare = true;
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    if complete {
        if !ending_crlf {
            scan.bare = true;
        }
        out.extend_from_slice(b"\r\n");
        scan.prev_crlf = ending_crlf;
        scan.at_line_start = true;
    } else {
        scan.at_line_start = false;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8]) -> (Vec<u8>, bool, Scan) {
        let mut scan = Scan {
            in_headers: true,
            at_line_start: true,
            prev_crlf: true,
            ..Default::default()
        };
        let mut stored = vec![];
        let mut out = vec![];
        for line in input.split_inclusive(|b| *b == b'\n') {
            if scan_piece(&mut scan, line, &Piece::Line, &mut out) {
                return (stored, true, scan);
            }
            stored.extend_from_slice(&out);
        }
        (stored, false, scan)
    }

    #[test]
    fn terminator_and_unstuffing() {
        let (m, end, s) = run(b"Subject: a\r\n\r\n..dot\r\nx\r\n.\r\nMAIL FROM:<evil>\r\n");
        assert!(end);
        assert_eq!(m, b"Subject: a\r\n\r\n.dot\r\nx\r\n");
        assert!(!s.bare);
    }

    #[test]
    fn smuggling_sequences_never_end_data() {
        for evil in [
            &b"a\r\n\n.\n\r\nMAIL FROM:<x@y.z>\r\n"[..],
            b"a\n.\r\nMAIL FROM:<x@y.z>\r\n",
            b"a\r\n.\nMAIL FROM:<x@y.z>\r\n",
            b"a\r.\r\nMAIL FROM:<x@y.z>\r\n",
        ] {
            let (m, end, s) = run(evil);
            assert!(!end, "{:?}", String::from_utf8_lossy(evil));
            assert!(s.bare);
            // Normalised content keeps everything the client sent as part of one message.
            assert!(m.windows(4).any(|w| w == b"MAIL"));
            assert!(!m.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
        }
    }

    #[test]
    fn received_headers_counted_only_in_header() {
        let (_, end, s) =
            run(b"Received: a\r\nreceived: b\r\nSubject: x\r\n\r\nReceived: body\r\n.\r\n");
        assert!(end);
        assert_eq!(s.received, 2);
    }
}
