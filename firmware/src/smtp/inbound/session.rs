//! One SMTP server session: the command loop, line reading with limits, the greeting, EHLO,
//! STARTTLS and the small commands. MAIL/RCPT, DATA and AUTH live in their own files.

use crate::spool::EnhancedStatus as Es;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::transaction::Transaction;
use super::Server;
use crate::smtp::reply::{self, Reply};
use crate::smtp::stream::BoxedStream;
use crate::smtp::wire::{parse_command, Command, ParseError, MAX_COMMAND_LINE};
use crate::spool::{Listener, TlsInfo};
use crate::users::UserInfo;

/// What the command loop does after a command.
pub(super) enum Next {
    Continue,
    Close,
    StartTls,
}

/// Why reading a line stopped.
pub(super) enum LineError {
    /// The line exceeded the limit; the rest of it was read and thrown away.
    TooLong,
    Timeout,
    Closed,
}

pub struct Session {
    pub(super) server: Arc<Server>,
    /// The configuration this session runs with, taken when it started: a change made
    /// meanwhile applies to the next session.
    pub(super) cfg: Arc<crate::config::Config>,
    pub(super) io: BufReader<BoxedStream>,
    out: Vec<u8>,
    pub(super) listener: Listener,
    pub(super) peer: SocketAddr,
    pub(super) helo: Option<String>,
    pub(super) tls: Option<TlsInfo>,
    pub(super) auth: Option<UserInfo>,
    pub(super) trusted: bool,
    pub(super) tx: Option<Transaction>,
    errors: u32,
}

impl Session {
    pub fn new(
        server: Arc<Server>,
        stream: BoxedStream,
        peer: SocketAddr,
        listener: Listener,
    ) -> Session {
        let cfg = server.live.get();
        let trusted = cfg
            .relay
            .trusted_networks
            .iter()
            .any(|n| n.contains(&peer.ip()));
        Session {
            server,
            cfg,
            io: BufReader::with_capacity(16 * 1024, stream),
            out: Vec::with_capacity(1024),
            listener,
            peer,
            helo: None,
            tls: None,
            auth: None,
            trusted,
            tx: None,
            errors: 0,
        }
    }

    /// Queue a reply; it is written when the client has no more pipelined input for us.
    pub(super) fn reply(&mut self, r: &Reply) {
        if r.code >= 500 {
            self.errors += 1;
        }
        self.out.extend_from_slice(&r.to_wire());
    }

