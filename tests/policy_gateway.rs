//! The policy stage end to end: real `segl serve`, mail sent over SMTP (Python smtplib), partner
//! mail made and Segl's output read by `openssl cms`, aiosmtpd sinks as next hops. Keys and
//! certificates are made at test time.

mod common;
#[path = "smime_common/mod.rs"]
mod smime_common;

use common::*;
#[path = "policy_common/mod.rs"]
mod policy_common;
use policy_common::*;

// 1 + 2: direction (outbound vs inbound) and DEFENDO sender trust: AUTH user owning the From
// address, or a trusted relay with the key listed; otherwise unsigned, with the reason logged.
#[test]
fn direction_and_sender_trust_decide_signing() {
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    let smart = Sink::start(&d.path().join("smart"), &[]);
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    // Gateway A: no trusted relays for signing; only SMTP AUTH makes a sender trusted.
    let g = Gateway::start(&d.path().join("gwa"), inbound.port, smart.port, "");
    keygen(&g, "alice@example.org");
    keygen(&g, "carl@example.org");
    segl_ca(&g, &pki);
    g.add_user("alice", "alice@example.org", "correct horse battery");
    let m = mail(
        "Alice <alice@example.org>",
        "p1@partner.test",
        "auth own",
        "hello",
    );
    send_auth(
        g.submission_port,
        "alice",
        "correct horse battery",
        "alice@example.org",
        &["p1@partner.test", "dora@example.org"],
        &m,
        d.path(),
    );
    let m = mail("carl@example.org", "p2@partner.test", "auth other", "hello");
    send_auth(
        g.submission_port,
        "alice",
        "correct horse battery",
        "carl@example.org",
        &["p2@partner.test"],
        &m,
        d.path(),
    );
    let m = mail("alice@example.org", "p3@partner.test", "relay", "hello");
    send(
        g.smtp_port,
        "alice@example.org",
        &["p3@partner.test"],
        &m,
        d.path(),
    );
    let out = smart.wait_for(3, 30);
    let p1 = for_rcpt(&out, "p1@partner.test");
    assert_eq!(
        p1.rcpts(),
        vec!["p1@partner.test"],
        "local recipient split off"
    );
    assert!(is_signed(p1), "{}", p1.text());
    let content = pki
        .verify("segl-ca.pem", &p1.eml)
        .expect("signature verifies");
    assert!(String::from_utf8_lossy(&content).contains("hello"));
    assert!(!is_signed(for_rcpt(&out, "p2@partner.test")));
    assert!(!is_signed(for_rcpt(&out, "p3@partner.test")));
    // The local recipient got the inbound treatment: marked, not signed.
    let local = inbound.wait_for(1, 30);
    let dora = for_rcpt(&local, "dora@example.org");
    assert!(!is_signed(dora));
    assert_eq!(header(dora, "X-Segl-Signature").as_deref(), Some("none"));
    let log = g.log_text();
    assert!(log.contains("does not own the From address"), "{log}");
    assert!(log.contains("not in sign.trusted_relays"), "{log}");
    drop(g);

    // Gateway B: 127.0.0.1 is a trusted relay for signing; only alice's key may be used.
    let smart2 = Sink::start(&d.path().join("smart2"), &[]);
    let g = Gateway::start(
        &d.path().join("gwb"),
        inbound.port,
        smart2.port,
        "[sign]\ntrusted_relays = [\"127.0.0.1/32\"]\nkeys_without_auth = [\"alice@example.org\"]\n",
    );
    keygen(&g, "alice@example.org");
    keygen(&g, "carl@example.org");
    segl_ca(&g, &pki);
    for (from, to, subject) in [
        ("alice@example.org", "q1@partner.test", "listed key"),
        ("carl@example.org", "q2@partner.test", "unlisted key"),
        (
            "alice@example.org",
            "q3@partner.test",
            "[NoSign] no signature please",
        ),
    ] {
        send(
            g.smtp_port,
            from,
            &[to],
            &mail(from, to, subject, "text"),
            d.path(),
        );
    }
    let out = smart2.wait_for(3, 30);
    let q1 = for_rcpt(&out, "q1@partner.test");
    assert!(is_signed(q1));
    pki.verify("segl-ca.pem", &q1.eml).expect("valid signature");
    assert!(!is_signed(for_rcpt(&out, "q2@partner.test")));
    let q3 = for_rcpt(&out, "q3@partner.test");
    assert!(!is_signed(q3));
    assert_eq!(
        header(q3, "Subject").as_deref(),
        Some("no signature please")
    );
    assert!(g.log_text().contains("not in sign.keys_without_auth"));
}

