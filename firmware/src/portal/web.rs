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

fn date(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default()
}

#[derive(Deserialize)]
pub struct LangQuery {
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    t: Option<String>,
}

async fn root(State(st): St, headers: HeaderMap) -> Response {
    let live = guard::session_cookie_value(&headers, st.cookie())
        .and_then(|id| st.sessions.touch(&id))
        .is_some();
    Redirect::to(if live { "/messages" } else { "/login" }).into_response()
}

async fn login_form(State(st): St, Query(q): Query<LangQuery>) -> Response {
    render(
        &page("login", lang_of(q.lang.as_deref(), &st), ""),
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    address: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    lang: String,
}

/// A new session for `address`: the cookie and a redirect to the messages.
fn start_session(st: &PortalState, address: &str, lang: Lang) -> Response {
    let id = st.sessions.create(address, Role::Readonly, lang);
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                guard::set_cookie(st.cookie(), st.https, &id),
            ),
            (header::LOCATION, "/messages".to_string()),
        ],
    )
        .into_response()
}

fn cross_origin() -> Response {
    (StatusCode::FORBIDDEN, "cross-origin request refused").into_response()
}

async fn login_submit(State(st): St, req: Request) -> Response {
    let ip = client_ip(&req);
    if !same_origin(req.headers(), st.https) {
        return cross_origin();
    }
    let Ok(Form(f)) = Form::<LoginForm>::from_request(req, &()).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let lang = lang_of(Some(&f.lang), &st);
    let t = texts::page(lang);
    let address = crate::address::normalize(&f.address);
    let mut p = page("login", lang, "");
    p.address = address.clone();
    if !st.limiter.allowed(ip, &address) {
        tracing::warn!(ip = ?ip, "portal login refused: rate limit");
        p.error = t.too_many.into();
        return render(&p, StatusCode::TOO_MANY_REQUESTS);
    }
    let password = zeroize::Zeroizing::new(f.password);
    let (store, a2) = (st.store.clone(), address.clone());
    let outcome = tokio::task::spawn_blocking(move || store.login(&a2, &password))
        .await
        .unwrap_or(LoginOutcome::Wrong);
    match outcome {
        LoginOutcome::Ok(who) => {
            st.limiter.succeeded(&who);
            tracing::info!(user = %who, ip = ?ip, "portal login");
            start_session(&st, &who, lang)
        }
        LoginOutcome::Wrong => {
            st.limiter.failed(ip, &address);
            tracing::warn!(user = %address, ip = ?ip, "portal login failed");
            p.error = t.login_failed.into();
            render(&p, StatusCode::UNAUTHORIZED)
        }
        LoginOutcome::Locked => {
            tracing::warn!(user = %address, ip = ?ip, "portal login refused: locked");
            p.error = t.locked.into();
            render(&p, StatusCode::FORBIDDEN)
        }
    }
}

async fn forgot_form(State(st): St, Query(q): Query<LangQuery>) -> Response {
    render(
        &page("forgot", lang_of(q.lang.as_deref(), &st), ""),
        StatusCode::OK,
    )
}

/// Notes a reset request; the answer is the same for unknown addresses.
async fn forgot_submit(State(st): St, req: Request) -> Response {
    let ip = client_ip(&req);
    if !same_origin(req.headers(), st.https) {
        return cross_origin();
    }
    let Ok(Form(f)) = Form::<LoginForm>::from_request(req, &()).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let lang = lang_of(Some(&f.lang), &st);
    let address = crate::address::normalize(&f.address);
    let store = st.store.clone();
    let a2 = address.clone();
    let r = tokio::task::spawn_blocking(move || store.request_reset(&a2)).await;
    if let Ok(Err(e)) = r {
        tracing::error!(error = %e, "portal reset request not stored");
    }
    tracing::info!(user = %address, ip = ?ip, "portal password reset requested");
    let mut p = page("message", lang, texts::page(lang).forgot_done);
    p.ok = true;
    render(&p, StatusCode::OK)
}

