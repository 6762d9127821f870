//! The outbound connection cache (as Postfix's `scache`): after a finished transaction the SMTP
//! session to a next hop is kept open for a short while, and the next delivery to the same host
//! (same address, TLS choice and TLS level) reuses it instead of paying for TCP, the greeting,
//! EHLO and STARTTLS again. A reused session's transaction starts with `RSET`, so a host that
//! closed it meanwhile costs a retry on the next session, never a failed delivery. Idle sessions
//! are closed with `QUIT` after [`IDLE`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::client::SmtpClient;
use crate::config::TlsLevel;

/// How long an idle session is kept (Postfix: `smtp_connection_cache_time_limit = 2s`).
pub const IDLE: Duration = Duration::from_secs(2);

/// Most idle sessions kept per next hop.
const MAX_IDLE_PER_HOST: usize = 32;

/// What a cached session must match to be reused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub addr: SocketAddr,
    pub host: String,
    pub use_tls: bool,
    pub level: TlsLevel,
}

/// Idle sessions by next hop, newest last.
#[derive(Default)]
pub struct ConnectionCache {
    idle: Mutex<HashMap<Key, Vec<(SmtpClient, Instant)>>>,
}

impl ConnectionCache {
    pub fn new() -> Arc<ConnectionCache> {
        Arc::new(ConnectionCache::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Vec<(SmtpClient, Instant)>>> {
        // Every update is a single push or pop: a poisoned lock holds a consistent map.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The newest idle session to `key` kept for less than [`IDLE`], if there is one. Whether
    /// the host still has it open shows in the next transaction, which starts with `RSET`
    /// (pipelined with the envelope where the host offers PIPELINING): nothing of a message is
    /// sent before the host answered it.
    pub fn take(&self, key: &Key) -> Option<SmtpClient> {
        let mut map = self.lock();
        let list = map.get_mut(key)?;
        let mut found = None;
        let mut expired = vec![];
        while let Some((c, since)) = list.pop() {
            if since.elapsed() < IDLE {
                found = Some(c);
                break;
            }
            expired.push(c);
        }
        if list.is_empty() {
            map.remove(key);
        }
        if !expired.is_empty() {
            tokio::spawn(async move {
                for c in expired {
                    c.quit().await;
                }
            });
        }
        found
    }

    /// Keep `c` for the next delivery to `key`; a reaper closes it after [`IDLE`] if no one
    /// took it.
    pub fn put(self: &Arc<Self>, key: Key, c: SmtpClient) {
        let overflow = {
            let mut map = self.lock();
            let list = map.entry(key).or_default();
            list.push((c, Instant::now()));
            if list.len() > MAX_IDLE_PER_HOST {
                Some(list.remove(0).0)
            } else {
                None
            }
        };
        let weak: Weak<ConnectionCache> = Arc::downgrade(self);
        tokio::spawn(async move {
            if let Some(c) = overflow {
                c.quit().await;
            }
            tokio::time::sleep(IDLE + Duration::from_millis(50)).await;
            if let Some(cache) = weak.upgrade() {
                cache.close_expired().await;
            }
        });
    }

    /// Close (QUIT) every session idle for [`IDLE`] or longer.
    async fn close_expired(&self) {
        let expired: Vec<SmtpClient> = {
            let mut map = self.lock();
            let mut out = vec![];
            for list in map.values_mut() {
                let (old, keep): (Vec<_>, Vec<_>) =
                    list.drain(..).partition(|(_, t)| t.elapsed() >= IDLE);
                *list = keep;
                out.extend(old.into_iter().map(|(c, _)| c));
            }
            map.retain(|_, l| !l.is_empty());
            out
        };
        for c in expired {
            c.quit().await;
        }
    }

    /// Number of idle sessions (tests).
    #[cfg(test)]
    pub fn idle_count(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// A next hop that greets, answers every line with 250 (221 to QUIT) and drops the
    /// connection without a word on `BYE`; counts the connections it accepted.
    async fn next_hop() -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let n = count.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                n.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let (r, mut w) = sock.into_split();
                    let mut lines = BufReader::new(r).lines();
                    let _ = w.write_all(b"220 hop\r\n").await;
                    while let Ok(Some(line)) = lines.next_line().await {
                        let reply: &[u8] = match line.as_str() {
                            "BYE" => return,
                            "QUIT" => b"221 bye\r\n",
                            _ => b"250 ok\r\n",
                        };
                        let _ = w.write_all(reply).await;
                    }
                });
            }
        });
        (addr, count)
    }

    fn key(addr: SocketAddr) -> Key {
        Key {
            addr,
            host: "hop.example".into(),
            use_tls: true,
            level: TlsLevel::May,
        }
    }

    async fn connect(addr: SocketAddr) -> SmtpClient {
        let t = Duration::from_secs(10);
        SmtpClient::connect(addr, "hop.example", t, t)
            .await
            .unwrap()
            .0
    }

    #[tokio::test]
    async fn a_kept_session_is_reused_for_the_same_hop_only() {
        let (addr, accepted) = next_hop().await;
        let cache = ConnectionCache::new();
        cache.put(key(addr), connect(addr).await);
        assert_eq!(cache.idle_count(), 1);
        let other = Key {
            level: TlsLevel::Encrypt,
            ..key(addr)
        };
        assert!(cache.take(&other).is_none(), "another TLS level");
        let mut c = cache.take(&key(addr)).expect("reused");
        assert!(c
            .command("MAIL FROM:<a@example.org>")
            .await
            .unwrap()
            .is_ok());
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "no second connection");
        assert_eq!(cache.idle_count(), 0);
    }

    #[tokio::test]
    async fn an_expired_session_is_not_handed_out() {
        let (addr, _) = next_hop().await;
        let cache = ConnectionCache::new();
        cache.put(key(addr), connect(addr).await);
        tokio::time::sleep(IDLE + Duration::from_millis(20)).await;
        assert!(cache.take(&key(addr)).is_none());
        assert_eq!(cache.idle_count(), 0);
    }
}
