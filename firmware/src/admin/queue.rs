//! `/queue…`: list, quarantined ("held") messages and their release, retry, delete.

use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::response::IntoResponse;
use axum::Json;

use super::{AdminState, ApiError};

pub(super) async fn list(State(st): State<Arc<AdminState>>) -> impl IntoResponse {
    Json(st.queue.list())
}

pub(super) async fn held(State(st): State<Arc<AdminState>>) -> impl IntoResponse {
    let held: Vec<serde_json::Value> = st
        .queue
        .held()
        .into_iter()
        .map(|(id, reason)| serde_json::json!({ "id": id, "reason": reason }))
        .collect();
    Json(held)
}

fn check_id(id: &str) -> Result<(), ApiError> {
    if crate::spool::valid_id(id) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("invalid queue id {id:?}")))
    }
}

pub(super) async fn retry(
    State(st): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_id(&id)?;
    st.queue.retry(&id)?;
    Ok(Json(serde_json::json!({ "retried": [id] })))
}

pub(super) async fn retry_all(State(st): State<Arc<AdminState>>) -> Json<serde_json::Value> {
    let n = st.queue.retry_all();
    Json(serde_json::json!({ "retried": n }))
}

pub(super) async fn delete(
    State(st): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_id(&id)?;
    st.queue.delete(&id)?;
    Ok(Json(serde_json::json!({ "deleted": id })))
}

/// `POST /queue/held/{id}/release`: put a quarantined message back into the queue (admin role;
/// the guard refuses `readonly` and writes the audit entry).
pub(super) async fn release(
    State(st): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_id(&id)?;
    st.queue.release(&id).await?;
    Ok(Json(serde_json::json!({ "released": id })))
}
