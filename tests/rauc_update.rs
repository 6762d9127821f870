//! Firmware updates on a RAUC box (the Buildroot boards): `segl ctl firmware install` checks a
//! real RAUC bundle (made by `rauc bundle`, signed by a test CA) with the real `rauc info` and
//! the box's keyring — signature, board, and a version newer than the booted slot's unless
//! forced — and hands it to the root helper; the test plays that helper
//! (`buildroot/.../usr/sbin/segl-raucd`): it takes the request (noting what it was asked),
//! writes progress, and checks the bundle with `rauc info --keyring` again, passing RAUC's own
//! verdict back. The box is `SEGL_RAUC_ROOT` (a directory with `etc/rauc/system.conf`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{noise, run_ok, temp_dir, wait_until, Gateway, Sink};

/// A self-signed CA (`<name>.pem`, `<name>.key`) that signs bundles directly.
fn ca(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    run_ok(
        Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
            ])
            .args(["-subj", &format!("/CN={name}")])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert),
    );
    (cert, key)
}

/// `rauc bundle` of a tiny root file system image for `compatible`, version `version`.
fn bundle(
    dir: &Path,
    signer: &(PathBuf, PathBuf),
    out: &str,
    compatible: &str,
    version: &str,
) -> PathBuf {
    let content = dir.join(format!("{out}.d"));
    std::fs::create_dir_all(&content).unwrap();
    // Incompressible, so that the SquashFS is larger than RAUC's 4 KiB minimum.
    let image = noise(65536, 0x2545_f491);
    std::fs::write(content.join("rootfs.ext4"), image).unwrap();
    std::fs::write(
        content.join("manifest.raucm"),
        format!(
            "[update]\ncompatible={compatible}\nversion={version}\n\n\
             [image.rootfs]\nfilename=rootfs.ext4\n"
        ),
    )
    .unwrap();
    let file = dir.join(out);
    run_ok(
        Command::new("rauc")
            .arg("bundle")
            .arg("--cert")
            .arg(&signer.0)
            .arg("--key")
            .arg(&signer.1)
            .arg(&content)
            .arg(&file),
    );
    file
}

/// The root helper's part: each request is answered with `rauc info --keyring`'s verdict, and
/// appended to `<run_dir>/taken` (what segl asked for).
fn helper(run_dir: PathBuf, keyring: PathBuf, stop: Arc<AtomicBool>) {
    let req = run_dir.join("requests/install-request");
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        let Ok(text) = std::fs::read_to_string(&req) else {
            continue;
        };
        let _ = std::fs::remove_file(run_dir.join("result"));
        std::fs::remove_file(&req).unwrap();
        let taken = std::fs::read_to_string(run_dir.join("taken")).unwrap_or_default();
        std::fs::write(run_dir.join("taken"), taken + &text + "--\n").unwrap();
        std::fs::write(
            run_dir.join("progress"),
            "  0% Installing\n 20% Checking bundle\n",
        )
        .unwrap();
        // Long enough for `segl ctl`'s progress poll (every 300 ms) to see it.
        std::thread::sleep(Duration::from_millis(800));
        let out = Command::new("rauc")
            .arg("info")
            .arg("--keyring")
            .arg(&keyring)
            .arg(text.lines().next().unwrap_or(""))
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        let result = if out.status.success() {
            "ok\nInstalling bundle succeeded\n".to_string()
        } else {
            let failed = said.lines().rev().find(|l| l.contains("failed"));
            format!("failed\n{}\n", failed.unwrap_or(said.trim()))
        };
        std::fs::write(run_dir.join("result"), result).unwrap();
    }
}

const RAUC_STATUS: &str = r#"{"compatible":"segl-test","booted":"A","boot_primary":"rootfs.0",
"slots":[{"rootfs.0":{"bootname":"A","state":"booted","boot_status":"good",
"slot_status":{"bundle":{"compatible":"segl-test","version":"1.0"}}}},
{"rootfs.1":{"bootname":"B","state":"inactive","boot_status":"bad"}}]}"#;

