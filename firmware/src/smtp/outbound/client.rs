//! A small SMTP client: the delivery side and the recipient callout use it. Every wait has a
//! timeout; every failure says whether it is temporary or permanent.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::smtp::stream::BoxedStream;

/// One reply from the server (all lines joined with '\n').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerReply {
    pub code: u16,
    pub text: String,
}

impl ServerReply {
    pub fn is_ok(&self) -> bool {
        (200..400).contains(&self.code)
    }
    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }
    /// The enhanced status code (RFC 3463) the server gave, if any.
    pub fn enhanced(&self) -> Option<crate::spool::EnhancedStatus> {
        crate::spool::EnhancedStatus::parse(self.text.split_whitespace().next()?)
    }
    /// The status for a DSN about this permanent failure: the server's enhanced code in class
    /// 5 (a server that pairs 550 with 4.x.x still failed the mail), else `default`.
    pub fn permanent_status(
        &self,
        default: crate::spool::EnhancedStatus,
    ) -> crate::spool::EnhancedStatus {
        self.enhanced().map_or(default, |e| e.with_class(5))
    }
    /// One-line form for logs and DSNs.
    pub fn one_line(&self) -> String {
        format!("{} {}", self.code, self.text.replace('\n', " / "))
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    #[error("connect to {0} failed: {1}")]
    Connect(SocketAddr, std::io::Error),
    #[error("timeout talking to {0}")]
    Timeout(String),
    #[error("connection to {0} lost: {1}")]
    Io(String, std::io::Error),
    #[error("protocol error from {0}: {1}")]
    Protocol(String, String),
    #[error("TLS with {0} failed: {1}")]
    Tls(String, String),
}

/// The extensions a server announced in its EHLO reply.
#[derive(Debug, Clone, Default)]
pub struct Extensions {
    pub names: HashSet<String>,
    pub size: Option<u64>,
}

impl Extensions {
    fn from_reply(r: &ServerReply) -> Extensions {
        let mut e = Extensions::default();
        for line in r.text.lines().skip(1) {
            let mut words = line.split_whitespace();
            if let Some(name) = words.next() {
                let name = name.to_ascii_uppercase();
                if name == "SIZE" {
                    e.size = words.next().and_then(|s| s.parse().ok()).filter(|s| *s > 0);
                }
                e.names.insert(name);
            }
        }
        e
    }
    pub fn has(&self, name: &str) -> bool {
        self.names.contains(name)
    }
}

/// The replies to one transaction's envelope ([`SmtpClient::envelope`]).
#[derive(Debug, Clone)]
pub struct EnvelopeReplies {
    /// To `RSET`, when it was sent.
    pub rset: Option<ServerReply>,
    pub mail: ServerReply,
    /// One per `RCPT`, in order (fewer without PIPELINING when `MAIL` or `RSET` was refused).
    pub rcpts: Vec<ServerReply>,
    /// To `DATA`, when it was sent.
    pub data: Option<ServerReply>,
}

pub struct SmtpClient {
    stream: BufReader<BoxedStream>,
    peer: String,
    timeout: Duration,
    pub extensions: Extensions,
    pub tls: Option<String>,
}

impl SmtpClient {
    /// Connect and read the greeting.
    pub async fn connect(
        addr: SocketAddr,
        peer_name: &str,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<(SmtpClient, ServerReply), ClientError> {
        let tcp = tokio::time::timeout(connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout(format!("{peer_name} [{addr}] (connect)")))?
            .map_err(|e| ClientError::Connect(addr, e))?;
        let _ = tcp.set_nodelay(true);
        let mut c = SmtpClient {
            stream: BufReader::new(Box::new(tcp)),
            peer: format!("{peer_name}[{addr}]"),
            timeout,
            extensions: Extensions::default(),
            tls: None,
        };
        let greeting = c.read_reply().await?;
        Ok((c, greeting))
    }

    pub fn peer(&self) -> &str {
        &self.peer
    }

    pub async fn read_reply(&mut self) -> Result<ServerReply, ClientError> {
        let mut text = String::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = tokio::time::timeout(self.timeout, read_limited(&mut self.stream, &mut line))
                .await
                .map_err(|_| ClientError::Timeout(self.peer.clone()))?
                .map_err(|e| ClientError::Io(self.peer.clone(), e))?;
            if n == 0 {
                return Err(ClientError::Io(
                    self.peer.clone(),
                    std::io::ErrorKind::UnexpectedEof.into(),
                ));
            }
            let l = String::from_utf8_lossy(&line);
            let l = l.trim_end_matches(['\r', '\n']);
            if l.len() < 3 || !l.as_bytes()[..3].iter().all(u8::is_ascii_digit) {
                return Err(ClientError::Protocol(
                    self.peer.clone(),
                    format!("bad reply line {l:?}"),
                ));
            }
            let code: u16 = l[..3].parse().unwrap_or(0);
            let cont = l.as_bytes().get(3) == Some(&b'-');
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(l.get(4..).unwrap_or(""));
            if !cont {
                if !(200..600).contains(&code) {
                    return Err(ClientError::Protocol(
                        self.peer.clone(),
                        format!("reply code {code} out of range"),
                    ));
                }
                return Ok(ServerReply { code, text });
            }
            if text.len() > 64 * 1024 {
                return Err(ClientError::Protocol(
                    self.peer.clone(),
                    "reply too long".into(),
                ));
            }
        }
    }