const TRUSTED: &str =
    "[sign]\ntrusted_relays = [\"127.0.0.1/32\"]\nkeys_without_auth = [\"@example.org\"]\n";

// 3: opportunistic encryption with a split; domain certificates; calendar not encrypted.
#[test]
fn opportunistic_encryption_splits_recipients() {
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    pki.user("bob", "email:bob@partner.test");
    pki.user("dom", "DNS:domain.test");
    let (_inbound, smart, g) = gateway_with_sinks(d.path(), TRUSTED);
    keygen(&g, "alice@example.org");
    segl_ca(&g, &pki);
    ok(g.ctl(&["partner", "import", &pki.p("bob.pem")]));
    ok(g.ctl(&[
        "partner",
        "import",
        &pki.p("dom.pem"),
        "--domain",
        "domain.test",
    ]));
    let rcpts = ["bob@partner.test", "x@domain.test", "nocert@other.test"];
    send(
        g.smtp_port,
        "alice@example.org",
        &rcpts,
        &mail(
            "alice@example.org",
            "bob@partner.test, x@domain.test, nocert@other.test",
            "Quarterly numbers",
            "the secret numbers",
        ),
        d.path(),
    );
    let out = smart.wait_for(2, 30);
    assert_eq!(out.len(), 2);
    let enc = for_rcpt(&out, "bob@partner.test");
    let mut r = enc.rcpts();
    r.sort();
    assert_eq!(r, vec!["bob@partner.test", "x@domain.test"]);
    assert!(is_encrypted(enc), "{}", enc.text());
    assert!(!enc.text().contains("secret numbers"));
    assert_eq!(header(enc, "Subject").as_deref(), Some("Quarterly numbers"));
    for key in ["bob", "dom"] {
        let inner = pki.decrypt(key, &enc.eml);
        let content = pki.verify("segl-ca.pem", &inner).expect("signed inside");
        assert!(String::from_utf8_lossy(&content).contains("the secret numbers"));
    }
    let plain = for_rcpt(&out, "nocert@other.test");
    assert_eq!(plain.rcpts(), vec!["nocert@other.test"]);
    assert!(is_signed(plain) && !is_encrypted(plain));
    pki.verify("segl-ca.pem", &plain.eml).expect("signed only");

    // A calendar invitation is only signed, even for a recipient with a certificate.
    let ics = "From: alice@example.org\r\nTo: bob@partner.test\r\nSubject: Meeting\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nMeeting\r\n--b1\r\nContent-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n--b1--\r\n";
    send(
        g.smtp_port,
        "alice@example.org",
        &["bob@partner.test"],
        ics.as_bytes(),
        d.path(),
    );
    let out = smart.wait_for(3, 30);
    let cal = out
        .iter()
        .find(|m| m.text().contains("Subject: Meeting"))
        .expect("calendar mail");
    assert!(is_signed(cal) && !is_encrypted(cal), "{}", cal.text());
    assert!(cal.text().contains("BEGIN:VCALENDAR"));
}