    pub(super) async fn flush(&mut self) -> std::io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let timeout = self.command_timeout();
        let out = &self.out;
        let w = self.io.get_mut();
        tokio::time::timeout(timeout, async {
            w.write_all(out).await?;
            w.flush().await
        })
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        self.out.clear();
        Ok(())
    }

    pub(super) fn command_timeout(&self) -> Duration {
        Duration::from_secs(self.cfg.smtp.command_timeout_secs)
    }

    /// Read one line ending in LF (CRLF or a tolerated bare LF) into `out`, whose capacity is
    /// the limit: a longer line is read to its end and thrown away ([`LineError::TooLong`]).
    pub(super) async fn read_line<const N: usize>(
        &mut self,
        out: &mut heapless::Vec<u8, N>,
    ) -> Result<(), LineError> {
        out.clear();
        let timeout = self.command_timeout();
        let read = async {
            let mut too_long = false;
            loop {
                let buf = self.io.fill_buf().await.map_err(|_| LineError::Closed)?;
                if buf.is_empty() {
                    return Err(LineError::Closed);
                }
                let (take, done) = match buf.iter().position(|b| *b == b'\n') {
                    Some(i) => (i + 1, true),
                    None => (buf.len(), false),
                };
                if !too_long && out.extend_from_slice(&buf[..take]).is_err() {
                    too_long = true;
                    out.clear();
                }
                self.io.consume(take);
                if done {
                    return if too_long {
                        Err(LineError::TooLong)
                    } else {
                        Ok(())
                    };
                }
            }
        };
        tokio::time::timeout(timeout, read)
            .await
            .unwrap_or(Err(LineError::Timeout))
    }

    /// Run the session to its end. Never panics on client input; every exit is logged.
    pub async fn run(mut self) {
        let banner = Reply::plain(220, format!("{} ESMTP Segl", self.cfg.smtp.hostname));
        self.reply(&banner);
        // The command line has a hard bound (RFC 5321 §4.5.3.1.4 plus extensions): a fixed
        // buffer, never grown by what a client sends.
        let mut line = heapless::Vec::<u8, MAX_COMMAND_LINE>::new();
        loop {
            if self.io.buffer().is_empty() && self.flush().await.is_err() {
                break;
            }
            if *self.server.shutdown.borrow() {
                self.reply(&reply::SHUTTING_DOWN);
                break;
            }
            match self.read_line(&mut line).await {
                Ok(()) => {}
                Err(LineError::TooLong) => {
                    self.reply(&reply::LINE_TOO_LONG);
                    if self.too_many_errors() {
                        break;
                    }
                    continue;
                }
                Err(LineError::Timeout) => {
                    tracing::info!(peer = %self.peer, "command timeout");
                    self.reply(&reply::TIMEOUT);
                    break;
                }
                Err(LineError::Closed) => break,
            }
            let next = match parse_command(&line) {
                Ok(cmd) => self.dispatch(cmd).await,
                Err(e) => {
                    if e == ParseError::Unknown {
                        tracing::debug!(peer = %self.peer, line = %String::from_utf8_lossy(&line[..line.len().min(64)]).trim_end(), "unknown command");
                    }
                    self.reply(&reply::for_parse_error(&e));
                    Next::Continue
                }
            };
            match next {
                Next::Continue => {}
                Next::Close => break,
                Next::StartTls => {
                    if self.start_tls().await.is_err() {
                        return;
                    }
                }
            }
            if self.too_many_errors() {
                break;
            }
        }
        let _ = self.flush().await;
        let _ = self.io.get_mut().shutdown().await;
    }

    fn too_many_errors(&mut self) -> bool {
        if self.errors > self.cfg.smtp.max_errors {
            tracing::info!(peer = %self.peer, errors = self.errors, "too many errors, disconnecting");
            self.out
                .extend_from_slice(&reply::TOO_MANY_ERRORS.to_wire());
            return true;
        }
        false
    }

    async fn dispatch(&mut self, cmd: Command) -> Next {
        match cmd {
            Command::Ehlo(d) => self.ehlo(d, true),
            Command::Helo(d) => self.ehlo(d, false),
            Command::Mail(m) => return self.mail(m).await,
            Command::Rcpt(r) => return self.rcpt(r).await,
            Command::Data => return self.data().await,
            Command::Rset => {
                self.tx = None;
                self.reply(&reply::RESET);
            }
            Command::Noop => self.reply(&reply::OK),
            Command::Quit => {
                self.reply(&Reply::with_text(
                    221,
                    Es::new(2, 0, 0),
                    format!("{} closing connection", self.cfg.smtp.hostname),
                ));
                return Next::Close;
            }
            Command::Vrfy => self.reply(&reply::VRFY),
            Command::Expn => self.reply(&reply::EXPN_DISABLED),
            Command::Help => self.reply(&reply::HELP),
            Command::Bdat => self.reply(&reply::NOT_IMPLEMENTED),
            Command::StartTls => {
                if self.tls.is_some() {
                    self.reply(&reply::ALREADY_TLS);
                } else if self.server.tls.is_none() {
                    self.reply(&reply::TLS_NOT_AVAILABLE);
                } else {
                    self.reply(&reply::READY_TLS);
                    return Next::StartTls;
                }
            }
            Command::Auth { mechanism, initial } => return self.auth(mechanism, initial).await,
        }
        Next::Continue
    }

    fn ehlo(&mut self, domain: String, extended: bool) {
        crate::testhook::panic_if("session", &domain);
        self.tx = None;
        let cfg = &self.cfg;
        let mut text = format!(
            "{} Hello {} [{}]",
            cfg.smtp.hostname,
            domain,
            self.peer.ip()
        );
        if extended {
            text.push_str("\nPIPELINING");
            text.push_str(&format!("\nSIZE {}", cfg.smtp.max_message_size));
            text.push_str("\n8BITMIME\nENHANCEDSTATUSCODES\nDSN\nSMTPUTF8");
            if self.tls.is_none() && self.server.tls.is_some() {
                text.push_str("\nSTARTTLS");
            }
            if self.listener == Listener::Submission && self.tls.is_some() && self.auth.is_none() {
                text.push_str("\nAUTH PLAIN LOGIN");
            }
        }
        self.helo = Some(domain);
        self.reply(&Reply::plain(250, text));
    }

    async fn start_tls(&mut self) -> Result<(), ()> {
        if self.flush().await.is_err() {
            return Err(());
        }
        // Anything the client pipelined after STARTTLS was sent in clear and must not be
        // executed inside TLS (CVE-2011-0411 "STARTTLS command injection").
        if !self.io.buffer().is_empty() {
            tracing::warn!(peer = %self.peer, "discarding plaintext pipelined after STARTTLS");
        }
        let Some(acceptor) = self.server.tls.clone() else {
            return Err(());
        };
        let dummy: BoxedStream = Box::new(tokio::io::duplex(1).0);
        let plain = std::mem::replace(&mut self.io, BufReader::new(dummy)).into_inner();
        let tls = match tokio::time::timeout(self.command_timeout(), acceptor.accept(plain)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::info!(peer = %self.peer, error = %e, "TLS handshake failed");
                return Err(());
            }
            Err(_) => {
                tracing::info!(peer = %self.peer, "TLS handshake timeout");
                return Err(());
            }
        };
        let (_, conn) = tls.get_ref();
        self.tls = Some(TlsInfo {
            protocol: conn
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default(),
            cipher: conn
                .negotiated_cipher_suite()
                .map(|c| format!("{:?}", c.suite()))
                .unwrap_or_default(),
        });
        self.io = BufReader::with_capacity(16 * 1024, Box::new(tls));
        // RFC 3207 §4.2: forget everything learned before TLS.
        self.helo = None;
        self.tx = None;
        self.auth = None;
        Ok(())
    }
}
