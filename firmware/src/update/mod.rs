//! Signed A/B firmware updates (issue 17; `image/README.md` "Firmware updates").
//!
//! The local x86_64 image boots a *slot*: a small FAT partition (A or B) holding `vmlinuz`,
//! `initrd.img` and `slot.toml`; the data partition is shared. GRUB picks the slot from its
//! environment block ([`grubenv`]): `slot_good`, and `slot_try` for one trial boot, which GRUB
//! clears before starting the trial kernel. So:
//!
//! 1. [`Updater::install`] checks the bundle ([`bundle`]: signature with the update key of
//!    [`keys`], board, version, payload hash), writes the payload to the *inactive* slot, reads
//!    it back and compares the hash, then sets `slot_try` (and `tried`, which GRUB leaves).
//! 2. On the trial boot, [`confirm`] checks that segl is healthy (keystore opened — it runs
//!    after start —, the SMTP banner, the admin API's `/health`) and only then sets
//!    `slot_good` to the new slot.
//! 3. If the trial boot never gets there, `/init`'s watchdog reboots (or the kernel panics and
//!    reboots) and GRUB, with `slot_try` already empty, boots `slot_good`: the old slot. segl
//!    there sees `tried` set to the other slot and records that the update failed.
//!
//! Data formats: nothing here migrates data, and [`Updater::on_trial`] is what a new data
//! format must ask — write it only once the slot is marked good, since a trial may fall back
//! to the version before. The spool does (`app::choose_spool_layout`): its one-file layout is
//! written only off trial.

pub mod boot;
pub mod bundle;
pub mod confirm;
pub mod grubenv;
pub mod keys;
pub mod rauc;
pub mod rauc_info;
#[cfg(test)]
mod release_key;
mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

pub use boot::{BootInfo, Slot, SlotInfo};
pub use bundle::{BundleError, Manifest};

/// Why an install or a status read failed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("{0}")]
    Bundle(#[from] BundleError),
    #[error("this box cannot update itself: {0}")]
    Unsupported(String),
    #[error("another firmware install is running")]
    Busy,
    #[error("the running slot is on trial and not yet marked good; wait until it is, or reboot")]
    OnTrial,
    #[error("{messages} queued or held messages are stored in the one-file spool layout, which version {version} cannot read: set storage.spool_layout = \"two-files\", restart, and let the queue drain (release or delete held messages) before this downgrade")]
    SpoolLayout { version: String, messages: usize },
    #[error("{0}")]
    Env(#[from] grubenv::EnvError),
    #[error("writing slot {slot} ({dev}): {err}")]
    Write {
        slot: &'static str,
        dev: String,
        err: std::io::Error,
    },
    #[error("slot {0} does not read back as written (SHA-256 differs): the update is not armed")]
    Verify(&'static str),
    #[error("{0}")]
    State(String),
    /// RAUC refused or failed the install; its own text.
    #[error("RAUC: {0}")]
    Rauc(String),
}

impl UpdateError {
    /// Whether the bundle or the request is at fault (HTTP 400) rather than the box.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            UpdateError::Bundle(_)
                | UpdateError::OnTrial
                | UpdateError::Rauc(_)
                | UpdateError::SpoolLayout { .. }
        )
    }
}

/// How far an install is (polled by `segl ctl firmware install` and the web page).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    /// `idle`, `verifying`, `writing`, `reading back`, `done`, `failed`.
    pub phase: String,
    pub done: u64,
    pub total: u64,
}

/// The last firmware event, kept in `<data_dir>/firmware/last.json` (on the data partition, so
/// the slot that falls back can report what happened to the other one).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LastResult {
    /// `installed` (armed, reboot to try), `good` (the new slot started and was marked good),
    /// `failed` (its trial boot did not become healthy; the old slot runs), `refused`, `error`.
    pub result: String,
    pub version: String,
    pub slot: String,
    pub message: String,
    /// Seconds since 1970 (box clock).
    pub at: u64,
}

