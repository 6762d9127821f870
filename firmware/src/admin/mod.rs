//! The admin API: JSON over HTTP on `admin.listen`, authenticated with the bearer token in
//! `<data_dir>/ctl.token`. `segl ctl` and (later) the web pages use the same handlers.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod https;
pub mod openapi;
pub mod web;

use crate::config::Config;
use crate::queue::{Queue, QueueError, QueueStats};
use crate::users::{UserError, UserStore};

pub struct AdminState {
    pub cfg: Arc<Config>,
    pub queue: Arc<Queue>,
    pub users: Arc<UserStore>,
    pub keystore: Arc<crate::keystore::Keystore>,
    pub token: String,
    pub started: Instant,
    /// Administrators, sessions, login limit, audit log, dashboard counters.
    pub auth: Arc<auth::AuthState>,
}

/// An API error: an HTTP status and a message for a person.
pub struct ApiError(StatusCode, String);

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: String) -> ApiError {
        ApiError(status, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> ApiError {
        let status = match e {
            QueueError::NotFound(_) => StatusCode::NOT_FOUND,
            QueueError::Busy(_) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> ApiError {
        let status = match e {
            UserError::Exists(_) => StatusCode::CONFLICT,
            UserError::Invalid(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

/// Read the API token, making one (32 random bytes, hex, mode 0600) on first start.
pub fn ensure_token(data_dir: &Path) -> std::io::Result<String> {
    let p = data_dir.join("ctl.token");
    if let Ok(t) = std::fs::read_to_string(&p) {
        let t = t.trim().to_string();
        if t.len() >= 32 {
            crate::users::set_private(&p);
            return Ok(t);
        }
    }
    let bytes: [u8; 32] = rand::random();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = data_dir.join("ctl.token.tmp");
    std::fs::write(&tmp, format!("{token}\n"))?;
    crate::users::set_private(&tmp);
    std::fs::rename(&tmp, &p)?;
    Ok(token)
}

pub fn router(st: Arc<AdminState>) -> Router {
    let api = Router::new()
        .route("/status", get(status))
        .route("/queue", get(queue_list))
        .route("/queue/retry", post(queue_retry_all))
        .route("/queue/held", get(queue_held))
        .route("/queue/{id}/retry", post(queue_retry))
        .route("/queue/{id}", delete(queue_delete))
        .route("/users", get(users_list).post(users_add))
        .merge(crate::keystore::api::routes())
        .merge(accounts::routes())
        .merge(openapi::routes())
        .layer(middleware::from_fn_with_state(st.clone(), auth::guard::api));
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .nest("/api/v1", api)
        .merge(web::router(st.clone()))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such endpoint".into()) })
        .layer(middleware::from_fn_with_state(
            st.clone(),
            auth::guard::security_headers,
        ))
        .with_state(st)
}

#[derive(Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub hostname: String,
    pub uptime_secs: u64,
    pub listeners: Listeners,
    pub queue: QueueStats,
    pub licence: String,
}

#[derive(Serialize, Deserialize)]
pub struct Listeners {
    pub smtp: Vec<String>,
    pub submission: Vec<String>,
    pub admin: String,
}

async fn status(State(st): State<Arc<AdminState>>) -> Json<Status> {
    Json(Status {
        version: env!("CARGO_PKG_VERSION").to_string(),
        hostname: st.cfg.smtp.hostname.clone(),
        uptime_secs: st.started.elapsed().as_secs(),
        listeners: Listeners {
            smtp: st.cfg.smtp.listen.clone(),
            submission: st.cfg.smtp.submission_listen.clone(),
            admin: st.cfg.admin.listen.clone(),
        },
        queue: st.queue.stats(),
        licence: "none installed (signing and decryption with individual keys not licensed)".into(),
    })
}

async fn queue_list(State(st): State<Arc<AdminState>>) -> impl IntoResponse {
    Json(st.queue.list())
}

async fn queue_held(State(st): State<Arc<AdminState>>) -> impl IntoResponse {
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
        Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("invalid queue id {id:?}"),
        ))
    }
}

async fn queue_retry(
    State(st): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_id(&id)?;
    st.queue.retry(&id)?;
    Ok(Json(serde_json::json!({ "retried": [id] })))
}

async fn queue_retry_all(State(st): State<Arc<AdminState>>) -> Json<serde_json::Value> {
    let n = st.queue.retry_all();
    Json(serde_json::json!({ "retried": n }))
}

async fn queue_delete(
    State(st): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_id(&id)?;
    st.queue.delete(&id)?;
    Ok(Json(serde_json::json!({ "deleted": id })))
}

async fn users_list(State(st): State<Arc<AdminState>>) -> impl IntoResponse {
    Json(st.users.list())
}

#[derive(Deserialize)]
pub struct NewUser {
    pub name: String,
    pub addresses: Vec<String>,
    pub password: String,
}

async fn users_add(
    State(st): State<Arc<AdminState>>,
    body: Result<Json<NewUser>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let Json(u) = body.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let users = st.users.clone();
    let name = u.name.clone();
    tokio::task::spawn_blocking(move || users.add(&u.name, &u.addresses, &u.password))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    tracing::info!(user = %name, "user added");
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "added": name })),
    ))
}

/// Serve the admin router on `listener`, over TLS when `tls` is given, until `stop`.
pub async fn serve(
    st: Arc<AdminState>,
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let app = router(st).into_make_service_with_connect_info::<https::ClientAddr>();
    let shutdown = async move {
        let _ = stop.changed().await;
    };
    let r = match tls {
        Some(cfg) => match https::TlsListener::new(listener, cfg) {
            Ok(l) => axum::serve(l, app).with_graceful_shutdown(shutdown).await,
            Err(e) => Err(e),
        },
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
    };
    if let Err(e) = r {
        tracing::error!(error = %e, "admin API stopped");
    }
}
