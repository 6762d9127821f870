//! Live configuration through the web admin in headless Chromium against the real `segl
//! serve`: a policy option (the subject mark of validly signed mail) switched on the
//! S/MIME-Gateway page shows on the next mail through the gateway over SMTP without a restart,
//! while an SMTP session opened before the change stays usable; restoring the previous
//! configuration revision brings the old behaviour back; an invalid value is shown next to its
//! field and leaves the file unchanged. Screenshots (English and German) of the configuration
//! pages go to `target/screenshots/`.
//!
//! Without chromedriver the test is skipped with a message, except in CI (`CI` set).

mod common;
#[path = "policy_common/mod.rs"]
mod policy_common;
#[path = "smime_common/mod.rs"]
mod smime_common;
#[path = "webui_common/mod.rs"]
mod webui_common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::*;
use fantoccini::Locator;
use policy_common::*;
use webui_common::*;

const PW: &str = "correct horse battery";

fn subject(m: &Stored) -> String {
    header(m, "Subject").unwrap_or_default()
}

/// Sends a mail signed by bob and returns its subject as delivered to alice.
fn signed_mail_subject(
    g: &Gateway,
    pki: &Pki,
    inbound: &Sink,
    subject_text: &str,
    dir: &std::path::Path,
) -> String {
    let before = inbound.messages().len();
    let m = partner_signed(
        pki,
        "bob",
        "bob@partner.test",
        "alice@example.org",
        subject_text,
        "hello",
    );
    send(
        g.smtp_port,
        "bob@partner.test",
        &["alice@example.org"],
        &m,
        dir,
    );
    let got = inbound.wait_for(before + 1, 30);
    let m = got
        .iter()
        .find(|m| subject(m).ends_with(subject_text))
        .unwrap_or_else(|| panic!("no mail {subject_text:?} delivered"));
    subject(m)
}

/// A self-signed certificate for `cn` and its key, made with openssl.
fn openssl_cert(cert: &std::path::Path, key: &std::path::Path, cn: &str) {
    let o = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        ])
        .args(["-subj", &format!("/CN={cn}")])
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
}