// 4: mandatory encryption by subject tag and by encrypt.always: no copy for recipients without
// a certificate, one notice to the sender.
#[test]
fn mandatory_encryption_refuses_and_notifies_the_sender() {
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    pki.user("bob", "email:bob@partner.test");
    let smart = Sink::start(&d.path().join("smart"), &[]);
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    let extra = format!("{TRUSTED}[encrypt]\nalways = [\"@secure.test\"]\n");
    let g = Gateway::start(&d.path().join("gw"), inbound.port, smart.port, &extra);
    keygen(&g, "alice@example.org");
    segl_ca(&g, &pki);
    ok(g.ctl(&["partner", "import", &pki.p("bob.pem")]));
    send(
        g.smtp_port,
        "alice@example.org",
        &["bob@partner.test", "nocert@other.test", "n2@other.test"],
        &mail(
            "alice@example.org",
            "bob@partner.test",
            "[encrypt] contract",
            "confidential terms",
        ),
        d.path(),
    );
    let out = smart.wait_for(1, 30);
    let notices = inbound.wait_for(1, 30);
    g.wait_queue_empty(30);
    let out2 = smart.messages();
    assert_eq!(
        out2.len(),
        1,
        "nothing for the recipients without certificate"
    );
    assert_eq!(out[0].rcpts(), vec!["bob@partner.test"]);
    assert!(is_encrypted(&out[0]));
    assert_eq!(header(&out[0], "Subject").as_deref(), Some("contract"));
    let inner = pki.decrypt("bob", &out[0].eml);
    pki.verify("segl-ca.pem", &inner).expect("signed inside");
    assert!(out2
        .iter()
        .all(|m| !m.text().contains("confidential terms")));
    assert_eq!(notices.len(), 1, "one notice for both recipients");
    let n = &notices[0];
    assert_eq!(n.rcpts(), vec!["alice@example.org"]);
    assert!(matches!(n.mail_from().as_str(), "" | "<>"), "null sender");
    let t = n.text();
    assert!(
        t.contains("From: Mail Delivery System <postmaster@segl.test>"),
        "{t}"
    );
    assert!(
        t.contains("nocert@other.test") && t.contains("n2@other.test"),
        "{t}"
    );
    assert!(t.contains("[encrypt]"), "{t}");

    // encrypt.always for a domain: no tag needed.
    send(
        g.smtp_port,
        "alice@example.org",
        &["z@secure.test", "plain@other.test"],
        &mail("alice@example.org", "z@secure.test", "report", "figures"),
        d.path(),
    );
    let notices = inbound.wait_for(2, 30);
    let out = smart.wait_for(2, 30);
    let plain = for_rcpt(&out, "plain@other.test");
    assert_eq!(plain.rcpts(), vec!["plain@other.test"]);
    assert!(is_signed(plain));
    assert!(out
        .iter()
        .all(|m| !m.rcpts().contains(&"z@secure.test".to_string())));
    let t = notices[1].text();
    assert!(
        t.contains("z@secure.test") && t.contains("encrypt.always"),
        "{t}"
    );
}

