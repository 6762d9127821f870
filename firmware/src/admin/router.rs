//! The route table: `/health`, the login and set-up pages and the stylesheet open; everything
//! under `/api/v1` behind the token or a session ([`auth::guard::api`]); the other pages behind
//! a session ([`auth::guard::web`]); security headers on every answer.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{delete, get, post};
use axum::Router;

use super::{
    accounts, auth, config, dkim, keystore, license, openapi, queue, status, tls, user_import,
    users, web, AdminState, ApiError,
};

/// The admin API's router (paths are an interface, DESIGN.md §11).
/// The routes under `/api/v1`, before the guard (also read by [`super::route_table`]).
pub(super) fn api_routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/status", get(status::status))
        .route("/queue", get(queue::list))
        .route("/queue/retry", post(queue::retry_all))
        .route("/queue/held", get(queue::held))
        .route("/queue/held/{id}/release", post(queue::release))
        .route("/queue/{id}/retry", post(queue::retry))
        .route("/queue/{id}", delete(queue::delete))
        .route("/users", get(users::list).post(users::add))
        .route("/users/import", post(user_import::import))
        .merge(keystore::routes())
        .merge(dkim::routes())
        .merge(license::routes())
        .merge(super::firmware::routes())
        .merge(super::appliance::routes())
        .merge(accounts::routes())
        .merge(config::routes())
        .merge(tls::routes())
        .merge(super::logs::routes())
        .merge(openapi::routes())
}

pub fn router(st: Arc<AdminState>) -> Router {
    let api = api_routes().layer(middleware::from_fn_with_state(st.clone(), auth::guard::api));
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/metrics", get(super::metrics::metrics))
        .nest("/api/v1", api)
        .merge(web::router(st.clone()))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint".into()) })
        .layer(middleware::from_fn_with_state(
            st.clone(),
            auth::guard::security_headers,
        ))
        .with_state(st)
}
