//! Start-up of the portal: its store, its listener (bound before the gateway reports ready, so
//! a port conflict is an error at start), the HTTPS configuration and the expiry sweep.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::admin::https::{endpoint_config, Endpoint};
use crate::app::StartError;
use crate::config::{parse_listen, Config};
use crate::queue::Queue;

/// Starts the portal when `portal.enabled`; returns its tasks.
pub async fn start(
    cfg: &Arc<Config>,
    queue: &Arc<Queue>,
    stop: &watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, StartError> {
    let p = &cfg.portal;
    if !p.enabled {
        return Ok(vec![]);
    }
    let data = &cfg.storage.data_dir;
    let store = super::shared(cfg)
        .map_err(|e| StartError::DataDir(data.display().to_string(), std::io::Error::other(e)))?;
    let addr = parse_listen(&p.listen).map_err(StartError::Address)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| StartError::Listen(p.listen.clone(), e))?;
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
        tokio::spawn(crate::admin::serve_router(
            app,
            listener,
            tls,
            stop.clone(),
            "web portal",
        )),
        tokio::spawn(super::tasks::run(cfg.clone(), queue.clone(), stop.clone())),
    ])
}
