//! `/queue…`: list, quarantined ("held") messages and their release, retry, delete.

use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::response::IntoResponse;
use axum::Json;

use super::{AdminState, ApiError};

/// The messages in the queue with their recipients' delivery state.
#[utoipa::path(get, path = "/api/v1/queue", operation_id = "queue_list", responses((status = 200, body = [crate::queue::QueueItem])))]
pub(super) async fn list(State(st): State<Arc<AdminState>>) -> impl IntoResponse {
    Json(st.queue.list())
}

/// Quarantined ("held") messages with their reason.
#[utoipa::path(get, path = "/api/v1/queue/held", operation_id = "queue_held", responses((status = 200,
    description = "a list of objects `{id, reason}`", body = [Object])))]
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

/// Retry one message now.
#[utoipa::path(post, path = "/api/v1/queue/{id}/retry", operation_id = "queue_retry", params(("id" = String, Path, description = "queue id")),
    responses((status = 200, description = "`{retried: [id]}`", body = Object),
        (status = 400, description = "invalid queue id"), (status = 404, description = "no such message"), (status = 409, description = "message busy")))]
pub(super) async fn retry(
    State(st): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_id(&id)?;
    st.queue.retry(&id)?;
    Ok(Json(serde_json::json!({ "retried": [id] })))
}

/// Retry every deferred message now.
#[utoipa::path(post, path = "/api/v1/queue/retry", operation_id = "queue_retry_all",
    responses((status = 200, description = "`{retried: n}`", body = Object)))]
pub(super) async fn retry_all(State(st): State<Arc<AdminState>>) -> Json<serde_json::Value> {
    let n = st.queue.retry_all();
    Json(serde_json::json!({ "retried": n }))
}

/// Delete one message from the queue.
#[utoipa::path(delete, path = "/api/v1/queue/{id}", operation_id = "queue_delete", params(("id" = String, Path, description = "queue id")),
    responses((status = 200, description = "`{deleted: id}`", body = Object),
        (status = 400, description = "invalid queue id"), (status = 404, description = "no such message"), (status = 409, description = "message busy")))]
pub(super) async fn delete(
    State(st): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_id(&id)?;
    st.queue.delete(&id).await?;
    Ok(Json(serde_json::json!({ "deleted": id })))
}

/// `POST /queue/held/{id}/release`: put a quarantined message back into the queue (admin role;
/// the guard refuses `readonly` and writes the audit entry).
#[utoipa::path(post, path = "/api/v1/queue/held/{id}/release", operation_id = "queue_release",
    params(("id" = String, Path, description = "queue id")),
    responses((status = 200, description = "`{released: id}`", body = Object),
        (status = 400, description = "invalid queue id"), (status = 404, description = "no such held message"),
        (status = 409, description = "message busy")))]
pub(super) async fn release(
    State(st): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_id(&id)?;
    st.queue.release(&id).await?;
    Ok(Json(serde_json::json!({ "released": id })))
}