/// One slot in the status.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SlotView {
    pub slot: Slot,
    pub version: Option<String>,
    pub running: bool,
    /// GRUB's default: the slot that boots when no trial is pending.
    pub good: bool,
    /// Boots once, on trial, at the next start.
    pub trial_next: bool,
    /// RAUC boxes: RAUC's slot state and boot status (`booted, good`, `inactive, bad`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// `GET /api/v1/firmware`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Status {
    /// Whether this box updates itself (an A/B image); `reason` says why not.
    pub supported: bool,
    pub reason: Option<String>,
    pub board: Option<String>,
    pub running_version: Option<String>,
    pub running_slot: Option<Slot>,
    /// The running slot is on trial (not yet marked good).
    pub trial: bool,
    pub slots: Vec<SlotView>,
    /// The update key is the development key (development build).
    pub development_key: bool,
    pub last: Option<LastResult>,
    pub progress: Progress,
}

/// The firmware updater of this process: the boot facts are process-wide, like the process.
pub struct Updater {
    boot: Result<BootInfo, String>,
    data_dir: Mutex<Option<PathBuf>>,
    progress: Mutex<Progress>,
    busy: Mutex<()>,
    env_offset: OnceLock<u64>,
}

static GLOBAL: OnceLock<Updater> = OnceLock::new();

