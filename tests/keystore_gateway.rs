//! The keystore through the real `segl serve` and `segl ctl`: every verb, restart survival,
//! no private key in clear in the data dir, backup/restore, and SIGKILL during key writes.

mod common;
mod keystore_common;

use std::time::Duration;

use common::Gateway;
use keystore_common::*;
use segl::keystore::{KeyState, Keystore, Settings};

fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "ctl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ctl_verbs_survive_restart_and_keep_keys_sealed() {
    let f = fixture();
    p12(&f, "alice", "alice.p12", "s3cret", &[]);
    p12(&f, "dave", "dave.p12", "s3cret", &["-legacy"]);
    f.write("pw", b"s3cret\n");
    f.write("bad", b"nope\n");
    let tmp = tempfile::tempdir().unwrap();
    let mut g = Gateway::start(tmp.path(), 0, 0, "");

    let out = g.ctl(&[
        "key",
        "import",
        &f.p("alice.p12"),
        "--password-file",
        &f.p("bad"),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong password"));
    let v = g.ctl_json(&[
        "key",
        "import",
        &f.p("alice.p12"),
        "--password-file",
        &f.p("pw"),
        "--json",
    ]);
    assert_eq!(v["addresses"][0], "alice@example.org");
    g.ctl_json(&[
        "key",
        "import",
        &f.p("dave.p12"),
        "--password-file",
        &f.p("pw"),
        "--mailbox",
        "advokatkontoret",
        "--json",
    ]);
    g.ctl_json(&[
        "key",
        "generate",
        "--email",
        "eve@example.org",
        "--days",
        "30",
        "--json",
    ]);
    let csr = g.ctl_json(&["key", "csr", "--email", "zed@example.org", "--json"]);
    assert!(csr["csr_pem"]
        .as_str()
        .unwrap()
        .contains("CERTIFICATE REQUEST"));
    g.ctl_json(&["partner", "import", &f.p("bob.pem"), "--json"]);
    let dom = g.ctl_json(&[
        "partner",
        "import",
        &f.p("carol.pem"),
        "--domain",
        "partner.example",
        "--json",
    ]);
    let dom_id = dom[0]["id"].as_str().unwrap().to_string();
    ok(g.ctl(&["partner", "disable", &dom_id]));
    g.ctl_json(&["trust", "import", &f.p("ca.pem"), "--json"]);
    revoke_and_crl(&f, "signonly");
    g.ctl_json(&["trust", "crl", "import", &f.p("ca.crl"), "--json"]);
    let ca_pem = ok(g.ctl(&["key", "ca-cert"]));
    assert!(ca_pem.contains("BEGIN CERTIFICATE"));
    let eve = ok(g.ctl(&["key", "export-cert", "eve@example.org"]));
    assert!(eve.contains("BEGIN CERTIFICATE"));
    assert!(!eve.contains("PRIVATE"));

    let keys = g.ctl_json(&["key", "list", "--json"]);
    assert_eq!(keys.as_array().unwrap().len(), 4, "{keys}");
    let partners = g.ctl_json(&["partner", "list", "--json"]);
    let trust = g.ctl_json(&["trust", "list", "--json"]);
    assert!(g
        .ctl_json(&["partner", "pending", "--json"])
        .as_array()
        .unwrap()
        .is_empty());
    assert!(!keys.to_string().contains("sealed_key"));

    g.kill9();
    g.up();
    let keys2 = g.ctl_json(&["key", "list", "--json"]);
    assert_eq!(keys, keys2);
    assert_eq!(partners, g.ctl_json(&["partner", "list", "--json"]));
    assert_eq!(trust, g.ctl_json(&["trust", "list", "--json"]));
    assert_eq!(
        g.ctl_json(&["trust", "crl", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(eve, ok(g.ctl(&["key", "export-cert", "eve@example.org"])));
    let p = g.ctl_json(&["partner", "list", "--json"]);
    let d = p
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == dom_id.as_str())
        .unwrap();
    assert_eq!(d["enabled"], false);

    // Backup, then restore into a second gateway with its own device key.
    f.write("bp", b"a long backup passphrase\n");
    let backup = tmp.path().join("ks.backup");
    ok(g.ctl(&[
        "backup",
        "create",
        backup.to_str().unwrap(),
        "--passphrase-file",
        &f.p("bp"),
    ]));
    g.stop();

    // No private key in clear anywhere in the data dir.
    for name in ["alice", "dave"] {
        let (der, lines) = key_secrets(&f, name);
        assert_not_in_files(&tmp.path().join("data"), &der, "PKCS#8 DER");
        for l in lines {
            assert_not_in_files(&tmp.path().join("data"), l.as_bytes(), "PEM body");
        }
    }
    let dk = tmp.path().join("data/keystore/device.key");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&dk).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    let tmp2 = tempfile::tempdir().unwrap();
    let g2 = Gateway::start(tmp2.path(), 0, 0, "");
    let out = g2.ctl(&[
        "backup",
        "restore",
        backup.to_str().unwrap(),
        "--passphrase-file",
        &f.p("bad"),
    ]);
    assert!(!out.status.success());
    ok(g2.ctl(&[
        "backup",
        "restore",
        backup.to_str().unwrap(),
        "--passphrase-file",
        &f.p("bp"),
    ]));
    assert_eq!(keys, g2.ctl_json(&["key", "list", "--json"]));
    assert_eq!(partners, g2.ctl_json(&["partner", "list", "--json"]));
}

#[test]
fn sigkill_during_key_writes_leaves_a_consistent_store() {
    let tmp = tempfile::tempdir().unwrap();
    let mut g = Gateway::start(tmp.path(), 0, 0, "");
    let mut reported = 0usize;
    let mut n = 0usize;
    for round in 0..6 {
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let cfg = g.config.clone();
                std::thread::spawn(move || {
                    let mut ok = 0;
                    for i in 0..20 {
                        let out = std::process::Command::new(common::SEGL)
                            .args([
                                "ctl",
                                "--config",
                                cfg.to_str().unwrap(),
                                "key",
                                "generate",
                                "--email",
                            ])
                            .arg(format!("u{round}-{w}-{i}@example.org"))
                            .output()
                            .unwrap();
                        if out.status.success() {
                            ok += 1;
                        } else {
                            break;
                        }
                    }
                    ok
                })
            })
            .collect();
        // Wait until this round has made progress (a loaded machine may take seconds per key),
        // then kill at a pseudo-random moment while further generations are in flight.
        let before = g
            .ctl_json(&["key", "list", "--json"])
            .as_array()
            .unwrap()
            .len();
        let progressed = common::wait_until(Duration::from_secs(120), || {
            g.ctl_json(&["key", "list", "--json"])
                .as_array()
                .unwrap()
                .len()
                > before
        });
        assert!(progressed, "no key was generated within 120 s");
        std::thread::sleep(Duration::from_millis((round as u64 * 137) % 400));
        g.kill9();
        for w in writers {
            reported += w.join().unwrap();
        }
        n += 1;
        g.up();
        let keys = g.ctl_json(&["key", "list", "--json"]);
        assert!(
            keys.as_array().unwrap().len() >= reported,
            "a key reported as made was lost"
        );
    }
    assert!(n > 0);
    g.stop();
    // Open the store directly: every key it lists is complete and usable.
    let ks = Keystore::open(&tmp.path().join("data"), Settings::default()).unwrap();
    let keys = ks.list_keys();
    assert!(
        keys.len() >= reported && reported > 0,
        "{} keys, {reported} reported",
        keys.len()
    );
    for k in keys {
        assert_eq!(k.state, KeyState::Active, "{k:?}");
        let addr = &k.addresses[0];
        let key = ks
            .signing_key(addr)
            .unwrap_or_else(|| panic!("{addr} not usable"));
        key.sign(segl::smime::SignatureScheme::RsaPkcs1Sha256, b"probe")
            .unwrap();
    }
    assert_eq!(ks.decryption_keys().len(), ks.list_keys().len());
}
