//! The web admin: server-rendered pages (askama templates from `webui/templates`, compiled
//! into the binary) over the same state and keystore calls as the JSON API. Plain forms, no
//! script: every POST carries the session's CSRF token and answers with a redirect (POST,
//! redirect, GET), the outcome shown once as a flash message.
//!
//! One file per page family, each handler returning a typed template; [`WebError`] renders
//! failures as a page.

pub mod chart;
pub mod dashboard;
pub mod dkim;
pub mod firmware;
pub mod i18n;
pub mod keyring;
pub mod licences;
pub mod login;
pub mod monitoring;
pub mod network;
pub mod partners;
pub mod portal;
pub mod settings;
pub mod system;
pub mod users;

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::Multipart;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{middleware, Router};

use super::auth::{guard, Principal};
use super::AdminState;
pub use crate::webkit::response::{css, download};
use i18n::Texts;

/// A message shown once at the top of the next page.
#[derive(Debug, Clone)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

#[derive(Debug)]
pub struct MenuItem {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

#[derive(Debug)]
pub struct MenuGroup {
    pub title: &'static str,
    pub items: Vec<MenuItem>,
}

/// What every page's layout (`base.html`) needs.
#[derive(Debug)]
pub struct PageCtx {
    pub t: &'static Texts,
    pub title: String,
    pub user: String,
    pub role: &'static str,
    pub csrf: String,
    pub hostname: String,
    pub can_change: bool,
    pub flash: Option<Flash>,
    pub menu: Vec<MenuGroup>,
    /// The box's zone: every time a page shows is local time in it.
    pub time: crate::appliance::zone::LocalTime,
}

impl PageCtx {
    /// The layout for page `active` (its menu href) titled `title`.
    pub fn new(st: &AdminState, p: &Principal, active: &str, title: &str) -> PageCtx {
        let t = i18n::texts(p.lang);
        let item = |href: &'static str, label: &'static str| MenuItem {
            href,
            label,
            active: href == active,
        };
        let menu = vec![
            MenuGroup {
                title: "",
                items: vec![
                    item("/", t.dashboard),
                    item("/recipients", t.recipient_check),
                ],
            },
            MenuGroup {
                title: t.mail_server,
                items: vec![
                    item("/partners", t.partners),
                    item("/partners/pending", t.pending),
                    item("/domains", t.domains),
                    item("/gateway", settings::texts(p.lang).gateway),
                    item("/portal", crate::portal::texts::page(p.lang).admin_menu),
                ],
            },
            MenuGroup {
                title: settings::texts(p.lang).smtp_settings,
                items: vec![item("/relay", settings::texts(p.lang).relay)],
            },
            MenuGroup {
                title: t.monitoring,
                items: vec![item("/queue", t.queue), item("/maillog", t.mail_log)],
            },
            MenuGroup {
                title: t.system,
                items: vec![
                    item("/keys", t.keyring),
                    item("/license", t.licences),
                    item("/users", t.users),
                    item("/system", settings::texts(p.lang).system_settings),
                    item("/backup", t.backup),
                    item("/network", network::texts(p.lang).network),
                    item("/time", network::texts(p.lang).time),
                    item("/firmware", firmware::texts(p.lang).title),
                    item("/config/revisions", settings::texts(p.lang).revisions),
                    item("/audit", t.audit),
                ],
            },
        ];
        PageCtx {
            t,
            title: title.to_string(),
            user: p.name.clone(),
            role: p.role.as_str(),
            csrf: p.csrf.clone(),
            hostname: st.cfg.smtp.hostname.clone(),
            can_change: p.can_change(),
            flash: p.flash.clone().map(|(ok, text)| Flash { ok, text }),
            menu,
            time: crate::appliance::zone::LocalTime::configured(&st.cfg),
        }
    }
}

/// A failure while making a page: shown as a page with its status.
#[derive(Debug)]
pub struct WebError(pub StatusCode, pub String);

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let body = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Segl</title>\
             <link rel=\"stylesheet\" href=\"/static/segl.css\"></head><body class=\"center\">\
             <div class=\"card\"><h1>{}</h1><p>{}</p><p><a href=\"/\">Segl</a></p></div></body></html>",
            self.0,
            askama::filters::escape(&self.1, askama::filters::Html)
                .map(|e| e.to_string())
                .unwrap_or_default()
        );
        (self.0, Html(body)).into_response()
    }
}

pub type PageResult = Result<Response, WebError>;

