//! The middleware in front of every admin route.
//!
//! - `/api/v1`: the local ctl token (`Authorization: Bearer`, exempt from CSRF: a browser never
//!   sends it by itself), or a session cookie with the session's CSRF token in `X-CSRF-Token`
//!   on every write.
//! - pages: a session cookie; every POST carries the token in the form field `csrf`, must not
//!   come from another origin, and a `readonly` administrator's POSTs are refused.
//!
//! Every write that passes is written to the audit log with its outcome.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, OriginalUri, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq;

use super::admins::{Lang, Role};
use super::session::Session;
use crate::admin::audit::AuditEntry;
use crate::admin::{AdminState, ApiError};

/// The largest form body (uploads of certificates, PKCS#12 and backups).
pub const MAX_FORM: usize = 32 * 1024 * 1024;

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

/// Name of the session cookie: with HTTPS the `__Host-` prefix binds it to this origin.
pub fn cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-segl_session"
    } else {
        "segl_session"
    }
}

/// `Set-Cookie` value for a new session.
pub fn session_cookie(https: bool, id: &str) -> String {
    set_cookie(cookie_name(https), https, id)
}

/// `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(https: bool) -> String {
    unset_cookie(cookie_name(https), https)
}

/// `Set-Cookie` value for session cookie `name` (the web portal has its own name: cookies
/// are not bound to a port).
pub fn set_cookie(name: &str, https: bool, id: &str) -> String {
    let secure = if https { "; Secure" } else { "" };
    format!("{name}={id}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

/// `Set-Cookie` value that removes session cookie `name`.
pub fn unset_cookie(name: &str, https: bool) -> String {
    let secure = if https { "; Secure" } else { "" };
    format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// The session id from the request's cookies.
pub fn session_id(headers: &HeaderMap, https: bool) -> Option<String> {
    session_cookie_value(headers, cookie_name(https))
}

/// The value of session cookie `name` (64 hex digits, else none).
pub fn session_cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub fn client_ip(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<crate::admin::https::ClientAddr>>()
        .map(|c| c.0 .0.ip())
        .or_else(|| {
            req.extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        })
}

/// Whether a state-changing browser request comes from our own origin. Browsers send
/// `Origin` on every POST (and `Sec-Fetch-Site`); a request with neither is not from a
/// browser page of another site.
pub fn same_origin(headers: &HeaderMap, https: bool) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let scheme = if https { "https" } else { "http" };
    origin.as_bytes() == format!("{scheme}://{host}").as_bytes()
}

/// Constant-time comparison of a secret with what a client sent (empty never matches).
pub fn ct_eq(a: &str, b: &str) -> bool {
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn refuse(status: StatusCode, msg: &str) -> Response {
    ApiError::new(status, msg.to_string()).into_response()
}

pub fn is_write(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
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
        // A firmware bundle is larger than any other upload.
        let limit = if path == "/firmware/upload" {
            crate::admin::firmware_max_bundle()
        } else {
            MAX_FORM
        };
        let Ok(bytes) = to_bytes(body, limit).await else {
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

/// The `csrf` field of a urlencoded or multipart form.
pub async fn form_csrf(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    if ct.starts_with("application/x-www-form-urlencoded") {
        return url::form_urlencoded::parse(body)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned());
    }
    let boundary = multer::parse_boundary(ct).ok()?;
    let data = bytes::Bytes::copy_from_slice(body);
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(data) });
    let mut m = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = m.next_field().await {
        if field.name() == Some("csrf") {
            return field.text().await.ok();
        }
    }
    None
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

/// The security headers of the admin and the portal listener.
pub fn apply_security_headers(h: &mut HeaderMap, https: bool, is_static: bool) {
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    // Not no-referrer: with it browsers send `Origin: null` on form POSTs, which the
    // same-origin check must refuse.
    set(h, "referrer-policy", "same-origin");
    set(h, "cross-origin-opener-policy", "same-origin");
    if !is_static {
        set(h, "cache-control", "no-store");
    }
    if https {
        set(h, "strict-transport-security", "max-age=31536000");
    }
}
