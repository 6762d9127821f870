//! Licences end to end: licence files issued at test time by the vendor tool `segl-license`
//! (development key, or a vendor key made with `keygen`), installed with `segl ctl license`,
//! and their effect on real mail over SMTP: signatures checked with `openssl cms`, encrypted
//! mail made with `openssl cms -encrypt`, Python aiosmtpd sinks as next hops.

mod common;
#[path = "policy_common/mod.rs"]
mod policy_common;
#[path = "smime_common/mod.rs"]
mod smime_common;

use common::*;
use policy_common::*;

fn show(g: &Gateway) -> serde_json::Value {
    g.ctl_json(&["license", "show", "--json"])
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn install(g: &Gateway, file: &std::path::Path) -> std::process::Output {
    g.ctl(&["license", "install", file.to_str().unwrap()])
}

// Files are checked on install: tampered, wrongly signed, expired, not yet valid and other-box
// files are refused with the reason, and the current licence stays; a licence in its grace
// period is accepted with a warning. The box id is made once and kept.
#[test]
fn licence_files_are_verified_and_refused_with_reasons() {
    let d = tmp();
    let lic = |n: &str| d.path().join(n);
    let mut g = Gateway::start_unlicensed(&d.path().join("gw"), 0, 0, "");
    let status = ok(g.ctl(&["status"]));
    assert!(status.contains("development build"), "{status}");
    assert!(status.contains("no licence installed"), "{status}");
    let s = show(&g);
    assert_eq!(s["state"], "none");
    assert_eq!(s["development_build"], true);
    let box_id = s["box_id"].as_str().unwrap().to_string();
    assert!(
        box_id.starts_with("segl-") && box_id.len() == 29,
        "{box_id}"
    );
    g.stop();
    g.up();
    assert_eq!(show(&g)["box_id"], box_id.as_str(), "box id kept");

    let valid = dev_license(
        &lic("valid.txt"),
        &[
            "--keys",
            "5",
            "--expires",
            "+365",
            "--box",
            &box_id,
            "--id",
            "L-VALID",
        ],
    );
    let (good, text) = segl_license(&["show", valid.to_str().unwrap(), "--dev"]);
    assert!(good && text.contains("signature: valid"), "{text}");
    let out = install(&g, &valid);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = show(&g);
    assert_eq!(s["state"], "valid");
    assert_eq!(s["license"]["id"], "L-VALID");
    assert_eq!(s["license"]["box"], box_id.as_str());

    // One byte changed: 5 keys become 9.
    let text = std::fs::read_to_string(&valid).unwrap();
    assert!(text.contains("keys = 5\n"));
    std::fs::write(
        lic("tampered.txt"),
        text.replace("keys = 5\n", "keys = 9\n"),
    )
    .unwrap();
    let (good, out_text) = segl_license(&["show", lic("tampered.txt").to_str().unwrap(), "--dev"]);
    assert!(!good && out_text.contains("INVALID"), "{out_text}");

    // Signed with another vendor key.
    let (good, text) = segl_license(&["keygen", "--out", lic("vendor").to_str().unwrap()]);
    assert!(good, "{text}");
    let (good, text) = segl_license(&[
        "issue",
        "--key",
        lic("vendor/vendor.key").to_str().unwrap(),
        "--customer",
        "Someone",
        "--keys",
        "5",
        "--expires",
        "+365",
        "--out",
        lic("other-vendor.txt").to_str().unwrap(),
    ]);
    assert!(good, "{text}");
    let expired = dev_license(
        &lic("expired.txt"),
        &[
            "--keys",
            "5",
            "--starts=-60",
            "--expires=-30",
            "--grace-days",
            "0",
        ],
    );
    let not_yet = dev_license(
        &lic("not-yet.txt"),
        &["--keys", "5", "--starts", "+10", "--expires", "+400"],
    );
    let other_box = dev_license(
        &lic("other-box.txt"),
        &[
            "--keys",
            "5",
            "--expires",
            "+365",
            "--box",
            "segl-0000-0000-0000-0000-0000",
        ],
    );
    for (file, reason) in [
        (lic("tampered.txt"), "signature is not valid"),
        (lic("other-vendor.txt"), "does not accept"),
        (expired, "expired on"),
        (not_yet, "not valid before"),
        (other_box, "bound to box segl-0000-0000-0000-0000-0000"),
    ] {
        let out = install(&g, &file);
        assert!(!out.status.success(), "{} was accepted", file.display());
        assert!(
            stderr(&out).contains(reason),
            "{}: {}",
            file.display(),
            stderr(&out)
        );
        assert_eq!(
            show(&g)["license"]["id"],
            "L-VALID",
            "current licence stays"
        );
    }
    assert!(stderr(&install(&g, &lic("other-box.txt"))).contains(&box_id));

    // In the grace period: accepted, still in force, with a warning.
    let grace = dev_license(
        &lic("grace.txt"),
        &[
            "--keys",
            "5",
            "--starts=-60",
            "--expires=-3",
            "--grace-days",
            "14",
        ],
    );
    let out = install(&g, &grace);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = show(&g);
    assert_eq!(s["state"], "grace");
    assert_eq!(s["days_left"], -3);
    assert!(
        s["warnings"].to_string().contains("has expired"),
        "{}",
        s["warnings"]
    );
    let status = ok(g.ctl(&["status"]));
    assert!(status.contains("grace period until"), "{status}");
    let shown = ok(g.ctl(&["license", "show"]));
    assert!(shown.contains("state:       grace"), "{shown}");

    // A replacement box restored from a backup keeps the box id and the licence; a fresh box
    // (factory reset) has a new id.
    let pass = d.path().join("pass");
    std::fs::write(&pass, "backup passphrase\n").unwrap();
    let bak = d.path().join("keystore.bak");
    let p = pass.to_str().unwrap();
    ok(g.ctl(&[
        "backup",
        "create",
        bak.to_str().unwrap(),
        "--passphrase-file",
        p,
    ]));
    let g2 = Gateway::start_unlicensed(&d.path().join("gw2"), 0, 0, "");
    let fresh = show(&g2);
    assert_ne!(fresh["box_id"], box_id.as_str());
    assert_eq!(fresh["state"], "none");
    ok(g2.ctl(&[
        "backup",
        "restore",
        bak.to_str().unwrap(),
        "--passphrase-file",
        p,
    ]));
    let s2 = show(&g2);
    assert_eq!(s2["box_id"], box_id.as_str());
    assert_eq!(s2["license"], s["license"]);
    assert_eq!(s2["state"], "grace");
}

fn by_subject<'a>(msgs: &'a [Stored], subject: &str) -> &'a Stored {
    msgs.iter()
        .find(|m| header(m, "Subject").is_some_and(|s| s.contains(subject)))
        .unwrap_or_else(|| panic!("no message with subject {subject:?}"))
}

