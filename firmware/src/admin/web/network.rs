//! System › Network and System › Time: the box's address (DHCP or static), gateway, DNS
//! servers and host name; NTP servers, time zone and whether the clock is trusted yet. The
//! same store as the API and `segl ctl network|time` ([`crate::appliance::Store`]): the values
//! are validated, written to `/data/network.conf` / `/data/time.conf`, and the box applies
//! them at once through its root helper.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use axum::{Extension, Form};

use super::{blocking, done, render, PageCtx, PageResult};
use crate::admin::appliance::{network_view, time_view, NetworkView, TimeView};
use crate::admin::auth::{Lang, Principal};
use crate::admin::AdminState;
use crate::appliance::{Mode, NetworkSettings, Store, TimeSettings};

/// The pages' words (English and German, like the rest of the admin).
pub struct Texts {
    pub network: &'static str,
    pub time: &'static str,
    pub dhcp: &'static str,
    pub static_address: &'static str,
    pub address: &'static str,
    pub gateway: &'static str,
    pub dns: &'static str,
    pub hostname: &'static str,
    pub iface: &'static str,
    pub comma: &'static str,
    pub save: &'static str,
    pub applied: &'static str,
    pub not_on_box: &'static str,
    pub ntp: &'static str,
    pub timezone: &'static str,
    pub now: &'static str,
    pub clock: &'static str,
    pub sync: &'static str,
    pub warn_lockout: &'static str,
}

const EN: Texts = Texts {
    network: "Network",
    time: "Time",
    dhcp: "DHCP (automatic)",
    static_address: "Static address",
    address: "Address/prefix",
    gateway: "Gateway",
    dns: "DNS servers",
    hostname: "Host name",
    iface: "Interface",
    comma: "comma-separated",
    save: "Save and apply",
    applied: "Last applied",
    not_on_box: "Not running on a box: the settings are only written to the file.",
    ntp: "NTP servers",
    timezone: "Time zone",
    now: "Clock now",
    clock: "Clock",
    sync: "Last synchronisation",
    warn_lockout: "A wrong address cuts this page off; the console menu can set it again.",
};

const DE: Texts = Texts {
    network: "Netzwerk",
    time: "Zeit",
    dhcp: "DHCP (automatisch)",
    static_address: "Feste Adresse",
    address: "Adresse/Präfix",
    gateway: "Gateway",
    dns: "DNS-Server",
    hostname: "Hostname",
    iface: "Schnittstelle",
    comma: "durch Kommas getrennt",
    save: "Speichern und anwenden",
    applied: "Zuletzt angewendet",
    not_on_box: "Läuft nicht auf einer Box: die Einstellungen werden nur in die Datei geschrieben.",
    ntp: "NTP-Server",
    timezone: "Zeitzone",
    now: "Uhrzeit jetzt",
    clock: "Uhr",
    sync: "Letzte Synchronisierung",
    warn_lockout:
        "Eine falsche Adresse trennt diese Seite ab; das Konsolenmenü kann sie neu setzen.",
};

pub fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::De => &DE,
        _ => &EN,
    }
}

#[derive(Template)]
#[template(path = "network.html")]
struct NetworkPage {
    p: PageCtx,
    f: &'static Texts,
    v: NetworkView,
    is_static: bool,
    dns: String,
}

#[derive(Template)]
#[template(path = "time.html")]
struct TimePage {
    p: PageCtx,
    f: &'static Texts,
    v: TimeView,
    ntp: String,
}

fn web_err(e: String) -> super::WebError {
    super::WebError(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e)
}

fn list(s: &str) -> Vec<String> {
    s.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub async fn network(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> PageResult {
    let f = texts(p.lang);
    let ctx = PageCtx::new(&st, &p, "/network", f.network);
    let store = Store::for_config(&st.cfg);
    let v = blocking(move || network_view(&store).map_err(|e| e.to_string()))
        .await
        .map_err(web_err)?;
    render(&NetworkPage {
        p: ctx,
        f,
        is_static: v.settings.mode == Mode::Static,
        dns: v.settings.dns.join(", "),
        v,
    })
}

pub async fn network_save(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let s = NetworkSettings {
        mode: if get("mode") == "static" {
            Mode::Static
        } else {
            Mode::Dhcp
        },
        iface: get("iface"),
        address: get("address"),
        gateway: get("gateway"),
        dns: list(&get("dns")),
        hostname: get("hostname"),
    };
    let store = Store::for_config(&st.cfg);
    let outcome = blocking(move || {
        store
            .save_network(s)
            .map(|(_, saved)| saved.message)
            .map_err(|e| e.to_string())
    })
    .await;
    done(&st, &p, "/network", outcome)
}

pub async fn time(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> PageResult {
    let f = texts(p.lang);
    let ctx = PageCtx::new(&st, &p, "/time", f.time);
    let store = Store::for_config(&st.cfg);
    let v = blocking(move || time_view(&store).map_err(|e| e.to_string()))
        .await
        .map_err(web_err)?;
    render(&TimePage {
        p: ctx,
        f,
        ntp: v.settings.ntp.join(", "),
        v,
    })
}

pub async fn time_save(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let s = TimeSettings {
        ntp: list(&get("ntp")),
        timezone: get("timezone"),
    };
    let store = Store::for_config(&st.cfg);
    let outcome = blocking(move || {
        store
            .save_time(s)
            .map(|(_, saved)| saved.message)
            .map_err(|e| e.to_string())
    })
    .await;
    done(&st, &p, "/time", outcome)
}
