//! What the admin listener and the web portal check on every request: session cookies, the
//! client address, the same-origin rule for writes, the CSRF token of a form, constant-time
//! comparison of secrets, and the security headers of every answer.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use subtle::ConstantTimeEq;

/// The largest form body (uploads of certificates, PKCS#12 and backups).
pub const MAX_FORM: usize = 32 * 1024 * 1024;

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
        .get::<ConnectInfo<super::https::ClientAddr>>()
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

/// Whether a request changes state (what CSRF and the audit log are about).
pub fn is_write(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
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
