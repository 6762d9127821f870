//! Login, logout and the one-time set-up of the first administrator.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::i18n::{texts, Texts};
use super::{render, PageResult, WebError};
use crate::admin::audit::AuditEntry;
use crate::admin::auth::{guard, Lang, Principal};
use crate::admin::AdminState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    t: &'static Texts,
    action: &'static str,
    setup: bool,
    invalid: bool,
    token: String,
    error: String,
    name: String,
}

impl LoginPage {
    fn login(error: &str, name: &str) -> LoginPage {
        LoginPage {
            t: texts(Lang::En),
            action: "/login",
            setup: false,
            invalid: false,
            token: String::new(),
            error: error.to_string(),
            name: name.to_string(),
        }
    }
}

fn with_status(status: StatusCode, page: &LoginPage) -> PageResult {
    let mut r = render(page)?;
    *r.status_mut() = status;
    Ok(r)
}

pub async fn form(State(st): State<Arc<AdminState>>, headers: HeaderMap) -> PageResult {
    if guard::session_id(&headers, st.auth.https)
        .and_then(|id| st.auth.sessions.touch(&id))
        .is_some()
    {
        return Ok(Redirect::to("/").into_response());
    }
    render(&LoginPage::login("", ""))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

fn audit_login(st: &AdminState, who: &str, ip: Option<std::net::IpAddr>, what: &str, status: u16) {
    st.auth.audit.record(&AuditEntry {
        time: crate::clock::unix_now(),
        who: who.to_string(),
        via: "web".into(),
        from: ip.map(|i| i.to_string()).unwrap_or_default(),
        what: what.to_string(),
        status,
    });
}

pub async fn submit(State(st): State<Arc<AdminState>>, req: Request) -> PageResult {
    let ip = guard::client_ip(&req);
    if !guard::same_origin(req.headers(), st.auth.https) {
        return Err(WebError(
            StatusCode::FORBIDDEN,
            "cross-origin request refused".into(),
        ));
    }
    let Form(f) = Form::<LoginForm>::from_request_parts_body(req).await?;
    let name = f.name.trim().to_string();
    if !st.auth.limiter.allowed(ip, &name) {
        tracing::warn!(user = %name, ip = ?ip, "login refused: rate limit");
        let p = LoginPage::login(texts(Lang::En).too_many, &name);
        return with_status(StatusCode::TOO_MANY_REQUESTS, &p);
    }
    let password = zeroize::Zeroizing::new(f.password);
    let (st2, n2) = (st.clone(), name.clone());
    let ok = tokio::task::spawn_blocking(move || st2.auth.admins.verify(&n2, &password))
        .await
        .ok()
        .flatten();
    let Some(admin) = ok else {
        st.auth.limiter.failed(ip, &name);
        tracing::warn!(user = %name, ip = ?ip, "login failed");
        let p = LoginPage::login(texts(Lang::En).login_failed, &name);
        return with_status(StatusCode::UNAUTHORIZED, &p);
    };
    st.auth.limiter.succeeded(&name);
    audit_login(&st, &admin.name, ip, "login", 200);
    let id = st.auth.sessions.create(&admin.name, admin.role, admin.lang);
    Ok((
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                guard::session_cookie(st.auth.https, &id),
            ),
            (header::LOCATION, "/".to_string()),
        ],
    )
        .into_response())
}

/// Small helper: axum's `Form` from a whole request (the guard-free routes get the request
/// itself so that they can read the client address first).
trait FormFromRequest: Sized {
    async fn from_request_parts_body(req: Request) -> Result<Self, WebError>;
}

impl<T: serde::de::DeserializeOwned + Send> FormFromRequest for Form<T> {
    async fn from_request_parts_body(req: Request) -> Result<Self, WebError> {
        use axum::extract::FromRequest;
        Form::<T>::from_request(req, &())
            .await
            .map_err(|e| WebError(StatusCode::BAD_REQUEST, e.body_text()))
    }
}

pub async fn logout(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> Response {
    if let Some(id) = &p.session_id {
        st.auth.sessions.remove(id);
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, guard::clear_cookie(st.auth.https)),
            (header::LOCATION, "/login".to_string()),
        ],
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct SetupQuery {
    #[serde(default)]
    token: String,
}

fn setup_page(token: &str, invalid: bool, error: &str, name: &str) -> LoginPage {
    let t = texts(Lang::En);
    LoginPage {
        t,
        action: "/setup",
        setup: true,
        invalid,
        token: token.to_string(),
        error: if invalid {
            t.setup_invalid.to_string()
        } else {
            error.to_string()
        },
        name: name.to_string(),
    }
}

pub async fn setup_form(
    State(st): State<Arc<AdminState>>,
    Query(q): Query<SetupQuery>,
) -> PageResult {
    if !st.auth.setup_valid(&q.token) {
        return with_status(StatusCode::FORBIDDEN, &setup_page("", true, "", ""));
    }
    render(&setup_page(&q.token, false, "", ""))
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

pub async fn setup_submit(State(st): State<Arc<AdminState>>, req: Request) -> PageResult {
    let ip = guard::client_ip(&req);
    if !guard::same_origin(req.headers(), st.auth.https) {
        return Err(WebError(
            StatusCode::FORBIDDEN,
            "cross-origin request refused".into(),
        ));
    }
    let Form(f) = Form::<SetupForm>::from_request_parts_body(req).await?;
    if !st.auth.setup_valid(&f.token) {
        return with_status(StatusCode::FORBIDDEN, &setup_page("", true, "", ""));
    }
    let name = f.name.trim().to_string();
    if f.password != f.password2 {
        let p = setup_page(&f.token, false, "The passwords differ.", &name);
        return with_status(StatusCode::BAD_REQUEST, &p);
    }
    let password = zeroize::Zeroizing::new(f.password);
    let (st2, n2) = (st.clone(), name.clone());
    let r = tokio::task::spawn_blocking(move || st2.auth.admins.add_first(&n2, &password))
        .await
        .map_err(|e| WebError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let admin = match r {
        Ok(a) => a,
        Err(e) => {
            let p = setup_page(&f.token, false, &e.to_string(), &name);
            return with_status(StatusCode::BAD_REQUEST, &p);
        }
    };
    st.auth.setup_done();
    let _ = std::fs::remove_file(st.cfg.storage.data_dir.join("setup-link.txt"));
    audit_login(
        &st,
        &admin.name,
        ip,
        "first administrator created (set-up link)",
        201,
    );
    tracing::info!(admin = %admin.name, "first administrator created through the set-up link");
    let id = st.auth.sessions.create(&admin.name, admin.role, admin.lang);
    Ok((
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                guard::session_cookie(st.auth.https, &id),
            ),
            (header::LOCATION, "/".to_string()),
        ],
    )
        .into_response())
}
