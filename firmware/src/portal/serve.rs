//! Start-up of the portal: its store, its listener (bound before the gateway reports ready, so
//! a port conflict is an error at start), the HTTPS configuration and the expiry sweep.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{parse_listen, Config};
use crate::queue::Queue;
use crate::tls::TlsError;
use crate::webkit::https::{endpoint_config, serve_router, Endpoint};

/// Why the portal could not start (the gateway then does not start either).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PortalStartError {
    #[error("web portal store in {0}: {1}")]
    Store(String, #[source] super::store::PortalError),
    #[error("invalid portal.listen: {0}")]
    Address(String),
    #[error("cannot listen on {0}: {1}")]
    Listen(String, #[source] std::io::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Starts the portal when `portal.enabled`; returns its tasks.
pub async fn start(
    cfg: &Arc<Config>,
    queue: &Arc<Queue>,
    stop: &watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, PortalStartError> {
    let p = &cfg.portal;
    if !p.enabled {
        return Ok(vec![]);
    }
    let data = &cfg.storage.data_dir;
    let store =
        super::shared(cfg).map_err(|e| PortalStartError::Store(data.display().to_string(), e))?;
    let addr = parse_listen(&p.listen).map_err(PortalStartError::Address)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| PortalStartError::Listen(p.listen.clone(), e))?;
    let state = Arc::new(super::web::PortalState::new(
        cfg.clone(),
        store,
        queue.clone(),
    ));
    let tls = if state.https {
        let ep = Endpoint {
            dir: "portal-tls",
            listen: &p.listen,
            cert: &p.tls_cert,
            key: &p.tls_key,
            org: "Segl web portal",
        };
        Some(endpoint_config(cfg, &ep)?)
    } else {
        None
    };
    tracing::info!(listen = %p.listen, url = %p.base_url(), "web portal listening");
    let app = super::web::router(state);
    Ok(vec![
        tokio::spawn(serve_router(app, listener, tls, stop.clone(), "web portal")),
        tokio::spawn(super::tasks::run(cfg.clone(), queue.clone(), stop.clone())),
    ])
}
