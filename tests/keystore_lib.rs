//! The keystore as a library: PKCS#12 imports (OpenSSL 3 default and -legacy), refusals,
//! lookups, rollover with signing and decryption across it, CRLs over HTTP, backup/restore.

mod keystore_common;

use std::sync::Arc;

use keystore_common::*;
use segl::keystore::own::Target;
use segl::keystore::{KeyState, Keystore, KeystoreError, Settings};
use segl::smime::{self, SignOptions};

fn open(dir: &std::path::Path) -> Arc<Keystore> {
    Keystore::open(dir, Settings::default()).unwrap()
}

fn der(c: &segl::smime::Certificate) -> Vec<u8> {
    der::Encode::to_der(c).unwrap()
}

#[test]
fn p12_imports_default_and_legacy_and_refuses_bad_input() {
    let f = fixture();
    p12(&f, "alice", "alice.p12", "s3cret", &[]);
    p12(&f, "dave", "dave-legacy.p12", "s3cret", &["-legacy"]);
    f.openssl(&[
        "pkcs12",
        "-export",
        "-nokeys",
        "-in",
        "bob.pem",
        "-out",
        "nokey.p12",
        "-passout",
        "pass:s3cret",
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let ks = open(tmp.path());

    let e = ks
        .import_p12(&f.read("alice.p12"), "wrong", Target::Individual)
        .unwrap_err();
    assert!(matches!(e, KeystoreError::WrongPassword(_)), "{e}");
    assert!(e.to_string().contains("wrong password"), "{e}");
    let e = ks
        .import_p12(&f.read("dave-legacy.p12"), "nope", Target::Individual)
        .unwrap_err();
    assert!(matches!(e, KeystoreError::WrongPassword(_)), "{e}");
    let e = ks
        .import_p12(&f.read("nokey.p12"), "s3cret", Target::Individual)
        .unwrap_err();
    assert!(e.to_string().contains("no private key"), "{e}");

    let a = ks
        .import_p12(&f.read("alice.p12"), "s3cret", Target::Individual)
        .unwrap();
    assert_eq!(a.addresses, vec!["alice@example.org"]);
    assert!(a.signing);
    let d = ks
        .import_p12(
            &f.read("dave-legacy.p12"),
            "s3cret",
            Target::Mailbox("advokatkontoret".into()),
        )
        .unwrap();
    assert_eq!(d.mailbox.as_deref(), Some("advokatkontoret"));
    // Duplicate import is refused, not duplicated.
    assert!(matches!(
        ks.import_p12(&f.read("alice.p12"), "s3cret", Target::Individual),
        Err(KeystoreError::Conflict(_))
    ));

    let k = ks.signing_key("Alice@Example.org").expect("alice signs");
    assert_eq!(der(k.certificate()), der(&f.cert("alice")));
    assert!(ks.mailbox_key("advokatkontoret").is_some());
    // The key works: sign a message and verify it against the CA.
    let signed = smime::sign(
        &smime_common::sample_message(),
        k.as_ref(),
        &[],
        &SignOptions::default(),
    )
    .unwrap();
    let rep = smime::verify(&signed, &[f.ca()], &[], std::time::SystemTime::now()).unwrap();
    assert!(rep.signers[0].signature.is_ok(), "{rep:?}");

    // Expired certificate: importable (it still decrypts) but never signs.
    issue(
        &f,
        "old",
        "email:old@example.org",
        "digitalSignature,keyEncipherment",
        Some(("20200101000000Z", "20200201000000Z")),
        None,
    );
    p12(&f, "old", "old.p12", "pw", &[]);
    let o = ks
        .import_p12(&f.read("old.p12"), "pw", Target::Individual)
        .unwrap();
    assert_eq!(
        o.state,
        KeyState::Archived,
        "long expired keys are archived at once"
    );
    assert!(ks.signing_key("old@example.org").is_none());
    assert_eq!(ks.decryption_keys().len(), 3);

    // Domain certificate: signs for any address of the domain when no own key exists.
    issue(
        &f,
        "dom",
        "email:@example.org",
        "digitalSignature,keyEncipherment",
        None,
        None,
    );
    p12(&f, "dom", "dom.p12", "pw", &["-legacy"]);
    ks.import_p12(
        &f.read("dom.p12"),
        "pw",
        Target::Domain("example.org".into()),
    )
    .unwrap();
    let k = ks.signing_key("someone@example.org").expect("domain key");
    assert_eq!(der(k.certificate()), der(&f.cert("dom")));
    let k = ks.signing_key("alice@example.org").unwrap();
    assert_eq!(
        der(k.certificate()),
        der(&f.cert("alice")),
        "own key beats domain key"
    );
    // Envelope-To check: an own key decrypts for the addresses its certificate names (old ones
    // too), the domain key for its domain, the mailbox key for its mailbox address only.
    let ids = |a: &str| ks.decryption_keys_for(a).len();
    assert_eq!(
        ids("alice@example.org"),
        2,
        "alice's key and the domain key"
    );
    assert_eq!(ids("old@example.org"), 2, "archived key still decrypts");
    assert_eq!(ids("someone@example.org"), 1, "domain key only");
    assert_eq!(ids("dave@example.org"), 2, "mailbox key and the domain key");
    assert_eq!(ids("alice@other.test"), 0);

    // PEM key + certificate.
    let mut pem = f.read("bob.key");
    pem.extend(f.read("bob.pem"));
    ks.import_pem(&pem, Target::Individual).unwrap();
    assert!(ks.signing_key("bob@example.org").is_some());
}

#[test]
fn encryption_lookup_skips_signing_only_disabled_pending_and_falls_back_to_domain() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let ks = open(tmp.path());
    ks.import_partner(&f.read("signonly.pem"), None).unwrap();
    assert!(
        ks.encryption_cert("signonly@example.org").is_none(),
        "signing-only certificate"
    );
    let bob = ks
        .import_partner(&f.read("bob.pem"), None)
        .unwrap()
        .remove(0);
    assert!(ks.encryption_cert("bob@example.org").is_some());
    ks.set_partner_enabled(&bob.id, false).unwrap();
    assert!(ks.encryption_cert("bob@example.org").is_none());
    ks.set_partner_enabled(&bob.id, true).unwrap();
    // Harvested pending certificate: not used until approved.
    let p = ks
        .add_harvested("dave@example.org", &f.cert("dave"), true)
        .unwrap();
    assert!(ks.encryption_cert("dave@example.org").is_none());
    assert_eq!(ks.pending_partners().len(), 1);
    ks.approve_partner(&p.id).unwrap();
    assert_eq!(
        der(&ks.encryption_cert("dave@example.org").unwrap()),
        der(&f.cert("dave"))
    );
    // Domain fallback.
    ks.import_partner(&f.read("alice.pem"), Some("partner.example"))
        .unwrap();
    assert_eq!(
        der(&ks.encryption_cert("anyone@partner.example").unwrap()),
        der(&f.cert("alice"))
    );
    assert!(ks.encryption_cert("anyone@elsewhere.example").is_none());
}

#[test]
fn rollover_builtin_ca_signs_with_successor_and_old_key_still_decrypts() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let ks = open(tmp.path());
    let first = ks.generate("eve@example.org", Some(5)).unwrap();
    let keys = ks.list_keys();
    assert_eq!(keys.len(), 2, "a successor is made at once: {keys:?}");
    let old = keys.iter().find(|k| k.id == first.id).unwrap();
    assert_eq!(old.state, KeyState::Superseded);
    let new = keys.iter().find(|k| k.id != first.id).unwrap();
    assert!(new.signing && !old.signing);
    assert_eq!(old.successor.as_deref(), Some(new.id.as_str()));

    // Mail signed now uses the new certificate (checked with openssl cms -verify -signer).
    let k = ks.signing_key("eve@example.org").unwrap();
    assert_eq!(
        segl::keystore::model::fingerprint(&der(k.certificate())),
        new.fingerprint_sha256.clone().unwrap()
    );
    let chain = ks.signing_chain("eve@example.org");
    let signed = smime::sign(
        &smime_common::sample_message(),
        k.as_ref(),
        &chain,
        &SignOptions::default(),
    )
    .unwrap();
    f.write("signed.eml", &signed);
    let ca_pem = der::pem::encode_string(
        "CERTIFICATE",
        der::pem::LineEnding::LF,
        &ks.ca_certificate().unwrap(),
    )
    .unwrap();
    f.write("segl-ca.pem", ca_pem.as_bytes());
    f.openssl(&[
        "cms",
        "-verify",
        "-in",
        "signed.eml",
        "-CAfile",
        "segl-ca.pem",
        "-signer",
        "signer.pem",
        "-out",
        "/dev/null",
    ]);
    let signer = segl::smime::certs::parse_pem(&f.read("signer.pem")).unwrap();
    assert_eq!(der(&signer), der(k.certificate()));

    // Data encrypted by openssl to the OLD certificate still decrypts.
    let old_pem = ks.export_cert(&first.id).unwrap();
    f.write("old.pem", old_pem.as_bytes());
    f.write(
        "plain.txt",
        b"Content-Type: text/plain\r\n\r\nfor the old key\r\n",
    );
    f.openssl(&[
        "cms",
        "-encrypt",
        "-aes256",
        "-in",
        "plain.txt",
        "-out",
        "enc.eml",
        "old.pem",
    ]);
    let dec = smime::decrypt(&f.read("enc.eml"), &ks.decryption_keys()).unwrap();
    assert!(String::from_utf8_lossy(&dec.message).contains("for the old key"));

    // keep_old_days after expiry the old key is archived: offered nowhere, still decrypts.
    let later = segl::keystore::model::now() + 13 * 86_400;
    ks.rollover_check_at(later).unwrap();
    let old = ks.key_info(&first.id).unwrap();
    assert_eq!(old.state, KeyState::Archived);
    assert!(smime::decrypt(&f.read("enc.eml"), &ks.decryption_keys()).is_ok());
    assert_eq!(ks.list_keys().len(), 2, "nothing is deleted or re-rolled");
}

