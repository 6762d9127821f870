//! The updater on a simulated disk: a boot partition file with a GRUB environment block and two
//! slot files, as `/init` describes them.

use std::collections::BTreeMap;
use std::path::Path;

use aws_lc_rs::signature::Ed25519KeyPair;
use sha2::Digest;

use super::*;

struct Box_ {
    dir: tempfile::TempDir,
    updater: Updater,
}

fn make_box(slot: &str, trial: bool, env: &[(&str, &str)]) -> Box_ {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path();
    let mut vars = BTreeMap::new();
    for (k, v) in env {
        vars.insert(k.to_string(), v.to_string());
    }
    let mut boot = vec![0u8; 2 << 20];
    let at = 512 * 1000;
    boot[at..at + grubenv::SIZE].copy_from_slice(&grubenv::serialize(&vars).expect("env"));
    std::fs::write(p.join("boot.img"), &boot).expect("boot");
    std::fs::write(p.join("a.img"), vec![0u8; 1 << 20]).expect("a");
    std::fs::write(p.join("b.img"), vec![0u8; 1 << 20]).expect("b");
    std::fs::write(
        p.join("boot.conf"),
        format!(
            "board=x86_64-local\nslot={slot}\ntrial={}\nboot_dev={}\nslot_a_dev={}\nslot_b_dev={}\n",
            u8::from(trial),
            p.join("boot.img").display(),
            p.join("a.img").display(),
            p.join("b.img").display()
        ),
    )
    .expect("conf");
    std::fs::write(
        p.join(format!("slot-{slot}.toml")),
        "version = \"2\"\nboard = \"x86_64-local\"\n",
    )
    .expect("slot.toml");
    let updater = Updater::new(BootInfo::load(&p.join("boot.conf")));
    updater.set_data_dir(&p.join("data"));
    Box_ { dir, updater }
}

impl Box_ {
    fn env(&self) -> BTreeMap<String, String> {
        let dev = self.dir.path().join("boot.img");
        grubenv::read_at(&dev, grubenv::locate(&dev).expect("locate")).expect("env")
    }
}

fn dev_bundle(version: &str, board: &str, payload: &[u8]) -> Vec<u8> {
    let seed = sha2::Sha256::digest(keys::DEV_SEED_TEXT.as_bytes());
    let kp = Ed25519KeyPair::from_seed_unchecked(&seed).expect("dev key");
    let m = bundle::manifest_for(version, board, payload, "test");
    let text = bundle::manifest_text(&m).expect("manifest");
    let sig = kp.sign(&bundle::signed_bytes(text.as_bytes()));
    bundle::assemble(text.as_bytes(), sig.as_ref(), payload)
}

#[test]
fn install_writes_the_inactive_slot_and_arms_one_trial() {
    if !keys::DEVELOPMENT {
        return; // signed with the development key: only development builds accept it
    }
    let bx = make_box("a", false, &[("slot_good", "a")]);
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let m = bx
        .updater
        .install(&dev_bundle("3", "x86_64-local", &payload), false)
        .expect("install");
    assert_eq!(m.version, "3");
    let b = std::fs::read(bx.dir.path().join("b.img")).expect("b");
    assert_eq!(&b[..payload.len()], &payload[..]);
    assert!(std::fs::read(bx.dir.path().join("a.img"))
        .expect("a")
        .iter()
        .all(|x| *x == 0));
    let env = bx.env();
    assert_eq!(env["slot_good"], "a");
    assert_eq!(env["slot_try"], "b");
    assert_eq!(env["tried"], "b");
    let st = bx.updater.status();
    assert_eq!(st.progress.phase, "done");
    assert_eq!(st.last.expect("last").result, "installed");
    assert!(st
        .slots
        .iter()
        .any(|s| s.trial_next && s.version.as_deref() == Some("3")));
}

