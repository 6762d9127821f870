//! Admin API of the box's network and time settings, used by `segl ctl network|time`, the
//! console menu (through `segl ctl`) and the System › Network and System › Time pages:
//!
//! - `GET /network`, `PUT /network`: DHCP or a static address, gateway, DNS, host name;
//! - `GET /time`, `PUT /time`: NTP servers and time zone, and the clock's trust.
//!
//! A PUT validates everything ([`crate::appliance::settings`]), writes the file and, on a box,
//! asks the root helper to apply it (no reboot); elsewhere it only writes the file and says so.
//! An invalid value answers 422 and changes nothing.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::{AdminState, ApiError};
use crate::appliance::{Kind, NetworkSettings, Saved, Store, StoreError, TimeSettings};

pub fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/network", get(network_show).put(network_set))
        .route("/time", get(time_show).put(time_set))
}

/// The network settings and what the box made of them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NetworkView {
    pub settings: NetworkSettings,
    /// The settings file.
    pub file: String,
    /// Whether this is a box (a change is applied at once) or not (only the file is written).
    pub on_box: bool,
    /// The root helper's last report (`ok …`, `error …`), on a box.
    pub status: Option<String>,
}

/// The time settings and the clock.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimeView {
    pub settings: TimeSettings,
    pub file: String,
    pub on_box: bool,
    pub status: Option<String>,
    /// The clock now, local time of the configured zone with its offset (RFC 5322).
    pub now: String,
    /// Whether the clock is trustworthy; while not, mail is spooled but not processed.
    pub clock_trusted: bool,
    /// The clock's state in words.
    pub clock: String,
}

/// What a PUT stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SavedNetwork {
    pub settings: NetworkSettings,
    pub saved: Saved,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SavedTime {
    pub settings: TimeSettings,
    pub saved: Saved,
}

fn failed(e: StoreError) -> Response {
    match e {
        StoreError::Invalid(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response(),
        e => ApiError::internal(e.to_string()).into_response(),
    }
}

async fn blocking<T: Serialize + Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Response {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => failed(e),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

pub fn network_view(store: &Store) -> Result<NetworkView, StoreError> {
    Ok(NetworkView {
        settings: store.network()?,
        file: store.file(Kind::Network).display().to_string(),
        on_box: store.netd.is_some(),
        status: store.status(Kind::Network),
    })
}

pub fn time_view(store: &Store) -> Result<TimeView, StoreError> {
    let trust = crate::appliance::trust::current();
    let settings = store.time()?;
    let zone = crate::appliance::zone::named(&settings.timezone);
    Ok(TimeView {
        settings,
        file: store.file(Kind::Time).display().to_string(),
        on_box: store.netd.is_some(),
        status: store.status(Kind::Time),
        now: crate::clock::rfc5322_in(crate::clock::unix_now(), &zone),
        clock_trusted: trust.trusted(),
        clock: trust.describe(),
    })
}

/// The network settings: DHCP or static address, gateway, DNS servers, host name.
#[utoipa::path(get, path = "/api/v1/network", operation_id = "network_show",
    responses((status = 200, body = NetworkView)))]
async fn network_show(State(st): State<Arc<AdminState>>) -> Response {
    let store = Store::for_config(&st.cfg);
    blocking(move || network_view(&store)).await
}

/// Change the network settings; a box applies them at once (no reboot).
#[utoipa::path(put, path = "/api/v1/network", operation_id = "network_set",
    request_body = NetworkSettings,
    responses((status = 200, body = SavedNetwork),
        (status = 422, description = "an invalid value; nothing changed")))]
async fn network_set(
    State(st): State<Arc<AdminState>>,
    b: Result<Json<NetworkSettings>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let s = match b {
        Ok(Json(s)) => s,
        Err(e) => return ApiError::bad_request(e.body_text()).into_response(),
    };
    let store = Store::for_config(&st.cfg);
    blocking(move || {
        store
            .save_network(s)
            .map(|(settings, saved)| SavedNetwork { settings, saved })
    })
    .await
}

/// The time settings (NTP servers, time zone) and whether the clock is trusted yet.
#[utoipa::path(get, path = "/api/v1/time", operation_id = "time_show",
    responses((status = 200, body = TimeView)))]
async fn time_show(State(st): State<Arc<AdminState>>) -> Response {
    let store = Store::for_config(&st.cfg);
    blocking(move || time_view(&store)).await
}

/// Change the NTP servers and time zone; a box synchronises at once.
#[utoipa::path(put, path = "/api/v1/time", operation_id = "time_set",
    request_body = TimeSettings,
    responses((status = 200, body = SavedTime),
        (status = 422, description = "an invalid value; nothing changed")))]
async fn time_set(
    State(st): State<Arc<AdminState>>,
    b: Result<Json<TimeSettings>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let s = match b {
        Ok(Json(s)) => s,
        Err(e) => return ApiError::bad_request(e.body_text()).into_response(),
    };
    let store = Store::for_config(&st.cfg);
    blocking(move || {
        store
            .save_time(s)
            .map(|(settings, saved)| SavedTime { settings, saved })
    })
    .await
}