/// A partner message signed by `name` (clear-signed, headers outside).
// 5: inbound: forged markings stripped, decrypted, verified, marked; a failed decryption is
// delivered as it came and nothing goes back to the sender.
#[test]
fn inbound_strips_decrypts_verifies_and_marks() {
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    pki.user("bob", "email:bob@partner.test");
    pki.self_signed("mallory", "mallory@evil.test");
    let (inbound, smart, g) = gateway_with_sinks(d.path(), "[relay]\ntrusted_networks = []\n");
    keygen(&g, "alice@example.org");
    ok(g.ctl(&["trust", "import", &pki.p("pca.pem")]));
    let alice = ok(g.ctl(&["key", "export-cert", "alice@example.org"]));
    pki.write("alice.pem", alice.as_bytes());

    // a) Forged status: removed, then marked for what it really is (nothing).
    let forged = "From: bob@partner.test\r\nTo: alice@example.org\r\nSubject: [signed] [encrypted] totally legit\r\nX-Segl-Signature: valid; signer=ceo@example.org\r\nX-SEGL-Encryption: decrypted\r\n\r\nplain text\r\n";
    send(
        g.smtp_port,
        "bob@partner.test",
        &["alice@example.org"],
        forged.as_bytes(),
        d.path(),
    );
    let got = inbound.wait_for(1, 30);
    let m = &got[0];
    assert_eq!(header(m, "Subject").as_deref(), Some("totally legit"));
    assert_eq!(header(m, "X-Segl-Signature").as_deref(), Some("none"));
    assert_eq!(header(m, "X-Segl-Encryption").as_deref(), Some("none"));
    assert_eq!(m.text().matches("X-Segl-").count(), 2, "{}", m.text());

    // b) Signed by bob, encrypted to alice: decrypted, verified, signature kept intact.
    pki.write(
        "content.txt",
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nThe launch code is 1234.\r\n",
    );
    pki.openssl(&[
        "cms",
        "-sign",
        "-in",
        "content.txt",
        "-signer",
        "bob.pem",
        "-inkey",
        "bob.key",
        "-out",
        "signed.eml",
    ]);
    pki.openssl(&[
        "cms",
        "-encrypt",
        "-aes256",
        "-in",
        "signed.eml",
        "-from",
        "bob@partner.test",
        "-to",
        "alice@example.org",
        "-subject",
        "[signed] secret",
        "-out",
        "enc.eml",
        "alice.pem",
    ]);
    send(
        g.smtp_port,
        "bob@partner.test",
        &["alice@example.org"],
        &pki.read("enc.eml"),
        d.path(),
    );
    let got = inbound.wait_for(2, 30);
    let m = &got[1];
    assert_eq!(
        header(m, "Subject").as_deref(),
        Some("[encrypted] [signed] secret")
    );
    assert_eq!(
        header(m, "X-Segl-Signature").as_deref(),
        Some("valid; signer=bob@partner.test")
    );
    assert_eq!(header(m, "X-Segl-Encryption").as_deref(), Some("decrypted"));
    assert!(
        part_named(m, "signatur-bevis.txt").is_some(),
        "{}",
        m.text()
    );
    let content = pki
        .verify("pca.pem", &first_part(m))
        .expect("signature still verifies");
    assert!(String::from_utf8_lossy(&content).contains("launch code is 1234"));

    // c) Encrypted to someone else: delivered as it came, marked, nothing to the sender.
    pki.openssl(&[
        "cms",
        "-encrypt",
        "-aes256",
        "-in",
        "content.txt",
        "-from",
        "bob@partner.test",
        "-to",
        "alice@example.org",
        "-subject",
        "not for us",
        "-out",
        "enc2.eml",
        "bob.pem",
    ]);
    let enc2 = pki.read("enc2.eml");
    send(
        g.smtp_port,
        "bob@partner.test",
        &["alice@example.org"],
        &enc2,
        d.path(),
    );
    let got = inbound.wait_for(3, 30);
    let m = &got[2];
    assert_eq!(header(m, "X-Segl-Encryption").as_deref(), Some("failed"));
    assert_eq!(
        header(m, "Subject").as_deref(),
        Some("[encrypted: NOT DECRYPTED] not for us")
    );
    let body = String::from_utf8_lossy(&enc2).replace("\r\n", "\n");
    let body = body.split("\n\n").nth(1).unwrap().trim().to_string();
    assert!(
        m.text().replace("\r\n", "\n").contains(&body),
        "encrypted body unchanged"
    );

    // d) Self-signed (untrusted) and tampered (invalid) signatures.
    let mal = partner_signed(
        &pki,
        "mallory",
        "mallory@evil.test",
        "alice@example.org",
        "hi",
        "trust me",
    );
    send(
        g.smtp_port,
        "mallory@evil.test",
        &["alice@example.org"],
        &mal,
        d.path(),
    );
    let signed = partner_signed(
        &pki,
        "bob",
        "bob@partner.test",
        "alice@example.org",
        "pay",
        "pay 10 EUR",
    );
    let tampered = String::from_utf8_lossy(&signed).replace("pay 10 EUR", "pay 99 EUR");
    send(
        g.smtp_port,
        "bob@partner.test",
        &["alice@example.org"],
        tampered.as_bytes(),
        d.path(),
    );
    let got = inbound.wait_for(5, 30);
    let m = for_subject(&got, "hi");
    assert!(header(m, "X-Segl-Signature")
        .unwrap()
        .starts_with("untrusted; signer=mallory@evil.test"));
    let warn = part_named(m, "Advarsel.txt").expect("warning part");
    assert!(
        warn.contains("not trusted") && warn.contains("mallory"),
        "{warn}"
    );
    assert_eq!(
        header(m, "Subject").as_deref(),
        Some("[signed: INVALID] hi")
    );
    let m = for_subject(&got, "pay");
    assert!(header(m, "X-Segl-Signature")
        .unwrap()
        .starts_with("invalid; signer=bob@partner.test"));
    assert_eq!(
        header(m, "Subject").as_deref(),
        Some("[signed: INVALID] pay")
    );
    assert!(m.text().contains("pay 99 EUR"));
    g.wait_queue_empty(30);
    assert!(smart.messages().is_empty(), "nothing goes back to a sender");
}

