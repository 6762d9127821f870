//! System › Firmware: the two boot slots with their versions, which one runs and which is the
//! default, the last update's result (a failed trial says so here), and the upload of a signed
//! update bundle — through the same [`crate::update::Updater::install`] as the API and
//! `segl ctl firmware install`.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Multipart, State};
use axum::response::Response;
use axum::Extension;

use super::{blocking, done, fields, render, PageCtx, PageResult};
use crate::admin::auth::{Lang, Principal};
use crate::admin::AdminState;
use crate::update::{Status, Updater};

/// The page's words (English and German, like the rest of the admin).
pub struct Texts {
    pub title: &'static str,
    pub running: &'static str,
    pub slot: &'static str,
    pub version: &'static str,
    pub state: &'static str,
    pub empty: &'static str,
    pub default_slot: &'static str,
    pub trial_next: &'static str,
    pub on_trial: &'static str,
    pub last: &'static str,
    pub upload: &'static str,
    pub force: &'static str,
    pub reboot: &'static str,
    pub unsupported: &'static str,
    pub dev_key: &'static str,
}

const EN: Texts = Texts {
    title: "Firmware",
    running: "running",
    slot: "Slot",
    version: "Version",
    state: "State",
    empty: "(empty)",
    default_slot: "default",
    trial_next: "boots once on trial at the next restart",
    on_trial: "This version runs on trial: it becomes the default once segl is healthy.",
    last: "Last update",
    upload: "Install an update bundle",
    force: "also an older or the same version",
    reboot: "restart into it when written",
    unsupported: "This box cannot update itself",
    dev_key: "Development build: accepts bundles signed with the development update key.",
};

const DE: Texts = Texts {
    title: "Firmware",
    running: "läuft",
    slot: "Slot",
    version: "Version",
    state: "Zustand",
    empty: "(leer)",
    default_slot: "Standard",
    trial_next: "startet beim nächsten Neustart einmal zur Probe",
    on_trial: "Diese Version läuft zur Probe: sie wird Standard, sobald segl gesund läuft.",
    last: "Letzte Aktualisierung",
    upload: "Aktualisierungspaket installieren",
    force: "auch eine ältere oder dieselbe Version",
    reboot: "danach gleich neu starten",
    unsupported: "Diese Box kann sich nicht selbst aktualisieren",
    dev_key: "Entwicklungsversion: nimmt Pakete mit dem Entwicklungsschlüssel an.",
};

pub fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::De => &DE,
        _ => &EN,
    }
}

#[derive(Template)]
#[template(path = "firmware.html")]
struct Page {
    p: PageCtx,
    f: &'static Texts,
    s: Status,
    /// When the last update event happened, local time.
    last_at: String,
}

pub async fn page(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
) -> PageResult {
    let f = texts(p.lang);
    let ctx = PageCtx::new(&st, &p, "/firmware", f.title);
    let s = blocking(|| Ok(Updater::global().status()))
        .await
        .map_err(|e| super::WebError(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let last_at = s
        .last
        .as_ref()
        .map(|l| ctx.time.at(i64::try_from(l.at).unwrap_or(i64::MAX)))
        .unwrap_or_default();
    render(&Page {
        p: ctx,
        f,
        s,
        last_at,
    })
}

/// Installs the uploaded bundle (field `file`; `force`, `reboot` check boxes); the guard has
/// checked the CSRF token and the admin role.
pub async fn upload(
    State(st): State<Arc<AdminState>>,
    Extension(p): Extension<Principal>,
    m: Multipart,
) -> Response {
    let outcome = async {
        let f = fields(m).await?;
        let file = super::uploaded_file(&f, "an update bundle")?;
        let force = f.contains_key("force");
        let reboot = f.contains_key("reboot");
        blocking(move || {
            let u = Updater::global();
            if let Some(rauc) = crate::update::rauc::RaucBox::detected() {
                return install_rauc(u, rauc, &file, force, reboot);
            }
            let m = u
                .install(&file, force)
                .map_err(|e| format!("update refused: {e}"))?;
            if reboot {
                u.request_reboot().map_err(|e| e.to_string())?;
                return Ok(format!(
                    "version {} installed; the box restarts into it on trial",
                    m.version
                ));
            }
            Ok(format!(
                "version {} installed and verified; it boots once on trial at the next restart",
                m.version
            ))
        })
        .await
    }
    .await;
    done(&st, &p, "/firmware", outcome)
}

/// RAUC boxes: the uploaded bundle goes to a file under the data directory, then to RAUC
/// through the root helper (`update::rauc`).
fn install_rauc(
    u: &Updater,
    rauc: &crate::update::rauc::RaucBox,
    file: &[u8],
    force: bool,
    reboot: bool,
) -> Result<String, String> {
    let path = u.rauc_upload_path().ok_or("no data directory")?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    // Private and segl's own (replacing any file an interrupted install left), as `rauc info`
    // needs it.
    crate::durable::write_private(&path, file).map_err(|e| format!("{}: {e}", path.display()))?;
    let msg = u
        .install_rauc(rauc, &path, force)
        .map_err(|e| format!("update refused: {e}"))?;
    if reboot {
        u.request_reboot().map_err(|e| e.to_string())?;
        return Ok(format!("{msg}; the box restarts into the new slot"));
    }
    Ok(format!("{msg}; restart the box to boot the new slot"))
}
