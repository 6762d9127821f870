//! A/B firmware updates through the running gateway: `segl ctl firmware install` of bundles
//! made by the vendor tool `segl-bundle`, against a simulated box — a real FAT boot partition
//! (`mkfs.vfat`, `mcopy`) whose GRUB environment block is made and read back by GRUB's own
//! `grub-editenv`, and two slot files — described to segl as `/init` does (`boot.conf`).
//!
//! The boots are simulated by rewriting `boot.conf` (and clearing `slot_try` as GRUB does) and
//! restarting segl; the QEMU run of the real image is `image/update-test.sh`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{run_ok, temp_dir, wait_until, Gateway};

const BUNDLE_TOOL: &str = env!("CARGO_BIN_EXE_segl-bundle");

/// The simulated disk: `boot.img` (FAT with grub/grubenv), `slot-a.img`, `slot-b.img`.
struct SimBox {
    dir: PathBuf,
}

impl SimBox {
    fn new(dir: &Path) -> SimBox {
        let fw = dir.join("fw");
        std::fs::create_dir_all(&fw).unwrap();
        let env = dir.join("grubenv");
        run_ok(Command::new("grub-editenv").arg(&env).arg("create"));
        run_ok(Command::new("grub-editenv").arg(&env).args([
            "set",
            "slot_good=a",
            "slot_try=",
            "tried=",
            "tried_version=",
        ]));
        let boot = dir.join("boot.img");
        run_ok(
            Command::new("mkfs.vfat")
                .args(["-n", "SEGLBOOT", "-C"])
                .arg(&boot)
                .arg("8192"),
        );
        run_ok(Command::new("mmd").arg("-i").arg(&boot).arg("::grub"));
        run_ok(
            Command::new("mcopy")
                .arg("-i")
                .arg(&boot)
                .arg(&env)
                .arg("::grub/grubenv"),
        );
        std::fs::write(dir.join("slot-a.img"), vec![0u8; 4 << 20]).unwrap();
        std::fs::write(dir.join("slot-b.img"), vec![0u8; 4 << 20]).unwrap();
        let b = SimBox {
            dir: dir.to_path_buf(),
        };
        b.set_slot_toml("a", "1.0");
        b.boot("a", false);
        b
    }

    fn set_slot_toml(&self, slot: &str, version: &str) {
        std::fs::write(
            self.dir.join("fw").join(format!("slot-{slot}.toml")),
            format!("version = \"{version}\"\nboard = \"x86_64-local\"\n"),
        )
        .unwrap();
    }

    /// What `/init` writes for a boot of `slot`.
    fn boot(&self, slot: &str, trial: bool) {
        let fw = self.dir.join("fw");
        let _ = std::fs::remove_file(fw.join("good"));
        std::fs::write(
            fw.join("boot.conf"),
            format!(
                "board=x86_64-local\nslot={slot}\ntrial={}\nboot_dev={}\nslot_a_dev={}\nslot_b_dev={}\n",
                u8::from(trial),
                self.dir.join("boot.img").display(),
                self.dir.join("slot-a.img").display(),
                self.dir.join("slot-b.img").display()
            ),
        )
        .unwrap();
    }

    /// GRUB's environment block as `grub-editenv list` reads it from the FAT.
    fn grubenv(&self) -> String {
        let out = self.dir.join("grubenv.read");
        let _ = std::fs::remove_file(&out);
        run_ok(
            Command::new("mcopy")
                .arg("-i")
                .arg(self.dir.join("boot.img"))
                .arg("::grub/grubenv")
                .arg(&out),
        );
        run_ok(Command::new("grub-editenv").arg(&out).arg("list"))
    }

    /// What GRUB does before starting a trial kernel: `slot_try` cleared (`save_env`), in place.
    fn grub_clears_try(&self) {
        let boot = std::fs::read(self.dir.join("boot.img")).unwrap();
        let at = boot
            .windows(24)
            .position(|w| w == b"# GRUB Environment Block")
            .expect("env block");
        let mut block = boot[at..at + 1024].to_vec();
        let text = String::from_utf8_lossy(&block).into_owned();
        let start = text.find("slot_try=").expect("slot_try") + "slot_try=".len();
        let end = start + text[start..].find('\n').unwrap();
        // Same length: pad with '#' lines the way GRUB keeps the block at 1024 bytes.
        let mut new = text[..start].to_string();
        new.push_str(&text[end..]);
        new.truncate(1024);
        while new.len() < 1024 {
            new.push('#');
        }
        block.copy_from_slice(new.as_bytes());
        let mut boot = boot;
        boot[at..at + 1024].copy_from_slice(&block);
        std::fs::write(self.dir.join("boot.img"), boot).unwrap();
    }
}

