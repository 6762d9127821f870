//! System › Certificate management › Keyring: own keys (import, generate with the built-in
//! CA, CSR for an external CA and its certificate, rollover), trust anchors and CRLs.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Multipart, Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;

use super::{blocking, done, fields, keystore_upload, render, text, PageCtx, PageResult, WebError};
use crate::admin::auth::Principal;
use crate::admin::AdminState;
use crate::keystore::model::{AnchorRecord, CrlRecord, KeyInfo};

fn label<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
        .unwrap_or_default()
}

pub struct KeyRow {
    pub k: KeyInfo,
    pub purpose: String,
    pub source: String,
    pub state: String,
}

#[derive(Template)]
#[template(path = "keys.html")]
struct Page {
    p: PageCtx,
    keys: Vec<KeyRow>,
    anchors: Vec<AnchorRecord>,
    crls: Vec<CrlRecord>,
}

pub async fn page(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> PageResult {
    let ctx = PageCtx::new(&st, &p, "/keys", super::i18n::texts(p.lang).keyring);
    let ks = st.keystore.clone();
    let (keys, anchors, crls) =
        blocking(move || Ok((ks.list_keys(), ks.list_anchors(), ks.list_crls())))
            .await
            .map_err(|e| WebError(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let t = &ctx.time;
    let keys = keys
        .into_iter()
        .map(|mut k| {
            k.not_after = k.not_after.map(|n| t.text(&n));
            KeyRow {
                purpose: label(&k.purpose),
                source: label(&k.source),
                state: label(&k.state),
                k,
            }
        })
        .collect();
    let anchors = anchors
        .into_iter()
        .map(|mut a| {
            a.not_after = t.text(&a.not_after);
            a
        })
        .collect();
    let crls = crls
        .into_iter()
        .map(|mut c| {
            c.this_update = t.text(&c.this_update);
            c.next_update = c.next_update.map(|n| t.text(&n));
            c
        })
        .collect();
    render(&Page {
        p: ctx,
        keys,
        anchors,
        crls,
    })
}

pub async fn import(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    m: Multipart,
) -> Response {
    use crate::keystore::own::Target;
    let outcome = async {
        let f = fields(m).await?;
        let data = f.get("file").cloned().unwrap_or_default();
        if data.is_empty() {
            return Err("choose a file".to_string());
        }
        let password = zeroize::Zeroizing::new(text(&f, "password"));
        let (mailbox, domain) = (text(&f, "mailbox"), text(&f, "domain"));
        let target = match (mailbox.is_empty(), domain.is_empty()) {
            (false, false) => return Err("give a mailbox or a domain, not both".into()),
            (false, true) => Target::Mailbox(mailbox),
            (true, false) => Target::Domain(domain),
            (true, true) => Target::Individual,
        };
        let ks = st.keystore.clone();
        let k = blocking(move || {
            if data.starts_with(b"-----") {
                ks.import_pem(&data, target)
            } else {
                ks.import_p12(&data, &password, target)
            }
            .map_err(|e| e.to_string())
        })
        .await?;
        Ok(format!(
            "imported key {} for {}",
            k.id,
            k.addresses.join(", ")
        ))
    }
    .await;
    done(&st, &p, "/keys", outcome)
}

#[derive(Deserialize)]
pub struct GenerateForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    days: String,
    #[serde(default)]
    mailbox: String,
}

pub async fn generate(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    Form(f): Form<GenerateForm>,
) -> Response {
    let days = match f.days.trim() {
        "" => Ok(None),
        d => d
            .parse::<u32>()
            .ok()
            .filter(|d| *d > 0)
            .map(Some)
            .ok_or_else(|| "days must be a positive number".to_string()),
    };
    let outcome = match days {
        Err(e) => Err(e),
        Ok(days) => {
            let ks = st.keystore.clone();
            let mailbox = (!f.mailbox.trim().is_empty()).then(|| f.mailbox.trim().to_string());
            let email = f.email.trim().to_string();
            blocking(move || {
                ks.generate_for(&email, days, mailbox)
                    .map_err(|e| e.to_string())
            })
            .await
            .map(|k| format!("generated key {} for {}", k.id, k.addresses.join(", ")))
        }
    };
    done(&st, &p, "/keys", outcome)
}

pub async fn csr(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    Form(f): Form<GenerateForm>,
) -> Response {
    let ks = st.keystore.clone();
    let email = f.email.trim().to_string();
    let outcome = blocking(move || ks.csr(&email).map_err(|e| e.to_string()))
        .await
        .map(|k| format!("key {} made; download its CSR below", k.id));
    done(&st, &p, "/keys", outcome)
}

pub async fn import_cert(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    m: Multipart,
) -> Response {
    let outcome = keystore_upload(&st, m, |ks, data| ks.import_cert(data))
        .await
        .map(|k| format!("certificate attached to key {}", k.id));
    done(&st, &p, "/keys", outcome)
}

pub async fn rollover(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> Response {
    let ks = st.keystore.clone();
    let outcome = blocking(move || ks.rollover_check().map_err(|e| e.to_string()))
        .await
        .map(|a| {
            if a.is_empty() {
                "rollover check: nothing to do".to_string()
            } else {
                format!("rollover check: {}", a.join("; "))
            }
        });
    done(&st, &p, "/keys", outcome)
}

pub async fn ca_download(State(st): State<Arc<AdminState>>) -> PageResult {
    let ks = st.keystore.clone();
    let der = blocking(move || ks.ca_certificate().map_err(|e| e.to_string()))
        .await
        .map_err(|e| WebError(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &der)
        .map_err(|e| WebError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(super::download(
        pem.into_bytes(),
        "application/x-pem-file",
        "segl-ca.pem",
    ))
}

pub async fn cert_download(
    State(st): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> PageResult {
    let ks = st.keystore.clone();
    let i = id.clone();
    let pem = blocking(move || ks.export_cert(&i).map_err(|e| e.to_string()))
        .await
        .map_err(|e| WebError(StatusCode::NOT_FOUND, e))?;
    Ok(super::download(
        pem.into_bytes(),
        "application/x-pem-file",
        &format!("{id}.pem"),
    ))
}

pub async fn csr_download(
    State(st): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> PageResult {
    let ks = st.keystore.clone();
    let i = id.clone();
    let k = blocking(move || ks.key_info(&i).map_err(|e| e.to_string()))
        .await
        .map_err(|e| WebError(StatusCode::NOT_FOUND, e))?;
    let csr = k
        .csr_pem
        .ok_or_else(|| WebError(StatusCode::NOT_FOUND, "this key has no CSR".into()))?;
    Ok(super::download(
        csr.into_bytes(),
        "application/pkcs10",
        &format!("{id}.csr"),
    ))
}

pub async fn trust_import(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    m: Multipart,
) -> Response {
    let outcome = keystore_upload(&st, m, |ks, data| ks.import_anchor(data))
        .await
        .map(|a| format!("imported {} trust anchor(s)", a.len()));
    done(&st, &p, "/keys", outcome)
}

pub async fn crl_import(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    m: Multipart,
) -> Response {
    let outcome = keystore_upload(&st, m, |ks, data| ks.import_crl(data))
        .await
        .map(|c| format!("imported the CRL of {}", c.issuer));
    done(&st, &p, "/keys", outcome)
}

pub async fn trust_delete(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let ks = st.keystore.clone();
    let i = id.clone();
    let outcome = blocking(move || ks.delete_anchor(&i).map_err(|e| e.to_string()))
        .await
        .map(|()| format!("deleted trust anchor {id}"));
    done(&st, &p, "/keys", outcome)
}
