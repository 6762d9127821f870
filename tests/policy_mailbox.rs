//! Comendo function mailboxes end to end: `#K-<id>#` / `#S-<id>#` subject codes, the implicit
//! rule for mail from a mailbox address, senders not allowed to use a mailbox, and the receipt to
//! the employee. Real `segl serve`, SMTP via Python smtplib, aiosmtpd sinks, `openssl cms` as the
//! partner.

mod common;
#[path = "smime_common/mod.rs"]
mod smime_common;

use std::path::Path;

use common::*;
#[path = "policy_common/mod.rs"]
mod policy_common;
use policy_common::*;

const MB: &str = "advokatkontoret@example.org";

/// The messages to `rcpt` whose body contains `needle`.
fn notes<'a>(msgs: &'a [Stored], rcpt: &str, subject: &str) -> Vec<&'a Stored> {
    msgs.iter()
        .filter(|m| m.rcpts().iter().any(|r| r == rcpt))
        .filter(|m| header(m, "Subject").as_deref() == Some(subject))
        .collect()
}

const TRUSTED: &str = r#"
[sign]
trusted_relays = ["127.0.0.1/32"]
keys_without_auth = ["@example.org"]
"#;

const CONFIG: &str = r#"
[mailboxes.advokatkontoret]
address = "advokatkontoret@example.org"
senders = ["alice@example.org", "@jura.example.org"]
"#;

/// A gateway with the mailbox key, alice's own key, partner bob's certificate and Segl's CA in
/// the PKI directory.
fn setup(d: &Path, receipt: bool, trusted: bool) -> (Gateway, Pki, Sink, Sink) {
    let pki = Pki::new(&d.join("pki"));
    pki.user("bob", "email:bob@partner.test");
    let smart = Sink::start(&d.join("smart"), &[]);
    let inbound = Sink::start(&d.join("inbound"), &[]);
    let g = Gateway::start(
        &d.join("gw"),
        inbound.port,
        smart.port,
        &format!(
            "{}{CONFIG}[notify]\nsend_receipt = {receipt}\n",
            if trusted { TRUSTED } else { "" }
        ),
    );
    let k = g.ctl_json(&[
        "key",
        "generate",
        "--email",
        MB,
        "--mailbox",
        "advokatkontoret",
        "--json",
    ]);
    assert_eq!(k["mailbox"], "advokatkontoret", "{k}");
    ok(g.ctl(&["key", "generate", "--email", "alice@example.org"]));
    ok(g.ctl(&["partner", "import", &pki.p("bob.pem")]));
    let ca = ok(g.ctl(&["key", "ca-cert"]));
    std::fs::write(pki.dir.join("segl-ca.pem"), ca).unwrap();
    (g, pki, smart, inbound)
}

// #K-<id>#: code removed, From rewritten (display name kept), signed with the mailbox key,
// encrypted; a recipient without certificate gets nothing and the sender one notice; the
// employee gets a receipt. #S-<id>#: signed by the mailbox, not encrypted.
#[test]
fn mailbox_codes_sign_as_the_mailbox() {
    let d = tempfile::tempdir().unwrap();
    let (g, pki, smart, inbound) = setup(d.path(), true, true);
    send(
        g.smtp_port,
        "alice@example.org",
        &["bob@partner.test", "nocert@other.test"],
        &mail(
            "Alice Jensen <alice@example.org>",
            "bob@partner.test, nocert@other.test",
            "#K-advokatkontoret# Vedr. henvendelse",
            "fortrolige oplysninger",
        ),
        d.path(),
    );
    let out = smart.wait_for(1, 30);
    let local = inbound.wait_for(2, 30);
    let bob = for_rcpt(&out, "bob@partner.test");
    assert_eq!(bob.rcpts(), vec!["bob@partner.test"]);
    assert!(is_encrypted(bob), "{}", bob.text());
    assert_eq!(header(bob, "Subject").as_deref(), Some("Vedr. henvendelse"));
    assert_eq!(
        header(bob, "From").as_deref(),
        Some("Alice Jensen <advokatkontoret@example.org>")
    );
    let inner = pki.decrypt("bob", &bob.eml);
    let (content, signer) = pki.verify_signer(&inner);
    assert_eq!(signer, MB);
    assert!(String::from_utf8_lossy(&content).contains("fortrolige oplysninger"));
    let notice = notes(
        &local,
        "alice@example.org",
        "Not delivered: encryption required",
    );
    assert_eq!(notice.len(), 1, "one notice");
    let t = notice[0].text();
    assert!(
        t.contains("nocert@other.test") && t.contains("#K-advokatkontoret#"),
        "{t}"
    );
    assert!(matches!(notice[0].mail_from().as_str(), "" | "<>"));
    let receipt = notes(&local, "alice@example.org", "Receipt: secure mail sent");
    assert_eq!(receipt.len(), 1, "one receipt");
    let t = receipt[0].text();
    assert!(
        t.contains("From: Mail Delivery System <postmaster@segl.test>"),
        "{t}"
    );
    assert!(t.contains("bob@partner.test: encrypted and signed"), "{t}");
    assert!(!t.contains("nocert@other.test"), "{t}");
    assert!(matches!(receipt[0].mail_from().as_str(), "" | "<>"));

    // #S: signed with the mailbox key, not encrypted (no certificate needed).
    send(
        g.smtp_port,
        "alice@example.org",
        &["s1@other.test"],
        &mail(
            "alice@example.org",
            "s1@other.test",
            "Re: sag #S-advokatkontoret# svar",
            "signeret svar",
        ),
        d.path(),
    );
    let out = smart.wait_for(2, 30);
    let s1 = for_rcpt(&out, "s1@other.test");
    assert!(is_signed(s1) && !is_encrypted(s1), "{}", s1.text());
    assert_eq!(header(s1, "Subject").as_deref(), Some("Re: sag svar"));
    assert_eq!(
        header(s1, "From").as_deref(),
        Some("<advokatkontoret@example.org>")
    );
    let (content, signer) = pki.verify_signer(&s1.eml);
    assert_eq!(signer, MB);
    assert!(String::from_utf8_lossy(&content).contains("signeret svar"));
    let local = inbound.wait_for(3, 30);
    let receipts = notes(&local, "alice@example.org", "Receipt: secure mail sent");
    assert_eq!(receipts.len(), 2);
    assert!(receipts
        .iter()
        .any(|r| r.text().contains("s1@other.test: signed, NOT encrypted")));
}

