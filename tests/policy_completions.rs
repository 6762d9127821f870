//! The policy completions of issue 14, end to end over SMTP: per-operation switches, domain-key
//! signing only to listed recipients, `[mailboxes.<id>] always_to`, and keys issued
//! automatically on a sender's first mail. Real `segl serve`, Python smtplib as the client,
//! aiosmtpd sinks, `openssl cms` as the partner.

mod common;
#[path = "smime_common/mod.rs"]
mod smime_common;

use common::*;
#[path = "policy_common/mod.rs"]
mod policy_common;
use policy_common::*;

/// The `[sign]` section's trust rules; `setup` adds the test's own `[sign]` keys below.
const TRUSTED: &str = r#"
[sign]
trusted_relays = ["127.0.0.1/32"]
keys_without_auth = ["@example.org"]
"#;

/// A gateway with alice's own key, partner bob's certificate and the partner CA as a trust
/// anchor; `segl-ca.pem` and alice's certificate (`alice-segl.pem`) in the PKI directory.
/// `sign` are further `[sign]` keys, `extra` further sections.
fn setup(d: &std::path::Path, sign: &str, extra: &str) -> (Gateway, Pki, Sink, Sink) {
    let pki = Pki::new(&d.join("pki"));
    pki.user("bob", "email:bob@partner.test");
    let smart = Sink::start(&d.join("smart"), &[]);
    let inbound = Sink::start(&d.join("inbound"), &[]);
    let g = Gateway::start(
        &d.join("gw"),
        inbound.port,
        smart.port,
        &format!("{TRUSTED}{sign}\n{extra}"),
    );
    keygen(&g, "alice@example.org");
    segl_ca(&g, &pki);
    ok(g.ctl(&["partner", "import", &pki.p("bob.pem")]));
    ok(g.ctl(&["trust", "import", &pki.p("pca.pem")]));
    let alice = ok(g.ctl(&["key", "export-cert", "alice@example.org"]));
    pki.write("alice-segl.pem", alice.as_bytes());
    (g, pki, smart, inbound)
}

/// Bob's mail to alice, signed by bob and then encrypted to alice's certificate (openssl).
fn signed_encrypted_to_alice(pki: &Pki, subject: &str) -> Vec<u8> {
    let signed = partner_signed(
        pki,
        "bob",
        "bob@partner.test",
        "alice@example.org",
        subject,
        "inbound secret",
    );
    pki.write("signed-in.eml", &signed);
    pki.openssl(&[
        "cms",
        "-encrypt",
        "-aes256",
        "-in",
        "signed-in.eml",
        "-from",
        "bob@partner.test",
        "-to",
        "alice@example.org",
        "-subject",
        subject,
        "-out",
        "enc-in.eml",
        "alice-segl.pem",
    ]);
    pki.read("enc-in.eml")
}

fn by_subject<'a>(msgs: &'a [Stored], subject: &str) -> &'a Stored {
    msgs.iter()
        .find(|m| {
            header(m, "Subject")
                .is_some_and(|s| s == subject || s.ends_with(&format!(" {subject}")))
        })
        .unwrap_or_else(|| panic!("no message with subject {subject:?}"))
}

