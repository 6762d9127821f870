//! Policy end to end, the remaining cases of the issue: harvest in manual mode, revoked and
//! expired signer certificates, RFC 2047 encoded subjects carrying tags and forged markings,
//! upstream DKIM signatures on changed mail, and tags in mail to a colleague. Real `segl serve`,
//! Python smtplib as the client, openssl as the partner, aiosmtpd sinks as next hops.

mod common;
#[path = "smime_common/mod.rs"]
mod smime_common;

use common::*;
use mail_parser::MimeHeaders;
#[path = "policy_common/mod.rs"]
mod policy_common;
use policy_common::*;

const TRUSTED: &str =
    "[sign]\ntrusted_relays = [\"127.0.0.1/32\"]\nkeys_without_auth = [\"@example.org\"]\n";

/// The Subject as a reader sees it (RFC 2047 decoded).
fn subject(m: &Stored) -> String {
    mail_parser::MessageParser::default()
        .parse(&m.eml)
        .and_then(|p| p.subject().map(str::to_string))
        .unwrap_or_default()
}

fn by_subject<'a>(msgs: &'a [Stored], needle: &str) -> &'a Stored {
    msgs.iter()
        .find(|m| subject(m).contains(needle))
        .unwrap_or_else(|| panic!("no message with subject containing {needle}"))
}