// A sender not in mailboxes.<id>.senders: never signed as the mailbox, From unchanged, a #K mail
// only goes encrypted, a #S mail goes as the sender's own; the sender gets a notice each time.
#[test]
fn mailbox_code_from_a_sender_not_allowed() {
    let d = tempfile::tempdir().unwrap();
    let (g, pki, smart, inbound) = setup(d.path(), true, true);
    send(
        g.smtp_port,
        "carl@example.org",
        &["bob@partner.test", "n1@other.test"],
        &mail(
            "Carl <carl@example.org>",
            "bob@partner.test",
            "#K-advokatkontoret# forsøg",
            "carl skriver",
        ),
        d.path(),
    );
    let out = smart.wait_for(1, 30);
    let local = inbound.wait_for(1, 30);
    let bob = for_rcpt(&out, "bob@partner.test");
    assert!(is_encrypted(bob), "{}", bob.text());
    assert_eq!(
        header(bob, "From").as_deref(),
        Some("Carl <carl@example.org>")
    );
    let inner = pki.decrypt("bob", &bob.eml);
    let inner = String::from_utf8_lossy(&inner);
    assert!(
        !inner.contains("multipart/signed"),
        "carl has no key: {inner}"
    );
    let n = notes(
        &local,
        "carl@example.org",
        "Not delivered: encryption required",
    );
    assert_eq!(n.len(), 1);
    let t = n[0].text();
    assert!(t.contains("not among the senders allowed"), "{t}");
    assert!(t.contains("n1@other.test"), "{t}");

    // #S by a sender not allowed: delivered as the sender's own mail, not signed as the mailbox.
    send(
        g.smtp_port,
        "carl@example.org",
        &["n2@other.test"],
        &mail(
            "carl@example.org",
            "n2@other.test",
            "#S-advokatkontoret# hej",
            "hej",
        ),
        d.path(),
    );
    let out = smart.wait_for(2, 30);
    let n2 = for_rcpt(&out, "n2@other.test");
    assert!(!is_signed(n2) && !is_encrypted(n2), "{}", n2.text());
    assert_eq!(header(n2, "From").as_deref(), Some("carl@example.org"));
    assert_eq!(header(n2, "Subject").as_deref(), Some("hej"));
    let local = inbound.wait_for(2, 30);
    let n = notes(&local, "carl@example.org", "Not sent as function mailbox");
    assert_eq!(n.len(), 1);
    // An unknown mailbox id is refused the same way.
    send(
        g.smtp_port,
        "alice@example.org",
        &["n3@other.test"],
        &mail("alice@example.org", "n3@other.test", "#K-ukendt# x", "x"),
        d.path(),
    );
    let local = inbound.wait_for(3, 30);
    let n = notes(
        &local,
        "alice@example.org",
        "Not delivered: encryption required",
    );
    assert_eq!(n.len(), 1);
    assert!(
        n[0].text().contains("no function mailbox"),
        "{}",
        n[0].text()
    );
    assert!(smart
        .messages()
        .iter()
        .all(|m| !m.rcpts().contains(&"n3@other.test".to_string())));
    // From = the mailbox, sent by carl (not allowed): delivered, but not signed as the mailbox.
    send(
        g.smtp_port,
        "carl@example.org",
        &["n4@other.test"],
        &mail(MB, "n4@other.test", "som postkassen", "x"),
        d.path(),
    );
    let out = smart.wait_for(3, 30);
    let n4 = for_rcpt(&out, "n4@other.test");
    assert!(!is_signed(n4) && !is_encrypted(n4), "{}", n4.text());
    let local = inbound.wait_for(4, 30);
    let n = notes(&local, "carl@example.org", "Not sent as function mailbox");
    assert_eq!(n.len(), 2);
    // No receipts for any of this.
    assert!(inbound
        .messages()
        .iter()
        .all(|m| header(m, "Subject").as_deref() != Some("Receipt: secure mail sent")));
}