// [sign] and [decrypt] off, [encrypt] and [verify] on: outbound encrypted but not signed,
// inbound encrypted mail delivered as it came (no X-Segl-Encryption), signatures still verified.
#[test]
fn sign_and_decrypt_switched_off() {
    let d = tmp();
    let (g, pki, smart, inbound) =
        setup(d.path(), "enabled = false", "[decrypt]\nenabled = false\n");
    send(
        g.smtp_port,
        "alice@example.org",
        &["bob@partner.test"],
        &mail(
            "alice@example.org",
            "bob@partner.test",
            "Out A",
            "outbound text",
        ),
        d.path(),
    );
    let enc = signed_encrypted_to_alice(&pki, "In A encrypted");
    send(
        g.smtp_port,
        "bob@partner.test",
        &["alice@example.org"],
        &enc,
        d.path(),
    );
    let signed = partner_signed(
        &pki,
        "bob",
        "bob@partner.test",
        "alice@example.org",
        "In A signed",
        "signed only",
    );
    send(
        g.smtp_port,
        "bob@partner.test",
        &["alice@example.org"],
        &signed,
        d.path(),
    );

    // Encrypt on: encrypted to bob; sign off: nothing signed inside.
    let out = smart.wait_for(1, 30);
    let bob = for_rcpt(&out, "bob@partner.test");
    assert!(is_encrypted(bob), "{}", bob.text());
    let inner = String::from_utf8_lossy(&pki.decrypt("bob", &bob.eml)).into_owned();
    assert!(!inner.contains("multipart/signed") && !inner.contains("signed-data"));
    assert!(inner.contains("outbound text"));

    let got = inbound.wait_for(2, 30);
    // Decrypt off: as it came, still encrypted, no encryption verdict.
    let m = by_subject(&got, "In A encrypted");
    assert!(is_encrypted(m), "{}", m.text());
    assert_eq!(header(m, "X-Segl-Encryption"), None);
    assert!(!m.text().contains("inbound secret"));
    // Verify on: the clear-signed mail is verified and marked.
    let m = by_subject(&got, "[signed] In A signed");
    assert!(header(m, "X-Segl-Signature").is_some_and(|v| v.starts_with("valid")));
    let log = g.log_text();
    assert!(log.contains("signing is switched off"), "{log}");
    assert!(log.contains("decryption is switched off"), "{log}");
}

// [encrypt] and [verify] off, [sign] and [decrypt] on: outbound signed but not encrypted (a
// mandatory-encryption recipient gets nothing, the sender a notice); inbound decrypted, its
// signature not checked (no X-Segl-Signature, no prefix), forged X-Segl fields still removed.
#[test]
fn encrypt_and_verify_switched_off() {
    let d = tmp();
    let (g, pki, smart, inbound) = setup(
        d.path(),
        "",
        "[encrypt]\nenabled = false\n[verify]\nenabled = false\n",
    );
    send(
        g.smtp_port,
        "alice@example.org",
        &["bob@partner.test"],
        &mail(
            "alice@example.org",
            "bob@partner.test",
            "Out B",
            "outbound text",
        ),
        d.path(),
    );
    send(
        g.smtp_port,
        "alice@example.org",
        &["bob@partner.test"],
        &mail(
            "alice@example.org",
            "bob@partner.test",
            "[encrypt] Out B2",
            "must not leak",
        ),
        d.path(),
    );
    let enc = signed_encrypted_to_alice(&pki, "In B encrypted");
    send(
        g.smtp_port,
        "bob@partner.test",
        &["alice@example.org"],
        &enc,
        d.path(),
    );
    let forged = format!(
        "X-Segl-Signature: valid; signer=ceo@example.org\r\n{}",
        String::from_utf8_lossy(&mail(
            "bob@partner.test",
            "alice@example.org",
            "In B forged",
            "x"
        ))
    );
    send(
        g.smtp_port,
        "bob@partner.test",
        &["alice@example.org"],
        forged.as_bytes(),
        d.path(),
    );

    let got = inbound.wait_for(3, 30);
    g.wait_queue_empty(30);
    let out = smart.messages();
    assert_eq!(out.len(), 1, "only Out B leaves; Out B2 needs encryption");
    let bob = for_rcpt(&out, "bob@partner.test");
    assert!(is_signed(bob) && !is_encrypted(bob), "{}", bob.text());
    let (_, signer) = pki.verify_signer(&bob.eml);
    assert_eq!(signer, "alice@example.org");
    let notice = for_rcpt(&got, "alice@example.org");
    assert!(notice.text().contains("bob@partner.test"));

    let m = by_subject(&got, "In B encrypted");
    assert_eq!(header(m, "X-Segl-Encryption").as_deref(), Some("decrypted"));
    assert_eq!(header(m, "X-Segl-Signature"), None);
    assert!(m.text().contains("inbound secret"));
    let m = by_subject(&got, "In B forged");
    assert_eq!(header(m, "X-Segl-Signature"), None, "{}", m.text());
    let log = g.log_text();
    assert!(log.contains("encryption is switched off"), "{log}");
    assert!(log.contains("verification is switched off"), "{log}");
}