fn for_subject<'a>(msgs: &'a [Stored], s: &str) -> &'a Stored {
    msgs.iter()
        .find(|m| header(m, "Subject").is_some_and(|x| x == s || x.ends_with(&format!("] {s}"))))
        .unwrap_or_else(|| panic!("no message with subject {s}"))
}

// 6: harvest: a valid signature stores the sender's certificate; the next mail to that sender
// is encrypted. A certificate without a trusted chain waits for approval.
#[test]
fn harvested_certificate_encrypts_the_reply() {
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    pki.user("bob", "email:bob@partner.test");
    pki.self_signed("mallory", "mallory@evil.test");
    let (inbound, smart, g) = gateway_with_sinks(d.path(), TRUSTED);
    keygen(&g, "alice@example.org");
    segl_ca(&g, &pki);
    ok(g.ctl(&["trust", "import", &pki.p("pca.pem")]));
    for (who, from) in [
        ("bob", "bob@partner.test"),
        ("mallory", "mallory@evil.test"),
    ] {
        let m = partner_signed(
            &pki,
            who,
            from,
            "alice@example.org",
            "hello",
            "signed hello",
        );
        send(g.smtp_port, from, &["alice@example.org"], &m, d.path());
    }
    inbound.wait_for(2, 30);
    let partners = g.ctl_json(&["partner", "list", "--json"]);
    let list = partners.as_array().unwrap();
    assert!(
        list.iter().any(|p| p["addresses"][0] == "bob@partner.test"
            && p["pending"] == false
            && p["source"] == "harvested"),
        "{partners}"
    );
    let pending = g.ctl_json(&["partner", "pending", "--json"]);
    assert!(
        pending
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["addresses"][0] == "mallory@evil.test"),
        "{pending}"
    );
    // The reply to bob goes out encrypted; the one to mallory (pending) only signed.
    for to in ["bob@partner.test", "mallory@evil.test"] {
        send(
            g.smtp_port,
            "alice@example.org",
            &[to],
            &mail("alice@example.org", to, "Re: [signed] hello", "reply text"),
            d.path(),
        );
    }
    let out = smart.wait_for(2, 30);
    let bob = for_rcpt(&out, "bob@partner.test");
    assert!(is_encrypted(bob), "{}", bob.text());
    assert_eq!(header(bob, "Subject").as_deref(), Some("Re: hello"));
    let inner = pki.decrypt("bob", &bob.eml);
    let content = pki.verify("segl-ca.pem", &inner).expect("signed inside");
    assert!(String::from_utf8_lossy(&content).contains("reply text"));
    let mal = for_rcpt(&out, "mallory@evil.test");
    assert!(is_signed(mal) && !is_encrypted(mal));
}

/// The boundary of a top-level `multipart/mixed` wrapper Segl added.
fn wrapper_boundary(m: &Stored) -> String {
    let text = m.text();
    let head = text.split("\r\n\r\n").next().unwrap_or("").to_string();
    let ct = head
        .split("\r\nContent-Type: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no Content-Type: {head}"));
    assert!(ct.starts_with("multipart/mixed"), "{head}");
    ct.split("boundary=\"")
        .nth(1)
        .and_then(|b| b.split('"').next())
        .unwrap()
        .to_string()
}

