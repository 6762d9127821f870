//! Admin API routes of the keystore (`/api/v1/keys`, `/partners`, `/trust`, `/backup`).
//! Files travel base64-encoded in JSON; private keys never appear in a response (backups are
//! encrypted under the administrator's passphrase). Work runs on the blocking pool, because
//! key generation and Argon2 take a while.

use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{AdminState, ApiError};
use crate::keystore::own::Target;
use crate::keystore::{Keystore, KeystoreError};

type Reply = Result<Json<Value>, ApiError>;
type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

fn body<T>(b: Body<T>) -> Result<T, ApiError> {
    b.map(|Json(t)| t)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

fn decode(data: &str) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| ApiError::bad_request(format!("data is not base64: {e}")))
}

async fn blocking<T: serde::Serialize + Send + 'static>(
    st: &AdminState,
    f: impl FnOnce(&Keystore) -> Result<T, KeystoreError> + Send + 'static,
) -> Reply {
    let ks = st.keystore.clone();
    let r = tokio::task::spawn_blocking(move || f(&ks))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(Json(serde_json::to_value(r).unwrap_or(Value::Null)))
}

/// The keystore routes, merged into the admin API under `/api/v1`.
pub(super) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/keys", get(keys_list))
        .route("/keys/import", post(keys_import))
        .route("/keys/generate", post(keys_generate))
        .route("/keys/csr", post(keys_csr))
        .route("/keys/import-cert", post(keys_import_cert))
        .route("/keys/export", get(keys_export))
        .route("/keys/ca", get(keys_ca))
        .route("/keys/rollover", post(keys_rollover))
        .route("/partners", get(partners_list))
        .route("/partners/import", post(partners_import))
        .route("/partners/pending", get(partners_pending))
        .route("/partners/{id}/approve", post(partners_approve))
        .route("/partners/{id}/enable", post(partners_enable))
        .route("/partners/{id}/disable", post(partners_disable))
        .route("/partners/{id}", delete(partners_delete))
        .route("/trust", get(trust_list))
        .route("/trust/import", post(trust_import))
        .route("/trust/{id}", delete(trust_delete))
        .route("/trust/crls", get(crl_list))
        .route("/trust/crls/import", post(crl_import))
        .route("/trust/crls/refresh", post(crl_refresh))
        .route("/backup", post(backup_create))
        .route("/backup/restore", post(backup_restore))
}

async fn keys_list(State(st): State<Arc<AdminState>>) -> Reply {
    blocking(&st, |ks| Ok(ks.list_keys())).await
}

#[derive(Deserialize)]
struct KeyImport {
    /// base64 of the file.
    data: String,
    /// "p12" (default) or "pem".
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    password: String,
    #[serde(default)]
    mailbox: Option<String>,
    #[serde(default)]
    domain: Option<String>,
}

async fn keys_import(State(st): State<Arc<AdminState>>, b: Body<KeyImport>) -> Reply {
    let k = body(b)?;
    let data = decode(&k.data)?;
    let target = match (k.mailbox, k.domain) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give --mailbox or --domain, not both",
            ))
        }
        (Some(m), None) => Target::Mailbox(m),
        (None, Some(d)) => Target::Domain(d),
        (None, None) => Target::Individual,
    };
    let pem = match k.format.as_deref() {
        Some("pem") => true,
        Some("p12") | None => data.starts_with(b"-----"),
        Some(f) => return Err(ApiError::bad_request(format!("unknown format {f:?}"))),
    };
    let password = zeroize::Zeroizing::new(k.password);
    blocking(&st, move |ks| {
        if pem {
            ks.import_pem(&data, target)
        } else {
            ks.import_p12(&data, &password, target)
        }
    })
    .await
}

#[derive(Deserialize)]
struct Generate {
    email: String,
    #[serde(default)]
    days: Option<u32>,
    /// Function mailbox id the new key belongs to.
    #[serde(default)]
    mailbox: Option<String>,
}

async fn keys_generate(State(st): State<Arc<AdminState>>, b: Body<Generate>) -> Reply {
    let g = body(b)?;
    if g.days == Some(0) {
        return Err(ApiError::bad_request("days must be at least 1"));
    }
    blocking(&st, move |ks| ks.generate_for(&g.email, g.days, g.mailbox)).await
}

async fn keys_csr(State(st): State<Arc<AdminState>>, b: Body<Generate>) -> Reply {
    let g = body(b)?;
    blocking(&st, move |ks| ks.csr(&g.email)).await
}

#[derive(Deserialize)]
struct Data {
    data: String,
    #[serde(default)]
    domain: Option<String>,
}

