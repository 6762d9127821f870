//! The API token: 32 random bytes (hex) in `<data_dir>/ctl.token`, mode 0600, made on first
//! start; requests carry it as `Authorization: Bearer …`, compared in constant time.

use std::path::Path;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::{AdminState, ApiError};

/// Read the API token, making one (32 random bytes, hex, mode 0600) on first start.
pub fn ensure_token(data_dir: &Path) -> std::io::Result<String> {
    let p = data_dir.join("ctl.token");
    if let Ok(t) = std::fs::read_to_string(&p) {
        let t = t.trim().to_string();
        if t.len() >= 32 {
            crate::durable::set_private(&p);
            return Ok(t);
        }
    }
    let bytes: [u8; 32] = rand::random();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    crate::durable::write_private(&p, format!("{token}\n").as_bytes())?;
    Ok(token)
}

/// The layer in front of every `/api/v1` route: 401 unless the bearer token matches.
pub(super) async fn require_token(
    State(st): State<Arc<AdminState>>,
    headers: HeaderMap,
    req: axum::extract::Request,
    next: Next,
) -> Response {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(given.as_bytes().ct_eq(st.token.as_bytes())) {
        next.run(req).await
    } else {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing or wrong API token (see <data_dir>/ctl.token)".into(),
        )
        .into_response()
    }
}