/// The parts of Segl's wrapper (each entity as written, without the CRLF before the delimiter).
fn wrapper_parts(m: &Stored) -> Vec<Vec<u8>> {
    let b = wrapper_boundary(m);
    let text = m.text();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    let body = body.split(&format!("\r\n--{b}--")).next().unwrap();
    body.split(&format!("--{b}\r\n"))
        .skip(1)
        .map(|p| p.strip_suffix("\r\n").unwrap_or(p).as_bytes().to_vec())
        .collect()
}

/// The original entity inside Segl's wrapper.
fn first_part(m: &Stored) -> Vec<u8> {
    wrapper_parts(m).remove(0)
}

/// The text of the attachment `name` in Segl's wrapper (7bit parts only).
fn part_named(m: &Stored, name: &str) -> Option<String> {
    if !header(m, "Content-Type").is_some_and(|c| c.starts_with("multipart/mixed")) {
        return None;
    }
    wrapper_parts(m).into_iter().skip(1).find_map(|p| {
        let p = String::from_utf8_lossy(&p).into_owned();
        let (head, body) = p.split_once("\r\n\r\n")?;
        head.contains(&format!("filename=\"{name}\""))
            .then(|| body.to_string())
    })
}

// 5b: Comendo proof and warning parts, wrapped around the untouched original; domain
// signatures marked with their own prefix.
#[test]
fn inbound_proof_and_warning_parts_and_domain_prefix() {
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    pki.user("bob", "email:bob@partner.test");
    pki.user("dom", "DNS:firma.test");
    let (inbound, smart, g) = gateway_with_sinks(d.path(), "[relay]\ntrusted_networks = []\n");
    keygen(&g, "alice@example.org");
    ok(g.ctl(&["trust", "import", &pki.p("pca.pem")]));

    // a) Valid: proof part, the original entity byte for byte, still verifying.
    let signed = partner_signed(
        &pki,
        "bob",
        "bob@partner.test",
        "alice@example.org",
        "proof",
        "the contract",
    );
    send(
        g.smtp_port,
        "bob@partner.test",
        &["alice@example.org"],
        &signed,
        d.path(),
    );
    let got = inbound.wait_for(1, 30);
    let m = &got[0];
    assert_eq!(header(m, "Subject").as_deref(), Some("[signed] proof"));
    assert_eq!(header(m, "From").as_deref(), Some("bob@partner.test"));
    let proof = part_named(m, "signatur-bevis.txt").expect("proof part");
    for want in [
        "bob@partner.test",
        "CN=bob",
        "CN=Partner CA",
        "Signing time:",
        "Verification time:",
        "Serial:",
        "OK",
    ] {
        assert!(proof.contains(want), "{want} missing in {proof}");
    }
    assert!(part_named(m, "Advarsel.txt").is_none());
    let entity = first_part(m);
    let orig = String::from_utf8_lossy(&signed).into_owned();
    let orig_body = orig.split_once("\n\n").map(|x| x.1).unwrap_or("");
    let got_entity = String::from_utf8_lossy(&entity).replace("\r\n", "\n");
    assert!(
        got_entity.contains(orig_body.replace("\r\n", "\n").trim()),
        "signed body untouched: {got_entity:?} vs {orig_body:?}"
    );
    let content = pki
        .verify("pca.pem", &entity)
        .expect("extracted entity still verifies");
    assert!(String::from_utf8_lossy(&content).contains("the contract"));

    // b) Tampered: warning part, delivered anyway.
    let tampered = String::from_utf8_lossy(&signed)
        .replace("the contract", "the kontrakt")
        .replace("Subject: proof", "Subject: changed");
    send(
        g.smtp_port,
        "bob@partner.test",
        &["alice@example.org"],
        tampered.as_bytes(),
        d.path(),
    );
    // c) Encrypted to a key we do not hold: warning part.
    pki.write("content.txt", b"Content-Type: text/plain\r\n\r\nsecret\r\n");
    pki.openssl(&[
        "cms",
        "-encrypt",
        "-aes256",
        "-in",
        "content.txt",
        "-from",
        "bob@partner.test",
        "-to",
        "alice@example.org",
        "-subject",
        "locked",
        "-out",
        "enc.eml",
        "bob.pem",
    ]);
    send(
        g.smtp_port,
        "bob@partner.test",
        &["alice@example.org"],
        &pki.read("enc.eml"),
        d.path(),
    );
    // d) Signed with a domain certificate.
    let dom = partner_signed(
        &pki,
        "dom",
        "sales@firma.test",
        "alice@example.org",
        "offer",
        "domain signed",
    );
    send(
        g.smtp_port,
        "sales@firma.test",
        &["alice@example.org"],
        &dom,
        d.path(),
    );
    let got = inbound.wait_for(4, 30);
    let m = for_subject(&got, "changed");
    assert!(header(m, "X-Segl-Signature")
        .unwrap()
        .starts_with("invalid"));
    let warn = part_named(m, "Advarsel.txt").expect("warning part");
    assert!(warn.contains("may have been changed"), "{warn}");
    assert!(part_named(m, "signatur-bevis.txt").is_none());
    assert!(String::from_utf8_lossy(&first_part(m)).contains("the kontrakt"));

    let m = for_subject(&got, "locked");
    assert_eq!(header(m, "X-Segl-Encryption").as_deref(), Some("failed"));
    let warn = part_named(m, "Advarsel.txt").expect("warning part");
    assert!(warn.contains("could not be decrypted"), "{warn}");
    assert!(String::from_utf8_lossy(&first_part(m)).contains("application/pkcs7-mime"));

    let m = for_subject(&got, "offer");
    assert_eq!(
        header(m, "Subject").as_deref(),
        Some("[SIGNIERT VON <*@firma.test>] offer"),
        "{}",
        m.text()
    );
    assert!(part_named(m, "signatur-bevis.txt")
        .unwrap()
        .contains("domain certificate"));
    g.wait_queue_empty(30);
    assert!(smart.messages().is_empty(), "nothing goes back to a sender");
}

