//! `GET /status`: version, listeners, queue figures, licence state, firmware.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::AdminState;
use crate::queue::QueueStats;

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Status {
    pub version: String,
    pub hostname: String,
    pub uptime_secs: u64,
    pub listeners: Listeners,
    pub queue: QueueStats,
    pub licence: String,
    /// Running firmware version and slot, and the last update's result (A/B images).
    #[serde(default)]
    pub firmware: String,
    /// Keystore records that cannot be read (each costs only its own entry).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub keystore_damaged: Vec<crate::keystore::DamagedRecord>,
    /// Whether the clock is trustworthy (`appliance::trust`); while not, mail is spooled but
    /// neither processed nor delivered.
    #[serde(default = "yes")]
    pub clock_trusted: bool,
    /// The clock's state in words ("clock not trusted yet: …" while it is not).
    #[serde(default)]
    pub clock: String,
}

fn yes() -> bool {
    true
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Listeners {
    pub smtp: Vec<String>,
    pub submission: Vec<String>,
    pub admin: String,
}

/// Version, listeners, queue figures and licence state.
#[utoipa::path(get, path = "/api/v1/status", responses((status = 200, body = Status)))]
pub(super) async fn status(State(st): State<Arc<AdminState>>) -> Json<Status> {
    let clock = crate::appliance::trust::current();
    Json(Status {
        version: env!("CARGO_PKG_VERSION").to_string(),
        hostname: st.cfg.smtp.hostname.clone(),
        uptime_secs: st.started.elapsed().as_secs(),
        listeners: Listeners {
            smtp: st.cfg.smtp.listen.clone(),
            submission: st.cfg.smtp.submission_listen.clone(),
            admin: st.cfg.admin.listen.clone(),
        },
        queue: st.queue.stats(),
        licence: st.license.summary(),
        firmware: tokio::task::spawn_blocking(|| crate::update::Updater::global().summary())
            .await
            .unwrap_or_default(),
        keystore_damaged: st.keystore.damaged(),
        clock_trusted: clock.trusted(),
        clock: clock.describe(),
    })
}
