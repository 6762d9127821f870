//! `POST /users/import`: adds and updates users from a list a directory or CSV file gave
//! (`segl ctl user import`), or with `dry_run` only reports what would change.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;

use super::{AdminState, ApiError};
use crate::users::import::{Action, Change, ImportUser};

/// Users to add or update; with `dry_run` nothing is written.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ImportRequest {
    pub users: Vec<ImportUser>,
    #[serde(default)]
    pub dry_run: bool,
}

/// Add and update users from a directory or CSV export; answers what changed per user.
#[utoipa::path(post, path = "/api/v1/users/import", operation_id = "users_import", request_body = ImportRequest,
    responses((status = 200, body = [Change]), (status = 400, description = "invalid user list")))]
pub(super) async fn import(
    State(st): State<Arc<AdminState>>,
    body: Result<Json<ImportRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Vec<Change>>, ApiError> {
    let Json(req) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let users = st.users.clone();
    let dry_run = req.dry_run;
    // The store write is a durable file replace: off the async workers.
    let changes = tokio::task::spawn_blocking(move || users.import(&req.users, dry_run))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    let count = |a: Action| changes.iter().filter(|c| c.action == a).count();
    tracing::info!(
        dry_run,
        added = count(Action::Add),
        updated = count(Action::Update),
        unchanged = count(Action::Unchanged),
        "users imported"
    );
    Ok(Json(changes))
}