    /// One command and its reply: the line goes out in one write (one segment with
    /// `TCP_NODELAY`, not two).
    pub async fn command(&mut self, line: &str) -> Result<ServerReply, ClientError> {
        let mut out = Vec::with_capacity(line.len() + 2);
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
        self.send(&out).await?;
        self.flush().await?;
        self.read_reply().await
    }

    /// The envelope of one transaction — `RSET` first when `rset` (a reused session), `MAIL`,
    /// every `RCPT` and `DATA` — and the server's replies. With PIPELINING (RFC 2920) the
    /// commands go out in one write and the replies are read after it: one round trip instead
    /// of one per command. Without it, command by command, and a refused `RSET` or `MAIL` or
    /// no accepted recipient ends the exchange before `DATA` (its reply is then `None`).
    ///
    /// After a `354` the caller must send the content ([`SmtpClient::send_content`]), or end
    /// the empty data with [`SmtpClient::abort_data`] when no recipient was accepted.
    pub async fn envelope(
        &mut self,
        rset: bool,
        mail: &str,
        rcpts: &[String],
    ) -> Result<EnvelopeReplies, ClientError> {
        if !self.extensions.has("PIPELINING") {
            return self.envelope_one_by_one(rset, mail, rcpts).await;
        }
        let mut out =
            Vec::with_capacity(64 + mail.len() + rcpts.iter().map(|r| r.len() + 2).sum::<usize>());
        if rset {
            out.extend_from_slice(b"RSET\r\n");
        }
        for line in std::iter::once(mail).chain(rcpts.iter().map(String::as_str)) {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"DATA\r\n");
        self.send(&out).await?;
        self.flush().await?;
        let rset = match rset {
            true => Some(self.read_reply().await?),
            false => None,
        };
        let mail = self.read_reply().await?;
        let mut replies = Vec::with_capacity(rcpts.len());
        for _ in rcpts {
            replies.push(self.read_reply().await?);
        }
        let data = Some(self.read_reply().await?);
        Ok(EnvelopeReplies {
            rset,
            mail,
            rcpts: replies,
            data,
        })
    }

    /// [`SmtpClient::envelope`] for a server without PIPELINING.
    async fn envelope_one_by_one(
        &mut self,
        rset: bool,
        mail: &str,
        rcpts: &[String],
    ) -> Result<EnvelopeReplies, ClientError> {
        let mut replies = EnvelopeReplies {
            rset: None,
            mail: ServerReply {
                code: 503,
                text: "5.5.1 not sent".into(),
            },
            rcpts: vec![],
            data: None,
        };
        if rset {
            let r = self.command("RSET").await?;
            let ok = r.is_ok();
            replies.rset = Some(r);
            if !ok {
                return Ok(replies);
            }
        }
        replies.mail = self.command(mail).await?;
        if !replies.mail.is_ok() {
            return Ok(replies);
        }
        for rcpt in rcpts {
            replies.rcpts.push(self.command(rcpt).await?);
        }
        if replies.rcpts.iter().any(ServerReply::is_ok) {
            replies.data = Some(self.command("DATA").await?);
        }
        Ok(replies)
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        tokio::time::timeout(self.timeout, self.stream.get_mut().write_all(bytes))
            .await
            .map_err(|_| ClientError::Timeout(self.peer.clone()))?
            .map_err(|e| ClientError::Io(self.peer.clone(), e))
    }

