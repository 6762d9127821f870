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

use crate::config::Config;
use crate::queue::Queue;
use crate::smtp::reply;
use crate::spool::{Listener, Spool};
use crate::users::UserStore;

/// What every session of every listener shares.
pub struct Server {
    pub cfg: Arc<Config>,
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
        cfg: Arc<Config>,
        tls: Option<Arc<rustls::ServerConfig>>,
        spool: Arc<Spool>,
        queue: Arc<Queue>,
        users: Arc<UserStore>,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Server> {
        Arc::new(Server {
            slots: Arc::new(Semaphore::new(cfg.smtp.max_connections)),
            callout: callout::Callout::new(cfg.clone()),
            tls: tls.map(tokio_rustls::TlsAcceptor::from),
            cfg,
            spool,
            queue,
            users,
            shutdown,
            per_ip: Mutex::new(HashMap::new()),
        })
    }

    /// Count a connection from `ip`; `None` when that address already has too many. The slot
    /// is given back when the returned guard drops — also when the session panics.
    fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        let mut m = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(ip).or_insert(0);
        if *n >= self.cfg.smtp.max_connections_per_ip {
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