// The domain key signs outbound mail of a sender without an own key only to recipients in
// sign.domain_key_to; the others get an unsigned copy (encrypted where a certificate is known).
#[test]
fn domain_key_signs_only_listed_recipients() {
    let d = tmp();
    let (g, pki, smart, _inbound) = setup(d.path(), "domain_key_to = [\"@partner.test\"]", "");
    pki.user("dom", "DNS:example.org");
    pki.user("carol", "email:carol@other.test");
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
    ok(g.ctl(&["partner", "import", &pki.p("carol.pem")]));
    let rcpts = [
        "bob@partner.test",
        "p1@partner.test",
        "carol@other.test",
        "x@other.test",
    ];
    send(
        g.smtp_port,
        "dora@example.org",
        &rcpts,
        &mail(
            "dora@example.org",
            &rcpts.join(", "),
            "Domain",
            "from the office",
        ),
        d.path(),
    );
    let out = smart.wait_for(4, 30);
    assert_eq!(out.len(), 4, "split in four");
    // Listed, with certificate: signed by the domain key, then encrypted.
    let bob = for_rcpt(&out, "bob@partner.test");
    assert_eq!(bob.rcpts(), vec!["bob@partner.test"]);
    let inner = pki.decrypt("bob", &bob.eml);
    pki.verify("pca.pem", &inner)
        .expect("domain signature inside");
    // Listed, no certificate: signed by the domain key.
    let p1 = for_rcpt(&out, "p1@partner.test");
    assert!(is_signed(p1));
    pki.verify("pca.pem", &p1.eml).expect("domain signature");
    // Not listed, with certificate: encrypted, not signed.
    let carol = for_rcpt(&out, "carol@other.test");
    let inner = String::from_utf8_lossy(&pki.decrypt("carol", &carol.eml)).into_owned();
    assert!(!inner.contains("multipart/signed") && inner.contains("from the office"));
    // Not listed, no certificate: unsigned, as it came.
    let x = for_rcpt(&out, "x@other.test");
    assert!(!is_signed(x) && !is_encrypted(x), "{}", x.text());
    assert!(g.log_text().contains("not in sign.domain_key_to"));
}

// [mailboxes.<id>] always_to: mail from any internal sender to a listed recipient goes out as
// the mailbox (From and envelope sender), signed with its key and encrypted; a listed
// recipient without certificate gets nothing and the sender a notice; others are untouched.
#[test]
fn always_to_sends_as_the_mailbox_encrypted() {
    let d = tmp();
    let (g, pki, smart, inbound) = setup(
        d.path(),
        "",
        r#"
[mailboxes.advokat]
address = "advokat@example.org"
name = "Advokatkontoret"
always_to = ["bob@partner.test", "@court.test"]
[mailboxes.keyless]
address = "keyless@example.org"
always_to = ["carol@partner.test"]
"#,
    );
    pki.user("carol", "email:carol@partner.test");
    ok(g.ctl(&["partner", "import", &pki.p("carol.pem")]));
    ok(g.ctl(&[
        "key",
        "generate",
        "--email",
        "advokat@example.org",
        "--mailbox",
        "advokat",
    ]));
    let rcpts = ["bob@partner.test", "judge@court.test", "x@other.test"];
    send(
        g.smtp_port,
        "clerk@example.org",
        &rcpts,
        &mail(
            "Clerk <clerk@example.org>",
            &rcpts.join(", "),
            "Sagen",
            "fortroligt",
        ),
        d.path(),
    );
    let out = smart.wait_for(2, 30);
    let local = inbound.wait_for(1, 30);
    g.wait_queue_empty(30);
    assert_eq!(smart.messages().len(), 2, "nothing for the judge");
    let bob = for_rcpt(&out, "bob@partner.test");
    assert_eq!(bob.rcpts(), vec!["bob@partner.test"]);
    assert_eq!(bob.mail_from(), "advokat@example.org");
    assert!(is_encrypted(bob), "{}", bob.text());
    assert_eq!(
        header(bob, "From").as_deref(),
        Some("Advokatkontoret <advokat@example.org>")
    );
    let inner = pki.decrypt("bob", &bob.eml);
    let (content, signer) = pki.verify_signer(&inner);
    assert_eq!(signer, "advokat@example.org");
    assert!(String::from_utf8_lossy(&content).contains("fortroligt"));
    let x = for_rcpt(&out, "x@other.test");
    assert_eq!(x.mail_from(), "clerk@example.org");
    assert_eq!(
        header(x, "From").as_deref(),
        Some("Clerk <clerk@example.org>")
    );
    assert!(!is_encrypted(x));
    let notice = for_rcpt(&local, "clerk@example.org");
    assert!(
        notice.text().contains("judge@court.test"),
        "{}",
        notice.text()
    );

    // A mailbox without a key: still as the mailbox and encrypted, signed by no one (not by
    // alice's own key either: From is the mailbox now); alice gets a notice saying why.
    send(
        g.smtp_port,
        "alice@example.org",
        &["carol@partner.test"],
        &mail(
            "alice@example.org",
            "carol@partner.test",
            "Keyless",
            "still secret",
        ),
        d.path(),
    );
    let out = smart.wait_for(3, 30);
    let carol = for_rcpt(&out, "carol@partner.test");
    assert_eq!(carol.mail_from(), "keyless@example.org");
    assert!(is_encrypted(carol), "{}", carol.text());
    let inner = String::from_utf8_lossy(&pki.decrypt("carol", &carol.eml)).into_owned();
    assert_eq!(
        header(carol, "From").as_deref(),
        Some("<keyless@example.org>")
    );
    assert!(inner.contains("still secret"));
    assert!(!inner.contains("multipart/signed"), "{inner}");
    let local = inbound.wait_for(2, 30);
    let notice = for_rcpt(&local, "alice@example.org");
    assert!(
        notice.text().contains("keyless@example.org"),
        "{}",
        notice.text()
    );
}