/// The box's RAUC configuration as on the x86_64 board (`buildroot/board/segl/x86_64/
/// rauc-system.conf`), with the boot loader RAUC offers for tests; `rauc info --conf` reads it.
const SYSTEM_CONF: &str = "[system]\ncompatible=segl-test\nbootloader=noop\n\
    statusfile=/nonexistent/rauc.status\n\n[keyring]\npath=/etc/rauc/keyring.pem\n\n\
    [slot.rootfs.0]\ndevice=/dev/null\ntype=ext4\nbootname=A\n\n\
    [slot.rootfs.1]\ndevice=/dev/null\ntype=ext4\nbootname=B\n";

/// What the helper was asked, request by request (`path\n[force\n]`).
fn taken(run_dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run_dir.join("taken")).unwrap_or_default();
    text.split("--\n")
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect()
}

/// A RAUC box under `dir/root` (`SEGL_RAUC_ROOT`): its system.conf and the helper's run
/// directory with `requests/`. Returns the root and the run directory.
fn rauc_box(dir: &Path) -> (PathBuf, PathBuf) {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("etc/rauc")).unwrap();
    std::fs::write(root.join("etc/rauc/system.conf"), SYSTEM_CONF).unwrap();
    let run_dir = root.join("run/segl-rauc");
    std::fs::create_dir_all(run_dir.join("requests")).unwrap();
    (root, run_dir)
}

