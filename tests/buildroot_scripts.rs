//! The Buildroot boards' root scripts, run for real with `sh` in a temporary directory; the
//! commands they call (`rauc`, `segl`, `reboot`, `logger`) are stubs on PATH that answer from
//! fixture files and note each call. Covered: `segl-raucd`'s version rule (the defence in depth
//! behind segl's own check, `tests/rauc_update.rs`) and `S95segl-mark-good`'s fallback reboot of
//! a slot on trial. Nothing touches /run or /data, and nothing reboots.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn script(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("buildroot")
        .join(rel)
}

const RAUC_STUB: &str = r#"#!/bin/sh
echo "rauc $*" >>"$STUB_DIR/calls"
case "$1" in
info)
	for a; do b=$a; done
	v=$(sed -n 's/^version=//p' "$b")
	if [ -z "$v" ]; then
		echo "rauc-Message: 01:00:00.000: Reading bundle: $b" >&2
		echo "signature verification failed: stub says so" >&2
		exit 1
	fi
	printf "RAUC_MF_COMPATIBLE='segl-test'\nRAUC_MF_VERSION='%s'\n" "$v"
	;;
status)
	[ "$2" = mark-good ] && exit 0
	cat "$STUB_DIR/status"
	;;
install)
	echo " 50% Installing"
	echo "Installing done."
	;;
esac
"#;

const SEGL_STUB: &str = r#"#!/bin/sh
echo "segl $*" >>"$STUB_DIR/calls"
case "$1" in
--version) echo "segl 0.1.0" ;;
ctl) [ -e "$STUB_DIR/healthy" ] ;;
esac
"#;

/// A temporary box: `bin/` with the stubs, `calls` (what they were asked), `status` (what
/// `rauc status --output-format=shell` answers).
struct Stubs {
    dir: tempfile::TempDir,
}

