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

mod auth;
mod dkim;
mod error;
mod keystore;
mod license;
mod queue;
mod router;
mod status;
mod users;

pub use auth::ensure_token;
pub use error::ApiError;
pub use router::router;
pub use status::{Listeners, Status};
pub use users::NewUser;

/// What the handlers work on, shared by all requests.
pub struct AdminState {
    pub cfg: Arc<Config>,
    pub queue: Arc<Queue>,
    pub users: Arc<UserStore>,
    pub keystore: Arc<crate::keystore::Keystore>,
    pub license: Arc<crate::license::Licensing>,
    /// The process stage's context (parked mail is released through it).
    pub policy: Arc<crate::policy::PolicyCtx>,
    pub token: String,
    pub started: Instant,
}
