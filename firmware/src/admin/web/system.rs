//! System pages: domains (read-only from the configuration), backup and restore, audit log.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Multipart, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::{blocking, done, fields, render, text, PageCtx, PageResult};
use crate::admin::audit::AuditEntry;
use crate::admin::auth::Principal;
use crate::admin::AdminState;
use crate::keystore::model::{iso, KeyInfo};

#[derive(Template)]
#[template(path = "domains.html")]
struct DomainsPage {
    p: PageCtx,
    local: Vec<String>,
    own_domain_keys: Vec<KeyInfo>,
    partner_domains: Vec<(String, String, String)>,
    mailboxes: Vec<(String, String, String)>,
    dkim: Vec<super::dkim::DkimRow>,
}

pub async fn domains(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> PageResult {
    let ctx = PageCtx::new(&st, &p, "/domains", super::i18n::texts(p.lang).domains);
    let ks = st.keystore.clone();
    let (keys, partners) = blocking(move || Ok((ks.list_keys(), ks.list_partners())))
        .await
        .unwrap_or_default();
    let dkim = super::dkim::rows(&st, &ctx.time).await;
    let t = &ctx.time;
    let own_domain_keys = keys
        .into_iter()
        .filter(|k| k.domain.is_some())
        .map(|mut k| {
            k.not_after = k.not_after.map(|n| t.text(&n));
            k
        })
        .collect();
    let partner_domains = partners
        .into_iter()
        .filter_map(|p| {
            p.domain
                .clone()
                .map(|d| (d, p.issuer, t.text(&p.not_after)))
        })
        .collect();
    render(&DomainsPage {
        p: ctx,
        local: st.cfg.relay.local_domains.clone(),
        own_domain_keys,
        partner_domains,
        mailboxes: st
            .cfg
            .mailboxes
            .iter()
            .map(|(id, m)| (id.clone(), m.address.clone(), m.senders.join(", ")))
            .collect(),
        dkim,
    })
}

#[derive(Template)]
#[template(path = "backup.html")]
struct BackupPage {
    p: PageCtx,
}

pub async fn backup_page(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> PageResult {
    let ctx = PageCtx::new(&st, &p, "/backup", super::i18n::texts(p.lang).backup);
    render(&BackupPage { p: ctx })
}

#[derive(Deserialize)]
pub struct BackupForm {
    #[serde(default)]
    passphrase: String,
}

pub async fn backup_download(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    Form(f): Form<BackupForm>,
) -> Response {
    let pass = zeroize::Zeroizing::new(f.passphrase);
    if pass.chars().count() < 10 {
        return done(
            &st,
            &p,
            "/backup",
            Err("the passphrase must have at least 10 characters".into()),
        );
    }
    let ks = st.keystore.clone();
    match blocking(move || ks.backup(&pass).map_err(|e| e.to_string())).await {
        Ok(file) => {
            let name = format!(
                "segl-backup-{}-{}.bin",
                st.cfg.smtp.hostname,
                &iso(crate::clock::unix_now())[..10]
            );
            super::download(file, "application/octet-stream", &name).into_response()
        }
        Err(e) => done(&st, &p, "/backup", Err(e)),
    }
}

pub async fn backup_restore(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    m: Multipart,
) -> Response {
    let outcome = async {
        let f = fields(m).await?;
        let data = f.get("file").cloned().unwrap_or_default();
        let pass = zeroize::Zeroizing::new(text(&f, "passphrase"));
        let ks = st.keystore.clone();
        let n = blocking(move || ks.restore(&data, &pass).map_err(|e| e.to_string())).await?;
        Ok(format!("restored {n} key(s)"))
    }
    .await;
    done(&st, &p, "/backup", outcome)
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    p: PageCtx,
    entries: Vec<(AuditEntry, String)>,
    q: String,
}

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    q: String,
}

pub async fn audit(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    let ctx = PageCtx::new(&st, &p, "/audit", super::i18n::texts(p.lang).audit);
    let (st2, query) = (st.clone(), q.q.clone());
    let entries = blocking(move || Ok(st2.auth.audit.recent(500, &query)))
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            let when = ctx.time.at(e.time);
            (e, when)
        })
        .collect();
    render(&AuditPage {
        p: ctx,
        entries,
        q: q.q,
    })
}
