//! Admin API for the listeners' TLS certificates (`/api/v1/tls`): which certificate each
//! listener uses, install an uploaded pair, go back to self-signed. The checks and the storing
//! are [`crate::liveconf::tls_files`]'s; a refused upload answers 422 with the reason.

use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Extension, Json, Router};
use serde::Deserialize;

use super::auth::Principal;
use super::config::ChangeRefused;
use super::{AdminState, ApiError};
use crate::liveconf::tls_files::{self, TlsFileError, TlsService, TlsState};
use crate::liveconf::Applied;

pub fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/tls", get(list))
        .route("/tls/{service}", put(install).delete(reset))
}

/// A certificate and its private key, PEM.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TlsUpload {
    /// The certificate, then its chain (PEM).
    pub cert_pem: String,
    /// The private key (PEM, not encrypted); empty when `cert_pem` holds it too.
    #[serde(default)]
    pub key_pem: String,
}

fn service(s: &str) -> Result<TlsService, ApiError> {
    TlsService::parse(s).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no TLS listener {s} (smtp, admin, portal)"),
        )
    })
}

/// An upload refused for a reason the administrator can fix: 422 with the message.
pub fn refused(e: TlsFileError) -> Response {
    match e {
        TlsFileError::Change(c) => ChangeRefused(c).into_response(),
        e @ TlsFileError::Io(_) => ApiError::internal(e.to_string()).into_response(),
        e => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

/// The certificate of every TLS listener.
#[utoipa::path(get, path = "/api/v1/tls", responses((status = 200, body = [TlsState])))]
pub async fn list(State(st): State<Arc<AdminState>>) -> Response {
    let c = st.config.clone();
    match tokio::task::spawn_blocking(move || tls_files::states(&c)).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

/// Install a certificate and key for a listener (`smtp`, `admin` or `portal`); applies at the
/// next start.
#[utoipa::path(put, path = "/api/v1/tls/{service}", request_body = TlsUpload,
    params(("service" = String, Path, description = "smtp, admin or portal")),
    responses((status = 200, body = tls_files::Installed),
        (status = 422, description = "not a usable pair; nothing changed")))]
pub async fn install(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    UrlPath(s): UrlPath<String>,
    b: Result<Json<TlsUpload>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let t = match service(&s) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let up = match b {
        Ok(Json(u)) => u,
        Err(e) => return ApiError::bad_request(e.body_text()).into_response(),
    };
    let c = st.config.clone();
    let who = p.name.clone();
    let key = zeroize::Zeroizing::new(up.key_pem.into_bytes());
    let r = tokio::task::spawn_blocking(move || {
        tls_files::install(&c, &who, t, up.cert_pem.as_bytes(), &key)
    })
    .await;
    match r {
        Ok(Ok(i)) => Json(i).into_response(),
        Ok(Err(e)) => refused(e),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

/// Go back to the listener's self-signed certificate; applies at the next start.
#[utoipa::path(delete, path = "/api/v1/tls/{service}",
    params(("service" = String, Path, description = "smtp, admin or portal")),
    responses((status = 200, body = Applied)))]
pub async fn reset(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    UrlPath(s): UrlPath<String>,
) -> Response {
    let t = match service(&s) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let (c, who) = (st.config.clone(), p.name.clone());
    match tokio::task::spawn_blocking(move || tls_files::reset(&c, &who, t)).await {
        Ok(Ok(a)) => Json(a).into_response(),
        Ok(Err(e)) => ChangeRefused(e).into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}
