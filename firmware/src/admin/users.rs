//! `/users`: list and add SMTP AUTH users.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use super::{AdminState, ApiError};

pub(super) async fn list(State(st): State<Arc<AdminState>>) -> impl IntoResponse {
    Json(st.users.list())
}

#[derive(Deserialize)]
pub struct NewUser {
    pub name: String,
    pub addresses: Vec<String>,
    pub password: String,
}

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
