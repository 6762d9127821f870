//! The web admin in headless Chromium (Debian `chromium` + `chromium-driver`, driven over
//! WebDriver with fantoccini) against the real `segl serve`: the first administrator through
//! the set-up link, logging in, uploading a partner certificate, approving a certificate
//! harvested from a signed mail sent through SMTP (signed with openssl), importing a PKCS#12
//! file, uploading a licence on System › Licences, the recipient check, and screenshots of every main page in English and German under
//! `target/screenshots/`.
//!
//! Without chromedriver the test is skipped with a message, except in CI (`CI` set), where
//! `.ci/install-deps.sh` installs it and a missing driver is a failure.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_admin_in_chromium() {
    let Some(driver) = chromedriver() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromedriver missing in CI (see .ci/install-deps.sh)"
        );
        eprintln!("SKIPPED web_admin_in_chromium: chromedriver not installed (apt-get install chromium chromium-driver)");
        return;
    };
    let d = tmp();
    let pki = Pki::new(&d.path().join("pki"));
    pki.user("bob", "email:bob@partner.test");
    pki.user("alice", "email:alice@example.org");
    pki.self_signed("mallory", "mallory@evil.test");
    pki.openssl(&[
        "pkcs12",
        "-export",
        "-in",
        "alice.pem",
        "-inkey",
        "alice.key",
        "-out",
        "alice.p12",
        "-passout",
        "pass:p12-secret",
        "-name",
        "alice",
    ]);
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    let g = Gateway::start(
        &d.path().join("gw"),
        inbound.port,
        0,
        "[harvest]\nmode = \"manual\"\n",
    );
    let link = std::fs::read_to_string(g.dir.join("data/setup-link.txt")).expect("a set-up link");
    assert!(
        g.log_text().contains(link.trim()),
        "the set-up link is in the log"
    );

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

    // 1. The first administrator through the one-time set-up link.
    ui.c.goto(link.trim()).await.unwrap();
    ui.wait_text("Create the first administrator").await;
    ui.shot("en-setup").await;
    ui.fill("#name", "root").await;
    ui.fill("#password", PW).await;
    ui.fill("#password2", PW).await;
    ui.click("#submit").await;
    ui.wait_text("Messages in queue").await;
    assert!(
        !g.dir.join("data/setup-link.txt").exists(),
        "the link file is gone"
    );

    // 2. Log out and in again (a wrong password first).
    ui.click("#logout").await;
    ui.wait_text("Log in").await;
    ui.shot("en-login").await;
    ui.fill("#name", "root").await;
    ui.fill("#password", "not the password").await;
    ui.click("#submit").await;
    ui.wait_text("Wrong name or password").await;
    ui.fill("#name", "root").await;
    ui.fill("#password", PW).await;
    ui.click("#submit").await;
    ui.wait_text("Messages in queue").await;

    // 3. Upload a partner certificate.
    ui.go("/partners").await;
    let f = ui.c.find(Locator::Css("#partner-file")).await.unwrap();
    f.send_keys(&pki.p("bob.pem")).await.unwrap();
    ui.click("#partner-upload").await;
    let t = ui.wait_text("imported 1 certificate").await;
    assert!(
        t.contains("bob@partner.test") && t.contains("Partner CA"),
        "{t}"
    );

    // 4. A signed mail through SMTP from an unknown (self-signed) signer waits for approval.
    let m = partner_signed(
        &pki,
        "mallory",
        "mallory@evil.test",
        "alice@example.org",
        "hello",
        "signed hello",
    );
    send(
        g.smtp_port,
        "mallory@evil.test",
        &["alice@example.org"],
        &m,
        d.path(),
    );
    inbound.wait_for(1, 30);
    ui.go("/partners/pending").await;
    let t = ui.wait_text("mallory@evil.test").await;
    assert!(t.contains("harvested"), "{t}");
    assert!(
        t.contains("Sender: mallory@evil.test"),
        "the approvals page names the signed mail's sender: {t}"
    );
    ui.shot("en-pending").await;
    ui.click("button.approve").await;
    ui.wait_text("approve:").await;
    let approved = g.ctl_json(&["partner", "list", "--json"]);
    assert!(
        approved
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["addresses"][0] == "mallory@evil.test" && p["pending"] == false),
        "{approved}"
    );

    // 5. Import a PKCS#12 file as an own key.
    ui.go("/keys").await;
    let f = ui.c.find(Locator::Css("#key-file")).await.unwrap();
    f.send_keys(&pki.p("alice.p12")).await.unwrap();
    ui.fill("#key-password", "p12-secret").await;
    ui.click("#key-import").await;
    let t = ui.wait_text("imported key").await;
    assert!(t.contains("alice@example.org"), "{t}");

    // 5b. System › Licences: the gateway starts with 1000 licensed keys; a licence for 7
    // keys, issued now with the vendor tool, is uploaded and the count changes on the page.
    ui.go("/license").await;
    ui.wait_text("Development build").await;
    let keys = |ui: &Ui| {
        let c = ui.c.clone();
        async move {
            c.find(Locator::Css("#keys-licensed"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    assert_eq!(keys(&ui).await, "1000");
    let lic = dev_license(
        &d.path().join("seven.lic"),
        &["--keys", "7", "--expires", "+90", "--id", "L-SEVEN"],
    );
    let f = ui.c.find(Locator::Css("#license-file")).await.unwrap();
    f.send_keys(lic.to_str().unwrap()).await.unwrap();
    ui.click("#license-upload").await;
    let t = ui.wait_text("licence installed").await;
    assert!(
        t.contains("L-SEVEN") && t.contains("alice@example.org"),
        "{t}"
    );
    assert_eq!(keys(&ui).await, "7");
    // A refused file keeps the licence and shows the reason.
    let bad = d.path().join("bad.lic");
    std::fs::write(&bad, "not a licence\n").unwrap();
    let f = ui.c.find(Locator::Css("#license-file")).await.unwrap();
    f.send_keys(bad.to_str().unwrap()).await.unwrap();
    ui.click("#license-upload").await;
    ui.wait_text("licence refused").await;
    assert_eq!(keys(&ui).await, "7");

    // 6. Recipient check for a known and an unknown address.
    ui.go("/recipients").await;
    ui.fill("#check-addresses", "bob@partner.test\nnobody@unknown.test")
        .await;
    ui.click("#check-submit").await;
    ui.wait_text("nobody@unknown.test").await;
    let can =
        ui.c.find(Locator::Css("#check-results tr.can"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    assert!(
        can.contains("bob@partner.test") && can.contains("encrypted"),
        "{can}"
    );
    let cannot =
        ui.c.find(Locator::Css("#check-results tr.cannot"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    assert!(
        cannot.contains("nobody@unknown.test") && cannot.contains("not encrypted"),
        "{cannot}"
    );

    // 6b. System › Network: a static address is validated and written to network.conf (not
    // on a box, so nothing is applied); a gateway outside the subnet is refused. System › Time.
    ui.go("/network").await;
    ui.wait_text("Not running on a box").await;
    ui.click("#net-static").await;
    ui.fill("#net-address", "192.0.2.10/24").await;
    ui.fill("#net-gateway", "198.51.100.1").await;
    ui.click("#net-save").await;
    ui.wait_text("not another address in the subnet").await;
    let conf = g.dir.join("data/network.conf");
    assert!(!conf.exists(), "nothing written for a refused change");
    ui.click("#net-static").await;
    ui.fill("#net-address", "192.0.2.10/24").await;
    ui.fill("#net-gateway", "192.0.2.1").await;
    ui.fill("#net-dns", "192.0.2.53, 192.0.2.54").await;
    ui.click("#net-save").await;
    ui.wait_text("saved; not on a box").await;
    let text = std::fs::read_to_string(&conf).expect("network.conf written");
    assert!(
        text.contains("MODE=static\n")
            && text.contains("ADDRESS=192.0.2.10/24\n")
            && text.contains("GATEWAY=192.0.2.1\n")
            && text.contains("DNS=\"192.0.2.53 192.0.2.54\"\n"),
        "{text}"
    );
    ui.go("/time").await;
    ui.wait_text("trusted (later than the firmware's build date)")
        .await;
    ui.fill("#time-ntp", "ntp1.example.org, 192.0.2.123").await;
    ui.fill("#time-tz", "Europe/Berlin").await;
    ui.click("#time-save").await;
    ui.wait_text("saved; not on a box").await;
    let text = std::fs::read_to_string(g.dir.join("data/time.conf")).expect("time.conf written");
    assert!(
        text.contains("NTP=\"ntp1.example.org 192.0.2.123\"\n")
            && text.contains("TIMEZONE=Europe/Berlin\n"),
        "{text}"
    );

    // 7. Screenshots of every main page, in English and German.
    let pages = [
        (
            "dashboard",
            "/",
            "Messages in queue",
            "Nachrichten in der Warteschlange",
        ),
        (
            "partners",
            "/partners",
            "bob@partner.test",
            "bob@partner.test",
        ),
        (
            "pending",
            "/partners/pending",
            "Awaiting approval",
            "Zur Freigabe",
        ),
        ("domains", "/domains", "Local domains", "Lokale Domains"),
        ("queue", "/queue", "Held", "Angehalten"),
        (
            "maillog",
            "/maillog",
            "mallory@evil.test",
            "mallory@evil.test",
        ),
        ("keyring", "/keys", "alice@example.org", "alice@example.org"),
        ("users", "/users", "Administrators", "Administratoren"),
        ("backup", "/backup", "Passphrase", "Passphrase"),
        ("licences", "/license", "L-SEVEN", "Lizenzen"),
        (
            "firmware",
            "/firmware",
            "This box cannot update itself",
            "Diese Box kann sich nicht selbst aktualisieren",
        ),
        ("network", "/network", "Static address", "Feste Adresse"),
        ("time", "/time", "NTP servers", "NTP-Server"),
        (
            "audit",
            "/audit",
            "POST /partners/upload",
            "POST /partners/upload",
        ),
        (
            "recipients",
            "/recipients",
            "Recipient check",
            "Empfängerprüfung",
        ),
        ("account", "/account", "Language", "Sprache"),
    ];
    for (lang, idx) in [("en", 2), ("de", 3)] {
        if lang == "de" {
            ui.go("/account").await;
            let sel = ui.c.find(Locator::Css("#lang")).await.unwrap();
            sel.select_by_value("de").await.unwrap();
            ui.click("#lang-save").await;
            ui.wait_text("Übersicht").await;
        }
        for p in pages {
            ui.go(p.1).await;
            let want = if idx == 2 { p.2 } else { p.3 };
            ui.wait_text(want).await;
            ui.shot(&format!("{lang}-{}", p.0)).await;
        }
    }
    let log = ui.text().await;
    assert!(!log.contains(PW));
    ui.c.close().await.ok();
}