#[test]
fn external_ca_rollover_makes_csr_and_import_cert_completes_it() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let ks = open(tmp.path());
    let now = segl::keystore::model::now();
    let start = time::OffsetDateTime::from_unix_timestamp(now - 86_400).unwrap();
    let end = time::OffsetDateTime::from_unix_timestamp(now + 3 * 86_400).unwrap();
    let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]Z");
    issue(
        &f,
        "soon",
        "email:soon@example.org",
        "digitalSignature,keyEncipherment",
        Some((&start.format(&fmt).unwrap(), &end.format(&fmt).unwrap())),
        None,
    );
    p12(&f, "soon", "soon.p12", "pw", &[]);
    let old = ks
        .import_p12(&f.read("soon.p12"), "pw", Target::Individual)
        .unwrap();
    let keys = ks.list_keys();
    let pending = keys
        .iter()
        .find(|k| k.state == KeyState::PendingCertificate)
        .expect("renewal CSR");
    assert!(ks.key_info(&old.id).unwrap().pending_action.is_some());
    assert!(
        ks.key_info(&old.id).unwrap().signing,
        "old key signs until the new certificate arrives"
    );
    // The external CA signs the CSR.
    f.write("renew.csr", pending.csr_pem.clone().unwrap().as_bytes());
    f.write("renew.ext", b"keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\nsubjectAltName=email:soon@example.org\n");
    f.openssl(&[
        "x509",
        "-req",
        "-in",
        "renew.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "60",
        "-extfile",
        "renew.ext",
        "-out",
        "renew.pem",
    ]);
    let done = ks.import_cert(&f.read("renew.pem")).unwrap();
    assert_eq!(done.state, KeyState::Active);
    assert!(done.signing);
    assert_eq!(ks.key_info(&old.id).unwrap().state, KeyState::Superseded);
}