#[test]
fn bundles_go_to_rauc_and_its_verdict_comes_back() {
    let dir = temp_dir("segl-rauc-");
    let (root, run_dir) = rauc_box(dir.path());
    std::fs::write(run_dir.join("status.json"), RAUC_STATUS).unwrap();
    let vendor = ca(dir.path(), "vendor");
    std::fs::copy(&vendor.0, root.join("etc/rauc/keyring.pem")).unwrap();
    let other = ca(dir.path(), "other");
    let good = bundle(dir.path(), &vendor, "good.raucb", "segl-test", "2.0");
    let older = bundle(dir.path(), &vendor, "older.raucb", "segl-test", "0.9.7");
    let equal = bundle(dir.path(), &vendor, "equal.raucb", "segl-test", "1.0.0");
    let board = bundle(dir.path(), &vendor, "board.raucb", "segl-other", "3.0");
    let foreign = bundle(dir.path(), &other, "foreign.raucb", "segl-test", "2.0");
    let mut bytes = std::fs::read(&good).unwrap();
    let n = bytes.len();
    bytes[n - 3000] ^= 0x55;
    let tampered = dir.path().join("tampered.raucb");
    std::fs::write(&tampered, bytes).unwrap();

    let mut g = Gateway::start_unlicensed(&dir.path().join("gw"), 0, 0, "");
    g.stop();
    g.env
        .push(("SEGL_RAUC_ROOT".into(), root.display().to_string()));
    g.up();
    let stop = Arc::new(AtomicBool::new(false));
    let h = {
        let (r, k, s) = (run_dir.clone(), vendor.0.clone(), stop.clone());
        std::thread::spawn(move || helper(r, k, s))
    };

    let (ok, st) = g.ctl_text(&["firmware", "status"]);
    assert!(ok, "{st}");
    assert!(st.contains("running:     1.0 in slot a"), "{st}");
    assert!(st.contains("inactive, bad"), "{st}");

    for file in [&foreign, &tampered] {
        let (ok, out) = g.ctl_text(&["firmware", "install", file.to_str().unwrap()]);
        assert!(!ok, "{file:?}: {out}");
        assert!(
            out.contains("RAUC: signature verification failed"),
            "{file:?}: {out}"
        );
    }
    assert!(!run_dir.join("requests/reboot-request").exists());

    // RAUC would install these; segl refuses them before the helper is asked.
    let (ok, out) = g.ctl_text(&["firmware", "install", board.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(r#"the bundle is for board "segl-other"; this box is "segl-test""#),
        "{out}"
    );
    for (file, v) in [(&older, "0.9.7"), (&equal, "1.0.0")] {
        let (ok, out) = g.ctl_text(&["firmware", "install", file.to_str().unwrap()]);
        assert!(!ok, "{v}: {out}");
        assert!(
            out.contains(&format!(
                "version {v} is not newer than the running version 1.0 (force to install it anyway)"
            )),
            "{v}: {out}"
        );
    }
    let st = g.ctl_json(&["firmware", "status", "--json"]);
    assert_eq!(st["last"]["result"], "refused", "{st}");
    assert_eq!(st["last"]["version"], "1.0.0", "{st}");
    assert!(taken(&run_dir).is_empty(), "{:?}", taken(&run_dir));

    // Forced, the equal version goes to the helper, which is told so.
    let (ok, out) = g.ctl_text(&["firmware", "install", "--force", equal.to_str().unwrap()]);
    assert!(ok, "{out}");
    let t = taken(&run_dir);
    assert_eq!(t.len(), 1, "{t:?}");
    assert!(t[0].ends_with("upload.raucb\nforce\n"), "{t:?}");

    let (ok, out) = g.ctl_text(&["firmware", "install", "--reboot", good.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(
        out.contains("installed by RAUC: Installing bundle succeeded"),
        "{out}"
    );
    assert!(out.contains("Checking bundle: 20%"), "{out}");
    assert!(run_dir.join("requests/reboot-request").exists());
    let t = taken(&run_dir);
    assert_eq!(t.len(), 2, "{t:?}");
    assert!(
        t[1].ends_with("upload.raucb\n"),
        "newer needs no force: {t:?}"
    );
    let st = g.ctl_json(&["firmware", "status", "--json"]);
    assert_eq!(st["last"]["result"], "installed", "{st}");
    assert_eq!(st["last"]["version"], "2.0", "{st}");
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap();
}

/// File names in the queue that belong to the message for `rcpt`, by extension.
fn queued_exts(g: &Gateway, rcpt: &str) -> Vec<String> {
    let q = g.dir.join("data/spool/queue");
    let mut exts: Vec<String> = std::fs::read_dir(&q)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let b = std::fs::read(p).unwrap_or_default();
            b.windows(rcpt.len()).any(|w| w == rcpt.as_bytes())
        })
        .filter_map(|p| p.extension().map(|e| e.to_string_lossy().into_owned()))
        .collect();
    exts.sort();
    exts
}

/// While `S95segl-mark-good` has not said the booted slot is good, the spool is written in the
/// two-file layout the firmware before reads (a fallback loses nothing); once it says so, new
/// messages go to one file each, and the old ones are still delivered.
#[test]
fn the_spool_keeps_the_old_layout_while_the_slot_is_on_trial() {
    let dir = temp_dir("segl-rauc-trial-");
    let (root, run_dir) = rauc_box(dir.path());
    std::fs::write(run_dir.join("slot-state"), "trial\n").unwrap();
    let mut smart = Sink::start(&dir.path().join("smart"), &[]);
    smart.down();
    let mut g = Gateway::start(&dir.path().join("gw"), 0, smart.port, "");
    g.stop();
    g.env
        .push(("SEGL_RAUC_ROOT".into(), root.display().to_string()));
    g.up();
    g.send_plain("a@example.org", "trial@partner.test");
    assert!(
        wait_until(Duration::from_secs(30), || queued_exts(
            &g,
            "trial@partner.test"
        ) == ["env", "msg"]),
        "two files on trial: {:?}",
        queued_exts(&g, "trial@partner.test")
    );
    std::fs::write(run_dir.join("slot-state"), "good\n").unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || g
            .log_text()
            .contains("spool: layout for new messages changed")
            && g.log_text().contains("one_file=true")),
        "{}",
        g.log_text()
    );
    g.send_plain("a@example.org", "good@partner.test");
    assert!(
        wait_until(Duration::from_secs(30), || queued_exts(
            &g,
            "good@partner.test"
        ) == ["mail"]),
        "one file once good: {:?}",
        queued_exts(&g, "good@partner.test")
    );
    smart.up();
    let m = smart.wait_for(2, 60);
    assert_eq!(m.len(), 2);
    g.wait_queue_empty(30);
}