async fn keys_import_cert(State(st): State<Arc<AdminState>>, b: Body<Data>) -> Reply {
    let data = decode(&body(b)?.data)?;
    blocking(&st, move |ks| ks.import_cert(&data)).await
}

#[derive(Deserialize)]
struct Export {
    address: String,
}

async fn keys_export(State(st): State<Arc<AdminState>>, Query(q): Query<Export>) -> Reply {
    blocking(&st, move |ks| {
        ks.export_cert(&q.address).map(|pem| json!({ "pem": pem }))
    })
    .await
}

async fn keys_ca(State(st): State<Arc<AdminState>>) -> Reply {
    blocking(&st, |ks| {
        let der = ks.ca_certificate()?;
        let pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &der)
            .map_err(|e| KeystoreError::BadInput(e.to_string()))?;
        Ok(json!({ "pem": pem }))
    })
    .await
}

async fn keys_rollover(State(st): State<Arc<AdminState>>) -> Reply {
    blocking(&st, |ks| ks.rollover_check()).await
}

async fn partners_list(State(st): State<Arc<AdminState>>) -> Reply {
    blocking(&st, |ks| Ok(ks.list_partners())).await
}

async fn partners_pending(State(st): State<Arc<AdminState>>) -> Reply {
    blocking(&st, |ks| Ok(ks.pending_partners())).await
}

async fn partners_import(State(st): State<Arc<AdminState>>, b: Body<Data>) -> Reply {
    let d = body(b)?;
    let data = decode(&d.data)?;
    blocking(&st, move |ks| ks.import_partner(&data, d.domain.as_deref())).await
}

async fn partners_approve(
    State(st): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> Reply {
    blocking(&st, move |ks| ks.approve_partner(&id)).await
}

async fn partners_enable(State(st): State<Arc<AdminState>>, UrlPath(id): UrlPath<String>) -> Reply {
    blocking(&st, move |ks| ks.set_partner_enabled(&id, true)).await
}

async fn partners_disable(
    State(st): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> Reply {
    blocking(&st, move |ks| ks.set_partner_enabled(&id, false)).await
}

async fn partners_delete(State(st): State<Arc<AdminState>>, UrlPath(id): UrlPath<String>) -> Reply {
    blocking(&st, move |ks| {
        ks.delete_partner(&id).map(|()| json!({ "deleted": id }))
    })
    .await
}

async fn trust_list(State(st): State<Arc<AdminState>>) -> Reply {
    blocking(&st, |ks| Ok(ks.list_anchors())).await
}

async fn trust_import(State(st): State<Arc<AdminState>>, b: Body<Data>) -> Reply {
    let data = decode(&body(b)?.data)?;
    blocking(&st, move |ks| ks.import_anchor(&data)).await
}

async fn trust_delete(State(st): State<Arc<AdminState>>, UrlPath(id): UrlPath<String>) -> Reply {
    blocking(&st, move |ks| {
        ks.delete_anchor(&id).map(|()| json!({ "deleted": id }))
    })
    .await
}

async fn crl_list(State(st): State<Arc<AdminState>>) -> Reply {
    blocking(&st, |ks| Ok(ks.list_crls())).await
}

async fn crl_import(State(st): State<Arc<AdminState>>, b: Body<Data>) -> Reply {
    let data = decode(&body(b)?.data)?;
    blocking(&st, move |ks| ks.import_crl(&data)).await
}

async fn crl_refresh(State(st): State<Arc<AdminState>>) -> Reply {
    blocking(&st, |ks| {
        let (ok, errors) = ks.refresh_crls();
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        Ok(json!({ "stored": ok, "errors": errors }))
    })
    .await
}

#[derive(Deserialize)]
struct Backup {
    passphrase: String,
    #[serde(default)]
    data: Option<String>,
}

async fn backup_create(State(st): State<Arc<AdminState>>, b: Body<Backup>) -> Reply {
    let pass = zeroize::Zeroizing::new(body(b)?.passphrase);
    blocking(&st, move |ks| {
        let file = ks.backup(&pass)?;
        Ok(json!({ "data": base64::engine::general_purpose::STANDARD.encode(file) }))
    })
    .await
}

async fn backup_restore(State(st): State<Arc<AdminState>>, b: Body<Backup>) -> Reply {
    let b = body(b)?;
    let data = decode(b.data.as_deref().unwrap_or_default())?;
    let pass = zeroize::Zeroizing::new(b.passphrase);
    blocking(&st, move |ks| {
        ks.restore(&data, &pass)
            .map(|n| json!({ "restored_keys": n }))
    })
    .await
}
