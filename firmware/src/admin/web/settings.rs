//! Configuration pages: Module › Mail-Server › S/MIME-Gateway (tabs Verify, Encrypt, Sign,
//! Decrypt), SMTP settings › Relay control and System › Configuration revisions.
//!
//! The forms are made from the field table ([`crate::liveconf::fields`]); a POST sets only the
//! keys whose value changed, through the same [`crate::liveconf::ConfigService`] as the API.
//! A refused value is shown next to its field (status 422) and nothing is written.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path as UrlPath, Query, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;

use super::{done, render, PageCtx, PageResult, WebError};
use crate::admin::auth::{Lang, Principal};
use crate::admin::AdminState;
use crate::liveconf::fields::{self, Field, Kind, Page};
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
}

fn page_meta(page: Page, lang: Lang) -> (&'static str, String) {
    let s = texts(lang);
    match page {
        Page::Relay => ("/relay", s.relay.to_string()),
        _ => ("/gateway", s.gateway.to_string()),
    }
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
    let tabs = if page == Page::Relay {
        vec![]
    } else {
        Page::GATEWAY_TABS
            .iter()
            .zip(s.tabs)
            .map(|(t, label)| (format!("/gateway/{}", t.slug()), label, *t == page))
            .collect()
    };
    let action = match page {
        Page::Relay => "/relay".to_string(),
        t => format!("/gateway/{}", t.slug()),
    };
    render(&SettingsPage {
        p: PageCtx::new(st, p, active, &title),
        s,
        tabs,
        action,
        fields,
        error,
        path: st.config.path().display().to_string(),
        restart_pending: st.config.restart_pending(),
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
        .filter(|p| *p != Page::Relay)
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
    match Page::from_slug(&tab).filter(|p| *p != Page::Relay) {
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

/// Set the page's changed fields; on a refusal show the form again with the messages.
async fn save(st: Arc<AdminState>, p: Principal, page: Page, RawForm(body): RawForm) -> Response {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let mut values: HashMap<String, String> = HashMap::new();
    for (k, v) in pairs {
        values.insert(k, v);
    }
    let cfg = serde_json::to_value(&*st.config.get()).unwrap_or_default();
    let mut errors: HashMap<&'static str, String> = HashMap::new();
    let mut changes = vec![];
    // A field absent from the form stays as it is (a checkbox comes with a hidden empty
    // field of the same name, so an unchecked box is present, as "").
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
    let back = match page {
        Page::Relay => "/relay".to_string(),
        t => format!("/gateway/{}", t.slug()),
    };
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
    render(&RevisionsPage {
        p: PageCtx::new(&st, &p, "/config/revisions", s.revisions),
        s,
        path: st.config.path().display().to_string(),
        revisions: st
            .config
            .revisions()
            .into_iter()
            .map(|r| {
                let t = crate::keystore::model::iso(r.time);
                (r, t)
            })
            .collect(),
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
