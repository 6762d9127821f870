//! The middleware in front of every admin route.
//!
//! - `/api/v1`: the local ctl token (`Authorization: Bearer`, exempt from CSRF: a browser never
//!   sends it by itself), or a session cookie with the session's CSRF token in `X-CSRF-Token`
//!   on every write.
//! - pages: a session cookie; every POST carries the token in the form field `csrf`, must not
//!   come from another origin, and a `readonly` administrator's POSTs are refused.
//!
//! Every write that passes is written to the audit log with its outcome.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{OriginalUri, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::admins::{Lang, Role};
use super::session::Session;
use crate::admin::audit::AuditEntry;
use crate::admin::{AdminState, ApiError};
pub use crate::webkit::request::{
    apply_security_headers, clear_cookie, client_ip, cookie_name, ct_eq, form_csrf, is_write,
    same_origin, session_cookie, session_cookie_value, session_id, set_cookie, unset_cookie,
    MAX_FORM,
};

/// How a request came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `segl ctl` (the local token).
    Ctl,
    /// The JSON API with a browser session.
    Api,
    /// A web page.
    Web,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Ctl => "ctl",
            Via::Api => "api",
            Via::Web => "web",
        }
    }
}

/// The authenticated caller, put into the request's extensions for handlers.
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    pub via: Via,
    pub lang: Lang,
    /// Session id and CSRF token (absent for the ctl token).
    pub session_id: Option<String>,
    pub csrf: String,
    pub flash: Option<(bool, String)>,
}

impl Principal {
    fn from_session(id: String, s: Session, via: Via) -> Principal {
        Principal {
            name: s.user,
            role: s.role,
            via,
            lang: s.lang,
            session_id: Some(id),
            csrf: s.csrf,
            flash: s.flash,
        }
    }
    pub fn can_change(&self) -> bool {
        self.role == Role::Admin
    }
}

fn refuse(status: StatusCode, msg: &str) -> Response {
    ApiError::new(status, msg.to_string()).into_response()
}

/// Writes a `readonly` administrator may still make (they change nothing).
fn readonly_allowed(path: &str) -> bool {
    path.ends_with("/recipients/check") || path == "/recipients" || path.starts_with("/account/")
}

/// Writes that change nothing and are not audited.
fn not_audited(path: &str) -> bool {
    path.ends_with("/recipients/check") || path == "/recipients" || path == "/account/language"
}

fn audit(st: &AdminState, p: &Principal, ip: Option<IpAddr>, what: String, status: StatusCode) {
    st.auth.audit.record(&AuditEntry {
        time: crate::clock::unix_now(),
        who: p.name.clone(),
        via: p.via.as_str().to_string(),
        from: ip.map(|i| i.to_string()).unwrap_or_default(),
        what,
        status: status.as_u16(),
    });
}

fn full_path(req: &Request) -> String {
    req.extensions()
        .get::<OriginalUri>()
        .map(|u| u.0.path().to_string())
        .unwrap_or_else(|| req.uri().path().to_string())
}

/// Guard of `/api/v1`.
pub async fn api(State(st): State<Arc<AdminState>>, mut req: Request, next: Next) -> Response {
    let https = st.auth.https;
    let ip = client_ip(&req);
    let path = full_path(&req);
    let method = req.method().clone();
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let p = if let Some(given) = bearer {
        if !ct_eq(&given, &st.token) {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "missing or wrong API token (see <data_dir>/ctl.token)",
            );
        }
        Principal {
            name: "ctl".into(),
            role: Role::Admin,
            via: Via::Ctl,
            lang: Lang::En,
            session_id: None,
            csrf: String::new(),
            flash: None,
        }
    } else {
        let Some((id, s)) = session_id(req.headers(), https)
            .and_then(|id| st.auth.sessions.touch(&id).map(|s| (id, s)))
        else {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "missing or wrong API token (see <data_dir>/ctl.token) or no session",
            );
        };
        let p = Principal::from_session(id, s, Via::Api);
        if is_write(&method) {
            if !same_origin(req.headers(), https) {
                return refuse(StatusCode::FORBIDDEN, "cross-origin request refused");
            }
            let token = req
                .headers()
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !ct_eq(token, &p.csrf) {
                return refuse(StatusCode::FORBIDDEN, "missing or wrong X-CSRF-Token");
            }
            if !p.can_change() && !readonly_allowed(&path) {
                return refuse(
                    StatusCode::FORBIDDEN,
                    "read-only administrators change nothing",
                );
            }
        }
        p
    };
    req.extensions_mut().insert(p.clone());
    let resp = next.run(req).await;
    if is_write(&method) && !not_audited(&path) {
        audit(&st, &p, ip, format!("{method} {path}"), resp.status());
    }
    resp
}

/// Guard of the pages (everything but login, set-up and static files).
pub async fn web(State(st): State<Arc<AdminState>>, req: Request, next: Next) -> Response {
    let https = st.auth.https;
    let ip = client_ip(&req);
    let path = full_path(&req);
    let method = req.method().clone();
    let Some((id, s)) = session_id(req.headers(), https)
        .and_then(|id| st.auth.sessions.touch(&id).map(|s| (id, s)))
    else {
        return if is_write(&method) {
            refuse(StatusCode::UNAUTHORIZED, "not logged in")
        } else {
            Redirect::to("/login").into_response()
        };
    };
    let p = Principal::from_session(id, s, Via::Web);
    let (parts, body) = req.into_parts();
    let mut req = if is_write(&method) {
        if !same_origin(&parts.headers, https) {
            return refuse(StatusCode::FORBIDDEN, "cross-origin request refused");
        }
        if !p.can_change() && !readonly_allowed(&path) {
            return refuse(
                StatusCode::FORBIDDEN,
                "read-only administrators change nothing",
            );
        }
        let Ok(bytes) = to_bytes(body, MAX_FORM).await else {
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, "form too large");
        };
        let token = form_csrf(&parts.headers, &bytes).await.unwrap_or_default();
        if !ct_eq(&token, &p.csrf) {
            return refuse(StatusCode::FORBIDDEN, "missing or wrong CSRF token");
        }
        Request::from_parts(parts, Body::from(bytes))
    } else {
        Request::from_parts(parts, body)
    };
    req.extensions_mut().insert(p.clone());
    let resp = next.run(req).await;
    if is_write(&method) && !not_audited(&path) {
        audit(&st, &p, ip, format!("{method} {path}"), resp.status());
    }
    resp
}

/// Headers on every answer of the admin listener.
pub async fn security_headers(
    State(st): State<Arc<AdminState>>,
    req: Request,
    next: Next,
) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut resp = next.run(req).await;
    apply_security_headers(resp.headers_mut(), st.auth.https, is_static);
    resp
}
