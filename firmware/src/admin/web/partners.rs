//! Edit S/MIME partners (upload, list with search and paging, enable, disable, delete,
//! download), certificates awaiting approval, and the recipient check.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Multipart, Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;

use super::{blocking, done, fields, render, text, PageCtx, PageResult, WebError};
use crate::admin::accounts::{check, CheckResult};
use crate::admin::auth::Principal;
use crate::admin::AdminState;
use crate::appliance::zone::LocalTime;
use crate::keystore::model::{fingerprint, PartnerRecord};

/// Rows per page of the partner list.
pub const PAGE: usize = 50;

pub struct Row {
    pub id: String,
    pub who: String,
    pub issuer: String,
    pub subject: String,
    pub not_after: String,
    pub source: String,
    pub fingerprint: String,
    pub enabled: bool,
    pub added: String,
    /// Sender of the signed mail a harvested certificate came with.
    pub sender: Option<String>,
}

/// Whom a partner certificate is for: `@domain` or its addresses.
fn who(p: &PartnerRecord) -> String {
    p.domain
        .clone()
        .map(|d| format!("@{d}"))
        .unwrap_or_else(|| p.addresses.join(", "))
}

/// The row of `p`, its times in `t`'s zone.
fn row(p: &PartnerRecord, t: &LocalTime) -> Row {
    Row {
        id: p.id.clone(),
        who: who(p),
        issuer: p.issuer.clone(),
        subject: p.subject.clone(),
        not_after: t.text(&p.not_after),
        source: serde_json::to_value(p.source)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        fingerprint: fingerprint(&p.cert),
        enabled: p.enabled,
        added: t.at(p.added),
        sender: p.harvested_from.clone(),
    }
}

#[derive(Template)]
#[template(path = "partners.html")]
struct ListPage {
    p: PageCtx,
    rows: Vec<Row>,
    q: String,
    total: usize,
    page: usize,
    pages: usize,
    pending_view: bool,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: usize,
}

pub async fn list(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    Query(lq): Query<ListQuery>,
) -> PageResult {
    let ctx = PageCtx::new(&st, &p, "/partners", super::i18n::texts(p.lang).partners);
    let ks = st.keystore.clone();
    let all = blocking(move || Ok(ks.list_partners()))
        .await
        .map_err(|e| WebError(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let needle = lq.q.trim().to_ascii_lowercase();
    let matching: Vec<&PartnerRecord> = all
        .iter()
        .filter(|p| !p.pending)
        .filter(|p| {
            needle.is_empty()
                || p.addresses.iter().any(|a| a.contains(&needle))
                || p.domain.as_deref().is_some_and(|d| d.contains(&needle))
                || p.subject.to_ascii_lowercase().contains(&needle)
                || p.issuer.to_ascii_lowercase().contains(&needle)
                || p.id.starts_with(&needle)
        })
        .collect();
    let total = matching.len();
    let pages = total.div_ceil(PAGE).max(1);
    let page = lq.page.min(pages - 1);
    let rows = matching
        .iter()
        .skip(page * PAGE)
        .take(PAGE)
        .map(|p| row(p, &ctx.time))
        .collect();
    render(&ListPage {
        p: ctx,
        rows,
        q: lq.q,
        total,
        page,
        pages,
        pending_view: false,
    })
}

pub async fn pending(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> PageResult {
    let ctx = PageCtx::new(
        &st,
        &p,
        "/partners/pending",
        super::i18n::texts(p.lang).pending,
    );
    let ks = st.keystore.clone();
    let all = blocking(move || Ok(ks.pending_partners()))
        .await
        .map_err(|e| WebError(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let total = all.len();
    let rows = all.iter().map(|r| row(r, &ctx.time)).collect();
    render(&ListPage {
        p: ctx,
        rows,
        q: String::new(),
        total,
        page: 0,
        pages: 1,
        pending_view: true,
    })
}

pub async fn upload(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    m: Multipart,
) -> Response {
    let outcome = async {
        let f = fields(m).await?;
        let data = f.get("file").cloned().unwrap_or_default();
        if data.is_empty() {
            return Err("choose a file".to_string());
        }
        let domain = text(&f, "domain");
        let ks = st.keystore.clone();
        let added = blocking(move || {
            ks.import_partner(&data, (!domain.is_empty()).then_some(domain.as_str()))
                .map_err(|e| e.to_string())
        })
        .await?;
        let names: Vec<String> = added.iter().map(who).collect();
        Ok(format!(
            "imported {} certificate(s): {}",
            added.len(),
            names.join("; ")
        ))
    }
    .await;
    done(&st, &p, "/partners", outcome)
}

pub async fn action(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    UrlPath((id, action)): UrlPath<(String, String)>,
) -> Response {
    let ks = st.keystore.clone();
    let back = if action == "approve" || action == "reject" {
        "/partners/pending"
    } else {
        "/partners"
    };
    let a = action.clone();
    let i = id.clone();
    let outcome = blocking(move || {
        let r = match a.as_str() {
            "enable" => ks.set_partner_enabled(&i, true).map(|_| ()),
            "disable" => ks.set_partner_enabled(&i, false).map(|_| ()),
            "approve" => ks.approve_partner(&i).map(|_| ()),
            "delete" | "reject" => ks.delete_partner(&i),
            _ => return Err(format!("unknown action {a:?}")),
        };
        r.map_err(|e| e.to_string())
    })
    .await
    .map(|()| format!("{action}: {id}"));
    done(&st, &p, back, outcome)
}

pub async fn download_cert(
    State(st): State<Arc<AdminState>>,
    UrlPath(id): UrlPath<String>,
) -> PageResult {
    let ks = st.keystore.clone();
    let found = blocking(move || {
        Ok(ks
            .list_partners()
            .into_iter()
            .chain(ks.pending_partners())
            .find(|p| p.id == id))
    })
    .await
    .map_err(|e| WebError(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let rec = found.ok_or_else(|| WebError(StatusCode::NOT_FOUND, "no such certificate".into()))?;
    let pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &rec.cert)
        .map_err(|e| WebError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let name = rec
        .addresses
        .first()
        .cloned()
        .or(rec.domain.clone())
        .unwrap_or(rec.id.clone());
    Ok(super::download(
        pem.into_bytes(),
        "application/x-pem-file",
        &format!("{name}.pem"),
    ))
}

#[derive(Template)]
#[template(path = "recipients.html")]
struct CheckPage {
    p: PageCtx,
    input: String,
    results: Vec<CheckResult>,
}

pub async fn check_page(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> PageResult {
    let ctx = PageCtx::new(
        &st,
        &p,
        "/recipients",
        super::i18n::texts(p.lang).recipient_check,
    );
    render(&CheckPage {
        p: ctx,
        input: String::new(),
        results: vec![],
    })
}

#[derive(Deserialize)]
pub struct CheckForm {
    #[serde(default)]
    addresses: String,
}

/// The check changes nothing, so it answers the POST with the page itself.
pub async fn check_post(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    Form(f): Form<CheckForm>,
) -> PageResult {
    let ctx = PageCtx::new(
        &st,
        &p,
        "/recipients",
        super::i18n::texts(p.lang).recipient_check,
    );
    let list: Vec<String> = f
        .addresses
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let st2 = st.clone();
    let results = tokio::task::spawn_blocking(move || check(&st2, &list))
        .await
        .map_err(|e| WebError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .into_iter()
        .map(|mut r| {
            r.not_after = r.not_after.map(|n| ctx.time.text(&n));
            r
        })
        .collect();
    render(&CheckPage {
        p: ctx,
        input: f.addresses,
        results,
    })
}
