//! Recipient certificates from an LDAP directory, end to end: a real OpenLDAP `slapd` on a
//! loopback port (its own configuration and database, made at test time), entries loaded with
//! `ldapadd`, the real gateway, openssl as the partner reading what Segl sends.

mod common;
#[path = "smime_common/mod.rs"]
mod smime_common;

use std::process::Command;
use std::time::Duration;

use common::*;
#[path = "policy_common/mod.rs"]
mod policy_common;
use policy_common::*;
#[path = "ldap_common/mod.rs"]
mod ldap_common;
use ldap_common::*;

/// An inetOrgPerson entry with `mail` and the DER of `pem` as userCertificate;binary.
fn person(pki: &Pki, cn: &str, mail: &str, pem: &str) -> String {
    use base64::Engine;
    let der = pki.openssl(&["x509", "-in", pem, "-outform", "DER"]);
    format!(
        "dn: cn={cn},{SUFFIX}\nobjectClass: inetOrgPerson\ncn: {cn}\nsn: {cn}\nmail: {mail}\nuserCertificate;binary:: {}\n\n",
        base64::engine::general_purpose::STANDARD.encode(der)
    )
}

#[test]
fn ldap_certificates_encrypt_and_are_cached() {
    let d = tmp();
    let Some(mut slapd) = Slapd::start(&d.path().join("ldap")) else {
        eprintln!("SKIP: slapd/ldapadd not installed (apt-get install slapd ldap-utils)");
        return;
    };
    let pki = Pki::new(&d.path().join("pki"));
    pki.user("bob", "email:bob@partner.test");
    pki.self_signed("mallory", "mallory@partner.test");
    let mut ldif = format!("dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Partner\ndc: partner\n\n");
    ldif.push_str(&person(&pki, "Bob", "bob@partner.test", "bob.pem"));
    ldif.push_str(&person(
        &pki,
        "Mallory",
        "mallory@partner.test",
        "mallory.pem",
    ));
    slapd.add(&ldif, d.path());

    let smart = Sink::start(&d.path().join("smart"), &[]);
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    // The first directory accepts connections but never answers (a hung server), the second
    // is a closed port: both time out or fail, are skipped from then on, and the third is asked.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let extra = format!(
        "[sign]\ntrusted_relays = [\"127.0.0.1/32\"]\nkeys_without_auth = [\"@example.org\"]\n[lookup]\nldap = [\"ldap://127.0.0.1:{}\", \"ldap://127.0.0.1:{}\", {:?}]\ntimeout_secs = 2\n",
        hung.local_addr().unwrap().port(),
        free_port(),
        slapd.url()
    );
    let g = Gateway::start(&d.path().join("gw"), inbound.port, smart.port, &extra);
    keygen(&g, "alice@example.org");
    segl_ca(&g, &pki);
    ok(g.ctl(&["trust", "import", &pki.p("pca.pem")]));

    let send_to = |to: &str, subject: &str| {
        send(
            g.smtp_port,
            "alice@example.org",
            &[to],
            &mail("alice@example.org", to, subject, "fortroligt"),
            d.path(),
        );
    };
    // bob: found in the directory, chains to the trusted partner CA: encrypted.
    // carol: not in the directory; mallory: self-signed certificate there: signed only.
    send_to("bob@partner.test", "one");
    send_to("carol@partner.test", "two");
    send_to("mallory@partner.test", "three");
    let out = smart.wait_for(3, 60);
    let bob = for_rcpt(&out, "bob@partner.test");
    assert!(is_encrypted(bob), "{}", bob.text());
    let inner = pki.decrypt("bob", &bob.eml);
    let content = pki.verify("segl-ca.pem", &inner).expect("signed inside");
    assert!(String::from_utf8_lossy(&content).contains("fortroligt"));
    for r in ["carol@partner.test", "mallory@partner.test"] {
        let m = for_rcpt(&out, r);
        assert!(is_signed(m) && !is_encrypted(m), "{r}: {}", m.text());
    }
    let partners = g.ctl_json(&["partner", "list", "--json"]);
    let list = partners.as_array().unwrap();
    assert!(
        list.iter()
            .any(|p| p["addresses"][0] == "bob@partner.test" && p["source"] == "ldap"),
        "{partners}"
    );
    assert!(
        !list
            .iter()
            .any(|p| p["addresses"][0] == "mallory@partner.test"),
        "{partners}"
    );
    let log = g.log_text();
    // Tried by the lookups already running when it failed (the three mails are processed in
    // parallel), then skipped.
    let hung_url = format!(
        "url=ldap://127.0.0.1:{} ",
        hung.local_addr().unwrap().port()
    );
    let hung_failures = |log: &str| {
        log.lines()
            .filter(|l| l.contains("did not answer") && l.contains(&hung_url))
            .count()
    };
    assert!((1..=3).contains(&hung_failures(&log)), "{log}");
    assert!(log.contains("LDAP certificate not used"), "{log}");

    // The directory goes away: bob's certificate comes from the cache; an unknown address
    // is delivered (signed) without waiting on the directory.
    slapd.proc.kill9();
    send_to("bob@partner.test", "four");
    send_to("dave@partner.test", "five");
    let out = smart.wait_for(5, 60);
    let four = out
        .iter()
        .find(|m| header(m, "Subject").as_deref() == Some("four"))
        .expect("mail four");
    assert!(
        is_encrypted(four),
        "cached certificate used: {}",
        four.text()
    );

    let dave = for_rcpt(&out, "dave@partner.test");
    assert!(is_signed(dave) && !is_encrypted(dave));
    assert!(wait_until(Duration::from_secs(5), || g.queue_len() == 0));
    let log = g.log_text();
    assert!(
        (1..=3).contains(&hung_failures(&log)),
        "skipped later: {log}"
    );
    drop(hung);
}

