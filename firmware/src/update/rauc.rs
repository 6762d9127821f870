//! Firmware updates on a RAUC box (the Buildroot boards, `buildroot/README.md`).
//!
//! segl runs unprivileged and RAUC needs root, so segl only hands the bundle over: the upload
//! is streamed to `<data_dir>/firmware/upload.raucb`; segl reads its manifest with `rauc info`
//! ([`super::rauc_info`]) and refuses a bundle for another board, or one whose version is not
//! newer than the booted slot's unless forced (RAUC itself would install any version). Then it
//! writes the bundle's path, and `force` on a second line when forced, to
//! `/run/segl-rauc/requests/install-request` (`requests/` only segl and root may write; segl
//! cannot write the helper's files next to it). The root helper `/usr/sbin/segl-raucd` takes
//! the request (clearing its earlier answer first), re-checks the path and, unless forced, the
//! version (defence in depth: it trusts nothing segl says), runs `rauc install`, and writes in
//! `/run/segl-rauc`:
//!
//! - `progress`: RAUC's last progress line (`" 40% Checking bundle"`),
//! - `result`: `ok` or `failed` on the first line, RAUC's own text after it,
//! - `status.json`: `rauc status --detailed --output-format=json` (at start and after each
//!   install; `--detailed` carries each slot's bundle version),
//! - it reboots when segl leaves `requests/reboot-request` after a successful install.
//!
//! Marking the booted slot good stays with `S95segl-mark-good` (once `segl ctl status` answers).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::rauc_info::{BundleInfo, SystemConf};
use super::{bundle, BundleError, Progress, Slot, SlotView, Status, UpdateError, Updater};

/// Names another root for the detection and the run directory (tests: a temporary directory).
pub const ROOT_ENV: &str = "SEGL_RAUC_ROOT";

/// The longest a `rauc install` may take before segl stops waiting for its result.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The hand-over files of one RAUC box.
#[derive(Debug, Clone)]
pub struct RaucBox {
    root: PathBuf,
    run_dir: PathBuf,
}

impl RaucBox {
    /// A RAUC box is one with `<root>/etc/rauc/system.conf` (the Buildroot images install it);
    /// this is the one place that decides.
    pub fn detect(root: &Path) -> Option<RaucBox> {
        root.join("etc/rauc/system.conf")
            .is_file()
            .then(|| RaucBox {
                root: root.to_path_buf(),
                run_dir: root.join("run/segl-rauc"),
            })
    }

    fn system_conf_path(&self) -> PathBuf {
        self.root.join("etc/rauc/system.conf")
    }

    /// RAUC's `system.conf` of this box (read at each install: it is small).
    fn system_conf(&self) -> Result<SystemConf, UpdateError> {
        let conf = self.system_conf_path();
        let text = std::fs::read_to_string(&conf)
            .map_err(|e| UpdateError::State(format!("{}: {e}", conf.display())))?;
        Ok(SystemConf::parse(&text, &conf, &self.root))
    }

    /// The manifest of `bundle`, its signature checked by `rauc info` with the box's keyring.
    pub fn bundle_info(&self, bundle: &Path) -> Result<BundleInfo, UpdateError> {
        super::rauc_info::read_bundle(&self.system_conf_path(), &self.system_conf()?, bundle)
    }

    /// The version a bundle must be newer than: RAUC's record of the bundle the booted slot was
    /// installed from (the vendor's manifest version, the same scheme as the new bundle's).
    /// segl's own version is not it — two firmware versions may carry the same segl build.
    /// A slot RAUC never installed (flashed at the factory) has no record: [`booted_version`].
    pub fn running_version(&self) -> String {
        booted_version(
            self.rauc_status()
                .as_ref()
                .map(slots)
                .unwrap_or_default()
                .into_iter()
                .find(|s| s.state == "booted")
                .and_then(|s| s.version),
        )
    }

    /// Refuses a bundle (its manifest `info`) for another board, or not newer than
    /// [`Self::running_version`] unless `force`.
    pub fn check(&self, info: &BundleInfo, force: bool) -> Result<(), UpdateError> {
        if let Some(this) = self.system_conf()?.compatible {
            if info.compatible != this {
                return Err(BundleError::WrongBoard {
                    bundle: info.compatible.clone(),
                    this,
                }
                .into());
            }
        }
        bundle::newer_or_forced(&info.version, Some(&self.running_version()), force)?;
        Ok(())
    }

