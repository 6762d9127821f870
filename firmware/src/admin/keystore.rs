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

/// Own keys (private keys never leave the box).
#[utoipa::path(get, path = "/api/v1/keys",
    responses((status = 200, description = "a list of own-key objects", body = Object)))]
async fn keys_list(State(st): State<Arc<AdminState>>) -> Reply {
    blocking(&st, |ks| Ok(ks.list_keys())).await
}

/// An own key to import.
#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct KeyImport {
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

/// Import an own key from PKCS#12 or PEM.
#[utoipa::path(post, path = "/api/v1/keys/import", request_body = KeyImport,
    responses((status = 200, description = "the imported key", body = Object), (status = 400, description = "bad input, wrong password or unsupported"), (status = 409, description = "conflicts with a stored entry")))]
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

/// A key to issue (or a CSR to make) for an address.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = KeyGenerate)]
pub(super) struct Generate {
    email: String,
    #[serde(default)]
    days: Option<u32>,
    /// Function mailbox id the new key belongs to.
    #[serde(default)]
    mailbox: Option<String>,
}

/// Issue a key and certificate with the built-in CA.
#[utoipa::path(post, path = "/api/v1/keys/generate", request_body = Generate,
    responses((status = 200, description = "the new key", body = Object), (status = 400, description = "bad input, wrong password or unsupported"), (status = 409, description = "conflicts with a stored entry")))]
async fn keys_generate(State(st): State<Arc<AdminState>>, b: Body<Generate>) -> Reply {
    let g = body(b)?;
    if g.days == Some(0) {
        return Err(ApiError::bad_request("days must be at least 1"));
    }
    blocking(&st, move |ks| ks.generate_for(&g.email, g.days, g.mailbox)).await
}

/// Make a key and a CSR for an external CA.
#[utoipa::path(post, path = "/api/v1/keys/csr", request_body = Generate,
    responses((status = 200, description = "the CSR (PEM)", body = Object), (status = 400, description = "bad input, wrong password or unsupported"), (status = 409, description = "conflicts with a stored entry")))]
async fn keys_csr(State(st): State<Arc<AdminState>>, b: Body<Generate>) -> Reply {
    let g = body(b)?;
    blocking(&st, move |ks| ks.csr(&g.email)).await
}

/// A file, base64.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = KeystoreFile)]
pub(super) struct Data {
    data: String,
    #[serde(default)]
    domain: Option<String>,
}

/// Attach the certificate an external CA issued for a CSR.
#[utoipa::path(post, path = "/api/v1/keys/import-cert", request_body = Data,
    responses((status = 200, description = "the completed key", body = Object), (status = 400, description = "bad input, wrong password or unsupported"), (status = 409, description = "conflicts with a stored entry")))]
async fn keys_import_cert(State(st): State<Arc<AdminState>>, b: Body<Data>) -> Reply {
    let data = decode(&body(b)?.data)?;
    blocking(&st, move |ks| ks.import_cert(&data)).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Export {
    address: String,
}

/// The certificate of an own key.
#[utoipa::path(get, path = "/api/v1/keys/export", params(Export),
    responses((status = 200, description = "`{pem}`", body = Object), (status = 404, description = "no key for the address")))]
async fn keys_export(State(st): State<Arc<AdminState>>, Query(q): Query<Export>) -> Reply {
    blocking(&st, move |ks| {
        ks.export_cert(&q.address).map(|pem| json!({ "pem": pem }))
    })
    .await
}

/// The built-in CA's certificate.
#[utoipa::path(get, path = "/api/v1/keys/ca",
    responses((status = 200, description = "`{pem}`", body = Object)))]
async fn keys_ca(State(st): State<Arc<AdminState>>) -> Reply {
    blocking(&st, |ks| {
        let der = ks.ca_certificate()?;
        let pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &der)
            .map_err(|e| KeystoreError::BadInput(e.to_string()))?;
        Ok(json!({ "pem": pem }))
    })
    .await
}

/// Run the key rollover check now.
#[utoipa::path(post, path = "/api/v1/keys/rollover",
    responses((status = 200, description = "the rollover state", body = Object)))]
async fn keys_rollover(State(st): State<Arc<AdminState>>) -> Reply {
    blocking(&st, |ks| ks.rollover_check()).await
}

/// Partner certificates.
#[utoipa::path(get, path = "/api/v1/partners",
    responses((status = 200, description = "a list of partner certificates", body = Object)))]
async fn partners_list(State(st): State<Arc<AdminState>>) -> Reply {
    blocking(&st, |ks| Ok(ks.list_partners())).await
}

/// Harvested partner certificates awaiting approval.
#[utoipa::path(get, path = "/api/v1/partners/pending",
    responses((status = 200, description = "a list of pending certificates", body = Object)))]
async fn partners_pending(State(st): State<Arc<AdminState>>) -> Reply {
    blocking(&st, |ks| Ok(ks.pending_partners())).await
}

/// Import a partner certificate (PEM, DER or p7c).
#[utoipa::path(post, path = "/api/v1/partners/import", request_body = Data,
    responses((status = 200, description = "the imported certificates", body = Object), (status = 400, description = "bad input, wrong password or unsupported"), (status = 409, description = "conflicts with a stored entry")))]
async fn partners_import(State(st): State<Arc<AdminState>>, b: Body<Data>) -> Reply {
    let d = body(b)?;
    let data = decode(&d.data)?;
    blocking(&st, move |ks| ks.import_partner(&data, d.domain.as_deref())).await
}