fn bundle(dir: &Path, name: &str, version: &str, payload: &[u8]) -> PathBuf {
    let p = dir.join(format!("{name}.payload"));
    std::fs::write(&p, payload).unwrap();
    let out = dir.join(format!("{name}.seglfw"));
    run_ok(Command::new(BUNDLE_TOOL).args([
        "make",
        "--dev",
        "--version",
        version,
        "--board",
        "x86_64-local",
        "--payload",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    out
}

fn firmware_json(g: &Gateway) -> serde_json::Value {
    let (ok, out) = g.ctl_text(&["firmware", "status", "--json"]);
    assert!(ok, "firmware status: {out}");
    serde_json::from_str(&out).expect("json")
}

#[test]
fn install_trial_good_then_a_failed_trial_is_reported() {
    let dir = temp_dir("segl-fw-");
    let sim = SimBox::new(dir.path());
    let mut g = Gateway::start_unlicensed(&dir.path().join("gw"), 0, 0, "");
    g.stop();
    g.env.push((
        "SEGL_FIRMWARE_BOOT".into(),
        dir.path().join("fw/boot.conf").display().to_string(),
    ));
    g.up();

    let st = firmware_json(&g);
    assert_eq!(st["supported"], true, "{st}");
    assert_eq!(st["running_version"], "1.0");
    assert_eq!(st["running_slot"], "a");

    // Refusals: tampered payload, not newer, not a bundle — nothing armed, slot b untouched.
    let v2_payload: Vec<u8> = (0..1_500_000u32).map(|i| (i * 7 % 253) as u8).collect();
    let v2 = bundle(dir.path(), "v2", "2.0", &v2_payload);
    let mut tampered = std::fs::read(&v2).unwrap();
    let n = tampered.len();
    tampered[n - 100] ^= 0x40;
    let tampered_file = dir.path().join("tampered.seglfw");
    std::fs::write(&tampered_file, tampered).unwrap();
    let old = bundle(dir.path(), "old", "0.9", b"old");
    for (file, why) in [
        (tampered_file.as_path(), "tampered payload"),
        (old.as_path(), "not newer"),
        (g.config.as_path(), "not a Segl firmware bundle"),
    ] {
        let (ok, out) = g.ctl_text(&["firmware", "install", file.to_str().unwrap()]);
        assert!(!ok && out.contains(why), "{why}: {out}");
    }
    assert!(sim.grubenv().contains("slot_try=\n"), "{}", sim.grubenv());
    assert!(std::fs::read(dir.path().join("slot-b.img"))
        .unwrap()
        .iter()
        .all(|b| *b == 0));

    // v2: written to slot b, read back, armed for one trial.
    let (ok, out) = g.ctl_text(&["firmware", "install", v2.to_str().unwrap()]);
    assert!(ok, "install: {out}");
    assert!(out.contains("installed version 2.0 in slot b"), "{out}");
    let b = std::fs::read(dir.path().join("slot-b.img")).unwrap();
    assert_eq!(&b[..v2_payload.len()], &v2_payload[..]);
    let env = sim.grubenv();
    assert!(
        env.contains("slot_try=b")
            && env.contains("slot_good=a")
            && env.contains("tried_version=2.0"),
        "{env}"
    );
    let st = firmware_json(&g);
    assert_eq!(st["last"]["result"], "installed");
    assert_eq!(st["slots"][1]["trial_next"], true);

    // The trial boot of slot b: GRUB cleared slot_try; segl is healthy and marks b good.
    g.stop();
    sim.grub_clears_try();
    sim.set_slot_toml("b", "2.0");
    sim.boot("b", true);
    g.up();
    let good = wait_until(Duration::from_secs(30), || {
        firmware_json(&g)["last"]["result"] == "good"
    });
    assert!(good, "not marked good: {}", firmware_json(&g));
    let env = sim.grubenv();
    assert!(
        env.contains("slot_good=b") && env.contains("tried=\n"),
        "{env}"
    );
    assert!(dir.path().join("fw/good").exists());
    let (_, status) = g.ctl_text(&["status"]);
    assert!(status.contains("firmware:    2.0 (slot b)"), "{status}");

    // v3 into slot a; its trial never becomes healthy, GRUB boots slot b again.
    let v3 = bundle(dir.path(), "v3", "3.0", b"v3 slot image");
    let (ok, out) = g.ctl_text(&["firmware", "install", v3.to_str().unwrap()]);
    assert!(ok, "install v3: {out}");
    assert!(sim.grubenv().contains("slot_try=a"));
    g.stop();
    sim.grub_clears_try();
    sim.boot("b", false);
    g.up();
    let failed = wait_until(Duration::from_secs(30), || {
        firmware_json(&g)["last"]["result"] == "failed"
    });
    assert!(failed, "failed trial not reported: {}", firmware_json(&g));
    let (_, status) = g.ctl_text(&["status"]);
    assert!(
        status.contains("last update failed: version 3.0 in slot a did not become healthy"),
        "{status}"
    );
    let (_, fw) = g.ctl_text(&["firmware", "status"]);
    assert!(fw.contains("last update: failed"), "{fw}");
    assert!(sim.grubenv().contains("tried=\n"));
}