const TRUSTED: &str = "[sign]\ntrusted_relays = [\"127.0.0.1/32\"]\nkeys_without_auth = [\"@example.org\"]\n# The domain key signs only to listed recipients (docs/policy.md).\ndomain_key_to = [\"@partner.test\"]\n[notify]\nadmin_address = \"admin@example.org\"\n";

/// Encrypts a message from a partner to `cert` (a PEM in the PKI dir) with openssl.
fn encrypted_to(pki: &Pki, cert: &str, to: &str, subject: &str) -> Vec<u8> {
    pki.write(
        "content.txt",
        format!("Content-Type: text/plain; charset=utf-8\r\n\r\nsecret for {to}\r\n").as_bytes(),
    );
    pki.openssl(&[
        "cms",
        "-encrypt",
        "-aes256",
        "-in",
        "content.txt",
        "-from",
        "carol@partner.test",
        "-to",
        to,
        "-subject",
        subject,
        "-out",
        "enc.eml",
        cert,
    ]);
    pki.read("enc.eml")
}

// Count enforcement over SMTP: without a licence nothing is signed or decrypted with individual
// keys but mail flows; a licence for one key lets exactly the first user sign and decrypt;
// mail for the unlicensed user arrives still encrypted and marked, is parked, and is decrypted
// and delivered again once a licence covers the key.
#[test]
fn individual_keys_sign_and_decrypt_only_when_licensed() {
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    let smart = Sink::start(&d.path().join("smart"), &[]);
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    let g = Gateway::start_unlicensed(&d.path().join("gw"), inbound.port, smart.port, TRUSTED);
    keygen(&g, "alice@example.org");
    keygen(&g, "bob@example.org");
    segl_ca(&g, &pki);
    // A domain key for example.org: free, it signs without any licence.
    pki.user("dom", "DNS:example.org");
    let mut pem = pki.read("dom.key");
    pem.extend(pki.read("dom.pem"));
    pki.write("dom-bundle.pem", &pem);
    ok(g.ctl(&[
        "key",
        "import",
        &pki.p("dom-bundle.pem"),
        "--domain",
        "example.org",
    ]));
    for who in ["alice", "bob"] {
        let pem = ok(g.ctl(&["key", "export-cert", &format!("{who}@example.org")]));
        pki.write(&format!("{who}-segl.pem"), pem.as_bytes());
    }
    let out_mail = |from: &str, to: &str, subject: &str| {
        send(
            g.smtp_port,
            from,
            &[to],
            &mail(from, to, subject, "hello partner"),
            d.path(),
        )
    };
    let in_mail = |who: &str, subject: &str| {
        let to = format!("{who}@example.org");
        let m = encrypted_to(&pki, &format!("{who}-segl.pem"), &to, subject);
        send(g.smtp_port, "carol@partner.test", &[&to], &m, d.path());
    };

    // A) No licence: mail flows, nothing signed, nothing decrypted with individual keys.
    out_mail("alice@example.org", "p1@partner.test", "A alice");
    out_mail("bob@example.org", "p2@partner.test", "A bob");
    out_mail("dora@example.org", "p3@partner.test", "A dora");
    in_mail("bob", "A for bob");
    let out = smart.wait_for(3, 30);
    assert!(!is_signed(for_rcpt(&out, "p1@partner.test")));
    assert!(!is_signed(for_rcpt(&out, "p2@partner.test")));
    let p3 = for_rcpt(&out, "p3@partner.test");
    pki.verify("pca.pem", &p3.eml)
        .expect("the domain key signs without a licence");
    // The first weekly licence notice goes to notify.admin_address (keys are not licensed).
    let got = inbound.wait_for(2, 30);
    let notice = for_rcpt(&got, "admin@example.org");
    assert_eq!(
        header(notice, "Subject").as_deref(),
        Some("Segl licence needs attention")
    );
    assert!(
        notice.text().contains("bob@example.org"),
        "{}",
        notice.text()
    );
    let m = by_subject(&got, "A for bob");
    assert!(is_encrypted(m), "{}", m.text());
    assert_eq!(header(m, "X-Segl-Encryption").as_deref(), Some("failed"));
    let note = header(m, "X-Segl-License").expect("licence note");
    assert!(
        note.contains("bob@example.org is not licensed (no licence installed)")
            && note.contains("kept as"),
        "{note}"
    );
    let s = show(&g);
    assert_eq!(s["keys_in_use"], 2);
    assert_eq!(s["keys_licensed"], 0);
    assert_eq!(s["parked"].as_array().unwrap().len(), 1);
    assert!(g.log_text().contains("not signed: the key is not licensed"));

    // B) A licence for one key: alice (first key) signs and decrypts, bob does neither.
    let one = dev_license(
        &d.path().join("one.txt"),
        &["--keys", "1", "--expires", "+365"],
    );
    ok(install(&g, &one));
    let s = show(&g);
    assert_eq!(s["state"], "valid");
    assert_eq!(s["unlicensed"], serde_json::json!(["bob@example.org"]));
    assert_eq!(s["seats"][0]["identity"], "alice@example.org");
    assert_eq!(s["seats"][0]["licensed"], true);
    assert_eq!(
        s["parked"].as_array().unwrap().len(),
        1,
        "bob's mail stays parked"
    );
    out_mail("alice@example.org", "q1@partner.test", "B alice");
    out_mail("bob@example.org", "q2@partner.test", "B bob");
    in_mail("alice", "B for alice");
    in_mail("bob", "B for bob");
    let out = smart.wait_for(5, 30);
    let q1 = for_rcpt(&out, "q1@partner.test");
    assert!(is_signed(q1), "{}", q1.text());
    let content = pki
        .verify("segl-ca.pem", &q1.eml)
        .expect("alice's signature verifies");
    assert!(String::from_utf8_lossy(&content).contains("hello partner"));
    assert!(!is_signed(for_rcpt(&out, "q2@partner.test")));
    let got = inbound.wait_for(4, 30);
    let a = by_subject(&got, "B for alice");
    assert_eq!(header(a, "X-Segl-Encryption").as_deref(), Some("decrypted"));
    assert!(a.text().contains("secret for alice@example.org"));
    assert_eq!(header(a, "X-Segl-License"), None);
    let b = by_subject(&got, "B for bob");
    assert_eq!(header(b, "X-Segl-Encryption").as_deref(), Some("failed"));
    assert!(header(b, "X-Segl-License")
        .unwrap()
        .contains("over the licensed count"));
    let status = ok(g.ctl(&["status"]));
    assert!(
        status.contains("2 individual key(s) in use, 1 licensed; 1 not licensed"),
        "{status}"
    );

    // C) A licence for two keys: bob's parked mail is decrypted and delivered again.
    let two = dev_license(
        &d.path().join("two.txt"),
        &["--keys", "2", "--expires", "+365"],
    );
    let done = ok(install(&g, &two));
    assert!(done.contains("2 parked message(s) queued"), "{done}");
    let got = inbound.wait_for(6, 30);
    for subject in ["A for bob", "B for bob"] {
        let again = got
            .iter()
            .filter(|m| header(m, "Subject").is_some_and(|s| s.contains(subject)))
            .find(|m| header(m, "X-Segl-Encryption").as_deref() == Some("decrypted"))
            .unwrap_or_else(|| panic!("{subject} not delivered decrypted"));
        assert!(again.text().contains("secret for bob@example.org"));
    }
    let s = show(&g);
    assert_eq!(s["parked"].as_array().unwrap().len(), 0);
    assert_eq!(s["unlicensed"], serde_json::json!([]));
    out_mail("bob@example.org", "r2@partner.test", "C bob");
    let out = smart.wait_for(6, 30);
    let r2 = for_rcpt(&out, "r2@partner.test");
    pki.verify("segl-ca.pem", &r2.eml).expect("bob signs now");
    // One notice a week, however often the state changed.
    let notices = inbound
        .messages()
        .iter()
        .filter(|m| m.rcpts() == ["admin@example.org"])
        .count();
    assert_eq!(notices, 1);
}
