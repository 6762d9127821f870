//! DKIM signing end to end: mail goes into a real `segl serve` over SMTP, is S/MIME signed and
//! encrypted by the policy stage, DKIM-signed as the last outbound stage and lands in a sink;
//! Python dkimpy (an independent implementation) verifies it against the TXT record that
//! `segl ctl dkim show DOMAIN --txt` printed, handed to dkimpy's `dnsfunc` hook (no resolver).
//! RSA and Ed25519, rollover, a changed header, body or an added From fail verification.

mod common;
#[path = "policy_common/mod.rs"]
mod policy_common;
#[path = "smime_common/mod.rs"]
mod smime_common;

use std::path::Path;

use common::*;
use policy_common::*;

const TRUSTED: &str =
    "[sign]\ntrusted_relays = [\"127.0.0.1/32\"]\nkeys_without_auth = [\"@example.org\"]\n";

/// dkimpy's verdict on the topmost DKIM-Signature of `eml`: `pass d=… s=… a=…` or `fail …`.
fn dkimpy(dir: &Path, eml: &[u8], records: &[(String, String)]) -> String {
    let f = dir.join(format!("verify-{}.eml", free_port()));
    std::fs::write(&f, eml).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/dkim_verify.py");
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(script).arg(&f);
    for (name, txt) in records {
        cmd.arg(format!("{name}={txt}"));
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "dkimpy (pip dkimpy, pynacl: .ci/install-deps.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The DNS record of a key, as `segl ctl dkim show --txt` prints it.
fn record(g: &Gateway, domain: &str, selector: &str) -> (String, String) {
    let txt = ok(g.ctl(&["dkim", "show", domain, "--txt", "--selector", selector]));
    (
        format!("{selector}._domainkey.{domain}"),
        txt.trim().to_string(),
    )
}

/// `eml` with its first `name:` header line replaced by `line`.
fn replace_header(eml: &[u8], name: &str, line: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(eml).into_owned();
    let prefix = format!("\r\n{name}:");
    let start = text.find(&prefix).expect("header present") + 2;
    let end = start + text[start..].find("\r\n").unwrap();
    format!("{}{}{}", &text[..start], line, &text[end..]).into_bytes()
}

fn subject_of(m: &Stored) -> String {
    header(m, "Subject").unwrap_or_default()
}

// RSA, then a rollover to Ed25519 with a new selector: signed+encrypted and signed-only mail
// verifies with dkimpy; tampering breaks it; the old key stays listed as retired until deleted.
#[test]
fn signed_and_encrypted_mail_verifies_with_dkimpy_rsa_and_ed25519() {
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    pki.user("bob", "email:bob@partner.test");
    let (_inbound, smart, g) = gateway_with_sinks(d.path(), TRUSTED);
    keygen(&g, "alice@example.org");
    segl_ca(&g, &pki);
    ok(g.ctl(&["partner", "import", &pki.p("bob.pem")]));

    let made = g.ctl_json(&[
        "dkim",
        "generate",
        "example.org",
        "--selector",
        "rsa1",
        "--algorithm",
        "rsa",
        "--json",
    ]);
    assert_eq!(made[0]["signature_algorithm"], "rsa-sha256");
    assert_eq!(made[0]["dns_name"], "rsa1._domainkey.example.org");
    let shown = ok(g.ctl(&["dkim", "show", "example.org"]));
    assert!(shown.contains("rsa1._domainkey.example.org"), "{shown}");
    assert!(
        shown.contains("IN TXT ( \"v=DKIM1; k=rsa; p=MII"),
        "{shown}"
    );
    let rsa = record(&g, "example.org", "rsa1");
    assert!(rsa.1.starts_with("v=DKIM1; k=rsa; p=MII"), "{}", rsa.1);

    // One mail, two copies: encrypted (+signed) to bob, signed only to carol (no certificate).
    let m = mail(
        "alice@example.org",
        "bob@partner.test, carol@else.test",
        "quarterly figures",
        "confidential",
    );
    send(
        g.smtp_port,
        "alice@example.org",
        &["bob@partner.test", "carol@else.test"],
        &m,
        d.path(),
    );
    let out = smart.wait_for(2, 30);
    let enc = for_rcpt(&out, "bob@partner.test");
    let signed = for_rcpt(&out, "carol@else.test");
    assert!(is_encrypted(enc), "{}", enc.text());
    assert!(is_signed(signed), "{}", signed.text());
    let records = vec![rsa.clone()];
    for copy in [enc, signed] {
        let v = dkimpy(d.path(), &copy.eml, &records);
        assert!(
            v.starts_with("pass d=example.org s=rsa1 a=rsa-sha256"),
            "{v}\n{}",
            copy.text()
        );
        let sig = header(copy, "DKIM-Signature").unwrap();
        assert!(sig.contains("c=relaxed/relaxed"), "{sig}");
        assert!(sig.contains(" t="), "{sig}");
        assert!(!sig.contains(" x="), "no x= by default: {sig}");
        // Oversigned: from and subject appear twice in h=.
        let h = sig.split("h=").nth(1).unwrap().split(';').next().unwrap();
        let h = h.replace(' ', "").to_ascii_lowercase();
        assert_eq!(h.split(':').filter(|n| *n == "from").count(), 2, "{h}");
        assert_eq!(h.split(':').filter(|n| *n == "subject").count(), 2, "{h}");
    }

    // Tampering: one header changed, the body changed, a second From added: all fail.
    let subj = subject_of(signed);
    let tampered = replace_header(&signed.eml, "Subject", &format!("Subject: {subj}!"));
    let v = dkimpy(d.path(), &tampered, &records);
    assert!(v.starts_with("fail"), "changed Subject must fail: {v}");
    let body_changed = String::from_utf8_lossy(&enc.eml).replacen("\r\n\r\nM", "\r\n\r\nN", 1);
    assert_ne!(body_changed.as_bytes(), &enc.eml[..]);
    let v = dkimpy(d.path(), body_changed.as_bytes(), &records);
    assert!(v.starts_with("fail"), "changed body must fail: {v}");
    let text = signed.text();
    let at = text.find("\r\nFrom:").unwrap() + 2;
    let forged = format!("{}From: mallory@evil.test\r\n{}", &text[..at], &text[at..]);
    let v = dkimpy(d.path(), forged.as_bytes(), &records);
    assert!(
        v.starts_with("fail"),
        "an added From must fail (oversigned): {v}"
    );

    // Rollover: a new Ed25519 key with a new selector signs from now on; rsa1 stays listed.
    ok(g.ctl(&[
        "dkim",
        "generate",
        "example.org",
        "--selector",
        "ed1",
        "--algorithm",
        "ed25519",
    ]));
    let list = g.ctl_json(&["dkim", "list", "--json"]);
    let state = |sel: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|k| k["selector"] == sel)
            .map(|k| k["state"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(state("ed1"), "active");
    assert_eq!(state("rsa1"), "retired");
    let retired = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["selector"] == "rsa1")
        .unwrap();
    let (r, until) = (
        retired["retired"].as_i64().unwrap(),
        retired["publish_until"].as_i64().unwrap(),
    );
    assert_eq!(until - r, 7 * 86_400);
    let plain = ok(g.ctl(&["dkim", "list"]));
    assert!(
        plain.contains("retired") && plain.contains("keep its record published until"),
        "{plain}"
    );
    let ed = record(&g, "example.org", "ed1");
    assert!(ed.1.starts_with("v=DKIM1; k=ed25519; p="), "{}", ed.1);

    let m = mail(
        "alice@example.org",
        "bob@partner.test",
        "after rollover",
        "secret",
    );
    send(
        g.smtp_port,
        "alice@example.org",
        &["bob@partner.test"],
        &m,
        d.path(),
    );
    let out = smart.wait_for(3, 30);
    let new = out
        .iter()
        .find(|m| subject_of(m).contains("after rollover"))
        .unwrap();
    assert!(is_encrypted(new));
    let both = vec![rsa.clone(), ed.clone()];
    let v = dkimpy(d.path(), &new.eml, &both);
    assert!(
        v.starts_with("pass d=example.org s=ed1 a=ed25519-sha256"),
        "{v}\n{}",
        new.text()
    );
    // The old signatures still verify while rsa1's record stays published.
    assert!(dkimpy(d.path(), &signed.eml, &both).starts_with("pass"));
    let tampered = replace_header(&new.eml, "To", "To: eve@evil.test");
    assert!(dkimpy(d.path(), &tampered, &both).starts_with("fail"));

    // Delete: the signing key needs --force; the retired one goes.
    let refused = g.ctl(&["dkim", "delete", "example.org", "ed1"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("signing key"));
    ok(g.ctl(&["dkim", "delete", "example.org", "rsa1"]));
    let list = g.ctl_json(&["dkim", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(g.log_text().contains("DKIM signed"));
}

// dkim.sign: "changed" (default) leaves mail Segl passes on unchanged alone (the upstream
// signature stays, none of ours); "all" signs it too; x= with dkim.expire_days.
#[test]
fn unchanged_mail_is_signed_only_with_sign_all() {
    let d = tmp();
    let smart = Sink::start(&d.path().join("smart"), &[]);
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    let upstream = "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=exch; h=from:to:subject;\r\n bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n";
    let mut m = upstream.as_bytes().to_vec();
    m.extend_from_slice(&mail(
        "nokey@example.org",
        "partner@else.test",
        "plain",
        "body",
    ));

    let g = Gateway::start(&d.path().join("gw1"), inbound.port, smart.port, TRUSTED);
    // Imported keys made by openssl: RSA as PKCS#1 (as opendkim-genkey writes it), Ed25519 as
    // PKCS#8 v1 (openssl genpkey).
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(d.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    openssl(&["genrsa", "-traditional", "-out", "rsa1.pem", "2048"]);
    openssl(&["genpkey", "-algorithm", "ed25519", "-out", "ed.pem"]);
    let rsa_pem = d.path().join("rsa1.pem");
    assert!(std::fs::read_to_string(&rsa_pem)
        .unwrap()
        .contains("BEGIN RSA PRIVATE KEY"));
    let imported = g.ctl_json(&[
        "dkim",
        "import",
        "example.org",
        rsa_pem.to_str().unwrap(),
        "--selector",
        "s1",
        "--json",
    ]);
    assert_eq!(imported[0]["source"], "imported");
    assert_eq!(imported[0]["bits"], 2048);
    send(
        g.smtp_port,
        "nokey@example.org",
        &["partner@else.test"],
        &m,
        d.path(),
    );
    let out = smart.wait_for(1, 30);
    let text = out[0].text();
    assert_eq!(text.matches("DKIM-Signature:").count(), 1, "{text}");
    assert!(text.contains("s=exch"), "{text}");
    let rec = record(&g, "example.org", "s1");
    drop(g);

    // A second gateway with dkim.sign = "all" signs it too (on top of the upstream signature).
    let extra = format!("{TRUSTED}[dkim]\nsign = \"all\"\nexpire_days = 5\n");
    let mut g = Gateway::start(&d.path().join("gw2"), inbound.port, smart.port, &extra);
    let ed_pem = d.path().join("ed.pem");
    ok(g.ctl(&[
        "dkim",
        "import",
        "example.org",
        ed_pem.to_str().unwrap(),
        "--selector",
        "s2",
    ]));
    let rec2 = record(&g, "example.org", "s2");
    // The record's key is the one openssl derives from the imported private key.
    let spki = openssl(&["pkey", "-in", "ed.pem", "-pubout", "-outform", "DER"]);
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD.encode(&spki[spki.len() - 32..]);
    assert_eq!(rec2.1, format!("v=DKIM1; k=ed25519; p={raw}"));
    send(
        g.smtp_port,
        "nokey@example.org",
        &["partner@else.test"],
        &m,
        d.path(),
    );
    let out = smart.wait_for(2, 30);
    let text = out[1].text();
    assert_eq!(text.matches("DKIM-Signature:").count(), 2, "{text}");
    let v = dkimpy(d.path(), &out[1].eml, &[rec, rec2]);
    assert!(
        v.starts_with("pass d=example.org s=s2 a=ed25519-sha256"),
        "{v}\n{text}"
    );
    let sig = header(&out[1], "DKIM-Signature").unwrap();
    let num = |tag: &str| -> u64 {
        sig.split(&format!(" {tag}="))
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    assert_eq!(num("x") - num("t"), 5 * 86_400, "{sig}");
    g.stop();
}