// ldaps://: the directory's server certificate is checked against the system CA store
// (rustls-native-certs, which honours SSL_CERT_FILE): the lookup fails while its CA is unknown
// (mail goes out signed only) and works once it is known.
#[test]
fn ldaps_checks_the_directory_certificate() {
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    pki.user("ina", "email:ina@partner.test");
    // The directory's TLS certificate, from the partner CA.
    pki.issue(
        "srv",
        "/CN=127.0.0.1",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
        None,
    );
    let Some((slapd, tls_port)) = Slapd::start_tls(
        &d.path().join("ldap"),
        Some((&pki.p("srv.pem"), &pki.p("srv.key"))),
    ) else {
        eprintln!("SKIP: slapd/ldapadd not installed (apt-get install slapd ldap-utils)");
        return;
    };
    let mut ldif = format!("dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Partner\ndc: partner\n\n");
    ldif.push_str(&person(&pki, "Ina", "ina@partner.test", "ina.pem"));
    slapd.add(&ldif, d.path());

    let smart = Sink::start(&d.path().join("smart"), &[]);
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    let url = format!("ldaps://127.0.0.1:{tls_port}/{SUFFIX}");
    let extra = format!(
        "[sign]\ntrusted_relays = [\"127.0.0.1/32\"]\nkeys_without_auth = [\"@example.org\"]\n[lookup]\nldap = [{url:?}]\n"
    );
    let mut g = Gateway::start(&d.path().join("gw"), inbound.port, smart.port, &extra);
    keygen(&g, "alice@example.org");
    segl_ca(&g, &pki);
    ok(g.ctl(&["trust", "import", &pki.p("pca.pem")]));
    let send_one = |g: &Gateway, subject: &str| {
        send(
            g.smtp_port,
            "alice@example.org",
            &["ina@partner.test"],
            &mail("alice@example.org", "ina@partner.test", subject, "text"),
            d.path(),
        )
    };
    send_one(&g, "unknown directory CA");
    let out = smart.wait_for(1, 30);
    assert!(
        is_signed(&out[0]) && !is_encrypted(&out[0]),
        "{}",
        out[0].text()
    );
    let log = g.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("LDAP directory did not answer") && l.contains(&url)),
        "{log}"
    );

    // The same gateway, now with the partner CA as its system CA store.
    g.stop();
    let log = std::fs::OpenOptions::new()
        .append(true)
        .open(&g.log)
        .unwrap();
    let mut cmd = Command::new(SEGL);
    cmd.args(["serve", "--config", g.config.to_str().unwrap()])
        .env("SSL_CERT_FILE", pki.p("pca.pem"))
        .env_remove("SSL_CERT_DIR")
        .stdout(std::process::Stdio::null())
        .stderr(log);
    g.proc = Some(Proc::spawn("segl", &mut cmd));
    wait_port(g.smtp_port);
    send_one(&g, "known directory CA");
    let out = smart.wait_for(2, 30);
    let m = out
        .iter()
        .find(|m| header(m, "Subject").as_deref() == Some("known directory CA"))
        .expect("second mail");
    assert!(is_encrypted(m), "{}", m.text());
    let inner = pki.decrypt("ina", &m.eml);
    pki.verify("segl-ca.pem", &inner).expect("signed inside");
}