    /// The box this process runs on (`SEGL_RAUC_ROOT` or `/`), looked up once.
    pub fn detected() -> Option<&'static RaucBox> {
        static BOX: OnceLock<Option<RaucBox>> = OnceLock::new();
        BOX.get_or_init(|| {
            let root = std::env::var_os(ROOT_ENV).map_or_else(|| PathBuf::from("/"), PathBuf::from);
            RaucBox::detect(&root)
        })
        .as_ref()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.run_dir.join(name)
    }

    /// A request file segl writes (the helper removes it when it takes it).
    pub fn request(&self, name: &str) -> PathBuf {
        self.run_dir.join("requests").join(name)
    }

    /// Asks the root helper to install `bundle` (`force`: an older or equal version too); the
    /// request appears whole (written aside, then renamed).
    pub fn submit(&self, bundle: &Path, force: bool) -> std::io::Result<()> {
        let tmp = self.request(".install-request.tmp");
        let force = if force { "force\n" } else { "" };
        std::fs::write(&tmp, format!("{}\n{force}", bundle.display()))?;
        std::fs::rename(&tmp, self.request("install-request"))
    }

    /// Whether the helper has taken the request (and so cleared its earlier answer).
    pub fn taken(&self) -> bool {
        !self.request("install-request").exists()
    }

    /// RAUC's last progress line as a [`Progress`] (`done` percent of `total` 100).
    pub fn progress(&self) -> Option<Progress> {
        let text = std::fs::read_to_string(self.file("progress")).ok()?;
        let line = text.lines().rev().find(|l| !l.trim().is_empty())?.trim();
        let (pct, phase) = line
            .split_once('%')
            .and_then(|(n, rest)| Some((n.trim().parse::<u64>().ok()?, rest.trim())))
            .unwrap_or((0, line));
        Some(Progress {
            phase: phase.to_string(),
            done: pct.min(100),
            total: 100,
        })
    }

    /// The helper's verdict: `Ok(text)` or `Err(RAUC's error text)`; None while it runs.
    pub fn result(&self) -> Option<Result<String, String>> {
        let text = std::fs::read_to_string(self.file("result")).ok()?;
        let (verdict, rest) = text.split_once('\n').unwrap_or((text.as_str(), ""));
        let msg = rest.trim().to_string();
        Some(match verdict.trim() {
            "ok" => Ok(msg),
            _ => Err(if msg.is_empty() {
                "rauc install failed".into()
            } else {
                msg
            }),
        })
    }

    /// `rauc status --output-format=json` as the helper last wrote it.
    pub fn rauc_status(&self) -> Option<Value> {
        let text = std::fs::read_to_string(self.file("status.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn reboot_request(&self) -> PathBuf {
        self.request("reboot-request")
    }

    /// Whether `S95segl-mark-good` has said the booted slot is not on trial (`slot-state` is
    /// `good`: marked good now or before, or never installed by RAUC). Until it says so — it
    /// starts after segl — the slot counts as on trial.
    pub fn slot_good(&self) -> bool {
        std::fs::read_to_string(self.file("slot-state")).is_ok_and(|s| s.trim() == "good")
    }
}

/// The version of the booted slot from RAUC's record of the bundle it was installed from;
/// a slot RAUC never installed (flashed at the factory) has none, and then segl's own version
/// stands in, since the factory image is built from that segl release. The install check and
/// the status (`segl ctl status`, the firmware page) say the same.
fn booted_version(recorded: Option<String>) -> String {
    recorded.unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string())
}

/// One slot of RAUC's status.
#[derive(Debug, PartialEq)]
struct RaucSlot {
    bootname: String,
    state: String,
    boot_status: String,
    version: Option<String>,
}

/// The slots of RAUC's status (`slots`: a list of one-entry maps, slot name to its facts).
fn slots(st: &Value) -> Vec<RaucSlot> {
    let mut out = vec![];
    for entry in st["slots"].as_array().into_iter().flatten() {
        let Some(map) = entry.as_object() else {
            continue;
        };
        for s in map.values() {
            let text = |k: &str| s[k].as_str().unwrap_or("").to_string();
            let version = s["slot_status"]["bundle"]["version"]
                .as_str()
                .map(str::to_string);
            out.push(RaucSlot {
                bootname: text("bootname"),
                state: text("state"),
                boot_status: text("boot_status"),
                version,
            });
        }
    }
    out
}