/// Approve a pending partner certificate.
#[utoipa::path(post, path = "/api/v1/partners/{id}/approve", params(("id" = String, Path, description = "fingerprint or id")),
    responses((status = 200, description = "the result", body = Object), (status = 404, description = "no such certificate")))]
async fn partners_approve(
    State(st): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> Reply {
    blocking(&st, move |ks| ks.approve_partner(&id)).await
}

/// Enable a partner certificate.
#[utoipa::path(post, path = "/api/v1/partners/{id}/enable", params(("id" = String, Path, description = "fingerprint or id")),
    responses((status = 200, description = "the result", body = Object), (status = 404, description = "no such certificate")))]
async fn partners_enable(State(st): State<Arc<AdminState>>, UrlPath(id): UrlPath<String>) -> Reply {
    blocking(&st, move |ks| ks.set_partner_enabled(&id, true)).await
}

/// Disable a partner certificate.
#[utoipa::path(post, path = "/api/v1/partners/{id}/disable", params(("id" = String, Path, description = "fingerprint or id")),
    responses((status = 200, description = "the result", body = Object), (status = 404, description = "no such certificate")))]
async fn partners_disable(
    State(st): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> Reply {
    blocking(&st, move |ks| ks.set_partner_enabled(&id, false)).await
}

/// Delete a partner certificate.
#[utoipa::path(delete, path = "/api/v1/partners/{id}", params(("id" = String, Path, description = "fingerprint or id")),
    responses((status = 200, description = "`{deleted: id}`", body = Object), (status = 404, description = "no such certificate")))]
async fn partners_delete(State(st): State<Arc<AdminState>>, UrlPath(id): UrlPath<String>) -> Reply {
    blocking(&st, move |ks| {
        ks.delete_partner(&id).map(|()| json!({ "deleted": id }))
    })
    .await
}

/// Trust anchors.
#[utoipa::path(get, path = "/api/v1/trust",
    responses((status = 200, description = "a list of trust anchors", body = Object)))]
async fn trust_list(State(st): State<Arc<AdminState>>) -> Reply {
    blocking(&st, |ks| Ok(ks.list_anchors())).await
}

/// Import a trust anchor.
#[utoipa::path(post, path = "/api/v1/trust/import", request_body = Data,
    responses((status = 200, description = "the imported anchor", body = Object), (status = 400, description = "bad input, wrong password or unsupported"), (status = 409, description = "conflicts with a stored entry")))]
async fn trust_import(State(st): State<Arc<AdminState>>, b: Body<Data>) -> Reply {
    let data = decode(&body(b)?.data)?;
    blocking(&st, move |ks| ks.import_anchor(&data)).await
}

/// Delete a trust anchor.
#[utoipa::path(delete, path = "/api/v1/trust/{id}", params(("id" = String, Path, description = "fingerprint or id")),
    responses((status = 200, description = "`{deleted: id}`", body = Object), (status = 404, description = "no such anchor")))]
async fn trust_delete(State(st): State<Arc<AdminState>>, UrlPath(id): UrlPath<String>) -> Reply {
    blocking(&st, move |ks| {
        ks.delete_anchor(&id).map(|()| json!({ "deleted": id }))
    })
    .await
}

/// Stored CRLs.
#[utoipa::path(get, path = "/api/v1/trust/crls",
    responses((status = 200, description = "a list of CRLs", body = Object)))]
async fn crl_list(State(st): State<Arc<AdminState>>) -> Reply {
    blocking(&st, |ks| Ok(ks.list_crls())).await
}

/// Import a CRL.
#[utoipa::path(post, path = "/api/v1/trust/crls/import", request_body = Data,
    responses((status = 200, description = "the stored CRL", body = Object), (status = 400, description = "bad input, wrong password or unsupported"), (status = 409, description = "conflicts with a stored entry")))]
async fn crl_import(State(st): State<Arc<AdminState>>, b: Body<Data>) -> Reply {
    let data = decode(&body(b)?.data)?;
    blocking(&st, move |ks| ks.import_crl(&data)).await
}

/// Fetch the CRLs from their distribution points now.
#[utoipa::path(post, path = "/api/v1/trust/crls/refresh",
    responses((status = 200, description = "`{stored, errors}`", body = Object)))]
async fn crl_refresh(State(st): State<Arc<AdminState>>) -> Reply {
    blocking(&st, |ks| {
        let (ok, errors) = ks.refresh_crls();
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        Ok(json!({ "stored": ok, "errors": errors }))
    })
    .await
}

/// The backup passphrase, and for a restore the backup file (base64).
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = KeystoreBackup)]
pub(super) struct Backup {
    passphrase: String,
    #[serde(default)]
    data: Option<String>,
}

/// An encrypted backup of the keystore.
#[utoipa::path(post, path = "/api/v1/backup", request_body = Backup,
    responses((status = 200, description = "`{data}`: the backup file, base64", body = Object), (status = 400, description = "bad input, wrong password or unsupported"), (status = 409, description = "conflicts with a stored entry")))]
async fn backup_create(State(st): State<Arc<AdminState>>, b: Body<Backup>) -> Reply {
    let pass = zeroize::Zeroizing::new(body(b)?.passphrase);
    blocking(&st, move |ks| {
        let file = ks.backup(&pass)?;
        Ok(json!({ "data": base64::engine::general_purpose::STANDARD.encode(file) }))
    })
    .await
}

/// Restore a keystore backup.
#[utoipa::path(post, path = "/api/v1/backup/restore", request_body = Backup,
    responses((status = 200, description = "`{restored_keys: n}`", body = Object), (status = 400, description = "bad input, wrong password or unsupported"), (status = 409, description = "conflicts with a stored entry")))]
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