/// `openssl x509 -fingerprint -sha256` of a PEM text.
fn fingerprint(pem: &[u8]) -> String {
    let mut c = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    c.stdin.take().unwrap().write_all(pem).unwrap();
    let o = c.wait_with_output().unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn sha256_of(cert: &std::path::Path) -> String {
    fingerprint(&std::fs::read(cert).unwrap())
}

/// The certificate the gateway presents after STARTTLS, as `openssl s_client` sees it.
fn starttls_sha256(port: u16) -> String {
    let o = Command::new("openssl")
        .args(["s_client", "-starttls", "smtp", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    fingerprint(&o.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_pages_change_the_running_gateway() {
    let Some(driver) = chromedriver() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromedriver missing in CI (see .ci/install-deps.sh)"
        );
        eprintln!(
            "SKIPPED configuration_pages_change_the_running_gateway: chromedriver not installed"
        );
        return;
    };
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    pki.user("bob", "email:bob@partner.test");
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    let mut g = Gateway::start(&d.path().join("gw"), inbound.port, 0, "");
    ok(g.ctl(&["trust", "import", &pki.p("pca.pem")]));
    let pwfile = d.path().join("pw.txt");
    std::fs::write(&pwfile, PW).unwrap();
    ok(g.ctl(&[
        "admin",
        "add",
        "root",
        "--password-file",
        pwfile.to_str().unwrap(),
    ]));

    // Before any change: the default mark.
    assert_eq!(
        signed_mail_subject(&g, &pki, &inbound, "one", d.path()),
        "[signed] one"
    );

    // An SMTP session opened before the change.
    let mut early = Raw::connect(g.smtp_port);
    assert!(early.cmd("EHLO early.test").starts_with("250"));

    let port = free_port();
    let mut _driver = Proc::spawn(
        "chromedriver",
        Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_port(port);
    let profile = d.path().join("chromium-profile");
    std::fs::create_dir_all(&profile).unwrap();
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let ui = Ui {
        c: browser(port, &profile).await,
        base: format!("http://127.0.0.1:{}", g.admin_port),
        shots,
    };
    ui.go("/login").await;
    ui.fill("#name", "root").await;
    ui.fill("#password", PW).await;
    ui.click("#submit").await;
    ui.wait_text("Messages in queue").await;

    // 1. Switch the subject mark on Module › Mail-Server › S/MIME-Gateway › Verify.
    ui.go("/gateway/verify").await;
    ui.wait_text("Subject mark: valid signature").await;
    ui.fill("#mark-signed", "[VERIFIED]").await;
    ui.click("#save").await;
    ui.wait_text("Saved as revision 2").await;
    let file = std::fs::read_to_string(&g.config).unwrap();
    assert!(file.contains("[VERIFIED]"), "{file}");
    assert_eq!(
        signed_mail_subject(&g, &pki, &inbound, "two", d.path()),
        "[VERIFIED] two",
        "the next mail uses the new mark without a restart"
    );

    // The session opened before the change is still usable.
    assert!(early
        .cmd("MAIL FROM:<carol@partner.test>")
        .starts_with("250"));
    assert!(early.cmd("RCPT TO:<alice@example.org>").starts_with("250"));
    assert!(early.cmd("DATA").starts_with("354"));
    let r = early.cmd("From: carol@partner.test\r\nTo: alice@example.org\r\nSubject: early session\r\n\r\nstill here\r\n.");
    assert!(r.starts_with("250"), "{r}");
    early.cmd("QUIT");
    assert!(
        wait_until(std::time::Duration::from_secs(30), || inbound
            .messages()
            .iter()
            .any(|m| subject(m) == "early session")),
        "the mail of the early session was delivered"
    );

    // 2. Restore the previous revision: the old mark again.
    ui.go("/config/revisions").await;
    ui.wait_text("mark.signed").await;
    ui.click("#restore-1").await;
    ui.wait_text("Saved as revision 3").await;
    assert_eq!(
        signed_mail_subject(&g, &pki, &inbound, "three", d.path()),
        "[signed] three"
    );
    ui.go("/config/revisions?show=2").await;
    ui.wait_text("+signed = \"[VERIFIED]\"").await;

    // 3. Invalid values: a message next to the field, the file unchanged.
    let before = std::fs::read(&g.config).unwrap();
    ui.go("/relay").await;
    ui.wait_text("Trusted networks").await;
    ui.fill("#smtp-max_recipients", "many").await;
    ui.click("#save").await;
    let t = ui.wait_text("whole number").await;
    assert!(t.contains("Not saved"), "{t}");
    let e =
        ui.c.find(Locator::Css("#error-smtp-max_recipients"))
            .await
            .unwrap();
    assert!(e.text().await.unwrap().contains("whole number"));
    ui.fill("#smtp-max_recipients", "100").await;
    ui.fill("#relay-trusted_networks", "10.0.0.0/33").await;
    ui.click("#save").await;
    ui.wait_text("10.0.0.0/33").await;
    let e =
        ui.c.find(Locator::Css("#error-relay-trusted_networks"))
            .await
            .expect("the message is next to the field");
    assert!(e.text().await.unwrap().contains("trusted_networks"));
    ui.shot("en-relay-invalid").await;
    assert_eq!(std::fs::read(&g.config).unwrap(), before, "file unchanged");
    let revs = g.ctl_json(&["config", "revisions", "--json"]);
    assert_eq!(revs.as_array().unwrap().len(), 3);

    // 4. The same through `segl ctl config`: set, diff, restore.
    let out = ok(g.ctl(&["config", "set", "mark.signed=[CTL]"]));
    assert!(
        out.contains("revision 4") && out.contains("changed mark.signed"),
        "{out}"
    );
    let diff = ok(g.ctl(&["config", "diff", "3", "4"]));
    assert!(diff.contains("+signed = \"[CTL]\""), "{diff}");
    let out = ok(g.ctl(&["config", "restore", "3"]));
    assert!(out.contains("revision 5"), "{out}");
    let shown = g.ctl_json(&["config", "show", "--json"]);
    assert_eq!(shown["mark"]["signed"], "[signed]");
    let out = g.ctl(&["config", "set", "relay.trusted_networks=[\"10.0.0.0/33\"]"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("trusted_networks"));

    // 5. SMTP settings › Relay control: upload a STARTTLS certificate made with openssl. A key
    // of another certificate is refused with the reason; the right pair applies at the next
    // start.
    let (cert, key, other_key) = (
        d.path().join("mx.crt"),
        d.path().join("mx.key"),
        d.path().join("other.key"),
    );
    openssl_cert(&cert, &key, "mx.segl.test");
    openssl_cert(&d.path().join("other.crt"), &other_key, "other.segl.test");
    ui.go("/relay").await;
    ui.wait_text("STARTTLS certificate (SMTP)").await;
    let upload = |k: PathBuf| {
        let (ui, cert) = (&ui, cert.clone());
        async move {
            for (id, f) in [("#tls-smtp-cert", &cert), ("#tls-smtp-key", &k)] {
                ui.c.find(Locator::Css(id))
                    .await
                    .unwrap()
                    .send_keys(f.to_str().unwrap())
                    .await
                    .unwrap();
            }
            ui.click("#tls-smtp-upload").await;
        }
    };
    upload(other_key.clone()).await;
    ui.wait_text("does not belong to the certificate").await;
    upload(key.clone()).await;
    ui.wait_text("Certificate installed").await;
    ui.wait_text("CN=mx.segl.test").await;
    ui.shot("en-relay-tls").await;
    let listed = ok(g.ctl(&["tls", "list"]));
    assert!(
        listed.contains("smtp    installed") && listed.contains("next start"),
        "{listed}"
    );
    // The same through `segl ctl tls` for the portal: a wrong key refused, install, reset.
    let bad = g.ctl(&[
        "tls",
        "install",
        "portal",
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        other_key.to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("does not belong"));
    let out = ok(g.ctl(&[
        "tls",
        "install",
        "portal",
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]));
    assert!(out.contains("CN=mx.segl.test"), "{out}");
    let out = ok(g.ctl(&["tls", "reset", "portal"]));
    assert!(out.contains("back to self-signed"), "{out}");
    assert_ne!(
        starttls_sha256(g.smtp_port),
        sha256_of(&cert),
        "not before the restart"
    );

    // 6. A restart keeps the administrator logged in (sessions are kept, hashed, in the data
    // dir) and runs the file as changed: STARTTLS presents the uploaded certificate.
    g.stop();
    g.up();
    ui.go("/gateway/verify").await;
    ui.wait_text("Subject mark: valid signature").await;
    assert_eq!(starttls_sha256(g.smtp_port), sha256_of(&cert));

    // 7. Screenshots, English and German.
    let pages = [
        (
            "gateway-verify",
            "/gateway/verify",
            "Subject mark: valid signature",
            "Betreff-Markierung: gültige Signatur",
        ),
        (
            "gateway-encrypt",
            "/gateway/encrypt",
            "Always encrypt to",
            "Immer verschlüsseln an",
        ),
        (
            "gateway-sign",
            "/gateway/sign",
            "Function mailboxes",
            "Funktionspostfächer",
        ),
        (
            "gateway-decrypt",
            "/gateway/decrypt",
            "Digital Post distribution rules",
            "Digital-Post-Verteilregeln",
        ),
        (
            "relay",
            "/relay",
            "Trusted networks",
            "Vertrauenswürdige Netze",
        ),
        (
            "system",
            "/system",
            "Web admin HTTPS certificate",
            "HTTPS-Zertifikat der Web-Administration",
        ),
        (
            "revisions",
            "/config/revisions",
            "restore of revision 1",
            "restore of revision 1",
        ),
    ];
    for lang in ["en", "de"] {
        if lang == "de" {
            ui.go("/account").await;
            let sel = ui.c.find(Locator::Css("#lang")).await.unwrap();
            sel.select_by_value("de").await.unwrap();
            ui.click("#lang-save").await;
            ui.wait_text("Übersicht").await;
        }
        for p in pages {
            ui.go(p.1).await;
            ui.wait_text(if lang == "en" { p.2 } else { p.3 }).await;
            ui.shot(&format!("{lang}-{}", p.0)).await;
        }
    }
    ui.c.close().await.ok();
}
