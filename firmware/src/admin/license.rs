//! Admin API of the licence (`/api/v1/license`), used by `segl ctl license` and the
//! System › Licences page:
//!
//! - `GET  /license`          the state ([`crate::license::Status`]) plus `parked`
//! - `POST /license`          install: `{"data": "<base64 of the file>"}` (or `{"text": …}`);
//!   a refused file answers 400 with the reason and leaves the current licence in place
//! - `POST /license/check`    the same body: parse and verify only, nothing changes
//! - `GET  /license/parked`   inbound mail kept encrypted for want of a licence

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{AdminState, ApiError};
use crate::license::{parked, LicenseError};

type Reply = Result<Json<Value>, ApiError>;
type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

impl From<LicenseError> for ApiError {
    fn from(e: LicenseError) -> ApiError {
        let status = match e {
            LicenseError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.to_string())
    }
}

/// The licence routes, merged into the admin API under `/api/v1`.
pub fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/license", get(show).post(install))
        .route("/license/check", post(check))
        .route("/license/parked", get(parked_list))
}

/// A licence file in a request: base64 (`data`, as for keys) or plain text (`text`).
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = LicenceFile)]
pub(super) struct Upload {
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

fn file_of(b: Body<Upload>) -> Result<Vec<u8>, ApiError> {
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, m);
    let Json(u) = b.map_err(|e| bad(e.body_text()))?;
    match (u.data, u.text) {
        (Some(d), None) => base64::engine::general_purpose::STANDARD
            .decode(d.trim())
            .map_err(|e| bad(format!("data is not base64: {e}"))),
        (None, Some(t)) => Ok(t.into_bytes()),
        _ => Err(bad("give the licence file as data (base64) or text".into())),
    }
}

fn parked_view(st: &AdminState) -> Vec<Value> {
    parked::list(&st.license)
        .into_iter()
        .map(|p| {
            json!({
                "id": p.id,
                "parked_at": p.parked_at,
                "queue_id": p.envelope.id,
                "sender": p.envelope.mail_from,
                "recipients": p.recipients,
                "reason": p.reason,
            })
        })
        .collect()
}

fn with_parked(st: &AdminState, status: &crate::license::Status) -> Value {
    let mut v = serde_json::to_value(status).unwrap_or(Value::Null);
    v["parked"] = Value::from(parked_view(st));
    v
}

/// The licence state with the parked messages.
#[utoipa::path(get, path = "/api/v1/license", operation_id = "license_show",
    responses((status = 200, description = "the licence status with `parked`", body = Object)))]
async fn show(State(st): State<Arc<AdminState>>) -> Reply {
    let s2 = st.clone();
    let v = tokio::task::spawn_blocking(move || with_parked(&s2, &s2.license.status()))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(v))
}

/// Install a licence file; releases parked messages.
#[utoipa::path(post, path = "/api/v1/license", operation_id = "license_install", request_body = Upload,
    responses((status = 200, description = "the licence status with `parked` and `released`", body = Object), (status = 400, description = "bad request or licence refused")))]
async fn install(State(st): State<Arc<AdminState>>, b: Body<Upload>) -> Reply {
    let file = file_of(b)?;
    let s2 = st.clone();
    let v = tokio::task::spawn_blocking(move || -> Result<Value, LicenseError> {
        let status = s2.license.install(&file)?;
        let released = crate::policy::license_tasks::release_now(&s2.queue, &s2.policy.get());
        let mut v = with_parked(&s2, &status);
        v["released"] = serde_json::to_value(&released).unwrap_or(Value::Null);
        Ok(v)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .inspect_err(|e| tracing::warn!(reason = %e, "licence refused"))?;
    Ok(Json(v))
}

/// Check a licence file without installing it.
#[utoipa::path(post, path = "/api/v1/license/check", operation_id = "license_check", request_body = Upload,
    responses((status = 200, description = "`{ok, license}`", body = Object), (status = 400, description = "bad request or licence refused")))]
async fn check(State(st): State<Arc<AdminState>>, b: Body<Upload>) -> Reply {
    let file = file_of(b)?;
    let f = st.license.check(&file)?;
    Ok(Json(json!({ "ok": true, "license": f.terms })))
}

/// Messages parked while the licence did not cover them.
#[utoipa::path(get, path = "/api/v1/license/parked", operation_id = "license_parked",
    responses((status = 200, description = "a list of parked messages", body = Object)))]
async fn parked_list(State(st): State<Arc<AdminState>>) -> Reply {
    let s2 = st.clone();
    let v = tokio::task::spawn_blocking(move || parked_view(&s2))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(Value::from(v)))
}
