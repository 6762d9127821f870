//! The optional inbound DKIM/SPF/DMARC check (`[authres]`): mail from outside goes into a real
//! `segl serve` over SMTP (Python smtplib, from an untrusted address); DNS answers come from a
//! real dnsmasq on loopback (DKIM key, SPF and DMARC records); the message was DKIM-signed by
//! Python dkimpy, an independent implementation. The delivered mail carries our
//! `Authentication-Results`, forged ones claiming our name are gone, and nothing is rejected.

mod common;
#[path = "policy_common/mod.rs"]
mod policy_common;
#[path = "smime_common/mod.rs"]
mod smime_common;

use std::path::Path;
use std::process::Command;

use common::*;
use policy_common::*;

/// A dnsmasq answering for `*.test` only, with `txt` records (name, strings); waits until it
/// answers.
fn dnsmasq(dir: &Path, txt: &[(&str, Vec<String>)]) -> (Proc, u16) {
    let port = free_port();
    let mut args = vec![
        "--no-daemon".to_string(),
        "--no-resolv".into(),
        "--no-hosts".into(),
        "--bind-interfaces".into(),
        "--listen-address=127.0.0.1".into(),
        format!("--port={port}"),
        "--local=/test/".into(),
        format!("--pid-file={}", dir.join("dnsmasq.pid").display()),
        "--user=root".into(),
    ];
    for (name, strings) in txt {
        args.push(format!("--txt-record={name},{}", strings.join(",")));
    }
    let p = Proc::spawn("dnsmasq", Command::new("dnsmasq").args(&args));
    let probe = format!(
        "import socket,time\nq=bytes.fromhex('abcd01000001000000000000')+b'\\x06sender\\x04test\\x00\\x00\\x10\\x00\\x01'\n\
         for i in range(100):\n  s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(0.1)\n  \
         try:\n    s.sendto(q,('127.0.0.1',{port}));s.recv(512);print('up');break\n  except OSError: time.sleep(0.1)\n"
    );
    assert!(python(&probe).contains("up"), "dnsmasq did not answer");
    (p, port)
}

/// The DKIM key pair of `sender.test` (RSA-2048): private key file and the TXT record strings
/// (split in 255-byte character-strings, as a zone would carry them).
fn dkim_key(dir: &Path) -> (std::path::PathBuf, Vec<String>) {
    let key = dir.join("dkim.key");
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        key.to_str().unwrap(),
    ]);
    let der = run(&[
        "pkey",
        "-in",
        key.to_str().unwrap(),
        "-pubout",
        "-outform",
        "DER",
    ]);
    use base64::Engine;
    let record = format!(
        "v=DKIM1; k=rsa; p={}",
        base64::engine::general_purpose::STANDARD.encode(der)
    );
    let strings = record
        .as_bytes()
        .chunks(255)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    (key, strings)
}

fn dkim_sign(dir: &Path, eml: &[u8], key: &Path) -> Vec<u8> {
    let f = dir.join(format!("unsigned-{}.eml", free_port()));
    std::fs::write(&f, eml).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/dkim_sign.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&f)
        .args(["s1", "sender.test"])
        .arg(key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dkimpy (.ci/install-deps.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Sends from an untrusted client that says EHLO `helo`.
fn send_from(port: u16, helo: &str, from: &str, to: &str, data: &[u8], dir: &Path) {
    let f = dir.join(format!("in-{}.eml", free_port()));
    std::fs::write(&f, data).unwrap();
    python(&format!(
        "import smtplib\ns = smtplib.SMTP('127.0.0.1', {port}, local_hostname={helo:?})\n\
         s.sendmail({from:?}, [{to:?}], open({f:?}, 'rb').read())\ns.quit()\n"
    ));
}

fn message(from: &str, subject: &str, extra: &str) -> Vec<u8> {
    format!(
        "{extra}From: {from}\r\nTo: alice@example.org\r\nSubject: {subject}\r\nDate: Mon, 30 Nov 2026 12:00:00 +0000\r\n\
         Message-ID: <{}@sender.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello from outside.\r\n",
        free_port()
    )
    .into_bytes()
}

fn by_subject<'a>(msgs: &'a [Stored], subject: &str) -> &'a Stored {
    msgs.iter()
        .find(|m| header(m, "Subject").as_deref() == Some(subject))
        .unwrap_or_else(|| panic!("no message {subject:?}"))
}