fn refused_page(lang: Lang, why: SetupRefused) -> Response {
    let t = texts::page(lang);
    let (status, text) = match why {
        SetupRefused::Expired => (StatusCode::GONE, t.link_expired),
        SetupRefused::Invalid => (StatusCode::NOT_FOUND, t.link_invalid),
        SetupRefused::WrongCode => (StatusCode::FORBIDDEN, t.wrong_code),
    };
    render(&page("message", lang, text), status)
}

async fn setup_form(State(st): St, Query(q): Query<LangQuery>) -> Response {
    let lang = lang_of(q.lang.as_deref(), &st);
    let token = q.t.unwrap_or_default();
    let (store, tk) = (st.store.clone(), token.clone());
    let found = tokio::task::spawn_blocking(move || store.setup_user(&tk))
        .await
        .unwrap_or(Err(SetupRefused::Invalid));
    match found {
        Ok(u) => {
            let mut p = page("setup", lang, "");
            p.address = u.address;
            p.token = token;
            p.need_code = !u.code_hash.is_empty();
            render(&p, StatusCode::OK)
        }
        Err(why) => refused_page(lang, why),
    }
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
    #[serde(default)]
    lang: String,
}

async fn setup_submit(State(st): St, req: Request) -> Response {
    let ip = client_ip(&req);
    if !same_origin(req.headers(), st.https) {
        return cross_origin();
    }
    let Ok(Form(f)) = Form::<SetupForm>::from_request(req, &()).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let lang = lang_of(Some(&f.lang), &st);
    let t = texts::page(lang);
    let user = match st.store.setup_user(&f.token) {
        Ok(u) => u,
        Err(why) => return refused_page(lang, why),
    };
    let again = |error: &str, status: StatusCode| {
        let mut p = page("setup", lang, error);
        p.address = user.address.clone();
        p.token = f.token.clone();
        p.need_code = !user.code_hash.is_empty();
        render(&p, status)
    };
    if !st.limiter.allowed(ip, &user.address) {
        return again(t.too_many, StatusCode::TOO_MANY_REQUESTS);
    }
    if f.password.chars().count() < MIN_PASSWORD {
        return again(t.password_short, StatusCode::BAD_REQUEST);
    }
    if f.password != f.password2 {
        return again(t.password_mismatch, StatusCode::BAD_REQUEST);
    }
    let store = st.store.clone();
    let (token, code) = (f.token.clone(), f.code.clone());
    let password = zeroize::Zeroizing::new(f.password.clone());
    let done = tokio::task::spawn_blocking(move || store.complete_setup(&token, &code, &password))
        .await
        .unwrap_or(Err(SetupRefused::Invalid));
    match done {
        Ok(who) => {
            tracing::info!(user = %who, ip = ?ip, "portal password set");
            start_session(&st, &who, lang)
        }
        Err(SetupRefused::WrongCode) => {
            st.limiter.failed(ip, &user.address);
            tracing::warn!(user = %user.address, ip = ?ip, "portal set-up: wrong code");
            match st.store.setup_user(&f.token) {
                Ok(_) => again(t.wrong_code, StatusCode::FORBIDDEN),
                Err(_) => render(&page("message", lang, t.locked), StatusCode::FORBIDDEN),
            }
        }
        Err(why) => refused_page(lang, why),
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

async fn logout(State(st): St, Extension(v): Extension<Visitor>) -> Response {
    st.sessions.remove(&v.session);
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                guard::unset_cookie(st.cookie(), st.https),
            ),
            (header::LOCATION, "/login".to_string()),
        ],
    )
        .into_response()
}

fn parsed(bytes: &[u8]) -> Option<mail_parser::Message<'_>> {
    mail_parser::MessageParser::default().parse(bytes)
}

fn from_of(m: &mail_parser::Message) -> String {
    m.from()
        .and_then(|a| a.first())
        .map(|a| match (a.name(), a.address()) {
            (Some(n), Some(ad)) => format!("{n} <{ad}>"),
            (_, Some(ad)) => ad.to_string(),
            (Some(n), None) => n.to_string(),
            _ => String::new(),
        })
        .unwrap_or_default()
}

