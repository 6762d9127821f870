//! `/users`: list and add SMTP AUTH users.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use super::{AdminState, ApiError};

/// The SMTP AUTH users with their addresses (no password hashes).
#[utoipa::path(get, path = "/api/v1/users", operation_id = "users_list", responses((status = 200, body = [crate::users::UserInfo])))]
pub(super) async fn list(State(st): State<Arc<AdminState>>) -> impl IntoResponse {
    Json(st.users.list())
}

/// A new SMTP AUTH user.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    pub name: String,
    pub addresses: Vec<String>,
    pub password: String,
}

/// Add an SMTP AUTH user.
#[utoipa::path(post, path = "/api/v1/users", operation_id = "users_add", request_body = NewUser,
    responses((status = 201, description = "`{added: name}`", body = Object), (status = 400, description = "invalid user"), (status = 409, description = "user exists")))]
pub(super) async fn add(
    State(st): State<Arc<AdminState>>,
    body: Result<Json<NewUser>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let Json(u) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let users = st.users.clone();
    let name = u.name.clone();
    // Argon2 hashing takes a while: off the async workers.
    tokio::task::spawn_blocking(move || users.add(&u.name, &u.addresses, &u.password))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    tracing::info!(user = %name, "user added");
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "added": name })),
    ))
}
