//! Digital Post distribution end to end: openssl plays Digital Post (signs with the "Digital
//! Post" certificate, encrypts to the company's domain certificate, adds X-DPI-* headers); the
//! real gateway decrypts, verifies and routes by `[[digital_post.rules]]`; an aiosmtpd sink is
//! the internal mail server. Only trusted Digital Post mail is routed.

mod common;
#[path = "smime_common/mod.rs"]
mod smime_common;

use common::*;
#[path = "policy_common/mod.rs"]
mod policy_common;
use policy_common::*;

/// Digital Post mail: `content` signed by `signer`, X-DPI headers `inner` inside the
/// encryption and `outer` outside, encrypted to `to_cert`.
fn dp_mail(
    pki: &Pki,
    signer: &str,
    to_cert: &str,
    inner: &str,
    outer: &str,
    text: &str,
) -> Vec<u8> {
    pki.write(
        "dp-content.txt",
        format!("Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n").as_bytes(),
    );
    pki.openssl(&[
        "cms",
        "-sign",
        "-in",
        "dp-content.txt",
        "-signer",
        &format!("{signer}.pem"),
        "-inkey",
        &format!("{signer}.key"),
        "-out",
        "dp-signed.eml",
    ]);
    let mut signed = inner.as_bytes().to_vec();
    signed.extend_from_slice(&pki.read("dp-signed.eml"));
    pki.write("dp-signed-dpi.eml", &signed);
    pki.openssl(&[
        "cms",
        "-encrypt",
        "-aes256",
        "-in",
        "dp-signed-dpi.eml",
        "-from",
        "noreply@digitalpost.test",
        "-to",
        "post@example.org",
        "-subject",
        &format!("Digital Post: {text}"),
        "-out",
        "dp-enc.eml",
        &format!("{to_cert}.pem"),
    ]);
    let mut out = outer.as_bytes().to_vec();
    out.extend_from_slice(&pki.read("dp-enc.eml"));
    out
}

fn by_text<'a>(msgs: &'a [Stored], text: &str) -> &'a Stored {
    msgs.iter()
        .find(|m| m.text().contains(&format!("Digital Post: {text}")))
        .unwrap_or_else(|| panic!("no message {text}"))
}