// keystore.auto_issue: a registered user's and a listed sender's first outbound mail arrives
// signed by a certificate of the built-in CA that did not exist before; a sender who is
// neither gets no key; the hourly limit holds.
#[test]
fn keys_issued_on_first_mail() {
    let d = tmp();
    let (g, pki, smart, _inbound) = setup(
        d.path(),
        "",
        r#"
[keystore]
auto_issue = true
auto_issue_for = ["carl@example.org", "frank@example.org"]
auto_issue_per_hour = 2
"#,
    );
    g.add_user("dana", "dana@example.org", "dana password");
    let has_key = |addr: &str| {
        g.ctl_json(&["key", "list", "--json"])
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["addresses"].as_array().unwrap().iter().any(|a| a == addr))
            .count()
    };
    for who in ["dana", "carl", "eve"] {
        assert_eq!(has_key(&format!("{who}@example.org")), 0);
    }
    for (n, who) in ["dana", "carl", "eve", "frank", "dana"].iter().enumerate() {
        let from = format!("{who}@example.org");
        let to = format!("p{n}@partner.test");
        send(
            g.smtp_port,
            &from,
            &[&to],
            &mail(&from, &to, &format!("First {n}"), "hello"),
            d.path(),
        );
        smart.wait_for(n + 1, 30);
    }
    let out = smart.messages();
    for (n, who) in [(0, "dana"), (1, "carl"), (4, "dana")] {
        let m = for_rcpt(&out, &format!("p{n}@partner.test"));
        assert!(is_signed(m), "{who}: {}", m.text());
        let (_, signer) = pki.verify_signer(&m.eml);
        assert_eq!(signer, format!("{who}@example.org"));
    }
    // eve is neither a user nor listed; frank is listed but the hourly limit (2) was reached.
    for n in [2, 3] {
        assert!(!is_signed(for_rcpt(&out, &format!("p{n}@partner.test"))));
    }
    assert_eq!(has_key("dana@example.org"), 1, "one key, made once");
    assert_eq!(has_key("carl@example.org"), 1);
    assert_eq!(has_key("eve@example.org"), 0);
    assert_eq!(has_key("frank@example.org"), 0);
    let log = g.log_text();
    assert!(log.contains("key issued automatically"), "{log}");
    assert!(log.contains("auto_issue_per_hour reached"), "{log}");
}
