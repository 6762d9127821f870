//! `/api/v1/admins`: the administrators (for `segl ctl admin` and the Users page), and the
//! recipient check, `/api/v1/recipients/check`, open to read-only administrators.

use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

use super::auth::{AdminError, AdminInfo, Principal, Role};
use super::{AdminState, ApiError};

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> ApiError {
        let status = match e {
            AdminError::Exists(_) => StatusCode::CONFLICT,
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::Invalid(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

pub fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/admins", get(admins_list).post(admins_add))
        .route("/admins/{name}/password", post(admins_passwd))
        .route("/admins/{name}", delete(admins_delete))
        .route("/recipients/check", post(recipients_check))
}

/// A new administrator.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct NewAdmin {
    pub name: String,
    pub password: String,
    /// `admin` (default) or `readonly`.
    #[serde(default)]
    pub role: Option<Role>,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct NewPassword {
    pub password: String,
}

type Body<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

fn body<T>(b: Body<T>) -> Result<T, ApiError> {
    b.map(|Json(t)| t)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))
}

async fn run<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AdminError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(ApiError::from)
}

/// The administrators (never their hashes).
#[utoipa::path(get, path = "/api/v1/admins", responses((status = 200, body = [AdminInfo])))]
pub async fn admins_list(State(st): State<Arc<AdminState>>) -> Json<Vec<AdminInfo>> {
    Json(st.auth.admins.list())
}

/// Add an administrator.
#[utoipa::path(post, path = "/api/v1/admins", request_body = NewAdmin,
    responses((status = 201, body = AdminInfo), (status = 409, description = "exists")))]
pub async fn admins_add(
    State(st): State<Arc<AdminState>>,
    b: Body<NewAdmin>,
) -> Result<(StatusCode, Json<AdminInfo>), ApiError> {
    let n = body(b)?;
    let password = zeroize::Zeroizing::new(n.password);
    let st2 = st.clone();
    let info = run(move || {
        st2.auth
            .admins
            .add(&n.name, &password, n.role.unwrap_or(Role::Admin))
    })
    .await?;
    st.auth.setup_done();
    let _ = std::fs::remove_file(st.cfg.storage.data_dir.join("setup-link.txt"));
    Ok((StatusCode::CREATED, Json(info)))
}

/// Set an administrator's password (ends their sessions).
#[utoipa::path(post, path = "/api/v1/admins/{name}/password", request_body = NewPassword,
    params(("name" = String, Path)), responses((status = 200)))]
pub async fn admins_passwd(
    State(st): State<Arc<AdminState>>,
    UrlPath(name): UrlPath<String>,
    b: Body<NewPassword>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let password = zeroize::Zeroizing::new(body(b)?.password);
    let (st2, n2) = (st.clone(), name.clone());
    run(move || st2.auth.admins.passwd(&n2, &password)).await?;
    st.auth.sessions.remove_user(&name);
    Ok(Json(serde_json::json!({ "changed": name })))
}

/// Delete an administrator (the last one with role admin stays).
#[utoipa::path(delete, path = "/api/v1/admins/{name}", params(("name" = String, Path)),
    responses((status = 200), (status = 404)))]
pub async fn admins_delete(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    UrlPath(name): UrlPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if p.name == name {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "you cannot delete yourself".into(),
        ));
    }
    let (st2, n2) = (st.clone(), name.clone());
    run(move || st2.auth.admins.delete(&n2)).await?;
    st.auth.sessions.remove_user(&name);
    Ok(Json(serde_json::json!({ "deleted": name })))
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct CheckRequest {
    /// Addresses to check.
    pub addresses: Vec<String>,
}

/// Whether Segl can send encrypted mail to an address now, and with what.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct CheckResult {
    pub address: String,
    pub encrypt: bool,
    /// `partner` (the address's own certificate) or `domain` (a partner domain certificate).
    pub kind: Option<String>,
    /// imported, harvested, ldap.
    pub source: Option<String>,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub not_after: Option<String>,
    pub certificate_id: Option<String>,
    /// Why not, or a hint.
    pub note: Option<String>,
}

/// Answer the recipient check for each address (stored certificates; a configured directory
/// is asked only when mail is sent).
pub fn check(st: &AdminState, addresses: &[String]) -> Vec<CheckResult> {
    addresses
        .iter()
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
        .take(500)
        .map(|a| {
            let valid = a
                .rsplit_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && crate::config::is_domain(d));
            let mut r = CheckResult {
                address: a.to_ascii_lowercase(),
                encrypt: false,
                kind: None,
                source: None,
                subject: None,
                issuer: None,
                not_after: None,
                certificate_id: None,
                note: None,
            };
            if !valid {
                r.note = Some("not a mail address".into());
                return r;
            }
            match st.keystore.encryption_partner(a) {
                Some((p, _)) => {
                    r.encrypt = true;
                    r.kind = Some(if p.domain.is_some() { "domain" } else { "partner" }.into());
                    r.source = serde_json::to_value(p.source)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string));
                    r.subject = Some(p.subject);
                    r.issuer = Some(p.issuer);
                    r.not_after = Some(p.not_after);
                    r.certificate_id = Some(p.id);
                }
                None => {
                    r.note = Some(if st.cfg.lookup.ldap.is_empty() {
                        "no usable certificate stored".into()
                    } else {
                        "no usable certificate stored; the configured directories are asked when mail is sent".into()
                    })
                }
            }
            r
        })
        .collect()
}

/// The recipient check (read-only administrators may use it).
#[utoipa::path(post, path = "/api/v1/recipients/check", request_body = CheckRequest,
    responses((status = 200, body = [CheckResult])))]
pub async fn recipients_check(
    State(st): State<Arc<AdminState>>,
    b: Body<CheckRequest>,
) -> Result<Json<Vec<CheckResult>>, ApiError> {
    let req = body(b)?;
    let st2 = st.clone();
    let r = tokio::task::spawn_blocking(move || check(&st2, &req.addresses))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(r))
}
