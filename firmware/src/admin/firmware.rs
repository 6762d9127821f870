//! Admin API of the A/B firmware updates (`/api/v1/firmware`), used by `segl ctl firmware` and
//! the System › Firmware page:
//!
//! - `GET  /firmware`  the slots, versions, trial state, last result and install progress
//!   ([`crate::update::Status`])
//! - `POST /firmware`  install: the bundle as the request body (`application/octet-stream`);
//!   `?force=true` allows an older or equal version, `?reboot=true` restarts into the new slot
//!   once it is written and verified. A refused bundle answers 400 with the reason.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Query};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{AdminState, ApiError};
use crate::update::{UpdateError, Updater};

/// The largest bundle accepted (a slot image of kernel and initramfs is ~20 MB today).
pub const MAX_BUNDLE: usize = 256 * 1024 * 1024;

impl From<UpdateError> for ApiError {
    fn from(e: UpdateError) -> ApiError {
        let status = match &e {
            UpdateError::Busy => StatusCode::CONFLICT,
            UpdateError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
            e if e.is_refusal() => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

/// The firmware routes, merged into the admin API under `/api/v1`.
pub fn routes() -> Router<Arc<AdminState>> {
    Router::new().route(
        "/firmware",
        get(show)
            .post(install)
            .layer(DefaultBodyLimit::max(MAX_BUNDLE)),
    )
}

#[derive(Deserialize, utoipa::IntoParams)]
pub(super) struct InstallQuery {
    /// Install an older or equal version too.
    #[serde(default)]
    force: bool,
    /// Restart into the new slot (on trial) once it is written and verified.
    #[serde(default)]
    reboot: bool,
}

/// Slots, versions, trial state, the last result and the progress of an install.
#[utoipa::path(get, path = "/api/v1/firmware", operation_id = "firmware_status",
    responses((status = 200, body = crate::update::Status)))]
async fn show() -> Result<Json<crate::update::Status>, ApiError> {
    tokio::task::spawn_blocking(|| Updater::global().status())
        .await
        .map(Json)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Install a signed update bundle into the inactive slot and arm one trial boot of it.
#[utoipa::path(post, path = "/api/v1/firmware", operation_id = "firmware_install",
    params(InstallQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the update bundle"),
    responses((status = 200, description = "`{installed: manifest, slot, reboot}`", body = Object),
        (status = 400, description = "bundle refused (signature, board, version, payload hash)"),
        (status = 409, description = "another install is running"),
        (status = 501, description = "not an A/B image")))]
async fn install(Query(q): Query<InstallQuery>, body: Body) -> Result<Json<Value>, ApiError> {
    if let Some(rauc) = crate::update::rauc::RaucBox::detected() {
        return install_rauc(rauc, q, body).await;
    }
    let body = axum::body::to_bytes(body, MAX_BUNDLE)
        .await
        .map_err(|e| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()))?;
    blocking(move |u| {
        let m = u.install(&body, q.force)?;
        let slot = u.boot().map(|b| b.slot.other().name()).unwrap_or("?");
        if q.reboot {
            u.request_reboot()?;
        }
        Ok(json!({ "installed": m, "slot": slot, "reboot": q.reboot }))
    })
    .await
}

/// Runs an install step on a blocking thread (it writes a slot, or waits for RAUC).
async fn blocking(
    f: impl FnOnce(&Updater) -> Result<Value, UpdateError> + Send + 'static,
) -> Result<Json<Value>, ApiError> {
    let v = tokio::task::spawn_blocking(move || f(Updater::global()))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(Json(v))
}

/// The largest RAUC bundle accepted (a root file system slot is 512 MB).
pub const MAX_RAUC_BUNDLE: u64 = 1024 * 1024 * 1024;

/// RAUC boxes: the body is streamed to a file under the data directory (never held in memory
/// whole), then handed to the root helper that runs `rauc install` (`update::rauc`).
async fn install_rauc(
    rauc: &'static crate::update::rauc::RaucBox,
    q: InstallQuery,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let path = Updater::global()
        .rauc_upload_path()
        .ok_or_else(|| ApiError::internal("no data directory"))?;
    save_stream(&path, body).await?;
    blocking(move |u| {
        let msg = u.install_rauc(rauc, &path, q.force)?;
        if q.reboot {
            u.request_reboot()?;
        }
        Ok(json!({ "rauc": true, "message": msg, "reboot": q.reboot }))
    })
    .await
}

/// Writes the request body to `path` chunk by chunk, refusing more than [`MAX_RAUC_BUNDLE`].
async fn save_stream(path: &std::path::Path, body: Body) -> Result<(), ApiError> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let io = |e: std::io::Error| ApiError::internal(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
    }
    // A file left by an interrupted install may be root's (RAUC takes over a bundle it opens);
    // a new one is segl's and private, as `rauc info` needs it (owned, mode within 0755).
    let _ = tokio::fs::remove_file(path).await;
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .await
        .map_err(io)?;
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
        size += chunk.len() as u64;
        if size > MAX_RAUC_BUNDLE {
            drop(file);
            let _ = tokio::fs::remove_file(path).await;
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a bundle is at most {MAX_RAUC_BUNDLE} bytes"),
            ));
        }
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.sync_all().await.map_err(io)?;
    Ok(())
}
