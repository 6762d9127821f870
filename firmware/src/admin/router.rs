//! The route table: `/health` open, everything under `/api/v1` behind the token.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{delete, get, post};
use axum::Router;

use super::{auth, dkim, keystore, license, queue, status, users, AdminState, ApiError};

/// The admin API's router (paths are an interface, DESIGN.md §11).
pub fn router(st: Arc<AdminState>) -> Router {
    let api = Router::new()
        .route("/status", get(status::status))
        .route("/queue", get(queue::list))
        .route("/queue/retry", post(queue::retry_all))
        .route("/queue/held", get(queue::held))
        .route("/queue/{id}/retry", post(queue::retry))
        .route("/queue/{id}", delete(queue::delete))
        .route("/users", get(users::list).post(users::add))
        .merge(keystore::routes())
        .merge(dkim::routes())
        .merge(license::routes())
        .layer(middleware::from_fn_with_state(
            st.clone(),
            auth::require_token,
        ));
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .nest("/api/v1", api)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint".into()) })
        .with_state(st)
}
