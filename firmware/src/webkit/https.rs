//! HTTPS for the admin listener. A loopback listener speaks plain HTTP (nothing on the wire
//! to protect, and `segl ctl` on the box needs no certificate); any other address speaks
//! HTTPS with `admin.tls_cert`/`admin.tls_key`, or a self-signed certificate made once in
//! `<data_dir>/admin-tls/`. The SHA-256 of the certificate served is written to
//! `<data_dir>/admin-tls/pin.sha256`, which `segl ctl` pins.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::config::{parse_listen, Config};
use crate::tls::TlsError;

/// Whether the admin listener uses HTTPS.
pub fn uses_https(cfg: &Config) -> bool {
    !cfg.admin.tls_cert.is_empty()
        || parse_listen(&cfg.admin.listen).map_or(true, |a| !a.ip().is_loopback())
}

/// Where the pinned fingerprint lives.
pub fn pin_path(data_dir: &Path) -> PathBuf {
    data_dir.join("admin-tls").join("pin.sha256")
}

fn gen_err(e: impl std::fmt::Display) -> TlsError {
    TlsError::Generate(e.to_string())
}

/// An HTTPS listener of the box: the admin's or the web portal's.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    /// Folder in the data dir for the self-signed pair and the pin.
    pub dir: &'static str,
    pub listen: &'a str,
    /// Configured certificate and key (PEM); empty: self-signed.
    pub cert: &'a str,
    pub key: &'a str,
    /// Organisation name in a self-signed certificate.
    pub org: &'static str,
}

/// The server configuration of the admin listener (HTTP/1.1 over TLS 1.2/1.3).
pub fn server_config(cfg: &Config) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let ep = Endpoint {
        dir: "admin-tls",
        listen: &cfg.admin.listen,
        cert: &cfg.admin.tls_cert,
        key: &cfg.admin.tls_key,
        org: "Segl web admin",
    };
    endpoint_config(cfg, &ep)
}

/// The server configuration of listener `ep` (HTTP/1.1 over TLS 1.2/1.3).
pub fn endpoint_config(cfg: &Config, ep: &Endpoint) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let data = &cfg.storage.data_dir;
    let (cert_path, key_path) = if ep.cert.is_empty() {
        ensure_self_signed(data, cfg, ep)?
    } else {
        (PathBuf::from(ep.cert), PathBuf::from(ep.key))
    };
    let cerr = |p: &Path, m: String| TlsError::Cert {
        path: p.display().to_string(),
        message: m,
    };
    let certs = crate::tls::read_certs(&cert_path)?;
    let Some(leaf) = certs.first() else {
        return Err(cerr(&cert_path, "no certificate found".into()));
    };
    let pin: String = Sha256::digest(leaf.as_ref())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let pin_file = data.join(ep.dir).join("pin.sha256");
    if let Some(dir) = pin_file.parent() {
        std::fs::create_dir_all(dir).map_err(gen_err)?;
    }
    std::fs::write(&pin_file, format!("{pin}\n")).map_err(gen_err)?;
    let key =
        PrivateKeyDer::from_pem_file(&key_path).map_err(|e| cerr(&key_path, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| cerr(&cert_path, e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tracing::info!(sha256 = %pin, cert = %cert_path.display(), listener = ep.dir, "HTTPS certificate");
    Ok(Arc::new(config))
}

/// Make `<data_dir>/<ep.dir>/{cert,key}.pem` once, for the host name, `localhost` and the
/// loopback and listen addresses; the key file is 0600.
fn ensure_self_signed(
    data_dir: &Path,
    cfg: &Config,
    ep: &Endpoint,
) -> Result<(PathBuf, PathBuf), TlsError> {
    let dir = data_dir.join(ep.dir);
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(&dir).map_err(gen_err)?;
    let mut names = vec![
        cfg.smtp.hostname.clone(),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if let Ok(a) = parse_listen(ep.listen) {
        if !a.ip().is_unspecified() && !a.ip().is_loopback() {
            names.push(a.ip().to_string());
        }
    }
    let mut params = rcgen::CertificateParams::new(names).map_err(gen_err)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cfg.smtp.hostname.clone());
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, ep.org);
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(3650);
    let kp = rcgen::KeyPair::generate().map_err(gen_err)?;
    let c = params.self_signed(&kp).map_err(gen_err)?;
    let key_tmp = dir.join("key.pem.tmp");
    crate::durable::write_synced(&key_tmp, kp.serialize_pem().as_bytes()).map_err(gen_err)?;
    crate::durable::set_private(&key_tmp);
    std::fs::rename(&key_tmp, &key).map_err(gen_err)?;
    crate::durable::write_synced(&cert, c.pem().as_bytes()).map_err(gen_err)?;
    tracing::info!(path = %cert.display(), "made a self-signed HTTPS certificate");
    Ok((cert, key))
}

/// A listener that hands axum finished TLS connections. Handshakes run in their own tasks
/// (10 s limit), so a slow or silent client never holds up the accept loop.
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<tokio::net::TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(
        tcp: TcpListener,
        config: Arc<rustls::ServerConfig>,
    ) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let (sock, addr) = match tcp.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::debug!(error = %e, "admin accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(sock)).await
                    {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, addr)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(peer = %addr, error = %e, "admin TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(peer = %addr, "admin TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { rx, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // The accept task ended: nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The client's address, for handlers and the guard, on either kind of listener.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>>
    for ClientAddr
{
    fn connect_info(s: axum::serve::IncomingStream<'_, TlsListener>) -> ClientAddr {
        ClientAddr(*s.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TcpListener>>
    for ClientAddr
{
    fn connect_info(s: axum::serve::IncomingStream<'_, TcpListener>) -> ClientAddr {
        ClientAddr(*s.remote_addr())
    }
}

/// Serve `app` on `listener` (TLS when `tls` is given) until `stop`: the admin listener's
/// and the web portal's loop.
pub async fn serve_router(
    app: axum::Router,
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    what: &'static str,
) {
    let app = app.into_make_service_with_connect_info::<ClientAddr>();
    let shutdown = async move {
        let _ = stop.changed().await;
    };
    let r = match tls {
        Some(cfg) => match TlsListener::new(listener, cfg) {
            Ok(l) => axum::serve(l, app).with_graceful_shutdown(shutdown).await,
            Err(e) => Err(e),
        },
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
    };
    if let Err(e) = r {
        tracing::error!(error = %e, listener = what, "HTTP listener stopped");
    }
}