impl Updater {
    /// The updater for this boot (`SEGL_FIRMWARE_BOOT` or [`boot::DEFAULT_BOOT_CONF`]).
    pub fn global() -> &'static Updater {
        GLOBAL.get_or_init(|| {
            let path = std::env::var_os("SEGL_FIRMWARE_BOOT")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(boot::DEFAULT_BOOT_CONF));
            Updater::new(BootInfo::load(&path))
        })
    }

    pub fn new(boot: Result<BootInfo, String>) -> Updater {
        Updater {
            boot,
            data_dir: Mutex::new(None),
            progress: Mutex::new(Progress {
                phase: "idle".into(),
                ..Progress::default()
            }),
            busy: Mutex::new(()),
            env_offset: OnceLock::new(),
        }
    }

    /// Where the last result is kept (`<data_dir>/firmware/`); set once at start.
    pub fn set_data_dir(&self, data_dir: &Path) {
        if let Ok(mut d) = self.data_dir.lock() {
            *d = Some(data_dir.join("firmware"));
        }
    }

    pub fn boot(&self) -> Result<&BootInfo, UpdateError> {
        self.boot
            .as_ref()
            .map_err(|e| UpdateError::Unsupported(e.clone()))
    }

    /// Whether the running slot is on trial and not yet marked good: data formats must not be
    /// migrated now (the spool keeps writing the layout of the firmware before).
    /// On a RAUC board, what `S95segl-mark-good` says ([`rauc::RaucBox::slot_good`]).
    pub fn on_trial(&self) -> bool {
        match &self.boot {
            Ok(b) => b.trial && !b.good_marker().exists(),
            Err(_) => rauc::RaucBox::detected().is_some_and(|r| !r.slot_good()),
        }
    }

    fn state_file(&self) -> Option<PathBuf> {
        self.data_dir
            .lock()
            .ok()
            .and_then(|d| d.clone())
            .map(|d| d.join("last.json"))
    }

    pub fn last(&self) -> Option<LastResult> {
        let text = std::fs::read_to_string(self.state_file()?).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn record(&self, result: &str, version: &str, slot: &str, message: String) {
        let Some(file) = self.state_file() else {
            return;
        };
        let last = LastResult {
            result: result.into(),
            version: version.into(),
            slot: slot.into(),
            message,
            at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        let write = || -> std::io::Result<()> {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let json = serde_json::to_vec_pretty(&last).map_err(std::io::Error::other)?;
            crate::durable::write_private(&file, &json)
        };
        if let Err(e) = write() {
            tracing::warn!(error = %e, "cannot record the firmware result");
        }
    }

    fn set_progress(&self, phase: &str, done: u64, total: u64) {
        if let Ok(mut p) = self.progress.lock() {
            *p = Progress {
                phase: phase.into(),
                done,
                total,
            };
        }
    }

    /// The GRUB environment block of the boot partition.
    fn env(&self, b: &BootInfo) -> Result<(u64, BTreeMap<String, String>), UpdateError> {
        let off = match self.env_offset.get() {
            Some(o) => *o,
            None => {
                let o = grubenv::locate(&b.boot_dev)?;
                *self.env_offset.get_or_init(|| o)
            }
        };
        Ok((off, grubenv::read_at(&b.boot_dev, off)?))
    }

    fn set_env(
        &self,
        b: &BootInfo,
        change: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<(), UpdateError> {
        let (off, mut vars) = self.env(b)?;
        change(&mut vars);
        grubenv::write_at(&b.boot_dev, off, &vars)?;
        Ok(())
    }

    /// The status for the API, `segl ctl firmware status` and the web page.
    pub fn status(&self) -> Status {
        let progress = self.progress.lock().map(|p| p.clone()).unwrap_or_default();
        let last = self.last();
        if let Some(r) = rauc::RaucBox::detected() {
            return rauc::status(r, last, progress);
        }
        let b = match &self.boot {
            Ok(b) => b,
            Err(e) => {
                return Status {
                    supported: false,
                    reason: Some(e.clone()),
                    board: None,
                    running_version: None,
                    running_slot: None,
                    trial: false,
                    slots: vec![],
                    development_key: keys::DEVELOPMENT,
                    last,
                    progress,
                }
            }
        };
        let env = self.env(b).map(|(_, v)| v);
        let (good, next) = match &env {
            Ok(v) => (
                v.get("slot_good").and_then(|s| Slot::parse(s)),
                v.get("slot_try").and_then(|s| Slot::parse(s)),
            ),
            Err(_) => (None, None),
        };
        let slots = [Slot::A, Slot::B]
            .into_iter()
            .map(|s| SlotView {
                slot: s,
                version: self.slot_version(b, s),
                running: s == b.slot,
                good: good == Some(s),
                trial_next: next == Some(s),
                state: None,
            })
            .collect();
        Status {
            supported: true,
            reason: env.err().map(|e| e.to_string()),
            board: Some(b.board.clone()),
            running_version: self.slot_version(b, b.slot),
            running_slot: Some(b.slot),
            trial: b.trial && !b.good_marker().exists(),
            slots,
            development_key: keys::DEVELOPMENT,
            last,
            progress,
        }
    }

    /// The version in slot `s`: what `/init` read at boot, or what was installed since.
    fn slot_version(&self, b: &BootInfo, s: Slot) -> Option<String> {
        if s != b.slot {
            if let Some(l) = self.last().filter(|l| l.slot == s.name()) {
                if l.result == "installed" {
                    return Some(l.version);
                }
            }
        }
        b.slot_info(s).map(|i| i.version)
    }

    /// One line for `segl ctl status` and the dashboard.
    pub fn summary(&self) -> String {
        let st = self.status();
        if !st.supported {
            return "no A/B slots (re-flash to update)".into();
        }
        let mut s = format!(
            "{} (slot {}{})",
            st.running_version.as_deref().unwrap_or("unknown version"),
            st.running_slot.map_or("?", Slot::name),
            if st.trial { ", on trial" } else { "" }
        );
        if let Some(l) = st.last {
            s.push_str(&format!("; last update {}: {}", l.result, l.message));
        }
        s
    }

    /// Installs `bundle` into the inactive slot and arms one trial boot of it. `force` allows
    /// an older or equal version. Returns the manifest installed.
    pub fn install(&self, data: &[u8], force: bool) -> Result<Manifest, UpdateError> {
        let _busy = self.busy.try_lock().map_err(|_| UpdateError::Busy)?;
        let r = self.install_locked(data, force);
        match &r {
            Ok(m) => self.set_progress("done", m.payload_size, m.payload_size),
            Err(e) => {
                self.set_progress("failed", 0, 0);
                let (what, version) = match e {
                    UpdateError::Bundle(_) => ("refused", String::new()),
                    _ => ("error", String::new()),
                };
                tracing::warn!(reason = %e, "firmware install {what}");
                self.record(what, &version, "", e.to_string());
            }
        }
        r
    }

    /// A (forced) downgrade must find a spool the older firmware reads: refused while
    /// messages are stored in the one-file layout, which firmware before 2026-12 does not know
    /// (`storage.spool_layout = "two-files"` lets the queue drain into the old layout).
    fn check_spool_for(&self, version: &str, running: Option<&str>) -> Result<(), UpdateError> {
        let older = match (
            running.map(bundle::parse_version),
            bundle::parse_version(version),
        ) {
            (Some(Ok(r)), Ok(v)) => v < r,
            _ => false,
        };
        let data_dir = self.data_dir.lock().ok().and_then(|d| d.clone());
        let Some(data_dir) = data_dir.as_deref().and_then(Path::parent) else {
            return Ok(());
        };
        match crate::spool::one_file_entries(data_dir) {
            n if older && n > 0 => Err(UpdateError::SpoolLayout {
                version: version.to_string(),
                messages: n,
            }),
            _ if older => {
                // No message in the new layout; the spool's pool files go too.
                let n = crate::spool::drop_pool_files(data_dir);
                tracing::info!(files = n, "spool: pool emptied before a downgrade");
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn install_locked(&self, data: &[u8], force: bool) -> Result<Manifest, UpdateError> {
        self.set_progress("verifying", 0, data.len() as u64);
        let b = self.boot()?;
        let signed = bundle::open(data, keys::update_key())?;
        let running = b.slot_info(b.slot).map(|i| i.version);
        bundle::check(&signed, &b.board, running.as_deref(), force)?;
        self.check_spool_for(&signed.manifest.version, running.as_deref())?;
        if b.trial && !b.good_marker().exists() {
            // Writing the other slot now would overwrite the fallback.
            return Err(UpdateError::OnTrial);
        }
        let target = b.slot.other();
        let m = signed.manifest.clone();
        tracing::info!(version = %m.version, slot = target.name(), "firmware bundle verified; writing the inactive slot");
        // The slot is about to be overwritten: no trial of what it held before may remain armed.
        self.set_env(b, |v| {
            if v.get("slot_try").and_then(|s| Slot::parse(s)) == Some(target) {
                v.insert("slot_try".into(), String::new());
            }
        })?;
        let dev = b.slot_dev(target);
        let werr = |err| UpdateError::Write {
            slot: target.name(),
            dev: dev.display().to_string(),
            err,
        };
        write::write_slot(dev, signed.payload, |done| {
            self.set_progress("writing", done, m.payload_size)
        })
        .map_err(werr)?;
        self.set_progress("reading back", 0, m.payload_size);
        let back = write::read_back_sha256(dev, m.payload_size, |done| {
            self.set_progress("reading back", done, m.payload_size)
        })
        .map_err(werr)?;
        if back != m.payload_sha256.to_ascii_lowercase() {
            return Err(UpdateError::Verify(target.name()));
        }
        self.set_env(b, |v| {
            v.insert("slot_try".into(), target.name().into());
            v.insert("tried".into(), target.name().into());
            v.insert("tried_version".into(), m.version.clone());
        })?;
        let msg = format!(
            "version {} written to slot {} and verified; it boots once on trial at the next restart",
            m.version,
            target.name()
        );
        tracing::info!(version = %m.version, slot = target.name(), "{msg}");
        self.record("installed", &m.version, target.name(), msg);
        Ok(m)
    }

    /// Asks the root helper to reboot (segl runs unprivileged and cannot).
    pub fn request_reboot(&self) -> Result<(), UpdateError> {
        let file = match rauc::RaucBox::detected() {
            Some(r) => r.reboot_request(),
            None => self.boot()?.reboot_request(),
        };
        std::fs::write(file, b"reboot\n")
            .map_err(|e| UpdateError::State(format!("cannot request a reboot: {e}")))
    }
}

#[cfg(test)]
mod tests;
