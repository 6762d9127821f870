//! Module › Mail-Server › Web portal: portal users and the messages held for them; revoking
//! an access, and a new set-up link and code for a user (after a lockout, or a lost
//! password). Shows no message content.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;

use super::{blocking, done, render, PageCtx, PageResult};
use crate::admin::auth::Principal;
use crate::admin::AdminState;
use crate::config::Config;
use crate::portal::store::{Meta, PortalError, User};
use crate::portal::texts::{self, PageTexts};

#[derive(Template)]
#[template(path = "portal_admin.html")]
struct PortalPage {
    p: PageCtx,
    pt: &'static PageTexts,
    enabled: bool,
    users: Vec<(User, &'static str, usize)>,
    messages: Vec<(Meta, String, String)>,
}

pub async fn page(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> PageResult {
    let pt = texts::page(p.lang);
    let ctx = PageCtx::new(&st, &p, "/portal", pt.admin_menu);
    let cfg = st.cfg.clone();
    let (users, messages) = blocking(move || {
        let store = crate::portal::shared(&cfg).map_err(|e| e.to_string())?;
        Ok((store.users(), store.messages()))
    })
    .await
    .unwrap_or_default();
    let users = users
        .into_iter()
        .map(|u| {
            let state = if u.revoked {
                pt.revoked
            } else if u.locked {
                pt.locked_state
            } else if u.password_hash.is_empty() {
                pt.awaiting_setup
            } else {
                pt.active
            };
            let n = messages.iter().filter(|m| m.recipient == u.address).count();
            (u, state, n)
        })
        .collect();
    let messages = messages
        .into_iter()
        .map(|m| {
            let (a, b) = (ctx.time.at(m.created), ctx.time.at(m.expires));
            (m, a, b)
        })
        .collect();
    render(&PortalPage {
        p: ctx,
        pt,
        enabled: st.cfg.portal.enabled,
        users,
        messages,
    })
}

#[derive(Deserialize)]
pub struct AddressForm {
    #[serde(default)]
    address: String,
}

/// Runs `op` on the portal store for the form's address (on the blocking pool).
async fn with_store<T: Send + 'static>(
    st: &AdminState,
    address: &str,
    op: impl FnOnce(&crate::portal::Store, &Config, &str) -> Result<T, PortalError> + Send + 'static,
) -> Result<T, String> {
    let cfg = st.cfg.clone();
    let a = crate::address::normalize(address);
    blocking(move || {
        let s = crate::portal::shared(&cfg).map_err(|e| e.to_string())?;
        if s.user(&a).map_err(|e| e.to_string())?.is_none() {
            return Err("no such portal user".to_string());
        }
        op(&s, &cfg, &a).map_err(|e| e.to_string())
    })
    .await
}

pub async fn revoke(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    Form(f): Form<AddressForm>,
) -> Response {
    let r = with_store(&st, &f.address, |s, _, a| s.revoke(a)).await;
    tracing::info!(user = %f.address, admin = %p.name, ok = r.is_ok(), "portal access revoked");
    let msg = format!("{}: {}", texts::page(p.lang).revoked, f.address);
    done(&st, &p, "/portal", r.map(|()| msg))
}

/// A new set-up link and code, shown to the administrator once (to pass on by phone).
pub async fn reset(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    Form(f): Form<AddressForm>,
) -> Response {
    let r = with_store(&st, &f.address, |s, cfg, a| {
        s.new_setup(a, cfg.portal.require_code, None)
    })
    .await;
    tracing::info!(user = %f.address, admin = %p.name, ok = r.is_ok(), "portal set-up link renewed");
    let base = st.cfg.portal.base_url();
    let pt = texts::page(p.lang);
    done(
        &st,
        &p,
        "/portal",
        r.map(|s| {
            let mut m = format!("{}: {base}/setup?t={}", f.address, s.token);
            if let Some(c) = s.code {
                m.push_str(&format!(" · {}: {c}", pt.code));
            }
            m
        }),
    )
}