#[test]
fn refusals_leave_the_slots_and_boot_loader_alone() {
    if !keys::DEVELOPMENT {
        return;
    }
    let bx = make_box("a", false, &[("slot_good", "a")]);
    let before = bx.env();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (dev_bundle("3", "qemu-aarch64-virt", b"x"), "board"),
        (dev_bundle("1", "x86_64-local", b"x"), "not newer"),
        (dev_bundle("2", "x86_64-local", b"x"), "not newer"),
        (
            {
                let mut b = dev_bundle("3", "x86_64-local", b"payload");
                let n = b.len();
                b[n - 2] ^= 1;
                b
            },
            "tampered",
        ),
        (
            {
                let mut b = dev_bundle("3", "x86_64-local", b"payload");
                b[20] ^= 1; // in the manifest
                b
            },
            "bad signature",
        ),
        (
            b"not a bundle at all".to_vec(),
            "not a Segl firmware bundle",
        ),
    ];
    for (data, want) in cases {
        let e = bx.updater.install(&data, false).unwrap_err();
        assert!(e.is_refusal(), "{e}");
        assert!(e.to_string().contains(want), "{e} should say {want}");
        let last = bx.updater.last().expect("recorded");
        assert_eq!(last.result, "refused");
        assert!(last.message.contains(want));
    }
    assert_eq!(bx.env(), before);
    assert!(std::fs::read(bx.dir.path().join("b.img"))
        .expect("b")
        .iter()
        .all(|x| *x == 0));
    // Not while the spool holds messages the older version cannot read (one-file layout)...
    let spool = crate::spool::Spool::open(&bx.dir.path().join("data")).unwrap();
    let env = crate::spool::tests::sample("NEWLAYOUT");
    spool.store(&env, b"abc").unwrap();
    let e = bx
        .updater
        .install(&dev_bundle("1", "x86_64-local", b"old"), true)
        .unwrap_err();
    assert!(
        e.is_refusal() && e.to_string().contains("1 queued or held"),
        "{e}"
    );
    assert_eq!(bx.env(), before);
    // ...a newer version is not held back by it...
    bx.updater
        .install(&dev_bundle("3", "x86_64-local", b"new"), false)
        .expect("newer");
    // ...and an older one goes in when forced once the queue has drained.
    spool.remove("NEWLAYOUT").unwrap();
    bx.updater
        .install(&dev_bundle("1", "x86_64-local", b"old"), true)
        .expect("forced");
}

#[test]
fn trial_boot_marked_good_becomes_the_default() {
    let bx = make_box(
        "b",
        true,
        &[
            ("slot_good", "a"),
            ("slot_try", ""),
            ("tried", "b"),
            ("tried_version", "2"),
        ],
    );
    assert!(bx.updater.on_trial(), "on trial: new data formats wait");
    confirm::mark_good(&bx.updater, Slot::B, "2");
    assert!(!bx.updater.on_trial(), "marked good: no longer on trial");
    let env = bx.env();
    assert_eq!(env["slot_good"], "b");
    assert_eq!(env["tried"], "");
    assert!(bx.dir.path().join("good").exists());
    assert_eq!(bx.updater.last().expect("last").result, "good");
}

#[test]
fn fallback_boot_records_the_failed_trial() {
    let bx = make_box(
        "a",
        false,
        &[
            ("slot_good", "a"),
            ("slot_try", ""),
            ("tried", "b"),
            ("tried_version", "3"),
        ],
    );
    confirm::after_start(
        &bx.updater,
        &crate::config::Config::default_config(),
        &|_| Ok(()),
    );
    let last = bx.updater.last().expect("last");
    assert_eq!(last.result, "failed");
    assert_eq!(last.version, "3");
    assert!(
        last.message.contains("back on version 2"),
        "{}",
        last.message
    );
    assert_eq!(bx.env()["tried"], "");
    assert!(bx.updater.summary().contains("failed"));
    // Nothing to report on the next boot.
    confirm::after_start(
        &bx.updater,
        &crate::config::Config::default_config(),
        &|_| Ok(()),
    );
    assert_eq!(bx.updater.last().expect("last").result, "failed");
}

#[test]
fn a_box_without_slots_says_so() {
    let u = Updater::new(BootInfo::load(Path::new("/nonexistent/boot.conf")));
    let st = u.status();
    assert!(!st.supported);
    assert!(st.reason.expect("reason").contains("re-flashing"));
    assert!(matches!(
        u.install(b"SEGLFW01", false).unwrap_err(),
        UpdateError::Unsupported(_) | UpdateError::Bundle(_)
    ));
}