/// The status for the API and the page, from the helper's copy of `rauc status`.
pub(super) fn status(b: &RaucBox, last: Option<super::LastResult>, progress: Progress) -> Status {
    let st = b.rauc_status();
    let slots: Vec<SlotView> = st
        .as_ref()
        .map(slots)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| {
            let running = r.state == "booted";
            Some(SlotView {
                slot: Slot::parse(&r.bootname)?,
                running,
                good: r.boot_status == "good",
                trial_next: false,
                state: Some(format!("{}, {}", r.state, r.boot_status)),
                version: if running {
                    Some(booted_version(r.version))
                } else {
                    r.version
                },
            })
        })
        .collect();
    let booted = slots.iter().find(|s| s.running);
    Status {
        supported: true,
        reason: st
            .is_none()
            .then(|| "RAUC's slot status is not known yet (segl-raucd writes it)".into()),
        board: st
            .as_ref()
            .and_then(|v| v["compatible"].as_str().map(str::to_string)),
        running_version: booted.and_then(|s| s.version.clone()),
        running_slot: booted.map(|s| s.slot),
        trial: booted.is_some_and(|s| !s.good),
        slots,
        development_key: false,
        last,
        progress,
    }
}

impl Updater {
    /// Checks the bundle file ([`RaucBox::bundle_info`], [`RaucBox::check`]: signature, board,
    /// and version unless `force`), hands
    /// it to RAUC through the root helper and waits for its result; the progress is RAUC's.
    /// Returns RAUC's message on success.
    pub fn install_rauc(
        &self,
        b: &RaucBox,
        bundle: &Path,
        force: bool,
    ) -> Result<String, UpdateError> {
        let _busy = self.busy.try_lock().map_err(|_| UpdateError::Busy)?;
        self.set_progress("checking the bundle", 0, 100);
        let mut version = String::new();
        let r = b.bundle_info(bundle).and_then(|info| {
            version = info.version.clone();
            b.check(&info, force)?;
            self.set_progress("handing the bundle to RAUC", 0, 100);
            self.wait_rauc(b, bundle, force)
        });
        let _ = std::fs::remove_file(bundle);
        match &r {
            Ok(msg) => {
                self.set_progress("done", 100, 100);
                tracing::info!(%msg, %version, "RAUC installed the bundle");
                self.record("installed", &version, "", msg.clone());
            }
            Err(e) => {
                self.set_progress("failed", 0, 0);
                tracing::warn!(reason = %e, %version, "firmware bundle refused");
                self.record("refused", &version, "", e.to_string());
            }
        }
        r
    }