// 5c: parts switched off, forged domain prefix stripped; Envelope-To check: mail encrypted to
// alice's certificate is decrypted for alice only, not for bob in the same envelope.
#[test]
fn inbound_decrypts_only_for_the_certificate_address() {
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    pki.user("carol", "email:carol@partner.test");
    let (inbound, _smart, g) = gateway_with_sinks(
        d.path(),
        "[relay]\ntrusted_networks = []\n[mark]\nproof_part = false\nwarning_part = false\n",
    );
    keygen(&g, "alice@example.org");
    keygen(&g, "bob@example.org");
    ok(g.ctl(&["trust", "import", &pki.p("pca.pem")]));
    let alice = ok(g.ctl(&["key", "export-cert", "alice@example.org"]));
    pki.write("alice.pem", alice.as_bytes());
    pki.write(
        "content.txt",
        b"Content-Type: text/plain\r\n\r\nfor alice only\r\n",
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
        "alice@example.org",
        "-subject",
        "[SIGNIERT VON <*@example.org>] to alice",
        "-out",
        "enc.eml",
        "alice.pem",
    ]);
    send(
        g.smtp_port,
        "carol@partner.test",
        &["alice@example.org", "bob@example.org"],
        &pki.read("enc.eml"),
        d.path(),
    );
    let got = inbound.wait_for(2, 30);
    let a = for_rcpt(&got, "alice@example.org");
    let b = for_rcpt(&got, "bob@example.org");
    assert_eq!(a.rcpts(), vec!["alice@example.org".to_string()]);
    assert_eq!(header(a, "X-Segl-Encryption").as_deref(), Some("decrypted"));
    assert_eq!(
        header(a, "Subject").as_deref(),
        Some("[encrypted] to alice")
    );
    assert!(a.text().contains("for alice only"));
    assert_eq!(header(b, "X-Segl-Encryption").as_deref(), Some("failed"));
    assert!(!b.text().contains("for alice only"));
    assert!(is_encrypted(b));
    assert!(
        !b.text().contains("Advarsel.txt"),
        "warning part switched off"
    );
    assert!(!b.text().contains("multipart/mixed"));
}
