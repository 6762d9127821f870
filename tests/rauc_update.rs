//! Firmware updates on a RAUC box (the Buildroot boards): `segl ctl firmware install` hands a
//! real RAUC bundle (made by `rauc bundle`, signed by a test CA) to the root helper, and the
//! test plays that helper (`buildroot/.../usr/sbin/segl-raucd`): it takes the request, writes
//! progress, and checks the bundle with the real `rauc info --keyring`, passing RAUC's own
//! verdict back. The box is `SEGL_RAUC_ROOT` (a directory with `etc/rauc/system.conf`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{noise, run_ok, temp_dir, Gateway};

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

/// `rauc bundle` of a tiny root file system image for `segl-test`.
fn bundle(dir: &Path, signer: &(PathBuf, PathBuf), out: &str) -> PathBuf {
    let content = dir.join(format!("{out}.d"));
    std::fs::create_dir_all(&content).unwrap();
    // Incompressible, so that the SquashFS is larger than RAUC's 4 KiB minimum.
    let image = noise(65536, 0x2545_f491);
    std::fs::write(content.join("rootfs.ext4"), image).unwrap();
    std::fs::write(
        content.join("manifest.raucm"),
        "[update]\ncompatible=segl-test\nversion=2.0\n\n[image.rootfs]\nfilename=rootfs.ext4\n",
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

/// The root helper's part: each request is answered with `rauc info --keyring`'s verdict.
fn helper(run_dir: PathBuf, keyring: PathBuf, stop: Arc<AtomicBool>) {
    let req = run_dir.join("requests/install-request");
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        let Ok(text) = std::fs::read_to_string(&req) else {
            continue;
        };
        let _ = std::fs::remove_file(run_dir.join("result"));
        std::fs::remove_file(&req).unwrap();
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
            .arg(text.trim())
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

#[test]
fn bundles_go_to_rauc_and_its_verdict_comes_back() {
    let dir = temp_dir("segl-rauc-");
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc/rauc")).unwrap();
    std::fs::write(
        root.join("etc/rauc/system.conf"),
        "[system]\ncompatible=segl-test\n",
    )
    .unwrap();
    let run_dir = root.join("run/segl-rauc");
    std::fs::create_dir_all(run_dir.join("requests")).unwrap();
    std::fs::write(run_dir.join("status.json"), RAUC_STATUS).unwrap();
    let vendor = ca(dir.path(), "vendor");
    let other = ca(dir.path(), "other");
    let good = bundle(dir.path(), &vendor, "good.raucb");
    let foreign = bundle(dir.path(), &other, "foreign.raucb");
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

    let (ok, out) = g.ctl_text(&["firmware", "install", "--reboot", good.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(
        out.contains("installed by RAUC: Installing bundle succeeded"),
        "{out}"
    );
    assert!(out.contains("Checking bundle: 20%"), "{out}");
    assert!(run_dir.join("requests/reboot-request").exists());
    let st = g.ctl_json(&["firmware", "status", "--json"]);
    assert_eq!(st["last"]["result"], "installed", "{st}");
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap();
}
