//! Admin API for the logs people read: the audit log (`/api/v1/audit`: who changed what,
//! when, through which door) and the mail log (`/api/v1/maillog`: one entry per message
//! transition, searchable by address, queue id and time), newest first, as on their pages.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::audit::AuditEntry;
use super::{AdminState, ApiError};
use crate::monitor::maillog::{MailEvent, MailQuery};

/// Most entries one answer carries.
const MAX: usize = 1000;

pub fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/audit", get(audit))
        .route("/maillog", get(maillog))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Text the entry contains (administrator, address, what); empty: all.
    #[serde(default)]
    pub q: String,
    /// At most this many (default 200, at most 1000).
    pub limit: Option<usize>,
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery),
    responses((status = 200, body = [AuditEntry])))]
pub async fn audit(
    State(st): State<Arc<AdminState>>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let limit = q.limit.unwrap_or(200).min(MAX);
    let st2 = st.clone();
    tokio::task::spawn_blocking(move || st2.auth.audit.recent(limit, &q.q))
        .await
        .map(Json)
        .map_err(|e| ApiError::internal(e.to_string()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LogLimit {
    /// At most this many (default 200, at most 1000).
    pub limit: Option<usize>,
}

/// The mail log, newest first, filtered by address, queue id and time (unix seconds).
#[utoipa::path(get, path = "/api/v1/maillog", params(MailQuery, LogLimit),
    responses((status = 200, body = [MailEvent])))]
pub async fn maillog(
    State(st): State<Arc<AdminState>>,
    Query(q): Query<MailQuery>,
    Query(l): Query<LogLimit>,
) -> Result<Json<Vec<MailEvent>>, ApiError> {
    let limit = l.limit.unwrap_or(200).min(MAX);
    let mon = st.auth.monitor.clone();
    tokio::task::spawn_blocking(move || mon.log.search(&q, limit))
        .await
        .map(Json)
        .map_err(|e| ApiError::internal(e.to_string()))
}
