//! The Buildroot boards' root scripts, run for real with `sh` in a temporary directory; the
//! commands they call (`rauc`, `segl`, `reboot`, `logger`) are stubs on PATH that answer from
//! fixture files and note each call. Covered: `segl-raucd`'s version rule (the defence in depth
//! behind segl's own check, `tests/rauc_update.rs`). Nothing touches /run or /data, and nothing
//! reboots.

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