#[test]
fn crl_import_and_http_refresh_revoke_a_partner() {
    let f = fixture();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/ca.crl");
    issue(
        &f,
        "frank",
        "email:frank@example.org",
        "digitalSignature,keyEncipherment",
        None,
        Some(&url),
    );
    let tmp = tempfile::tempdir().unwrap();
    let ks = open(tmp.path());
    ks.import_partner(&f.read("frank.pem"), None).unwrap();
    assert!(ks.encryption_cert("frank@example.org").is_some());
    revoke_and_crl(&f, "frank");
    // Not signed by a trust anchor yet: refused.
    assert!(ks.import_crl(&f.read("ca.crl")).is_err());
    ks.import_anchor(&f.read("ca.pem")).unwrap();
    assert_eq!(ks.distribution_points(), vec![url.clone()]);

    let mut server = std::process::Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .current_dir(f.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Python may take a while to come up on a loaded CI machine: wait for it (bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut stored = 0;
    while std::time::Instant::now() < deadline {
        let (n, _) = ks.refresh_crls();
        stored = n;
        if n > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(stored, 1);
    assert_eq!(ks.crls().len(), 1);
    assert!(ks.is_revoked(&f.cert("frank")));
    assert!(ks.encryption_cert("frank@example.org").is_none(), "revoked");
    // A file import works too (same CRL again is fine).
    ks.import_crl(&f.read("ca.crl.pem")).unwrap();
}

#[test]
fn backup_restores_on_a_new_box_without_the_device_key() {
    let f = fixture();
    p12(&f, "alice", "alice.p12", "pw", &[]);
    let a = tempfile::tempdir().unwrap();
    let ks = open(a.path());
    ks.import_p12(&f.read("alice.p12"), "pw", Target::Individual)
        .unwrap();
    ks.generate("eve@example.org", None).unwrap();
    ks.import_partner(&f.read("bob.pem"), None).unwrap();
    ks.import_anchor(&f.read("ca.pem")).unwrap();
    let file = ks.backup("correct horse battery").unwrap();
    assert!(ks.backup("short").is_err());

    let b = tempfile::tempdir().unwrap();
    let fresh = open(b.path());
    assert!(matches!(
        fresh.restore(&file, "wrong passphrase"),
        Err(KeystoreError::WrongPassword(_))
    ));
    assert_eq!(fresh.restore(&file, "correct horse battery").unwrap(), 2);
    assert!(fresh.signing_key("alice@example.org").is_some());
    assert!(fresh.signing_key("eve@example.org").is_some());
    assert!(fresh.encryption_cert("bob@example.org").is_some());
    assert_eq!(fresh.trust_anchors().len(), 2, "imported CA + built-in CA");
    assert_eq!(
        fresh.ca_certificate().unwrap(),
        ks.ca_certificate().unwrap()
    );
    // Reopen: the restored keys were re-sealed under the new box's device key.
    drop(fresh);
    let again = open(b.path());
    assert!(again.signing_key("alice@example.org").is_some());
}