    fn wait_rauc(&self, b: &RaucBox, bundle: &Path, force: bool) -> Result<String, UpdateError> {
        b.submit(bundle, force)
            .map_err(|e| UpdateError::State(format!("cannot ask segl-raucd to install: {e}")))?;
        let start = Instant::now();
        loop {
            if !b.taken() {
                if start.elapsed() > Duration::from_secs(60) {
                    let _ = std::fs::remove_file(b.request("install-request"));
                    return Err(UpdateError::State(
                        "segl-raucd did not take the request within 60 s (is it running?)".into(),
                    ));
                }
            } else if let Some(r) = b.result() {
                return r.map_err(UpdateError::Rauc);
            } else if let Some(p) = b.progress() {
                self.set_progress(&p.phase, p.done, p.total);
            }
            if start.elapsed() > INSTALL_TIMEOUT {
                return Err(UpdateError::State(
                    "segl-raucd gave no result within 30 minutes".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Where an uploaded RAUC bundle is written before the helper installs it.
    pub fn rauc_upload_path(&self) -> Option<PathBuf> {
        self.data_dir
            .lock()
            .ok()
            .and_then(|d| d.clone())
            .map(|d| d.join("upload.raucb"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_system_conf_and_reads_the_helpers_files() {
        let dir = tempfile::tempdir().expect("tmp");
        assert!(RaucBox::detect(dir.path()).is_none());
        std::fs::create_dir_all(dir.path().join("etc/rauc")).expect("mkdir");
        std::fs::write(dir.path().join("etc/rauc/system.conf"), "[system]\n").expect("conf");
        let b = RaucBox::detect(dir.path()).expect("rauc box");
        std::fs::create_dir_all(b.run_dir.join("requests")).expect("run");
        b.submit(Path::new("/data/segl/firmware/upload.raucb"), false)
            .expect("submit");
        assert!(!b.taken());
        assert_eq!(
            std::fs::read_to_string(b.request("install-request")).expect("req"),
            "/data/segl/firmware/upload.raucb\n"
        );
        b.submit(Path::new("/data/segl/firmware/upload.raucb"), true)
            .expect("submit");
        assert_eq!(
            std::fs::read_to_string(b.request("install-request")).expect("req"),
            "/data/segl/firmware/upload.raucb\nforce\n"
        );
        assert!(b.result().is_none());
        std::fs::write(
            b.file("progress"),
            "  0% Installing\n 40% Checking bundle\n",
        )
        .expect("p");
        let p = b.progress().expect("progress");
        assert_eq!((p.phase.as_str(), p.done), ("Checking bundle", 40));
        std::fs::write(b.file("result"), "failed\nSignature verification failed\n").expect("r");
        assert_eq!(
            b.result(),
            Some(Err("Signature verification failed".to_string()))
        );
    }

    #[test]
    fn maps_rauc_status_json() {
        let st: Value = serde_json::from_str(
            r#"{"compatible":"segl-x86_64","booted":"A","boot_primary":"rootfs.0","slots":[
              {"rootfs.0":{"bootname":"A","state":"booted","boot_status":"good",
                "slot_status":{"bundle":{"version":"1.2.0"}}}},
              {"rootfs.1":{"bootname":"B","state":"inactive","boot_status":"bad"}}]}"#,
        )
        .expect("json");
        let s = slots(&st);
        assert_eq!(
            s[0],
            RaucSlot {
                bootname: "A".into(),
                state: "booted".into(),
                boot_status: "good".into(),
                version: Some("1.2.0".into())
            }
        );
        assert_eq!(s[1].boot_status, "bad");
    }

    /// The status of a box whose `status.json` is `json`.
    fn status_of(json: &str) -> Status {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("etc/rauc")).expect("mkdir");
        std::fs::write(dir.path().join("etc/rauc/system.conf"), "[system]\n").expect("conf");
        let b = RaucBox::detect(dir.path()).expect("rauc box");
        std::fs::create_dir_all(&b.run_dir).expect("run");
        std::fs::write(b.file("status.json"), json).expect("status");
        status(&b, None, Progress::default())
    }

    #[test]
    fn a_factory_slot_shows_segls_own_version() {
        let own = env!("CARGO_PKG_VERSION");
        // Flashed at the factory: RAUC has no bundle record of either slot.
        let st = status_of(
            r#"{"compatible":"segl-x86_64","slots":[
              {"rootfs.0":{"bootname":"A","state":"booted","boot_status":"good"}},
              {"rootfs.1":{"bootname":"B","state":"inactive","boot_status":"good"}}]}"#,
        );
        assert_eq!(st.running_version.as_deref(), Some(own));
        assert_eq!(st.running_slot, Some(Slot::A));
        assert_eq!(st.slots[0].version.as_deref(), Some(own));
        assert_eq!(
            st.slots[1].version, None,
            "the other slot holds nothing known"
        );
        // Once RAUC installed the booted slot, its record counts, not segl's version.
        let st = status_of(
            r#"{"slots":[
              {"rootfs.0":{"bootname":"A","state":"inactive","boot_status":"good"}},
              {"rootfs.1":{"bootname":"B","state":"booted","boot_status":"good",
                "slot_status":{"bundle":{"version":"2027.1"}}}}]}"#,
        );
        assert_eq!(st.running_version.as_deref(), Some("2027.1"));
        assert_eq!(st.slots[0].version, None);
        // Before segl-raucd wrote the status, nothing is known yet.
        let st = status_of("not json");
        assert_eq!(st.running_version, None);
        assert!(st.reason.is_some());
    }
}
