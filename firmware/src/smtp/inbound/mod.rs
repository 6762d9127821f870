//! SMTP in: listeners with connection limits, and the session (one file per concern).

mod auth;
pub mod callout;
mod data;
pub mod session;
pub mod transaction;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::queue::Queue;
use crate::smtp::reply;
use crate::spool::{Listener, Spool};
use crate::users::UserStore;

/// What every session of every listener shares.
pub struct Server {
    /// The live configuration; each session takes a snapshot when it starts.
    pub live: Arc<crate::config::LiveConfig>,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub spool: Arc<Spool>,
    pub queue: Arc<Queue>,
    pub users: Arc<UserStore>,
    pub callout: callout::Callout,
    pub shutdown: watch::Receiver<bool>,
    slots: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

impl Server {
    pub fn new(
        live: Arc<crate::config::LiveConfig>,
        tls: Option<Arc<rustls::ServerConfig>>,
        spool: Arc<Spool>,
        queue: Arc<Queue>,
        users: Arc<UserStore>,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Server> {
        let cfg = live.get();
        Arc::new(Server {
            slots: Arc::new(Semaphore::new(cfg.smtp.max_connections)),
            callout: callout::Callout::new(live.clone()),
            tls: tls.map(tokio_rustls::TlsAcceptor::from),
            live,
            spool,
            queue,
            users,
            shutdown,
            per_ip: Mutex::new(HashMap::new()),
        })
    }

    /// Count a connection from `ip`; `None` when that address already has too many. The slot
    /// is given back when the returned guard drops — also when the session panics.
    /// Clients in `relay.trusted_networks` have their own limit (none by default): they are the
    /// organisation's mail servers, bounded by `smtp.max_connections` only.
    fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        let limit = per_ip_limit(&self.live.get(), ip);
        let mut m = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(ip).or_insert(0);
        if *n >= limit {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            server: self.clone(),
            ip,
        })
    }

    fn leave(&self, ip: IpAddr) {
        let mut m = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&ip);
            }
        }
    }
}

/// How many simultaneous sessions one client address may have.
fn per_ip_limit(cfg: &crate::config::Config, ip: IpAddr) -> usize {
    if cfg.relay.trusted_networks.iter().any(|n| n.contains(&ip)) {
        match cfg.smtp.max_connections_per_trusted_ip {
            0 => usize::MAX,
            n => n,
        }
    } else {
        cfg.smtp.max_connections_per_ip
    }
}

/// One connection counted against its client address (see [`Server::enter`]).
struct IpSlot {
    server: Arc<Server>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!(ip = %self.ip, "SMTP session panicked; its connection slot is released");
        }
        self.server.leave(self.ip);
    }
}

/// Accept connections until shutdown; each gets its own task.
pub async fn serve(server: Arc<Server>, listener: TcpListener, kind: Listener) {
    let mut shutdown = server.shutdown.clone();
    loop {
        let (mut sock, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = sock.set_nodelay(true);
        let Ok(permit) = server.slots.clone().try_acquire_owned() else {
            tracing::warn!(peer = %peer, "connection limit reached");
            tokio::spawn(async move {
                let _ = sock.write_all(&reply::TOO_MANY_CONNECTIONS.to_wire()).await;
            });
            continue;
        };
        let Some(ip_slot) = server.enter(peer.ip()) else {
            tracing::warn!(peer = %peer, "per-address connection limit reached");
            tokio::spawn(async move {
                let _ = sock.write_all(&reply::TOO_MANY_FROM_IP.to_wire()).await;
            });
            continue;
        };
        let server = server.clone();
        tokio::spawn(async move {
            // Both slots are given back on drop, also when the session panics.
            let _slots = (ip_slot, permit);
            tracing::debug!(peer = %peer, listener = ?kind, "connect");
            session::Session::new(server, Box::new(sock), peer, kind)
                .run()
                .await;
            tracing::debug!(peer = %peer, "disconnect");
        });
    }
}