/// Every `Authentication-Results` field of `m`, unfolded.
fn auth_results(m: &Stored) -> Vec<String> {
    let text = m.text();
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let head = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    head.lines()
        .filter(|l| {
            l.to_ascii_lowercase()
                .starts_with("authentication-results:")
        })
        .map(|l| l.split_once(':').unwrap().1.trim().to_string())
        .collect()
}

const FORGED: &str =
    "Authentication-Results: segl.test; dkim=pass header.d=example.org; dmarc=pass\r\n\
Authentication-Results: mx.sender.test; spf=pass smtp.mailfrom=sender.test\r\n";

#[test]
fn inbound_mail_gets_dkim_spf_dmarc_results_and_forged_ones_go() {
    let d = tmp();
    let (key, record) = dkim_key(d.path());
    let (_dns, dns_port) = dnsmasq(
        d.path(),
        &[
            ("s1._domainkey.sender.test", record),
            ("sender.test", vec!["v=spf1 ip4:127.0.0.1 -all".into()]),
            ("_dmarc.sender.test", vec!["v=DMARC1; p=reject".into()]),
            ("spoof.test", vec!["v=spf1 -all".into()]),
            ("_dmarc.spoof.test", vec!["v=DMARC1; p=reject".into()]),
        ],
    );
    let pki = Pki::new(&d.path().join("pki"));
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    let g = Gateway::start(
        &d.path().join("gw"),
        inbound.port,
        0,
        &format!(
            "[relay]\ntrusted_networks = []\n[delivery]\ndns_servers = [\"127.0.0.1:{dns_port}\"]\n\
             [authres]\nverify = true\ntimeout_secs = 10\n"
        ),
    );
    keygen(&g, "alice@example.org");
    let alice = ok(g.ctl(&["key", "export-cert", "alice@example.org"]));
    pki.write("alice.pem", alice.as_bytes());

    // a) DKIM-signed by dkimpy, sent from an address SPF allows: pass, pass, pass. A forged
    //    field in our name is gone; the sender's own stays.
    let signed = dkim_sign(d.path(), &message("bob@sender.test", "good", FORGED), &key);
    send_from(
        g.smtp_port,
        "mail.sender.test",
        "bob@sender.test",
        "alice@example.org",
        &signed,
        d.path(),
    );
    // b) The same, changed on the way: DKIM fails; SPF still passes and aligns, so DMARC passes.
    let tampered = String::from_utf8(dkim_sign(
        d.path(),
        &message("bob@sender.test", "tampered", ""),
        &key,
    ))
    .unwrap()
    .replace("Hello from outside.", "Hello from a man in the middle.");
    send_from(
        g.smtp_port,
        "mail.sender.test",
        "bob@sender.test",
        "alice@example.org",
        tampered.as_bytes(),
        d.path(),
    );
    // c) A spoofed sender whose domain allows no host: SPF and DMARC fail, and still the mail
    //    is delivered (information, not a verdict).
    send_from(
        g.smtp_port,
        "mail.spoof.test",
        "ceo@spoof.test",
        "alice@example.org",
        &message("ceo@spoof.test", "spoofed", ""),
        d.path(),
    );
    // d) Encrypted to alice and DKIM-signed outside: checked before decryption, so DKIM passes
    //    on the message as it was signed, and alice reads the decrypted text.
    pki.write(
        "content.txt",
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nSecret launch code.\r\n",
    );
    pki.openssl(&[
        "cms",
        "-encrypt",
        "-aes256",
        "-in",
        "content.txt",
        "-from",
        "bob@sender.test",
        "-to",
        "alice@example.org",
        "-subject",
        "encrypted",
        "-out",
        "enc.eml",
        "alice.pem",
    ]);
    let mut enc = pki.read("enc.eml");
    if !String::from_utf8_lossy(&enc).contains("Message-ID") {
        enc = [
            format!(
                "Message-ID: <{}@sender.test>\r\nDate: Mon, 30 Nov 2026 12:00:00 +0000\r\n",
                free_port()
            )
            .as_bytes(),
            &enc,
        ]
        .concat();
    }
    let enc = String::from_utf8(enc)
        .unwrap()
        .replace("\r\n", "\n")
        .replace('\n', "\r\n");
    let enc_signed = dkim_sign(d.path(), enc.as_bytes(), &key);
    send_from(
        g.smtp_port,
        "mail.sender.test",
        "bob@sender.test",
        "alice@example.org",
        &enc_signed,
        d.path(),
    );

    let got = inbound.wait_for(4, 60);
    let good = by_subject(&got, "good");
    let ar = auth_results(good);
    assert_eq!(ar.len(), 2, "ours and the sender's: {ar:?}");
    let ours = &ar[0];
    assert!(ours.starts_with("segl.test;"), "ours on top: {ours}");
    assert!(
        ours.contains("dkim=pass header.i=@sender.test header.s=s1"),
        "{ours}"
    );
    assert!(ours.contains("spf=pass"), "{ours}");
    assert!(
        ours.contains("dmarc=pass header.from=sender.test policy.dmarc=reject"),
        "{ours}"
    );
    assert!(
        ar[1].starts_with("mx.sender.test;"),
        "the sender's own stays: {ar:?}"
    );
    assert!(
        !good.text().contains("header.d=example.org"),
        "the forged one is gone"
    );

    let ar = auth_results(by_subject(&got, "tampered"));
    assert_eq!(ar.len(), 1, "{ar:?}");
    // A body hash mismatch: "neutral" in mail-auth's words (RFC 6376 §6.3 allows either).
    assert!(
        ar[0].contains("dkim=fail") || ar[0].contains("dkim=neutral (body hash did not verify)"),
        "{}",
        ar[0]
    );
    assert!(!ar[0].contains("dkim=pass"), "{}", ar[0]);
    assert!(
        ar[0].contains("spf=pass") && ar[0].contains("dmarc=pass"),
        "{}",
        ar[0]
    );

    let ar = auth_results(by_subject(&got, "spoofed"));
    assert!(ar[0].contains("dkim=none"), "{}", ar[0]);
    assert!(ar[0].contains("spf=fail"), "{}", ar[0]);
    assert!(ar[0].starts_with("segl.test; dkim=none"), "{}", ar[0]);
    assert!(ar[0].contains("dmarc=fail"), "{}", ar[0]);
    assert!(
        ar[0].contains("header.from=spoof.test policy.dmarc=reject"),
        "{}",
        ar[0]
    );

    let m = got
        .iter()
        .find(|m| header(m, "Subject").is_some_and(|s| s.contains("encrypted")))
        .expect("the encrypted message (its subject may carry a mark)");
    assert!(
        m.text().contains("Secret launch code."),
        "decrypted: {}",
        m.text()
    );
    let ar = auth_results(m);
    assert!(
        ar[0].contains("dkim=pass header.i=@sender.test"),
        "{}",
        ar[0]
    );
}

#[test]
fn off_by_default_adds_nothing_but_still_removes_forged_results() {
    let d = tmp();
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    let g = Gateway::start(
        &d.path().join("gw"),
        inbound.port,
        0,
        "[relay]\ntrusted_networks = []\n",
    );
    send_from(
        g.smtp_port,
        "mail.sender.test",
        "bob@sender.test",
        "alice@example.org",
        &message("bob@sender.test", "plain", FORGED),
        d.path(),
    );
    let got = inbound.wait_for(1, 30);
    let ar = auth_results(&got[0]);
    assert_eq!(ar.len(), 1, "only the sender's own: {ar:?}");
    assert!(ar[0].starts_with("mx.sender.test;"), "{ar:?}");
    assert!(g
        .log_text()
        .contains("removed Authentication-Results from outside"));
}
