//! Admin API routes for DKIM keys (`/api/v1/dkim`), used by `segl ctl dkim` and the web
//! admin's Domains page. Answers carry the public key and the DNS record to publish, never
//! the private key. Key generation runs on the blocking pool (RSA takes a moment).

use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use super::{AdminState, ApiError};
use crate::dkim::Algorithm;
use crate::keystore::dkim::{DkimKeyInfo, DkimState};
use crate::keystore::{Keystore, KeystoreError};

type Reply = Result<Json<Value>, ApiError>;
type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

fn bad_request(m: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, m.into())
}

fn body<T>(b: Body<T>) -> Result<T, ApiError> {
    b.map(|Json(t)| t).map_err(|e| bad_request(e.body_text()))
}

/// Runs keystore work on the blocking pool and answers with the keys it returns, each with
/// `publish_until`: for a retired key, when its DNS record may go (`dkim.keep_retired_days`
/// after it was retired).
async fn keys_reply(
    st: &AdminState,
    f: impl FnOnce(&Keystore) -> Result<Vec<DkimKeyInfo>, KeystoreError> + Send + 'static,
) -> Reply {
    let ks = st.keystore.clone();
    let keep = i64::from(st.cfg.dkim.keep_retired_days) * 86_400;
    let keys = tokio::task::spawn_blocking(move || f(&ks))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    let out: Vec<Value> = keys
        .into_iter()
        .map(|k| {
            let until = match (k.state, k.retired) {
                (DkimState::Retired, Some(r)) => Some(r + keep),
                _ => None,
            };
            let mut v = serde_json::to_value(&k).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("publish_until".into(), until.into());
            }
            v
        })
        .collect();
    Ok(Json(Value::Array(out)))
}

/// The DKIM routes, merged into the admin API under `/api/v1`.
pub fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/dkim", get(list))
        .route("/dkim/generate", post(generate))
        .route("/dkim/import", post(import))
        .route("/dkim/{domain}", get(show))
        .route("/dkim/{domain}/{selector}", delete(remove))
}

/// DKIM keys of all domains.
#[utoipa::path(get, path = "/api/v1/dkim", operation_id = "dkim_list",
    responses((status = 200, description = "a list of DKIM keys with their DNS records", body = Object)))]
async fn list(State(st): State<Arc<AdminState>>) -> Reply {
    keys_reply(&st, |ks| Ok(ks.dkim_list())).await
}

/// DKIM keys of one domain.
#[utoipa::path(get, path = "/api/v1/dkim/{domain}", operation_id = "dkim_show", params(("domain" = String, Path)),
    responses((status = 200, description = "a list of DKIM keys with their DNS records", body = Object)))]
async fn show(State(st): State<Arc<AdminState>>, UrlPath(domain): UrlPath<String>) -> Reply {
    keys_reply(&st, move |ks| ks.dkim_show(&domain)).await
}

/// A DKIM key to generate.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = DkimGenerate)]
pub(super) struct Generate {
    domain: String,
    #[serde(default)]
    selector: Option<String>,
    /// `rsa` (default) or `ed25519`.
    #[serde(default)]
    algorithm: Option<String>,
}

/// Generate a DKIM key.
#[utoipa::path(post, path = "/api/v1/dkim/generate", operation_id = "dkim_generate", request_body = Generate,
    responses((status = 200, description = "a list with the new key", body = Object), (status = 400, description = "bad request")))]
async fn generate(State(st): State<Arc<AdminState>>, b: Body<Generate>) -> Reply {
    let g = body(b)?;
    let algorithm = match g.algorithm.as_deref() {
        None | Some("") => Algorithm::Rsa,
        Some(a) => Algorithm::parse(a).map_err(|e| bad_request(e.to_string()))?,
    };
    keys_reply(&st, move |ks| {
        ks.dkim_generate(&g.domain, g.selector.as_deref(), algorithm)
            .map(|k| vec![k])
    })
    .await
}

/// A DKIM key to import.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = DkimImport)]
pub(super) struct Import {
    domain: String,
    #[serde(default)]
    selector: Option<String>,
    /// base64 of the PEM file.
    data: String,
}

/// Import a DKIM key (PEM).
#[utoipa::path(post, path = "/api/v1/dkim/import", operation_id = "dkim_import", request_body = Import,
    responses((status = 200, description = "a list with the imported key", body = Object), (status = 400, description = "bad request")))]
async fn import(State(st): State<Arc<AdminState>>, b: Body<Import>) -> Reply {
    let i = body(b)?;
    let pem = zeroize::Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(i.data.trim())
            .map_err(|e| bad_request(format!("data is not base64: {e}")))?,
    );
    keys_reply(&st, move |ks| {
        ks.dkim_import(&i.domain, i.selector.as_deref(), &pem)
            .map(|k| vec![k])
    })
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Force {
    #[serde(default)]
    force: bool,
}

/// Delete a DKIM key (`force` for the last active one).
#[utoipa::path(delete, path = "/api/v1/dkim/{domain}/{selector}", operation_id = "dkim_delete", params(("domain" = String, Path), ("selector" = String, Path), Force),
    responses((status = 200, description = "a list with the deleted key", body = Object)))]
async fn remove(
    State(st): State<Arc<AdminState>>,
    UrlPath((domain, selector)): UrlPath<(String, String)>,
    Query(q): Query<Force>,
) -> Reply {
    keys_reply(&st, move |ks| {
        ks.dkim_delete(&domain, &selector, q.force).map(|k| vec![k])
    })
    .await
}