fn not_found(v: &Visitor) -> Response {
    let t = texts::page(v.lang);
    render(&page("message", v.lang, t.not_found), StatusCode::NOT_FOUND)
}

async fn inbox(State(st): St, Extension(v): Extension<Visitor>) -> Response {
    let (store, who) = (st.store.clone(), v.address.clone());
    let rows = tokio::task::spawn_blocking(move || {
        store
            .messages_of(&who)
            .into_iter()
            .filter_map(|m| {
                let (meta, bytes) = store.open_message(&who, &m.id).ok()?;
                let msg = parsed(&bytes);
                Some(Row {
                    id: meta.id,
                    from: msg.as_ref().map(from_of).unwrap_or_default(),
                    subject: msg
                        .as_ref()
                        .and_then(|m| m.subject().map(str::to_string))
                        .unwrap_or_default(),
                    received: date(meta.created),
                    expires: date(meta.expires),
                    read: meta.read,
                })
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    render(
        &InboxPage {
            t: texts::page(v.lang),
            v,
            rows,
        },
        StatusCode::OK,
    )
}

async fn read(State(st): St, Extension(v): Extension<Visitor>, Path(id): Path<String>) -> Response {
    let Ok((meta, bytes)) = st.store.open_message(&v.address, &id) else {
        tracing::warn!(user = %v.address, "portal: message not found or not the user's");
        return not_found(&v);
    };
    let _ = st.store.mark_read(&id);
    let Some(msg) = parsed(&bytes) else {
        return not_found(&v);
    };
    let attachments = msg
        .attachments()
        .enumerate()
        .map(|(n, a)| Attachment {
            n,
            name: a
                .attachment_name()
                .map(str::to_string)
                .unwrap_or_else(|| format!("attachment-{}", n + 1)),
            size: a.contents().len(),
        })
        .collect();
    let page = MessagePage {
        t: texts::page(v.lang),
        id: meta.id.clone(),
        from: from_of(&msg),
        subject: msg.subject().unwrap_or_default().to_string(),
        received: date(meta.created),
        text: msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
        attachments,
        v,
    };
    render(&page, StatusCode::OK)
}

async fn attachment(
    State(st): St,
    Extension(v): Extension<Visitor>,
    Path((id, n)): Path<(String, usize)>,
) -> Response {
    let Ok((_, bytes)) = st.store.open_message(&v.address, &id) else {
        return not_found(&v);
    };
    let Some(msg) = parsed(&bytes) else {
        return not_found(&v);
    };
    let Some(a) = msg.attachments().nth(n) else {
        return not_found(&v);
    };
    let name = a
        .attachment_name()
        .map(str::to_string)
        .unwrap_or_else(|| format!("attachment-{}", n + 1));
    crate::webkit::response::download(a.contents().to_vec(), "application/octet-stream", &name)
}

#[derive(Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    text: String,
}

async fn reply(
    State(st): St,
    Extension(v): Extension<Visitor>,
    Path(id): Path<String>,
    Form(f): Form<ReplyForm>,
) -> Response {
    let Ok((meta, bytes)) = st.store.open_message(&v.address, &id) else {
        return not_found(&v);
    };
    let Some(msg) = parsed(&bytes) else {
        return not_found(&v);
    };
    let (env, out) = super::mail::reply(
        &st.cfg,
        &v.address,
        &meta.sender,
        msg.subject().unwrap_or_default(),
        msg.message_id(),
        &f.text,
    );
    let t = texts::page(v.lang);
    let queue_id = env.id.clone();
    let q = st.queue.clone();
    let res = tokio::task::spawn_blocking(move || q.inject(env, &out))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    match res {
        Ok(()) => {
            tracing::info!(user = %v.address, to = %meta.sender, id = %queue_id, "portal reply queued");
            st.sessions.flash(&v.session, true, t.reply_sent);
        }
        Err(e) => {
            tracing::error!(error = %e, "portal reply not queued");
            st.sessions.flash(&v.session, false, e);
        }
    }
    Redirect::to(&format!("/messages/{id}")).into_response()
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
