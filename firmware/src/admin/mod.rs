//! The admin API: JSON over HTTP on `admin.listen`, authenticated with the bearer token in
//! `<data_dir>/ctl.token`. `segl ctl` and (later) the web pages use the same handlers.
//!
//! HTTP is an adapter here: the handlers translate requests into calls on the queue, the user
//! store and the keystore, none of which knows axum.
//!
//! - [`router`]: the route table and the token layer;
//! - [`error`]: [`ApiError`] and how domain errors map to HTTP statuses;
//! - [`auth`]: the API token (made on first start, compared in constant time);
//! - [`status`], [`queue`], [`users`], [`keystore`], [`license`]: handlers per resource.

use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::queue::Queue;
use crate::users::UserStore;

pub mod accounts;
pub mod appliance;
pub mod audit;
pub mod auth;
pub mod config;
mod dkim;
mod error;
pub mod expiring;
mod firmware;
mod keystore;
mod license;
mod logs;
mod metrics;
pub mod openapi;
mod queue;
mod route_table;
mod router;
mod status;
pub mod tls;
mod user_import;
mod users;
pub mod web;

pub use crate::webkit::https;
pub use crate::webkit::https::serve_router;
pub use auth::ensure_token;
pub use error::ApiError;
pub use route_table::api_route_table;
pub use router::router;
pub use status::{Listeners, Status};
pub use users::NewUser;

/// The largest firmware bundle the API and the System › Firmware page accept.
pub fn firmware_max_bundle() -> usize {
    firmware::MAX_BUNDLE
}

/// What the handlers work on, shared by all requests.
pub struct AdminState {
    pub cfg: Arc<Config>,
    pub queue: Arc<Queue>,
    pub users: Arc<UserStore>,
    pub keystore: Arc<crate::keystore::Keystore>,
    pub license: Arc<crate::license::Licensing>,
    /// The process stage's context (parked mail is released through it), live: rebuilt on
    /// every configuration change.
    pub policy: Arc<crate::liveconf::Live<crate::policy::PolicyCtx>>,
    pub token: String,
    pub started: Instant,
    /// Administrators, sessions, login limit, audit log, dashboard counters.
    pub auth: Arc<auth::AuthState>,
    /// The live configuration, its file and revisions. `cfg` above is the configuration the
    /// gateway started with (listeners, data directory).
    pub config: Arc<crate::liveconf::ConfigService>,
}

/// Serve the admin router on `listener`, over TLS when `tls` is given, until `stop`.
pub async fn serve(
    st: Arc<AdminState>,
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    serve_router(router(st), listener, tls, stop, "admin API").await
}