#[test]
fn digital_post_is_routed_only_when_trusted() {
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    pki.user("dp", "email:noreply@digitalpost.test");
    pki.user("other", "email:noreply@digitalpost.test");
    pki.user("company", "DNS:example.org");
    pki.openssl(&[
        "pkcs12",
        "-export",
        "-in",
        "company.pem",
        "-inkey",
        "company.key",
        "-certfile",
        "pca.pem",
        "-passout",
        "pass:pw",
        "-out",
        "company.p12",
    ]);
    pki.write("pw", b"pw\n");
    let smart = Sink::start(&d.path().join("smart"), &[]);
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    let extra = format!(
        "[digital_post]\nsender_certificates = [{:?}]\n[[digital_post.rules]]\nheader = \"X-DPI-PNUMMER\"\nequals = \"1003290274\"\ndeliver_to = [\"skolen@example.org\", \"arkiv@example.org\"]\n[[digital_post.rules]]\nheader = \"X-DPI-EMNE\"\ncontains = \"byggesag\"\ndeliver_to = [\"teknik@example.org\", \"arkiv@example.org\"]\n",
        pki.p("dp.pem")
    );
    let g = Gateway::start(&d.path().join("gw"), inbound.port, smart.port, &extra);
    ok(g.ctl(&["trust", "import", &pki.p("pca.pem")]));
    ok(g.ctl(&[
        "key",
        "import",
        &pki.p("company.p12"),
        "--password-file",
        &pki.p("pw"),
        "--domain",
        "example.org",
    ]));
    keygen(&g, "alice@example.org");
    pki.write(
        "alice.pem",
        ok(g.ctl(&["key", "export-cert", "alice@example.org"])).as_bytes(),
    );

    let dpi = "X-DPI-PNUMMER: 1003290274\r\nX-DPI-EMNE: Byggesag 17\r\n";
    let cases: [(&str, &str, &str, &str, &str, &str); 5] = [
        // (text, signer, encrypted to, inner headers, outer headers, envelope recipient)
        ("routed", "dp", "company", dpi, "", "post@example.org"),
        (
            "other signer",
            "other",
            "company",
            dpi,
            "",
            "post@example.org",
        ),
        (
            "individual key",
            "dp",
            "alice",
            dpi,
            "",
            "alice@example.org",
        ),
        (
            "no match",
            "dp",
            "company",
            "X-DPI-PNUMMER: 42\r\n",
            "",
            "post@example.org",
        ),
        (
            "forged outside",
            "dp",
            "company",
            "X-DPI-PNUMMER: 42\r\n",
            "X-DPI-PNUMMER: 1003290274\r\n",
            "post@example.org",
        ),
    ];
    for (text, signer, to_cert, inner, outer, rcpt) in cases {
        let m = dp_mail(&pki, signer, to_cert, inner, outer, text);
        send(
            g.smtp_port,
            "noreply@digitalpost.test",
            &[rcpt],
            &m,
            d.path(),
        );
    }
    let got = inbound.wait_for(5, 60);
    assert_eq!(got.len(), 5, "one copy per message");

    // Trusted: decrypted with the company key, signed by Digital Post: both rules match.
    let routed = by_text(&got, "routed");
    let mut rcpts = routed.rcpts();
    rcpts.sort();
    assert_eq!(
        rcpts,
        [
            "arkiv@example.org",
            "skolen@example.org",
            "teknik@example.org"
        ]
    );
    assert_eq!(
        header(routed, "X-Segl-Routed").as_deref(),
        Some("digital-post rule 1 (X-DPI-PNUMMER=1003290274), rule 2 (X-DPI-EMNE=Byggesag 17)")
    );
    assert_eq!(
        header(routed, "X-Segl-Encryption").as_deref(),
        Some("decrypted")
    );
    assert!(header(routed, "X-Segl-Signature").is_some_and(|s| s.starts_with("valid;")));
    assert!(
        routed.text().contains("\r\n\r\nrouted\r\n"),
        "{}",
        routed.text()
    );

    // Not trusted or not matching: delivered as addressed.
    for (text, rcpt) in [
        ("other signer", "post@example.org"),
        ("individual key", "alice@example.org"),
        ("no match", "post@example.org"),
        ("forged outside", "post@example.org"),
    ] {
        let m = by_text(&got, text);
        assert_eq!(m.rcpts(), [rcpt], "{text}");
        assert!(header(m, "X-Segl-Routed").is_none(), "{text}");
        assert_eq!(
            header(m, "X-Segl-Encryption").as_deref(),
            Some("decrypted"),
            "{text}"
        );
    }
    let log = g.log_text();
    assert!(
        log.contains("the signer is not a Digital Post sender certificate"),
        "{log}"
    );
    assert!(log.contains("not decrypted with a company key"), "{log}");
}

#[test]
fn digital_post_rules_must_deliver_locally() {
    let d = tmp();
    let cfg = d.path().join("segl.toml");
    let fp = format!("sha256:{}", "ab".repeat(32));
    for (rules, needle) in [
        (
            format!("sender_certificates = [{fp:?}]\n[[digital_post.rules]]\nheader = \"X-DPI-PNUMMER\"\nequals = \"1\"\ndeliver_to = [\"boss@elsewhere.test\"]\n"),
            "rule 1 (X-DPI-PNUMMER): \"boss@elsewhere.test\" is not a local recipient",
        ),
        (
            format!("sender_certificates = [{fp:?}]\n[[digital_post.rules]]\nheader = \"Subject\"\nequals = \"1\"\ndeliver_to = [\"a@example.org\"]\n"),
            "must be an X-DPI-* header name",
        ),
        (
            "sender_certificates = [\"missing.pem\"]\n".to_string(),
            "missing.pem",
        ),
    ] {
        std::fs::write(&cfg, format!("[digital_post]\n{rules}")).unwrap();
        let out = std::process::Command::new(SEGL)
            .args(["config", "check", cfg.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{rules}");
        assert!(err.contains(needle), "{err}");
    }
}