/// Render a template into a response.
pub fn render(t: &impl Template) -> PageResult {
    t.render()
        .map(|s| Html(s).into_response())
        .map_err(|e| WebError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// Finish a POST: remember the outcome for the next page and go back to `to`.
pub fn done(st: &AdminState, p: &Principal, to: &str, outcome: Result<String, String>) -> Response {
    if let Some(id) = &p.session_id {
        match outcome {
            Ok(m) => st.auth.sessions.flash(id, true, m),
            Err(m) => st.auth.sessions.flash(id, false, m),
        }
    }
    Redirect::to(to).into_response()
}

/// All fields of a multipart form (files and text), bounded by the guard's body limit.
pub async fn fields(mut m: Multipart) -> Result<HashMap<String, Vec<u8>>, String> {
    let mut out = HashMap::new();
    while let Some(f) = m.next_field().await.map_err(|e| e.to_string())? {
        let name = f.name().unwrap_or_default().to_string();
        let data = f.bytes().await.map_err(|e| e.to_string())?;
        out.insert(name, data.to_vec());
    }
    Ok(out)
}

/// The non-empty uploaded file `file` of a form; `Err` asks for `what`.
pub fn uploaded_file(f: &HashMap<String, Vec<u8>>, what: &str) -> Result<Vec<u8>, String> {
    f.get("file")
        .filter(|d| !d.is_empty())
        .cloned()
        .ok_or_else(|| format!("choose {what}"))
}

/// A text field of a multipart form, trimmed.
pub fn text(f: &HashMap<String, Vec<u8>>, name: &str) -> String {
    f.get(name)
        .map(|v| String::from_utf8_lossy(v).trim().to_string())
        .unwrap_or_default()
}

/// Run keystore or other blocking work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| e.to_string())?
}

/// The uploaded `file` field of a form, handed to a keystore operation on the blocking pool
/// (the shape every keyring upload shares).
pub async fn keystore_upload<T: Send + 'static>(
    st: &AdminState,
    m: Multipart,
    op: impl FnOnce(&crate::keystore::Keystore, &[u8]) -> crate::keystore::Result<T> + Send + 'static,
) -> Result<T, String> {
    let data = fields(m).await?.remove("file").unwrap_or_default();
    let ks = st.keystore.clone();
    blocking(move || op(&ks, &data).map_err(|e| e.to_string())).await
}

/// The pages. Login, set-up and static files are open; everything else passes the session guard.
pub fn router(st: Arc<AdminState>) -> Router<Arc<AdminState>> {
    let guarded = Router::new()
        .route("/", get(dashboard::page))
        .route("/logout", post(login::logout))
        .route("/account", get(users::account))
        .route("/account/language", post(users::set_language))
        .route("/account/password", post(users::set_password))
        .route(
            "/recipients",
            get(partners::check_page).post(partners::check_post),
        )
        .route("/partners", get(partners::list))
        .route("/partners/upload", post(partners::upload))
        .route("/partners/pending", get(partners::pending))
        .route("/partners/{id}/download", get(partners::download_cert))
        .route("/partners/{id}/{action}", post(partners::action))
        .route("/domains", get(system::domains))
        .route("/domains/dkim/generate", post(dkim::generate))
        .route("/queue", get(monitoring::queue))
        .route("/queue/retry", post(monitoring::retry_all))
        .route("/queue/{id}/{action}", post(monitoring::action))
        .route("/maillog", get(monitoring::maillog))
        .route("/keys", get(keyring::page))
        .route("/keys/import", post(keyring::import))
        .route("/keys/generate", post(keyring::generate))
        .route("/keys/csr", post(keyring::csr))
        .route("/keys/import-cert", post(keyring::import_cert))
        .route("/keys/rollover", post(keyring::rollover))
        .route("/keys/ca.pem", get(keyring::ca_download))
        .route("/keys/{id}/cert.pem", get(keyring::cert_download))
        .route("/keys/{id}/csr.pem", get(keyring::csr_download))
        .route("/trust/import", post(keyring::trust_import))
        .route("/trust/crl", post(keyring::crl_import))
        .route("/trust/{id}/delete", post(keyring::trust_delete))
        .route("/users", get(users::page))
        .route("/users/add", post(users::add_user))
        .route("/admins/add", post(users::add_admin))
        .route("/admins/{name}/delete", post(users::delete_admin))
        .route("/license", get(licences::page))
        .route("/license/upload", post(licences::upload))
        .route("/firmware", get(firmware::page))
        .route(
            "/network",
            get(network::network).post(network::network_save),
        )
        .route("/time", get(network::time).post(network::time_save))
        .route(
            "/firmware/upload",
            post(firmware::upload).layer(axum::extract::DefaultBodyLimit::max(
                super::firmware_max_bundle(),
            )),
        )
        .route("/backup", get(system::backup_page))
        .route("/backup/download", post(system::backup_download))
        .route("/backup/restore", post(system::backup_restore))
        .route("/audit", get(system::audit))
        .route("/gateway", get(settings::gateway))
        .route(
            "/gateway/{tab}",
            get(settings::gateway_tab).post(settings::gateway_save),
        )
        .route("/relay", get(settings::relay).post(settings::relay_save))
        .route("/system", get(settings::system).post(settings::system_save))
        .route("/tls/{service}", post(settings::tls_install))
        .route("/tls/{service}/reset", post(settings::tls_reset))
        .route("/config/revisions", get(settings::revisions))
        .route("/config/revisions/{id}/restore", post(settings::restore))
        .route("/portal", get(portal::page))
        .route("/portal/revoke", post(portal::revoke))
        .route("/portal/reset", post(portal::reset))
        .layer(middleware::from_fn_with_state(st, guard::web));
    Router::new()
        .route("/login", get(login::form).post(login::submit))
        .route("/setup", get(login::setup_form).post(login::setup_submit))
        .route("/static/segl.css", get(css))
        .merge(guarded)
}
