//! (Part of the `smime_interop` test binary.) A multi-megabyte message through the S/MIME engine against OpenSSL, both ways (issue 15):
//! the streamed paths (content borrowed from the message, CBC in 64 KiB steps, DER header
//! written before the ciphertext, base64 straight into the output, decryption in place) must
//! give what `openssl cms` reads, and must read what it writes.

use std::time::SystemTime;

use crate::smime_common::*;
use segl::smime::{self, EncryptOptions, Recipient, SignOptions};

/// About 2.7 MB: a text part and a base64 attachment of pseudo-random bytes (not a multiple of
/// the AES block or of a base64 line), CRLF throughout, 7-bit: the borrowed path.
fn large_message(from: &str, to: &str) -> (Vec<u8>, Vec<u8>) {
    let payload = crate::common::noise(2_000_001, 0x1234_5678);
    let b64 = {
        use std::io::Write;
        let mut out = Vec::new();
        let mut child = std::process::Command::new("base64")
            .arg("-w")
            .arg("76")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let data = payload.clone();
        let writer = std::thread::spawn(move || stdin.write_all(&data).unwrap());
        std::io::Read::read_to_end(child.stdout.as_mut().unwrap(), &mut out).unwrap();
        writer.join().unwrap();
        assert!(child.wait().unwrap().success());
        String::from_utf8(out).unwrap().replace('\n', "\r\n")
    };
    let msg = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: large\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
         Content-Type: text/plain\r\n\r\nThe report is attached.\r\n--b1\r\n\
         Content-Type: application/octet-stream; name=\"report.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{b64}--b1--\r\n"
    );
    (msg.into_bytes(), payload)
}

/// The attachment's bytes from a decrypted (and verified) MIME text.
fn attachment(text: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(text);
    let start = s.find("name=\"report.bin\"").expect("attachment part");
    let body = &s[start..];
    let body = &body[body.find("\r\n\r\n").or_else(|| body.find("\n\n")).unwrap()..];
    let end = body.find("--b1--").expect("closing boundary");
    base64_decode(&body[..end])
}

#[test]
fn large_mail_interoperates_with_openssl_both_ways() {
    let fx = Fixture::new();
    let alice = fx.key("alice");
    let bob: Recipient = fx.cert("bob").into();

    // Segl signs and encrypts; OpenSSL decrypts and verifies.
    let (msg, payload) = large_message("Alice <alice@example.org>", "bob@example.org");
    let out = smime::sign_and_encrypt(
        &msg,
        &alice,
        &[fx.ca()],
        std::slice::from_ref(&bob),
        &SignOptions::default(),
        &EncryptOptions::default(),
    )
    .unwrap();
    fx.write("ours.eml", &out);
    let signed = fx.openssl(&[
        "cms",
        "-decrypt",
        "-in",
        &fx.p("ours.eml"),
        "-recip",
        &fx.p("bob.pem"),
        "-inkey",
        &fx.p("bob.key"),
    ]);
    fx.write("ours_signed.eml", &signed);
    let content = fx.openssl(&[
        "cms",
        "-verify",
        "-in",
        &fx.p("ours_signed.eml"),
        "-CAfile",
        &fx.p("ca.pem"),
    ]);
    assert!(
        attachment(&content) == payload,
        "attachment changed on the way to OpenSSL"
    );
    // And clear-signed only (the same borrowed path without encryption).
    let signed_only = smime::sign(&msg, &alice, &[fx.ca()], &SignOptions::default()).unwrap();
    fx.write("ours_signed_only.eml", &signed_only);
    let content = fx.openssl(&[
        "cms",
        "-verify",
        "-in",
        &fx.p("ours_signed_only.eml"),
        "-CAfile",
        &fx.p("ca.pem"),
    ]);
    assert!(attachment(&content) == payload);

    // OpenSSL signs (as bob) and encrypts to alice; Segl decrypts and verifies.
    let (msg, payload) = large_message("bob@example.org", "alice@example.org");
    fx.write("peer.txt", &msg);
    fx.openssl(&[
        "cms",
        "-sign",
        "-in",
        &fx.p("peer.txt"),
        "-signer",
        &fx.p("bob.pem"),
        "-inkey",
        &fx.p("bob.key"),
        "-out",
        &fx.p("peer_signed.eml"),
    ]);
    fx.openssl(&[
        "cms",
        "-encrypt",
        "-aes256",
        "-in",
        &fx.p("peer_signed.eml"),
        "-out",
        &fx.p("peer_enc.eml"),
        &fx.p("alice.pem"),
    ]);
    let keys = vec![fx.key("alice")];
    let d = smime::decrypt(&fx.read("peer_enc.eml"), &keys).unwrap();
    let report = smime::verify(&d.message, &[fx.ca()], &[], SystemTime::now()).unwrap();
    report.ensure_valid().unwrap();
    assert!(
        attachment(&report.content) == payload,
        "attachment changed on the way from OpenSSL"
    );
}