    async fn flush(&mut self) -> Result<(), ClientError> {
        tokio::time::timeout(self.timeout, self.stream.get_mut().flush())
            .await
            .map_err(|_| ClientError::Timeout(self.peer.clone()))?
            .map_err(|e| ClientError::Io(self.peer.clone(), e))
    }

    /// EHLO, falling back to HELO for servers that do not speak ESMTP.
    pub async fn ehlo(&mut self, hostname: &str) -> Result<ServerReply, ClientError> {
        let r = self.command(&format!("EHLO {hostname}")).await?;
        if r.is_ok() {
            self.extensions = Extensions::from_reply(&r);
            return Ok(r);
        }
        let r = self.command(&format!("HELO {hostname}")).await?;
        self.extensions = Extensions::default();
        Ok(r)
    }

    /// STARTTLS and a new EHLO. On a handshake failure the connection is unusable.
    pub async fn starttls(
        mut self,
        config: Arc<rustls::ClientConfig>,
        server_name: &str,
        hostname: &str,
    ) -> Result<(SmtpClient, ServerReply), ClientError> {
        let r = self.command("STARTTLS").await?;
        if !r.is_ok() {
            return Ok((self, r));
        }
        let name = rustls::pki_types::ServerName::try_from(server_name.to_string())
            .or_else(|_| rustls::pki_types::ServerName::try_from("localhost".to_string()))
            .map_err(|e| ClientError::Tls(self.peer.clone(), e.to_string()))?;
        let peer = self.peer.clone();
        let inner = self.stream.into_inner();
        let tls = tokio::time::timeout(
            self.timeout,
            tokio_rustls::TlsConnector::from(config).connect(name, inner),
        )
        .await
        .map_err(|_| ClientError::Timeout(peer.clone()))?
        .map_err(|e| ClientError::Tls(peer.clone(), e.to_string()))?;
        let (_, conn) = tls.get_ref();
        let desc = format!(
            "{} {}",
            conn.protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default(),
            conn.negotiated_cipher_suite()
                .map(|c| format!("{:?}", c.suite()))
                .unwrap_or_default()
        );
        let mut c = SmtpClient {
            stream: BufReader::new(Box::new(tls)),
            peer,
            timeout: self.timeout,
            extensions: Extensions::default(),
            tls: Some(desc),
        };
        let r = c.ehlo(hostname).await?;
        Ok((c, r))
    }

    /// Send the message after a 354, dot-stuffed, and read the final reply.
    pub async fn data(&mut self, message: &[u8]) -> Result<ServerReply, ClientError> {
        let r = self.command("DATA").await?;
        if r.code != 354 {
            return Ok(r);
        }
        self.send_content(message).await
    }

    /// The content after a `354`, dot-stuffed, with the final dot; then the server's reply.
    /// Stuffed piece by piece through a bounded buffer (no second copy of a large message); the
    /// end of data goes out with the last piece, so a small message is one write.
    pub async fn send_content(&mut self, message: &[u8]) -> Result<ServerReply, ClientError> {
        let mut stuffer = DotStuffer::default();
        let mut pieces = message.chunks(STUFF_CHUNK).peekable();
        while let Some(piece) = pieces.next() {
            stuffer.stuff(piece);
            if pieces.peek().is_some() {
                self.send(&stuffer.out).await?;
            }
        }
        stuffer.finish();
        self.send(&stuffer.out).await?;
        self.flush().await?;
        self.read_reply().await
    }

    /// Ends a data phase the server opened (`354`) although no recipient was accepted (only a
    /// server that ignores RFC 2920 §3.1 does): an empty message to no one, whose reply is
    /// read and dropped, so the session is in step again.
    pub async fn abort_data(&mut self) -> Result<(), ClientError> {
        self.send(b".\r\n").await?;
        self.flush().await?;
        self.read_reply().await.map(drop)
    }

    pub async fn quit(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            let _ = self.command("QUIT").await;
            let _ = self.stream.get_mut().shutdown().await;
        })
        .await;
    }
}

