//! Admin API for the live configuration (`/api/v1/config`): read it, change keys or the whole
//! file, check a file without applying it, list, compare and restore revisions. Used by
//! `segl ctl config` and the configuration pages. A refused change answers 422 with the
//! message and, when known, the key it is about; nothing is written then.

use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::Principal;
use super::{AdminState, ApiError};
use crate::liveconf::{Applied, ChangeError, Revision, RevisionInfo};

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

fn body<T>(b: Body<T>) -> Result<T, ApiError> {
    b.map(|Json(t)| t)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

/// A refused change: 422 `{"error", "key"}`, 404 for an unknown revision.
pub struct ChangeRefused(pub ChangeError);

impl IntoResponse for ChangeRefused {
    fn into_response(self) -> Response {
        match self.0 {
            ChangeError::Invalid { key, message } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(serde_json::json!({ "error": message, "key": key })),
            )
                .into_response(),
            e @ ChangeError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, e.to_string()).into_response()
            }
            e => ApiError::internal(e.to_string()).into_response(),
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ChangeError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(ChangeRefused(e).into_response()),
        Err(e) => Err(ApiError::internal(e.to_string()).into_response()),
    }
}

pub fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/config", get(show).put(replace_put))
        .route("/config/set", post(set))
        .route("/config/text", post(replace))
        .route("/config/check", post(check))
        .route("/config/revisions", get(revisions))
        .route("/config/revisions/{id}", get(revision))
        .route("/config/revisions/{id}/restore", post(restore))
        .route("/config/diff", get(diff))
}

/// The configuration in force.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConfigView {
    /// The live configuration file.
    pub path: String,
    /// Its text (what the administrator changed; other keys have their defaults).
    pub text: String,
    /// The newest revision, if any change was made.
    pub revision: Option<u64>,
    /// Keys changed since the start that apply only at the next start.
    pub restart_pending: Vec<String>,
    /// The effective configuration, every key.
    #[schema(value_type = Object)]
    pub config: Value,
}

/// The live configuration.
#[utoipa::path(get, path = "/api/v1/config", responses((status = 200, body = ConfigView)))]
pub async fn show(State(st): State<Arc<AdminState>>) -> Json<ConfigView> {
    let c = &st.config;
    Json(ConfigView {
        path: c.path().display().to_string(),
        text: c.file_text(),
        revision: c.revisions().first().map(|r| r.id),
        restart_pending: c.restart_pending(),
        config: serde_json::to_value(&*c.get()).unwrap_or(Value::Null),
    })
}

/// Keys to set: dotted paths to JSON values (`null`: back to the default).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SetRequest {
    #[schema(value_type = Object)]
    pub set: serde_json::Map<String, Value>,
    /// Why (kept with the revision).
    #[serde(default)]
    pub note: String,
}

/// Change keys of the live configuration; applies at once (except listeners and data_dir).
#[utoipa::path(post, path = "/api/v1/config/set", request_body = SetRequest,
    responses((status = 200, body = Applied), (status = 422, description = "invalid; nothing written")))]
pub async fn set(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    b: Body<SetRequest>,
) -> Response {
    let r = match body(b) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let mut changes = vec![];
    for (k, v) in &r.set {
        match crate::liveconf::edit::json_to_toml(v) {
            Ok(t) => changes.push((k.clone(), t)),
            Err(m) => {
                return ChangeRefused(ChangeError::Invalid {
                    key: Some(k.clone()),
                    message: format!("{k}: {m}"),
                })
                .into_response()
            }
        }
    }
    let note = if r.note.is_empty() {
        format!(
            "set {}",
            r.set.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    } else {
        r.note
    };
    let c = st.config.clone();
    match blocking(move || c.set(&p.name, &note, &changes)).await {
        Ok(a) => Json(a).into_response(),
        Err(r) => r,
    }
}

/// A whole configuration file.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TextRequest {
    pub text: String,
    #[serde(default)]
    pub note: String,
}

/// Replace the whole live configuration file.
#[utoipa::path(post, path = "/api/v1/config/text", request_body = TextRequest,
    responses((status = 200, body = Applied), (status = 422, description = "invalid; nothing written")))]
pub async fn replace(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    b: Body<TextRequest>,
) -> Response {
    let r = match body(b) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let note = if r.note.is_empty() {
        "file replaced".to_string()
    } else {
        r.note
    };
    let c = st.config.clone();
    match blocking(move || c.replace(&p.name, &note, &r.text)).await {
        Ok(a) => Json(a).into_response(),
        Err(r) => r,
    }
}

/// `PUT /config`: the same as `POST /config/text` (its own function so that OpenAPI, which
/// names one path per handler, describes both).
#[utoipa::path(put, path = "/api/v1/config", request_body = TextRequest,
    responses((status = 200, body = Applied), (status = 422, description = "invalid; nothing written")))]
pub async fn replace_put(
    st: State<Arc<AdminState>>,
    p: Extension<Principal>,
    b: Body<TextRequest>,
) -> Response {
    replace(st, p, b).await
}

/// Validate a configuration file's text without applying it.
#[utoipa::path(post, path = "/api/v1/config/check", request_body = TextRequest,
    responses((status = 200), (status = 422, description = "invalid")))]
pub async fn check(State(st): State<Arc<AdminState>>, b: Body<TextRequest>) -> Response {
    let r = match body(b) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let c = st.config.clone();
    match blocking(move || c.check(&r.text).map(|_| ())).await {
        Ok(()) => Json(serde_json::json!({ "ok": true })).into_response(),
        Err(r) => r,
    }
}

/// Configuration revisions, newest first.
#[utoipa::path(get, path = "/api/v1/config/revisions",
    responses((status = 200, body = [RevisionInfo])))]
pub async fn revisions(State(st): State<Arc<AdminState>>) -> Json<Vec<RevisionInfo>> {
    Json(st.config.revisions())
}

/// One revision with its text and its diff to the one before.
#[utoipa::path(get, path = "/api/v1/config/revisions/{id}", params(("id" = u64, Path)),
    responses((status = 200, body = Revision), (status = 404)))]
pub async fn revision(
    State(st): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<u64>,
) -> Result<Json<Revision>, ApiError> {
    st.config
        .revision(id)
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no revision {id}")))
}

/// Make an earlier revision the live configuration again (as a new revision).
#[utoipa::path(post, path = "/api/v1/config/revisions/{id}/restore", params(("id" = u64, Path)),
    responses((status = 200, body = Applied), (status = 404), (status = 422)))]
pub async fn restore(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    UrlPath(id): UrlPath<u64>,
) -> Response {
    let c = st.config.clone();
    match blocking(move || c.restore(&p.name, id)).await {
        Ok(a) => Json(a).into_response(),
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DiffQuery {
    /// Older revision.
    pub from: u64,
    /// Newer revision; absent: the file now.
    pub to: Option<u64>,
}

/// Unified diff between two revisions (or a revision and the file now).
#[utoipa::path(get, path = "/api/v1/config/diff", params(DiffQuery),
    responses((status = 200), (status = 404)))]
pub async fn diff(State(st): State<Arc<AdminState>>, Query(q): Query<DiffQuery>) -> Response {
    match st.config.diff(q.from, q.to) {
        Ok(d) => Json(serde_json::json!({ "from": q.from, "to": q.to, "diff": d })).into_response(),
        Err(e) => ChangeRefused(e).into_response(),
    }
}