impl Stubs {
    fn new() -> Stubs {
        let dir = tempfile::Builder::new()
            .prefix("segl-br-scripts-")
            .tempdir()
            .unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let noted = |name: &str| format!("#!/bin/sh\necho \"{name} $*\" >>\"$STUB_DIR/calls\"\n");
        for (name, text) in [
            ("rauc", RAUC_STUB.to_string()),
            ("segl", SEGL_STUB.to_string()),
            ("reboot", noted("reboot")),
            ("logger", noted("logger")),
        ] {
            let p = bin.join(name);
            std::fs::write(&p, text).unwrap();
            let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
            std::fs::set_permissions(&p, mode).unwrap();
        }
        Stubs { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `sh -c CODE` with the stubs first on PATH and `extra` in the environment.
    fn sh(&self, code: &str, extra: &[(&str, &Path)]) -> std::process::Output {
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(code)
            .env("PATH", path)
            .env("STUB_DIR", self.dir.path());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn calls(&self) -> String {
        std::fs::read_to_string(self.path("calls")).unwrap_or_default()
    }

    fn clear_calls(&self) {
        let _ = std::fs::remove_file(self.path("calls"));
    }
}

// ---- segl-raucd ----------------------------------------------------------------------------

/// Sources segl-raucd (functions only) and runs `CODE` after it.
fn raucd(s: &Stubs, code: &str) -> std::process::Output {
    let helper = script("board/segl/rootfs_overlay/usr/sbin/segl-raucd");
    let run = s.path("run");
    let data = s.path("data");
    s.sh(
        &format!(". '{}'; {code}", helper.display()),
        &[
            ("SEGL_RAUCD_LIB", Path::new("1")),
            ("SEGL_RAUC_RUN", &run),
            ("SEGL_RAUC_DATA", &data),
        ],
    )
}

#[test]
fn raucd_compares_dotted_versions_as_segl_does() {
    let s = Stubs::new();
    let pairs = [
        ("2.0", "1.0"),
        ("1.0", "1.0"),
        ("1", "1.0.0"),
        ("1.0.1", "1"),
        ("1.10", "1.9"),
        ("1.9", "1.10"),
        ("010", "9"),
        ("0.9.7", "1.0"),
        ("1.0", "0.9.7"),
        ("3", "2.99.99"),
        ("2.0.0.1", "2"),
        ("1.x", "1"),
        ("1..2", "1"),
        ("", "1"),
        ("2", "v1"),
        ("1.2.", "1"),
    ];
    let code: String = pairs
        .iter()
        .map(|(a, b)| format!("if version_newer '{a}' '{b}'; then echo y; else echo n; fi\n"))
        .collect();
    let out = raucd(&s, &code);
    let said = String::from_utf8_lossy(&out.stdout);
    let said: Vec<&str> = said.lines().collect();
    assert_eq!(said.len(), pairs.len(), "{said:?} {:?}", out);
    for ((a, b), sh) in pairs.iter().zip(said) {
        let rust = segl::update::bundle::newer_or_forced(a, Some(b), false).is_ok();
        assert_eq!(
            sh == "y",
            rust,
            "{a} newer than {b}: sh says {sh}, segl {rust}"
        );
    }
    // Parts longer than the shell's integers compare by length.
    let out = raucd(
        &s,
        "version_newer 1.123456789012345678901 1.99999999999999999999",
    );
    assert!(out.status.success(), "{out:?}");
}

/// One request through segl-raucd's `install_bundle`: `version` is the bundle's (empty: a
/// bundle `rauc info` refuses); returns the result file.
fn request(s: &Stubs, version: &str, force: bool) -> String {
    let data = s.path("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(s.path("run/requests")).unwrap();
    let bundle = data.join(format!("b-{version}.raucb"));
    std::fs::write(&bundle, format!("version={version}\n")).unwrap();
    let force = if force { "force\n" } else { "" };
    std::fs::write(
        s.path("run/requests/install-request"),
        format!("{}\n{force}", bundle.display()),
    )
    .unwrap();
    let out = raucd(s, "install_bundle");
    assert!(out.status.success(), "{out:?}");
    assert!(!s.path("run/requests/install-request").exists());
    std::fs::read_to_string(s.path("run/result")).unwrap()
}

#[test]
fn raucd_refuses_older_or_equal_unless_forced() {
    let s = Stubs::new();
    // Slot 2 is booted and was installed from version 1.0 (slot 1 from 0.5).
    std::fs::write(
        s.path("status"),
        "RAUC_SYSTEM_BOOTED_BOOTNAME='B'\nRAUC_SLOTS='1 2'\n\
         RAUC_SLOT_STATE_1='inactive'\nRAUC_SLOT_BOOTNAME_1='A'\n\
         RAUC_SLOT_STATUS_BUNDLE_VERSION_1='0.5'\n\
         RAUC_SLOT_STATE_2='booted'\nRAUC_SLOT_BOOTNAME_2='B'\n\
         RAUC_SLOT_STATUS_BUNDLE_VERSION_2='1.0'\n",
    )
    .unwrap();
    for v in ["0.9", "1.0", "1"] {
        s.clear_calls();
        let r = request(&s, v, false);
        assert!(
            r.starts_with(&format!(
                "failed\nsegl-raucd: version {v} is not newer than the running version 1.0 (force"
            )),
            "{v}: {r}"
        );
        assert!(!s.calls().contains("rauc install"), "{v}: {}", s.calls());
    }
    s.clear_calls();
    let r = request(&s, "1.0", true);
    assert!(r.starts_with("ok\n"), "{r}");
    let calls = s.calls();
    assert!(calls.contains("rauc install"), "{calls}");
    assert!(
        !calls.contains("rauc info"),
        "forced: no version check: {calls}"
    );

    s.clear_calls();
    let r = request(&s, "1.0.1", false);
    assert!(r.starts_with("ok\nInstalling done."), "{r}");
    assert!(s.calls().contains("rauc install"), "{}", s.calls());

    // RAUC's own refusal of the bundle is the answer.
    let r = request(&s, "", false);
    assert_eq!(r, "failed\nsignature verification failed: stub says so\n");

    // A slot RAUC never wrote (the factory image): segl's own version stands in.
    std::fs::write(
        s.path("status"),
        "RAUC_SLOTS='1'\nRAUC_SLOT_STATE_1='booted'\nRAUC_SLOT_BOOTNAME_1='A'\n",
    )
    .unwrap();
    let r = request(&s, "0.0.9", false);
    assert!(
        r.contains("version 0.0.9 is not newer than the running version 0.1.0"),
        "{r}"
    );
    assert!(request(&s, "0.2", false).starts_with("ok\n"));
}

// ---- S95segl-mark-good ---------------------------------------------------------------------

const TRIAL_STATUS: &str = "RAUC_SYSTEM_BOOTED_BOOTNAME='B'\nRAUC_SLOTS='1 2'\n\
    RAUC_SLOT_STATE_1='inactive'\nRAUC_SLOT_BOOTNAME_1='A'\nRAUC_SLOT_BOOT_STATUS_1='good'\n\
    RAUC_SLOT_STATE_2='booted'\nRAUC_SLOT_BOOTNAME_2='B'\nRAUC_SLOT_BOOT_STATUS_2='bad'\n\
    RAUC_SLOT_STATUS_BUNDLE_VERSION_2='2.0'\n\
    RAUC_SLOT_STATUS_INSTALLED_TIMESTAMP_2='2026-12-01T10:00:00Z'\n\
    RAUC_SLOT_STATUS_INSTALLED_COUNT_2='3'\n";

/// Runs `S95segl-mark-good start` (2 tries, 1 s apart) and waits for its verdict in the log.
fn mark_good(s: &Stubs, healthy: bool) -> (String, Duration) {
    s.clear_calls();
    if healthy {
        std::fs::write(s.path("healthy"), "").unwrap();
    } else {
        let _ = std::fs::remove_file(s.path("healthy"));
    }
    let s95 =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("buildroot/package/segl/S95segl-mark-good");
    let t = Instant::now();
    let out = s.sh(
        &format!("sh '{}' start", s95.display()),
        &[
            ("SEGL_BIN", &s.path("bin/segl")),
            ("SEGL_MARK_GOOD_PROVEN", &s.path("rauc.proven")),
            ("SEGL_MARK_GOOD_STATE", &s.path("slot-state")),
            ("SEGL_MARK_GOOD_TRIES", Path::new("2")),
            ("SEGL_MARK_GOOD_INTERVAL", Path::new("1")),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let verdicts = ["marked good", "rebooting", "no reboot", "could not mark"];
    while t.elapsed() < Duration::from_secs(20) {
        let c = s.calls();
        if verdicts.iter().any(|v| c.contains(v)) {
            // reboot, if any, is called right after the log line.
            std::thread::sleep(Duration::from_millis(300));
            return (s.calls(), t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("S95segl-mark-good gave no verdict: {}", s.calls());
}

/// What S95 told segl about the booted slot (`/run/segl-rauc/slot-state`).
fn slot_state(s: &Stubs) -> String {
    std::fs::read_to_string(s.path("slot-state"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn mark_good_reboots_only_a_slot_on_trial() {
    let s = Stubs::new();
    std::fs::write(s.path("status"), TRIAL_STATUS).unwrap();

    // Trial, segl never healthy: after the timeout the box reboots.
    let (calls, took) = mark_good(&s, false);
    assert!(
        calls.contains("booted slot on trial (installed: B 3 2026-12-01T10:00:00Z)"),
        "{calls}"
    );
    assert!(
        calls.contains("on the trial boot of a new slot: rebooting"),
        "{calls}"
    );
    assert!(calls.lines().any(|l| l == "reboot "), "{calls}");
    assert!(!calls.contains("rauc status mark-good"), "{calls}");
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(!s.path("rauc.proven").exists());
    assert_eq!(slot_state(&s), "trial", "segl keeps the old spool layout");

    // Trial, segl healthy: marked good (and noted as proven), no reboot.
    let (calls, _) = mark_good(&s, true);
    assert!(calls.contains("rauc status mark-good booted"), "{calls}");
    assert!(
        calls.contains("segl healthy: booted slot marked good"),
        "{calls}"
    );
    assert!(!calls.lines().any(|l| l.starts_with("reboot")), "{calls}");
    assert_eq!(
        std::fs::read_to_string(s.path("rauc.proven")).unwrap(),
        "B 3 2026-12-01T10:00:00Z\n"
    );
    assert_eq!(slot_state(&s), "good");

    // The same slot on a later boot (RAUC says "bad" again until marked): proven, so an
    // unhealthy segl is logged, never rebooted.
    std::fs::remove_file(s.path("slot-state")).unwrap();
    let (calls, _) = mark_good(&s, false);
    assert!(!calls.contains("booted slot on trial"), "{calls}");
    assert!(calls.contains("not on trial, no reboot"), "{calls}");
    assert_eq!(slot_state(&s), "good", "told before the health wait");
    assert!(!calls.lines().any(|l| l.starts_with("reboot")), "{calls}");

    // Installed again (count 4): on trial again.
    std::fs::write(
        s.path("status"),
        TRIAL_STATUS.replace("COUNT_2='3'", "COUNT_2='4'"),
    )
    .unwrap();
    let (calls, _) = mark_good(&s, false);
    assert!(calls.lines().any(|l| l == "reboot "), "{calls}");

    // A slot RAUC never wrote (flashed at the factory), unhealthy: no reboot.
    std::fs::write(
        s.path("status"),
        "RAUC_SLOTS='1'\nRAUC_SLOT_STATE_1='booted'\nRAUC_SLOT_BOOTNAME_1='A'\n\
         RAUC_SLOT_BOOT_STATUS_1='bad'\n",
    )
    .unwrap();
    let (calls, _) = mark_good(&s, false);
    assert!(calls.contains("not on trial, no reboot"), "{calls}");
    assert!(!calls.lines().any(|l| l.starts_with("reboot")), "{calls}");
}