/// Read one line, at most 4 KiB (a reply line is at most 512 octets).
async fn read_limited(r: &mut BufReader<BoxedStream>, out: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Ok(total);
        }
        let (take, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if out.len() + take > 4096 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "reply line too long",
            ));
        }
        out.extend_from_slice(&buf[..take]);
        r.consume(take);
        total += take;
        if done {
            return Ok(total);
        }
    }
}

/// Bytes of the message stuffed and sent at a time.
const STUFF_CHUNK: usize = 64 * 1024;

/// Dot-stuffing (RFC 5321 §4.5.2) of a message given in pieces, with one reused buffer.
#[derive(Default)]
struct DotStuffer {
    out: Vec<u8>,
    /// Whether the next byte starts a line (the message starts one).
    mid_line: bool,
    /// The last two bytes seen, to end the data with CRLF.
    last: [u8; 2],
}

impl DotStuffer {
    /// Replaces the buffer with the stuffed form of the next piece. Copies whole lines at a
    /// time (found with `memchr`): only a dot at a line start needs a byte of its own.
    fn stuff(&mut self, piece: &[u8]) {
        self.out.clear();
        let mut rest = piece;
        while !rest.is_empty() {
            if !self.mid_line && rest[0] == b'.' {
                self.out.push(b'.');
            }
            let (line, tail) = match memchr::memchr(b'\n', rest) {
                Some(i) => rest.split_at(i + 1),
                None => (rest, &[][..]),
            };
            self.out.extend_from_slice(line);
            self.mid_line = !line.ends_with(b"\n");
            rest = tail;
        }
        match piece {
            [.., a, b] => self.last = [*a, *b],
            [b] => self.last = [self.last[1], *b],
            [] => {}
        }
    }

    /// Appends what must follow the last piece: CRLF if the data does not end with one, and
    /// the final dot.
    fn finish(&mut self) {
        let end: &[u8] = match self.last {
            [b'\r', b'\n'] => b"",
            [_, b'\r'] => b"\n",
            _ => b"\r\n",
        };
        self.out.extend_from_slice(end);
        self.out.extend_from_slice(b".\r\n");
    }
}

/// Transparency (RFC 5321 §4.5.2): double a leading dot; make sure the data ends with CRLF.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 4);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        if out.ends_with(b"\r") {
            out.push(b'\n');
        } else {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffing() {
        assert_eq!(dot_stuff(b".a\r\nb\r\n.\r\n"), b"..a\r\nb\r\n..\r\n");
        assert_eq!(dot_stuff(b"x"), b"x\r\n");
    }

    /// Piece by piece, split anywhere (also between CR and LF and before a dot), the stuffer
    /// sends exactly what stuffing the whole message gives.
    #[test]
    fn piecewise_stuffing_equals_whole() {
        let cases: [&[u8]; 6] = [
            b".a\r\nb\r\n.\r\n",
            b"x",
            b"abc\r",
            b"",
            b"..\r\n.\r\n..x\r\n",
            b"line\r\n.dot\nbare.\r\n",
        ];
        for msg in cases {
            for size in 1..=msg.len().max(1) {
                let mut s = DotStuffer::default();
                let mut out = vec![];
                for piece in msg.chunks(size) {
                    s.stuff(piece);
                    out.extend_from_slice(&s.out);
                }
                s.out.clear();
                s.finish();
                out.extend_from_slice(&s.out);
                let mut whole = dot_stuff(msg);
                if msg.is_empty() {
                    whole = b"\r\n".to_vec();
                }
                whole.extend_from_slice(b".\r\n");
                assert_eq!(out, whole, "{msg:?} in pieces of {size}");
            }
        }
    }

    #[test]
    fn enhanced_codes() {
        let r = ServerReply {
            code: 550,
            text: "5.1.1 no such user".into(),
        };
        assert_eq!(
            r.enhanced(),
            Some(crate::spool::EnhancedStatus::BAD_MAILBOX)
        );
        let r = ServerReply {
            code: 550,
            text: "no such user".into(),
        };
        assert_eq!(r.enhanced(), None);
    }

    #[test]
    fn ehlo_extensions() {
        let r = ServerReply {
            code: 250,
            text: "mx.example\nSIZE 1000\nSTARTTLS\n8bitmime".into(),
        };
        let e = Extensions::from_reply(&r);
        assert_eq!(e.size, Some(1000));
        assert!(e.has("STARTTLS") && e.has("8BITMIME"));
    }
}
