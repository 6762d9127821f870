//! The portal's router on `portal.listen`: set-up link, login, the message list, reading,
//! attachment download and the secure reply. It has no admin route: whatever else is asked
//! for is 404. Sessions, CSRF, the login limiter, cookies and security headers are the admin
//! UI's ([`crate::webkit`]), in a separate instance with their own cookie name.

use std::sync::Arc;

use askama::Template;
use axum::body::{to_bytes, Body};
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use mail_parser::MimeHeaders;
use serde::Deserialize;

use super::store::{LoginOutcome, SetupRefused, Store};
use super::texts::{self, PageTexts};
use crate::config::Config;
use crate::password::MIN_LEN as MIN_PASSWORD;
use crate::queue::Queue;
use crate::webkit::account::{Lang, Role};
use crate::webkit::ratelimit::LoginLimiter;
use crate::webkit::request::{self as guard, client_ip, ct_eq, same_origin};
use crate::webkit::session::Sessions;

mod access;
mod messages;

use access::{
    cross_origin, forgot_form, forgot_submit, login_form, login_submit, logout, root, setup_form,
    setup_submit,
};
use messages::{attachment, inbox, read, reply};

/// The largest form (a reply).
const MAX_FORM: usize = 1024 * 1024;

/// What the portal's handlers share.
pub struct PortalState {
    pub cfg: Arc<Config>,
    pub store: Arc<Store>,
    pub queue: Arc<Queue>,
    /// Portal sessions only (a separate store from the admin's: no admin session is valid
    /// here, nor a portal session there). The role field is unused.
    pub sessions: Sessions,
    pub limiter: LoginLimiter,
    pub https: bool,
}

impl PortalState {
    pub fn new(cfg: Arc<Config>, store: Arc<Store>, queue: Arc<Queue>) -> PortalState {
        let https = cfg.portal.uses_https();
        PortalState {
            cfg,
            store,
            queue,
            sessions: Sessions::default(),
            limiter: LoginLimiter::default(),
            https,
        }
    }

    fn cookie(&self) -> &'static str {
        if self.https {
            "__Host-segl_portal"
        } else {
            "segl_portal"
        }
    }

    fn default_lang(&self) -> Lang {
        texts::default_lang(self.cfg.mark.language)
    }
}

type St = State<Arc<PortalState>>;

/// The logged-in portal user, put into the request by [`guard`].
#[derive(Debug, Clone)]
pub struct Visitor {
    pub address: String,
    pub lang: Lang,
    pub csrf: String,
    pub session: String,
    pub flash: Option<(bool, String)>,
}

#[derive(Template)]
#[template(path = "portal/login.html")]
struct LoginPage {
    t: &'static PageTexts,
    lang: &'static str,
    /// "login", "setup" or "message" (an error page without a form).
    mode: &'static str,
    error: String,
    address: String,
    token: String,
    need_code: bool,
    /// The message (mode "message") is good news, not an error.
    ok: bool,
}

#[derive(Debug)]
pub struct Row {
    pub id: String,
    pub from: String,
    pub subject: String,
    pub received: String,
    pub expires: String,
    pub read: bool,
}

#[derive(Template)]
#[template(path = "portal/inbox.html")]
struct InboxPage {
    t: &'static PageTexts,
    v: Visitor,
    rows: Vec<Row>,
}

#[derive(Debug)]
pub struct Attachment {
    pub n: usize,
    pub name: String,
    pub size: usize,
}

#[derive(Template)]
#[template(path = "portal/message.html")]
struct MessagePage {
    t: &'static PageTexts,
    v: Visitor,
    id: String,
    from: String,
    subject: String,
    received: String,
    text: String,
    attachments: Vec<Attachment>,
}

fn render(t: &impl Template, status: StatusCode) -> Response {
    match t.render() {
        Ok(s) => (status, Html(s)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "portal page failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn lang_of(q: Option<&str>, st: &PortalState) -> Lang {
    q.and_then(Lang::parse).unwrap_or_else(|| st.default_lang())
}

fn page(mode: &'static str, lang: Lang, error: &str) -> LoginPage {
    LoginPage {
        t: texts::page(lang),
        lang: lang.code(),
        mode,
        error: error.to_string(),
        address: String::new(),
        token: String::new(),
        need_code: false,
        ok: false,
    }
}

/// Session and CSRF in front of the pages behind the login.
async fn guard_layer(State(st): St, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let Some((id, s)) = guard::session_cookie_value(req.headers(), st.cookie())
        .and_then(|id| st.sessions.touch(&id).map(|s| (id, s)))
    else {
        return if guard::is_write(&method) {
            (StatusCode::UNAUTHORIZED, "not logged in").into_response()
        } else {
            Redirect::to("/login").into_response()
        };
    };
    // A revoked or locked access ends its sessions at once.
    let (store, who) = (st.store.clone(), s.user.clone());
    let active = tokio::task::spawn_blocking(move || store.user(&who))
        .await
        .ok()
        .and_then(Result::ok)
        .flatten()
        .is_some_and(|u| u.active());
    if !active {
        st.sessions.remove(&id);
        return Redirect::to("/login").into_response();
    }
    let v = Visitor {
        address: s.user,
        lang: s.lang,
        csrf: s.csrf,
        session: id,
        flash: s.flash,
    };
    let (parts, body) = req.into_parts();
    let mut req = if guard::is_write(&method) {
        if !same_origin(&parts.headers, st.https) {
            return cross_origin();
        }
        let Ok(bytes) = to_bytes(body, MAX_FORM).await else {
            return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response();
        };
        let token = guard::form_csrf(&parts.headers, &bytes)
            .await
            .unwrap_or_default();
        if !ct_eq(&token, &v.csrf) {
            return (StatusCode::FORBIDDEN, "missing or wrong CSRF token").into_response();
        }
        Request::from_parts(parts, Body::from(bytes))
    } else {
        Request::from_parts(parts, body)
    };
    req.extensions_mut().insert(v);
    next.run(req).await
}

async fn security_headers(State(st): St, req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut resp = next.run(req).await;
    guard::apply_security_headers(resp.headers_mut(), st.https, is_static);
    resp
}

/// The portal's routes. Nothing of the admin API or pages is here.
pub fn router(st: Arc<PortalState>) -> Router {
    let guarded = Router::new()
        .route("/messages", get(inbox))
        .route("/messages/{id}", get(read))
        .route("/messages/{id}/attachments/{n}", get(attachment))
        .route("/messages/{id}/reply", post(reply))
        .route("/logout", post(logout))
        .layer(middleware::from_fn_with_state(st.clone(), guard_layer));
    Router::new()
        .route("/", get(root))
        .route("/login", get(login_form).post(login_submit))
        .route("/setup", get(setup_form).post(setup_submit))
        .route("/forgot", get(forgot_form).post(forgot_submit))
        .route("/static/segl.css", get(crate::webkit::response::css))
        .merge(guarded)
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
        .layer(middleware::from_fn_with_state(st.clone(), security_headers))
        .with_state(st)
}