// Implicit: From is the mailbox address, sent by an allowed sender (AUTH user here): signed with
// the mailbox key, encrypted where a certificate is known, still delivered (signed) without.
#[test]
fn mail_from_a_mailbox_is_signed_and_encrypted_implicitly() {
    let d = tempfile::tempdir().unwrap();
    let (g, pki, smart, inbound) = setup(d.path(), false, true);
    g.add_user("alice", "alice@example.org", "correct horse battery");
    send_auth(
        g.submission_port,
        "alice",
        "correct horse battery",
        "alice@example.org",
        &["bob@partner.test", "plain@other.test"],
        &mail(
            "Advokatkontoret <advokatkontoret@example.org>",
            "bob@partner.test, plain@other.test",
            "Afgørelse",
            "afgørelsen følger",
        ),
        d.path(),
    );
    let out = smart.wait_for(2, 30);
    let bob = for_rcpt(&out, "bob@partner.test");
    assert!(is_encrypted(bob), "{}", bob.text());
    assert_eq!(header(bob, "Subject").as_deref(), Some("Afgørelse"));
    let (_, signer) = pki.verify_signer(&pki.decrypt("bob", &bob.eml));
    assert_eq!(signer, MB);
    let plain = for_rcpt(&out, "plain@other.test");
    assert!(is_signed(plain) && !is_encrypted(plain), "{}", plain.text());
    let (_, signer) = pki.verify_signer(&plain.eml);
    assert_eq!(signer, MB);
    // send_receipt = false: nothing for alice.
    g.wait_queue_empty(30);
    assert!(inbound.messages().is_empty());
    assert!(g.log_text().contains("mail from a function mailbox"));
}

// The DEFENDO sender trust rules still apply to the real sender: without trusted relays, an
// unauthenticated #S mail is not signed as the mailbox (notice); with SMTP AUTH it is.
#[test]
fn mailbox_code_needs_a_trusted_sender() {
    let d = tempfile::tempdir().unwrap();
    let (g, pki, smart, inbound) = setup(d.path(), false, false);
    g.add_user("alice", "alice@example.org", "correct horse battery");
    send(
        g.smtp_port,
        "alice@example.org",
        &["t1@other.test"],
        &mail(
            "alice@example.org",
            "t1@other.test",
            "#S-advokatkontoret# a",
            "a",
        ),
        d.path(),
    );
    let out = smart.wait_for(1, 30);
    let t1 = for_rcpt(&out, "t1@other.test");
    assert!(!is_signed(t1), "{}", t1.text());
    assert_eq!(header(t1, "From").as_deref(), Some("alice@example.org"));
    let local = inbound.wait_for(1, 30);
    let n = notes(&local, "alice@example.org", "Not sent as function mailbox");
    assert_eq!(n.len(), 1);
    assert!(
        n[0].text().contains("sign.trusted_relays"),
        "{}",
        n[0].text()
    );
    send_auth(
        g.submission_port,
        "alice",
        "correct horse battery",
        "alice@example.org",
        &["t2@other.test"],
        &mail(
            "alice@example.org",
            "t2@other.test",
            "#S-advokatkontoret# b",
            "b",
        ),
        d.path(),
    );
    let out = smart.wait_for(2, 30);
    let t2 = for_rcpt(&out, "t2@other.test");
    assert!(is_signed(t2), "{}", t2.text());
    assert_eq!(
        header(t2, "From").as_deref(),
        Some("<advokatkontoret@example.org>")
    );
    let (_, signer) = pki.verify_signer(&t2.eml);
    assert_eq!(signer, MB);
}
