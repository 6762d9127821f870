//! Configuration pages: Module › Mail-Server › S/MIME-Gateway (tabs Verify, Encrypt, Sign,
//! Decrypt), SMTP settings › Relay control and System › Configuration revisions.
//!
//! The forms are made from the field table ([`crate::liveconf::fields`]); a POST sets only the
//! keys whose value changed, through the same [`crate::liveconf::ConfigService`] as the API.
//! A refused value is shown next to its field (status 422) and nothing is written.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Multipart, Path as UrlPath, Query, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;

use super::{done, render, PageCtx, PageResult, WebError};
use crate::admin::auth::{Lang, Principal};
use crate::admin::AdminState;
use crate::liveconf::fields::{self, Field, Kind, Page};
use crate::liveconf::tls_files::{self, TlsService, TlsState};
use crate::liveconf::{ChangeError, Revision, RevisionInfo};

/// This module's texts, `[en, de, da]`.
pub struct SettingsTexts {
    pub gateway: &'static str,
    pub smtp_settings: &'static str,
    pub relay: &'static str,
    pub revisions: &'static str,
    pub tabs: [&'static str; 4],
    pub save: &'static str,
    pub next_start: &'static str,
    pub restart_pending: &'static str,
    pub saved: &'static str,
    pub unchanged: &'static str,
    pub not_saved: &'static str,
    pub file: &'static str,
    pub revision: &'static str,
    pub when: &'static str,
    pub who: &'static str,
    pub what: &'static str,
    pub restore: &'static str,
    pub compare: &'static str,
    pub with_now: &'static str,
    pub system_settings: &'static str,
    /// Titles of the TLS sections: SMTP, admin, portal.
    pub tls_titles: [&'static str; 3],
    pub tls_self_signed: &'static str,
    pub tls_configured: &'static str,
    pub tls_subject: &'static str,
    pub tls_issuer: &'static str,
    pub tls_valid: &'static str,
    pub tls_file: &'static str,
    pub tls_cert_file: &'static str,
    pub tls_key_file: &'static str,
    pub tls_upload: &'static str,
    pub tls_reset: &'static str,
    pub tls_installed: &'static str,
    pub tls_not_made: &'static str,
}

const EN: SettingsTexts = SettingsTexts {
    gateway: "S/MIME gateway",
    smtp_settings: "SMTP settings",
    relay: "Relay control",
    revisions: "Configuration revisions",
    tabs: ["Verify", "Encrypt", "Sign", "Decrypt"],
    save: "Save",
    next_start: "applies at the next start",
    restart_pending: "Changed, applies at the next start:",
    saved: "Saved as revision",
    unchanged: "Nothing changed.",
    not_saved: "Not saved: please correct the marked fields.",
    file: "Configuration file",
    revision: "Revision",
    when: "When",
    who: "Who",
    what: "What",
    restore: "Restore",
    compare: "Compare",
    with_now: "with the file now",
    system_settings: "Settings",
    tls_titles: [
        "STARTTLS certificate (SMTP)",
        "Web admin HTTPS certificate",
        "Web portal HTTPS certificate",
    ],
    tls_self_signed: "self-signed, made by the box",
    tls_configured: "installed certificate",
    tls_subject: "Subject",
    tls_issuer: "Issuer",
    tls_valid: "Valid",
    tls_file: "File",
    tls_cert_file: "Certificate with its chain (PEM)",
    tls_key_file: "Private key (PEM, without passphrase; empty if in the certificate file)",
    tls_upload: "Install",
    tls_reset: "Back to self-signed",
    tls_installed: "Certificate installed; it applies at the next start.",
    tls_not_made:
        "Not made yet: the listener makes it when it first starts with HTTPS or STARTTLS.",
};
const DE: SettingsTexts = SettingsTexts {
    gateway: "S/MIME-Gateway",
    smtp_settings: "SMTP-Einstellungen",
    relay: "Relay-Kontrolle",
    revisions: "Konfigurationsstände",
    tabs: ["Prüfen", "Verschlüsseln", "Signieren", "Entschlüsseln"],
    save: "Speichern",
    next_start: "gilt ab dem nächsten Start",
    restart_pending: "Geändert, gilt ab dem nächsten Start:",
    saved: "Gespeichert als Stand",
    unchanged: "Nichts geändert.",
    not_saved: "Nicht gespeichert: bitte die markierten Felder korrigieren.",
    file: "Konfigurationsdatei",
    revision: "Stand",
    when: "Wann",
    who: "Wer",
    what: "Was",
    restore: "Wiederherstellen",
    compare: "Vergleichen",
    with_now: "mit der Datei jetzt",
    system_settings: "Einstellungen",
    tls_titles: [
        "STARTTLS-Zertifikat (SMTP)",
        "HTTPS-Zertifikat der Web-Administration",
        "HTTPS-Zertifikat des Webportals",
    ],
    tls_self_signed: "selbstsigniert, von der Box erzeugt",
    tls_configured: "installiertes Zertifikat",
    tls_subject: "Inhaber",
    tls_issuer: "Aussteller",
    tls_valid: "Gültig",
    tls_file: "Datei",
    tls_cert_file: "Zertifikat mit Kette (PEM)",
    tls_key_file: "Privater Schlüssel (PEM, ohne Passphrase; leer, wenn in der Zertifikatsdatei)",
    tls_upload: "Installieren",
    tls_reset: "Zurück zu selbstsigniert",
    tls_installed: "Zertifikat installiert; es gilt ab dem nächsten Start.",
    tls_not_made:
        "Noch nicht erzeugt: der Listener erzeugt es beim ersten Start mit HTTPS bzw. STARTTLS.",
};
const DA: SettingsTexts = SettingsTexts {
    gateway: "S/MIME-gateway",
    smtp_settings: "SMTP-indstillinger",
    relay: "Relækontrol",
    revisions: "Konfigurationsversioner",
    tabs: ["Verificér", "Kryptér", "Signér", "Dekryptér"],
    save: "Gem",
    next_start: "gælder fra næste start",
    restart_pending: "Ændret, gælder fra næste start:",
    saved: "Gemt som version",
    unchanged: "Intet ændret.",
    not_saved: "Ikke gemt: ret venligst de markerede felter.",
    file: "Konfigurationsfil",
    revision: "Version",
    when: "Hvornår",
    who: "Hvem",
    what: "Hvad",
    restore: "Gendan",
    compare: "Sammenlign",
    with_now: "med filen nu",
    system_settings: "Indstillinger",
    tls_titles: ["STARTTLS-certifikat (SMTP)", "Webadministrationens HTTPS-certifikat", "Webportalens HTTPS-certifikat"],
    tls_self_signed: "selvsigneret, lavet af boksen",
    tls_configured: "installeret certifikat",
    tls_subject: "Indehaver",
    tls_issuer: "Udsteder",
    tls_valid: "Gyldigt",
    tls_file: "Fil",
    tls_cert_file: "Certifikat med kæde (PEM)",
    tls_key_file: "Privat nøgle (PEM, uden adgangssætning; tom hvis i certifikatfilen)",
    tls_upload: "Installér",
    tls_reset: "Tilbage til selvsigneret",
    tls_installed: "Certifikat installeret; det gælder fra næste start.",
    tls_not_made: "Endnu ikke lavet: lytteren laver det, når den første gang starter med HTTPS eller STARTTLS.",
};

pub fn texts(lang: Lang) -> &'static SettingsTexts {
    match lang {
        Lang::De => &DE,
        Lang::Da => &DA,
        _ => &EN,
    }
}

/// One field as the form shows it.
pub struct FieldView {
    pub key: &'static str,
    pub id: String,
    pub label: &'static str,
    pub help: &'static str,
    /// text, bool, number, list, choice, toml
    pub kind: &'static str,
    pub options: Vec<&'static str>,
    pub value: String,
    pub restart: bool,
    pub error: Option<String>,
}

fn view(f: &Field, lang: Lang, value: String, error: Option<String>) -> FieldView {
    let (label, help) = f.texts(lang.code());
    let (kind, options) = match f.kind {
        Kind::Text => ("text", vec![]),
        Kind::Bool => ("bool", vec![]),
        Kind::Number => ("number", vec![]),
        Kind::List => ("list", vec![]),
        Kind::Choice(o) => ("choice", o.to_vec()),
        Kind::TomlTable | Kind::TomlArray(_) => ("toml", vec![]),
    };
    FieldView {
        key: f.key,
        id: f.id(),
        label,
        help,
        kind,
        options,
        value,
        restart: f.needs_restart(),
        error,
    }
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    p: PageCtx,
    s: &'static SettingsTexts,
    /// (href, label, active) for the gateway tabs; empty on the relay page.
    tabs: Vec<(String, &'static str, bool)>,
    action: String,
    fields: Vec<FieldView>,
    error: Option<String>,
    path: String,
    restart_pending: Vec<String>,
    /// The TLS certificates managed on this page.
    tls: Vec<TlsView>,
}

/// A listener's certificate with its upload form.
pub struct TlsView {
    pub service: &'static str,
    pub title: &'static str,
    pub state: TlsState,
    /// Why no certificate is shown, in the admin's language where it is ours.
    pub note: Option<String>,
}

fn page_meta(page: Page, lang: Lang) -> (&'static str, String) {
    let s = texts(lang);
    match page {
        Page::Relay => ("/relay", s.relay.to_string()),
        Page::System => ("/system", s.system_settings.to_string()),
        _ => ("/gateway", s.gateway.to_string()),
    }
}

/// The page's own address (the form's action and where a POST leads back).
fn href(page: Page) -> String {
    match page {
        Page::Relay | Page::System => format!("/{}", page.slug()),
        t => format!("/gateway/{}", t.slug()),
    }
}

/// The listeners whose certificates a page manages.
fn tls_services(page: Page) -> &'static [TlsService] {
    match page {
        Page::Relay => &[TlsService::Smtp],
        Page::System => &[TlsService::Admin, TlsService::Portal],
        _ => &[],
    }
}

fn tls_views(st: &AdminState, page: Page, lang: Lang) -> Vec<TlsView> {
    let wanted = tls_services(page);
    if wanted.is_empty() {
        return vec![];
    }
    let s = texts(lang);
    let local = crate::appliance::zone::LocalTime::configured(&st.cfg);
    tls_files::states(&st.config)
        .into_iter()
        .filter(|t| wanted.contains(&t.service))
        .map(|mut state| {
            if let Some(c) = state.cert.as_mut() {
                c.not_before = local.text(&c.not_before);
                c.not_after = local.text(&c.not_after);
            }
            state
        })
        .map(|state| TlsView {
            service: state.service.name(),
            title: match state.service {
                TlsService::Smtp => s.tls_titles[0],
                TlsService::Admin => s.tls_titles[1],
                TlsService::Portal => s.tls_titles[2],
            },
            note: match (&state.cert, state.configured) {
                (None, false) => Some(s.tls_not_made.to_string()),
                _ => state.error.clone(),
            },
            state,
        })
        .collect()
}

fn show(
    st: &AdminState,
    p: &Principal,
    page: Page,
    values: Option<&HashMap<String, String>>,
    errors: &HashMap<&'static str, String>,
    error: Option<String>,
) -> PageResult {
    let s = texts(p.lang);
    let (active, title) = page_meta(page, p.lang);
    let cfg = serde_json::to_value(&*st.config.get()).unwrap_or_default();
    let fields = fields::on(page)
        .map(|f| {
            let value = match values {
                Some(v) => v.get(f.key).cloned().unwrap_or_default(),
                None => f.display(&cfg),
            };
            view(f, p.lang, value, errors.get(f.key).cloned())
        })
        .collect();
    let tabs = if matches!(page, Page::Relay | Page::System) {
        vec![]
    } else {
        Page::GATEWAY_TABS
            .iter()
            .zip(s.tabs)
            .map(|(t, label)| (format!("/gateway/{}", t.slug()), label, *t == page))
            .collect()
    };
    let action = href(page);
    render(&SettingsPage {
        p: PageCtx::new(st, p, active, &title),
        s,
        tabs,
        action,
        fields,
        error,
        path: st.config.path().display().to_string(),
        restart_pending: st.config.restart_pending(),
        tls: tls_views(st, page, p.lang),
    })
    .map(|r| {
        if errors.is_empty() && values.is_none() {
            r
        } else {
            (StatusCode::UNPROCESSABLE_ENTITY, r).into_response()
        }
    })
}

pub async fn gateway(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> PageResult {
    show(&st, &p, Page::Verify, None, &HashMap::new(), None)
}

pub async fn gateway_tab(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    UrlPath(tab): UrlPath<String>,
) -> PageResult {
    let page = Page::from_slug(&tab)
        .filter(|p| Page::GATEWAY_TABS.contains(p))
        .ok_or_else(|| WebError(StatusCode::NOT_FOUND, format!("no tab {tab}")))?;
    show(&st, &p, page, None, &HashMap::new(), None)
}

pub async fn relay(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> PageResult {
    show(&st, &p, Page::Relay, None, &HashMap::new(), None)
}

pub async fn gateway_save(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    UrlPath(tab): UrlPath<String>,
    form: RawForm,
) -> Response {
    match Page::from_slug(&tab).filter(|p| Page::GATEWAY_TABS.contains(p)) {
        Some(page) => save(st, p, page, form).await,
        None => WebError(StatusCode::NOT_FOUND, format!("no tab {tab}")).into_response(),
    }
}

pub async fn relay_save(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    form: RawForm,
) -> Response {
    save(st, p, Page::Relay, form).await
}

/// System › Settings: host name, the admin listener, the HTTPS certificates.
pub async fn system(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> PageResult {
    show(&st, &p, Page::System, None, &HashMap::new(), None)
}

pub async fn system_save(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    form: RawForm,
) -> Response {
    save(st, p, Page::System, form).await
}

fn tls_page(t: TlsService) -> Page {
    match t {
        TlsService::Smtp => Page::Relay,
        TlsService::Admin | TlsService::Portal => Page::System,
    }
}

/// Install an uploaded certificate (`cert`) and key (`key`) for a listener.
pub async fn tls_install(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    UrlPath(service): UrlPath<String>,
    m: Multipart,
) -> Response {
    let Some(t) = TlsService::parse(&service) else {
        return WebError(StatusCode::NOT_FOUND, format!("no TLS listener {service}"))
            .into_response();
    };
    let s = texts(p.lang);
    let outcome = async {
        let mut f = super::fields(m).await?;
        let cert = f.remove("cert").unwrap_or_default();
        let key = zeroize::Zeroizing::new(f.remove("key").unwrap_or_default());
        let (c, who) = (st.config.clone(), p.name.clone());
        let i = super::blocking(move || {
            tls_files::install(&c, &who, t, &cert, &key).map_err(|e| e.to_string())
        })
        .await?;
        Ok(format!(
            "{} {} (SHA-256 {}…) {} {}.",
            s.tls_installed,
            i.cert.subject,
            &i.cert.sha256[..16],
            s.revision,
            i.applied.revision
        ))
    }
    .await;
    done(&st, &p, &href(tls_page(t)), outcome)
}

/// Go back to the listener's self-signed certificate.
pub async fn tls_reset(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    UrlPath(service): UrlPath<String>,
) -> Response {
    let Some(t) = TlsService::parse(&service) else {
        return WebError(StatusCode::NOT_FOUND, format!("no TLS listener {service}"))
            .into_response();
    };
    let s = texts(p.lang);
    let (c, who) = (st.config.clone(), p.name.clone());
    let outcome = super::blocking(move || tls_files::reset(&c, &who, t).map_err(|e| e.to_string()))
        .await
        .map(|a| {
            format!(
                "{} {}. {} {}",
                s.saved,
                a.revision,
                s.restart_pending,
                a.restart_needed.join(", ")
            )
        });
    done(&st, &p, &href(tls_page(t)), outcome)
}

/// Set the page's changed fields; on a refusal show the form again with the messages.
async fn save(st: Arc<AdminState>, p: Principal, page: Page, RawForm(body): RawForm) -> Response {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let mut values: HashMap<String, String> = HashMap::new();
    for (k, v) in pairs {
        values.insert(k, v);
    }
    let (changes, errors) = form_changes(&st, page, &values);
    // Unchecked boxes are absent from the form: show them unchecked when the form comes back.
    let shown: HashMap<String, String> = fields::on(page)
        .map(|f| {
            (
                f.key.to_string(),
                values.get(f.key).cloned().unwrap_or_default(),
            )
        })
        .collect();
    let s = texts(p.lang);
    if !errors.is_empty() {
        return show(
            &st,
            &p,
            page,
            Some(&shown),
            &errors,
            Some(s.not_saved.into()),
        )
        .unwrap_or_else(IntoResponse::into_response);
    }
    let back = href(page);
    if changes.is_empty() {
        return done(&st, &p, &back, Ok(s.unchanged.into()));
    }
    let note = format!(
        "{}: {}",
        back.trim_start_matches('/'),
        changes
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let (c, who) = (st.config.clone(), p.name.clone());
    let r = tokio::task::spawn_blocking(move || c.set(&who, &note, &changes)).await;
    match r {
        Ok(Ok(a)) => {
            let mut m = format!("{} {}.", s.saved, a.revision);
            if !a.restart_needed.is_empty() {
                m.push_str(&format!(
                    " {} {}",
                    s.restart_pending,
                    a.restart_needed.join(", ")
                ));
            }
            done(&st, &p, &back, Ok(m))
        }
        Ok(Err(ChangeError::Invalid { key, message })) => {
            let mut errors = HashMap::new();
            let general = match fields::for_error(page, key.as_deref(), &message) {
                Some(f) => {
                    errors.insert(f.key, message);
                    s.not_saved.to_string()
                }
                None => format!("{} {message}", s.not_saved),
            };
            show(&st, &p, page, Some(&shown), &errors, Some(general))
                .unwrap_or_else(IntoResponse::into_response)
        }
        Ok(Err(e)) => done(&st, &p, &back, Err(e.to_string())),
        Err(e) => done(&st, &p, &back, Err(e.to_string())),
    }
}

/// The keys of `page` whose submitted value differs from the configuration in force, and the
/// fields whose value does not parse. A field absent from the form stays as it is (a checkbox
/// comes with a hidden empty field of the same name, so an unchecked box is present, as "").
#[allow(clippy::type_complexity)]
fn form_changes(
    st: &AdminState,
    page: Page,
    values: &HashMap<String, String>,
) -> (
    Vec<(String, Option<toml::Value>)>,
    HashMap<&'static str, String>,
) {
    let cfg = serde_json::to_value(&*st.config.get()).unwrap_or_default();
    let mut errors: HashMap<&'static str, String> = HashMap::new();
    let mut changes = vec![];
    for f in fields::on(page).filter(|f| values.contains_key(f.key)) {
        match f.parse(values.get(f.key).map(String::as_str)) {
            Ok(v) if Some(&v) != f.current(&cfg).as_ref() => {
                changes.push((f.key.to_string(), Some(v)))
            }
            Ok(_) => {}
            Err(m) => {
                errors.insert(f.key, m);
            }
        }
    }
    (changes, errors)
}

#[derive(Template)]
#[template(path = "revisions.html")]
struct RevisionsPage {
    p: PageCtx,
    s: &'static SettingsTexts,
    path: String,
    revisions: Vec<(RevisionInfo, String)>,
    shown: Option<Revision>,
    diff: String,
    restart_pending: Vec<String>,
}

#[derive(Deserialize, Default)]
pub struct RevisionQuery {
    /// Show this revision's diff (against `to`, else against its predecessor).
    #[serde(default)]
    show: Option<u64>,
    #[serde(default)]
    to: Option<String>,
}

pub async fn revisions(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    Query(q): Query<RevisionQuery>,
) -> PageResult {
    let s = texts(p.lang);
    let shown = q.show.and_then(|id| st.config.revision(id));
    let diff = match (&shown, q.to.as_deref()) {
        (Some(r), Some("now")) => st.config.diff(r.id, None).unwrap_or_default(),
        (Some(r), Some(to)) => to
            .parse()
            .ok()
            .and_then(|to| st.config.diff(r.id, Some(to)).ok())
            .unwrap_or_default(),
        (Some(r), None) => r.diff.clone(),
        (None, _) => String::new(),
    };
    let ctx = PageCtx::new(&st, &p, "/config/revisions", s.revisions);
    let revisions = st
        .config
        .revisions()
        .into_iter()
        .map(|r| {
            let t = ctx.time.at(r.time);
            (r, t)
        })
        .collect();
    render(&RevisionsPage {
        p: ctx,
        s,
        path: st.config.path().display().to_string(),
        revisions,
        shown,
        diff,
        restart_pending: st.config.restart_pending(),
    })
}

pub async fn restore(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    UrlPath(id): UrlPath<u64>,
) -> Response {
    let s = texts(p.lang);
    let (c, who) = (st.config.clone(), p.name.clone());
    let outcome = match tokio::task::spawn_blocking(move || c.restore(&who, id)).await {
        Ok(Ok(a)) => {
            let mut m = format!("{} {}.", s.saved, a.revision);
            if !a.restart_needed.is_empty() {
                m.push_str(&format!(
                    " {} {}",
                    s.restart_pending,
                    a.restart_needed.join(", ")
                ));
            }
            Ok(m)
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    done(&st, &p, "/config/revisions", outcome)
}