/// The file names of the parts in Segl's multipart/mixed wrapper.
fn attachments(m: &Stored) -> Vec<String> {
    mail_parser::MessageParser::default()
        .parse(&m.eml)
        .map(|p| {
            p.attachments()
                .filter_map(|a| a.attachment_name().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

// Harvest in manual mode: a valid signature's certificate waits for approval; replies stay
// unencrypted until the admin approves it, then they are encrypted.
#[test]
fn harvest_manual_waits_for_approval() {
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    pki.user("bob", "email:bob@partner.test");
    let smart = Sink::start(&d.path().join("smart"), &[]);
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    let extra = format!("{TRUSTED}[harvest]\nmode = \"manual\"\n");
    let g = Gateway::start(&d.path().join("gw"), inbound.port, smart.port, &extra);
    keygen(&g, "alice@example.org");
    segl_ca(&g, &pki);
    ok(g.ctl(&["trust", "import", &pki.p("pca.pem")]));
    let m = partner_signed(
        &pki,
        "bob",
        "bob@partner.test",
        "alice@example.org",
        "offer",
        "hello from bob",
    );
    send(
        g.smtp_port,
        "bob@partner.test",
        &["alice@example.org"],
        &m,
        d.path(),
    );
    let got = inbound.wait_for(1, 30);
    assert_eq!(subject(&got[0]), "[signed] offer");
    let pending = g.ctl_json(&["partner", "pending", "--json"]);
    let id = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["addresses"][0] == "bob@partner.test")
        .unwrap_or_else(|| panic!("bob's certificate is not pending: {pending}"))["id"]
        .as_str()
        .unwrap()
        .to_string();

    let reply = |n: usize, subj: &str| {
        send(
            g.smtp_port,
            "alice@example.org",
            &["bob@partner.test"],
            &mail("alice@example.org", "bob@partner.test", subj, "reply"),
            d.path(),
        );
        let out = smart.wait_for(n, 30);
        by_subject(&out, subj).eml.clone()
    };
    let first = reply(1, "Re: offer 1");
    let text = String::from_utf8_lossy(&first);
    assert!(
        text.contains("multipart/signed") && !text.contains("enveloped-data"),
        "pending certificate must not be used: {text}"
    );
    ok(g.ctl(&["partner", "approve", &id]));
    let second = reply(2, "Re: offer 2");
    let inner = pki.decrypt("bob", &second);
    let content = pki.verify("segl-ca.pem", &inner).expect("signed inside");
    assert!(String::from_utf8_lossy(&content).contains("reply"));
}

// Revoked (CRL held) and expired signer certificates: delivered, marked, explained in
// Advarsel.txt, never harvested as usable.
#[test]
fn revoked_and_expired_signers_are_marked_and_explained() {
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    pki.user("bob", "email:bob@partner.test");
    pki.user_dated(
        "carol",
        "email:carol@partner.test",
        "20200101000000Z",
        "20200201000000Z",
    );
    let crl = pki.revoke("bob");
    let (inbound, _smart, g) = gateway_with_sinks(d.path(), TRUSTED);
    ok(g.ctl(&["trust", "import", &pki.p("pca.pem")]));
    ok(g.ctl(&["trust", "crl", "import", &crl]));
    for (who, subj) in [("bob", "from revoked"), ("carol", "from expired")] {
        let from = format!("{who}@partner.test");
        let m = partner_signed(&pki, who, &from, "alice@example.org", subj, "hello");
        send(g.smtp_port, &from, &["alice@example.org"], &m, d.path());
    }
    let got = inbound.wait_for(2, 30);

    let bob = by_subject(&got, "from revoked");
    assert_eq!(subject(bob), "[signed: INVALID] from revoked");
    let sig = header(bob, "X-Segl-Signature").unwrap();
    assert!(
        sig.starts_with("invalid;") && sig.contains("revoked"),
        "{sig}"
    );
    assert!(
        attachments(bob).contains(&"Advarsel.txt".to_string()),
        "{}",
        bob.text()
    );
    assert!(!attachments(bob).contains(&"signatur-bevis.txt".to_string()));

    let carol = by_subject(&got, "from expired");
    assert_eq!(subject(carol), "[signed: INVALID] from expired");
    let sig = header(carol, "X-Segl-Signature").unwrap();
    assert!(
        sig.starts_with("untrusted;") && sig.contains("expired"),
        "{sig}"
    );
    assert!(attachments(carol).contains(&"Advarsel.txt".to_string()));

    // Neither certificate is used for replies.
    let partners = g.ctl_json(&["partner", "list", "--json"]);
    for p in partners.as_array().unwrap() {
        assert!(
            p["pending"] == true || p["addresses"][0] != "carol@partner.test",
            "{partners}"
        );
        assert!(p["addresses"][0] != "bob@partner.test", "{partners}");
    }
}

// RFC 2047: a client that encodes the whole subject (any non-ASCII letter makes Outlook do so)
// still controls encryption with [encrypt]; a marking forged inside an encoded-word is removed;
// the subject Segl writes back is encoded again and reads the same.
#[test]
fn encoded_subjects_carry_tags_and_lose_forged_markings() {
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    pki.user("bob", "email:bob@partner.test");
    let (inbound, smart, g) = gateway_with_sinks(d.path(), TRUSTED);
    keygen(&g, "alice@example.org");
    segl_ca(&g, &pki);
    ok(g.ctl(&["partner", "import", &pki.p("bob.pem")]));

    // Outbound: [encrypt] inside an encoded-word; one recipient with, one without certificate.
    let m = mail(
        "alice@example.org",
        "bob@partner.test, eve@nocert.test",
        "=?utf-8?Q?[encrypt]_Tilbud_p=C3=A5_sag_42?=",
        "fortroligt",
    );
    send(
        g.smtp_port,
        "alice@example.org",
        &["bob@partner.test", "eve@nocert.test"],
        &m,
        d.path(),
    );
    let out = smart.wait_for(1, 30);
    assert_eq!(out.len(), 1, "eve must get nothing");
    let bob = for_rcpt(&out, "bob@partner.test");
    assert!(is_encrypted(bob));
    assert_eq!(subject(bob), "Tilbud på sag 42");
    assert!(
        String::from_utf8_lossy(&bob.eml)
            .split("\r\n\r\n")
            .next()
            .unwrap()
            .is_ascii(),
        "headers must stay 7-bit"
    );
    let notice = inbound.wait_for(1, 30);
    let n = for_rcpt(&notice, "alice@example.org");
    assert!(n.text().contains("eve@nocert.test"), "{}", n.text());

    // Inbound: a forged [signed] marking hidden in an encoded-word, unsigned mail.
    let forged = mail(
        "mallory@evil.test",
        "alice@example.org",
        "=?utf-8?B?W3NpZ25lZF0gQmV0YWxpbmcgw7hqZWJsaWtrZWxpZ3Q=?=",
        "pay now",
    );
    send(
        g.smtp_port,
        "mallory@evil.test",
        &["alice@example.org"],
        &forged,
        d.path(),
    );
    let got = inbound.wait_for(2, 30);
    let m = by_subject(&got, "Betaling");
    assert_eq!(subject(m), "Betaling øjeblikkeligt");
    assert_eq!(
        header(m, "X-Segl-Signature").as_deref(),
        Some("none"),
        "{}",
        m.text()
    );
}

// The last outbound stage: an upstream DKIM signature is removed from mail Segl changed (it
// can only fail now) and kept on mail passed on unchanged.
#[test]
fn upstream_dkim_signature_leaves_only_with_unchanged_mail() {
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    let (_inbound, smart, g) = gateway_with_sinks(d.path(), TRUSTED);
    keygen(&g, "alice@example.org");
    segl_ca(&g, &pki);
    let dkim = "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=exch; h=from:to:subject;\r\n bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n";
    for (from, subj) in [
        ("alice@example.org", "signed by segl"),
        ("nokey@example.org", "passed on"),
    ] {
        let mut m = dkim.as_bytes().to_vec();
        m.extend_from_slice(&mail(from, "partner@else.test", subj, "body"));
        send(g.smtp_port, from, &["partner@else.test"], &m, d.path());
    }
    let out = smart.wait_for(2, 30);
    let signed = by_subject(&out, "signed by segl");
    assert!(is_signed(signed));
    assert!(
        header(signed, "DKIM-Signature").is_none(),
        "{}",
        signed.text()
    );
    let passed = by_subject(&out, "passed on");
    assert!(!is_signed(passed));
    assert!(
        header(passed, "DKIM-Signature").is_some_and(|v| v.starts_with("v=1;")),
        "{}",
        passed.text()
    );
    assert!(g.log_text().contains("removed upstream DKIM signatures"));
}

// Our own user's mail to a colleague through the gateway: the control tags mean nothing
// there and do not show.
#[test]
fn tags_do_not_reach_a_colleague() {
    let d = tmp();
    let (inbound, _smart, g) = gateway_with_sinks(d.path(), TRUSTED);
    let m = mail(
        "alice@example.org",
        "carol@example.org",
        "[encrypt] [nosign] Frokost",
        "kl. 12",
    );
    send(
        g.smtp_port,
        "alice@example.org",
        &["carol@example.org"],
        &m,
        d.path(),
    );
    let got = inbound.wait_for(1, 30);
    assert_eq!(subject(&got[0]), "Frokost");
}

/// A GnuPG home for gpgsm as the partner `bob`: his key (p12), the partner CA and Segl's CA
/// trusted, CRL checks off (the test PKI publishes none).
fn gpgsm_home(pki: &Pki) -> std::path::PathBuf {
    let home = pki.dir.join("gnupg");
    std::fs::create_dir_all(&home).unwrap();
    let mut perms = std::fs::metadata(&home).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o700);
    std::fs::set_permissions(&home, perms).unwrap();
    std::fs::write(home.join("gpg-agent.conf"), "allow-loopback-pinentry\n").unwrap();
    std::fs::write(
        home.join("gpgsm.conf"),
        "disable-crl-checks\ndisable-policy-checks\n",
    )
    .unwrap();
    let mut trust = String::new();
    for ca in ["pca.pem", "segl-ca.pem"] {
        let fpr =
            String::from_utf8(pki.openssl(&["x509", "-in", ca, "-noout", "-fingerprint", "-sha1"]))
                .unwrap();
        trust.push_str(&format!(
            "{} S relax\n",
            fpr.trim().split('=').nth(1).unwrap()
        ));
    }
    std::fs::write(home.join("trustlist.txt"), trust).unwrap();
    pki.openssl(&[
        "pkcs12",
        "-export",
        "-legacy",
        "-in",
        "bob.pem",
        "-inkey",
        "bob.key",
        "-certfile",
        "pca.pem",
        "-passout",
        "pass:test",
        "-out",
        "bob.p12",
    ]);
    for f in ["pca.pem", "segl-ca.pem", "alice.pem"] {
        gpgsm(pki, &home, &["--import", f]);
    }
    gpgsm(
        pki,
        &home,
        &[
            LOOPBACK[0],
            LOOPBACK[1],
            LOOPBACK[2],
            LOOPBACK[3],
            "--import",
            "bob.p12",
        ],
    );
    home
}

const LOOPBACK: [&str; 4] = ["--pinentry-mode", "loopback", "--passphrase-fd", "0"];

fn gpgsm(pki: &Pki, home: &std::path::Path, args: &[&str]) -> Vec<u8> {
    let mut all = vec!["--homedir", home.to_str().unwrap(), "--batch", "--yes"];
    all.extend_from_slice(args);
    smime_common::run("gpgsm", &all, Some(b"test\n"), &pki.dir)
}

fn b64_lines(der: &[u8]) -> String {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    b.as_bytes()
        .chunks(76)
        .map(|c| format!("{}\r\n", String::from_utf8_lossy(c)))
        .collect()
}

// gpgsm (GnuPG) as the partner: it signs and encrypts mail to alice, Segl decrypts, verifies,
// marks and harvests; Segl's reply is decrypted and its signature verified by gpgsm.
#[test]
fn gpgsm_partner_round_trip() {
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    pki.user("bob", "email:bob@partner.test");
    let (inbound, smart, g) = gateway_with_sinks(d.path(), TRUSTED);
    keygen(&g, "alice@example.org");
    segl_ca(&g, &pki);
    pki.write(
        "alice.pem",
        ok(g.ctl(&["key", "export-cert", "alice@example.org"])).as_bytes(),
    );
    ok(g.ctl(&["trust", "import", &pki.p("pca.pem")]));
    let home = gpgsm_home(&pki);

    // bob: clear-signed entity (gpgsm detached signature), then encrypted to alice by gpgsm.
    let content = b"Content-Type: text/plain; charset=utf-8\r\n\r\nTilbud fra GnuPG\r\n";
    pki.write("g_content", content);
    let sig = gpgsm(
        &pki,
        &home,
        &[
            LOOPBACK[0],
            LOOPBACK[1],
            LOOPBACK[2],
            LOOPBACK[3],
            "-u",
            "bob@partner.test",
            "--detach-sign",
            "g_content",
        ],
    );
    let signed = format!(
        "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"gpgsm-b\"\r\n\r\n--gpgsm-b\r\n{}\r\n--gpgsm-b\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--gpgsm-b--\r\n",
        // The whole signed entity, its last CRLF included; the CRLF before the delimiter is
        // the delimiter's.
        String::from_utf8_lossy(content),
        b64_lines(&sig)
    );
    pki.write("g_signed", signed.as_bytes());
    let enc = gpgsm(
        &pki,
        &home,
        &["-r", "alice@example.org", "--encrypt", "g_signed"],
    );
    let msg = format!(
        "From: bob@partner.test\r\nTo: alice@example.org\r\nSubject: fra gpgsm\r\nMIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
        b64_lines(&enc)
    );
    send(
        g.smtp_port,
        "bob@partner.test",
        &["alice@example.org"],
        msg.as_bytes(),
        d.path(),
    );
    let got = inbound.wait_for(1, 30);
    let m = &got[0];
    assert_eq!(subject(m), "[encrypted] [signed] fra gpgsm", "{}", m.text());
    assert_eq!(header(m, "X-Segl-Encryption").as_deref(), Some("decrypted"));
    assert!(
        header(m, "X-Segl-Signature")
            .is_some_and(|s| s.starts_with("valid; signer=bob@partner.test")),
        "{}",
        m.text()
    );
    assert!(m.text().contains("Tilbud fra GnuPG"));

    // The reply is encrypted to the harvested certificate; gpgsm reads it.
    send(
        g.smtp_port,
        "alice@example.org",
        &["bob@partner.test"],
        &mail(
            "alice@example.org",
            "bob@partner.test",
            "Re: fra gpgsm",
            "Svar til GnuPG",
        ),
        d.path(),
    );
    let out = smart.wait_for(1, 30);
    assert!(is_encrypted(&out[0]));
    let body = String::from_utf8_lossy(&out[0].eml).into_owned();
    let b64: String = body
        .split_once("\r\n\r\n")
        .unwrap()
        .1
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    use base64::Engine;
    pki.write(
        "reply.p7m",
        &base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    );
    let inner = gpgsm(
        &pki,
        &home,
        &[
            LOOPBACK[0],
            LOOPBACK[1],
            LOOPBACK[2],
            LOOPBACK[3],
            "--decrypt",
            "reply.p7m",
        ],
    );
    let inner = String::from_utf8_lossy(&inner).into_owned();
    assert!(inner.contains("multipart/signed"), "{inner}");
    // Split the clear-signed entity into content and signature for gpgsm --verify.
    let ct = inner.split("boundary=\"").nth(1).unwrap();
    let boundary = ct.split('"').next().unwrap();
    let parts: Vec<&str> = inner.split(&format!("--{boundary}")).collect();
    let signed_content = parts[1]
        .strip_prefix("\r\n")
        .unwrap()
        .strip_suffix("\r\n")
        .unwrap();
    assert!(signed_content.contains("Svar til GnuPG"));
    pki.write("reply_content", signed_content.as_bytes());
    let sig_b64: String = parts[2]
        .split_once("\r\n\r\n")
        .unwrap()
        .1
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    pki.write(
        "reply.p7s",
        &base64::engine::general_purpose::STANDARD
            .decode(sig_b64)
            .unwrap(),
    );
    gpgsm(&pki, &home, &["--verify", "reply.p7s", "reply_content"]);
}

// The subject tags are the administrator's choice (e.g. Danish ones beside the English).
#[test]
fn configured_subject_tags() {
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    let smart = Sink::start(&d.path().join("smart"), &[]);
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    let extra = "[sign]\ntrusted_relays = [\"127.0.0.1/32\"]\nkeys_without_auth = [\"@example.org\"]\nnosign_tags = [\"[nosign]\", \"[usigneret]\"]\n[encrypt]\ntags = [\"[encrypt]\", \"[krypter]\"]\n";
    let g = Gateway::start(&d.path().join("gw"), inbound.port, smart.port, extra);
    keygen(&g, "alice@example.org");
    segl_ca(&g, &pki);
    for (subj, to) in [
        ("[KRYPTER] Løn", "eve@nocert.test"),
        ("[usigneret] Frokost", "p@else.test"),
    ] {
        send(
            g.smtp_port,
            "alice@example.org",
            &[to],
            &mail("alice@example.org", to, subj, "x"),
            d.path(),
        );
    }
    let out = smart.wait_for(1, 30);
    let p = for_rcpt(&out, "p@else.test");
    assert_eq!(subject(p), "Frokost");
    assert!(!is_signed(p));
    let notice = inbound.wait_for(1, 30);
    let t = for_rcpt(&notice, "alice@example.org").text();
    assert!(
        t.contains("eve@nocert.test") && t.contains("[krypter]"),
        "{t}"
    );
    g.wait_queue_empty(30);
    assert_eq!(smart.messages().len(), 1, "eve must get nothing");
}

/// The decoded text of the attachment `name`.
fn attachment_text(m: &Stored, name: &str) -> Option<String> {
    let p = mail_parser::MessageParser::default().parse(&m.eml)?;
    let a = p
        .attachments()
        .find(|a| a.attachment_name() == Some(name))?;
    Some(String::from_utf8_lossy(a.contents()).replace("\r\n", "\n"))
}

// mark.language = "da": the proof and warning parts, the notice and its subject are Danish.
#[test]
fn texts_in_danish() {
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    pki.user("bob", "email:bob@partner.test");
    pki.self_signed("mallory", "mallory@evil.test");
    let smart = Sink::start(&d.path().join("smart"), &[]);
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    let extra = format!("{TRUSTED}[mark]\nlanguage = \"da\"\n");
    let g = Gateway::start(&d.path().join("gw"), inbound.port, smart.port, &extra);
    keygen(&g, "alice@example.org");
    ok(g.ctl(&["trust", "import", &pki.p("pca.pem")]));
    for (who, from, subj) in [
        ("bob", "bob@partner.test", "gyldig"),
        ("mallory", "mallory@evil.test", "selvsigneret"),
    ] {
        let m = partner_signed(&pki, who, from, "alice@example.org", subj, "hello");
        send(g.smtp_port, from, &["alice@example.org"], &m, d.path());
    }
    send(
        g.smtp_port,
        "alice@example.org",
        &["eve@nocert.test"],
        &mail("alice@example.org", "eve@nocert.test", "[encrypt] Løn", "x"),
        d.path(),
    );
    let got = inbound.wait_for(3, 30);
    let proof = attachment_text(by_subject(&got, "gyldig"), "signatur-bevis.txt").unwrap();
    assert!(proof.starts_with("SIGNATUR-BEVIS\n"), "{proof}");
    assert!(proof.contains("Signaturen er gyldig") && proof.contains("Udførte kontroller:"));
    let warn = attachment_text(by_subject(&got, "selvsigneret"), "Advarsel.txt").unwrap();
    assert!(warn.starts_with("ADVARSEL\n"), "{warn}");
    assert!(
        warn.contains("underskriverens certifikat er ikke betroet"),
        "{warn}"
    );
    let notice = got
        .iter()
        .find(|m| m.rcpts() == ["alice@example.org"] && subject(m).starts_with("Ikke leveret"))
        .unwrap_or_else(|| panic!("no Danish notice"));
    assert_eq!(subject(notice), "Ikke leveret: kryptering påkrævet");
    assert!(
        header(notice, "Subject").unwrap().starts_with("=?"),
        "encoded"
    );
    let body = String::from_utf8_lossy(
        mail_parser::MessageParser::default()
            .parse(&notice.eml)
            .unwrap()
            .body_text(0)
            .unwrap()
            .as_bytes(),
    )
    .into_owned();
    assert!(body.contains("Din meddelelse blev IKKE sendt"), "{body}");
    assert!(
        body.contains("afsenderen bad om kryptering ([encrypt])"),
        "{body}"
    );
    assert!(
        header(notice, "From")
            .unwrap()
            .contains("Mailsystemet <postmaster@"),
        "{}",
        notice.text()
    );
}
