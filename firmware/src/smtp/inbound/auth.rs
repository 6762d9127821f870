//! AUTH PLAIN and LOGIN (RFC 4954, RFC 4616), offered only on the submission port inside TLS.
//! Failed attempts are slowed down; unknown and known user names take the same time to refuse.

use std::time::Duration;

use base64::Engine;

use super::session::{LineError, Next, Session};
use crate::smtp::reply::{self, Reply};
use crate::spool::Listener;

/// RFC 4954 §4: an AUTH exchange line may be up to 12,288 octets.
const MAX_AUTH_LINE: usize = 12_288;

enum Exchange {
    Credentials(String, String),
    Cancelled,
    Malformed,
    Gone,
}

fn b64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()
}

/// `[authzid] NUL authcid NUL passwd`
fn parse_plain(raw: &[u8]) -> Option<(String, String)> {
    let mut parts = raw.split(|b| *b == 0);
    let authz = parts.next()?;
    let user = std::str::from_utf8(parts.next()?).ok()?;
    let pass = std::str::from_utf8(parts.next()?).ok()?;
    if parts.next().is_some() || user.is_empty() {
        return None;
    }
    // Acting as another identity is not supported: authzid must be empty or the user itself.
    if !authz.is_empty() && authz != user.as_bytes() {
        return None;
    }
    Some((user.to_string(), pass.to_string()))
}

impl Session {
    /// Send a 334 challenge and read the client's answer.
    async fn challenge(&mut self, text: &str) -> Result<String, Exchange> {
        self.reply(&Reply::plain(334, text));
        if self.flush().await.is_err() {
            return Err(Exchange::Gone);
        }
        // Bounded like a command line, but boxed: 12 KiB is too much to keep in every session.
        let mut line = Box::new(heapless::Vec::<u8, MAX_AUTH_LINE>::new());
        match self.read_line(&mut *line).await {
            Ok(()) => {}
            Err(LineError::TooLong) => return Err(Exchange::Malformed),
            Err(_) => return Err(Exchange::Gone),
        }
        let s = String::from_utf8_lossy(&line).trim().to_string();
        if s == "*" {
            return Err(Exchange::Cancelled);
        }
        Ok(s)
    }

    async fn exchange(&mut self, mechanism: &str, initial: Option<String>) -> Exchange {
        let result = async {
            match mechanism {
                "PLAIN" => {
                    let resp = match initial {
                        Some(i) if i == "=" => String::new(),
                        Some(i) => i,
                        None => self.challenge("").await?,
                    };
                    let raw = b64(&resp).ok_or(Exchange::Malformed)?;
                    let (u, p) = parse_plain(&raw).ok_or(Exchange::Malformed)?;
                    Ok(Exchange::Credentials(u, p))
                }
                _ => {
                    // LOGIN
                    let user = match initial {
                        Some(i) => i,
                        None => self.challenge("VXNlcm5hbWU6").await?,
                    };
                    let user = b64(&user)
                        .and_then(|u| String::from_utf8(u).ok())
                        .ok_or(Exchange::Malformed)?;
                    let pass = self.challenge("UGFzc3dvcmQ6").await?;
                    let pass = b64(&pass)
                        .and_then(|p| String::from_utf8(p).ok())
                        .ok_or(Exchange::Malformed)?;
                    Ok(Exchange::Credentials(user, pass))
                }
            }
        };
        match result.await {
            Ok(e) | Err(e) => e,
        }
    }

    pub(super) async fn auth(&mut self, mechanism: String, initial: Option<String>) -> Next {
        if self.listener != Listener::Submission {
            self.reply(&reply::NOT_IMPLEMENTED);
            return Next::Continue;
        }
        if self.tls.is_none() {
            self.reply(&reply::TLS_REQUIRED);
            return Next::Continue;
        }
        if self.helo.is_none() {
            self.reply(&reply::HELO_FIRST);
            return Next::Continue;
        }
        if self.auth.is_some() {
            self.reply(&reply::ALREADY_AUTH);
            return Next::Continue;
        }
        if self.tx.is_some() {
            self.reply(&reply::AUTH_IN_TRANSACTION);
            return Next::Continue;
        }
        if mechanism != "PLAIN" && mechanism != "LOGIN" {
            self.reply(&reply::UNKNOWN_MECHANISM);
            return Next::Continue;
        }
        let (user, pass) = match self.exchange(&mechanism, initial).await {
            Exchange::Credentials(u, p) => (u, p),
            Exchange::Cancelled => {
                self.reply(&reply::AUTH_CANCELLED);
                return Next::Continue;
            }
            Exchange::Malformed => {
                self.reply(&reply::AUTH_SYNTAX);
                return Next::Continue;
            }
            Exchange::Gone => return Next::Close,
        };
        let users = self.server.users.clone();
        let name = user.clone();
        let verified = tokio::task::spawn_blocking(move || users.verify(&name, &pass))
            .await
            .ok()
            .flatten();
        match verified {
            Some(info) => {
                tracing::info!(peer = %self.peer, user = %info.name, mechanism = %mechanism, "authenticated");
                self.auth = Some(info);
                self.reply(&reply::AUTH_OK);
            }
            None => {
                tracing::warn!(peer = %self.peer, user = %user, mechanism = %mechanism, "authentication failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                self.reply(&reply::AUTH_FAILED);
            }
        }
        Next::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_forms() {
        assert_eq!(
            parse_plain(b"\0alice\0pw"),
            Some(("alice".into(), "pw".into()))
        );
        assert_eq!(
            parse_plain(b"alice\0alice\0pw"),
            Some(("alice".into(), "pw".into()))
        );
        assert_eq!(parse_plain(b"bob\0alice\0pw"), None);
        assert_eq!(parse_plain(b"\0\0pw"), None);
        assert_eq!(parse_plain(b"alice"), None);
    }
}
