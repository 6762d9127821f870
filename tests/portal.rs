//! The web encryption portal (issue 18) against the real `segl serve`: mail that must be
//! encrypted for a recipient without a certificate is sent over SMTP (Python smtplib), the
//! notification arrives at the outbound sink (aiosmtpd) and the receipt at the sender's; headless
//! Chromium (chromium-driver over WebDriver, fantoccini) follows the link, sets a password with
//! the sender's code, reads the message, the attachment is downloaded with the browser's session
//! (bytes identical), and the reply arrives at the sender's sink. Screenshots go to
//! `target/screenshots/portal-*.png`.
//!
//! The security checks speak plain HTTP to the portal listener: expired and reused links, the
//! lockout after wrong passwords and its end with a new code from a resend, one user asking for
//! another's message by URL, no admin page or API on the portal listener, and the expiry notice.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use fantoccini::{ClientBuilder, Locator};

const PW: &str = "portal password 1";

/// The answer of one HTTP/1.0 request.
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The value of the portal session cookie set by this answer.
    fn session(&self) -> Option<String> {
        self.cookie("segl_portal")
    }
    /// The value of cookie `name` set by this answer.
    fn cookie(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        self.head
            .lines()
            .filter(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
            .filter_map(|l| l.split_once(prefix.as_str()).map(|(_, v)| v))
            .map(|v| v.split(';').next().unwrap_or("").to_string())
            .find(|v| !v.is_empty())
    }
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// One request to 127.0.0.1:`port` (a session cookie, a urlencoded form, extra headers).
fn request(
    port: u16,
    method: &str,
    path: &str,
    session: Option<&str>,
    form: Option<&str>,
    extra: &[(&str, &str)],
) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n");
    if let Some(c) = session {
        req.push_str(&format!("Cookie: segl_portal={c}\r\n"));
    }
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = form.unwrap_or("");
    let typed = extra
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    if form.is_some() && !typed {
        req.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = vec![];
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        head,
        body: raw[split + 4..].to_vec(),
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Sends `subject` from alice@example.org to `to` through the gateway (smtplib), with
/// `attachment` (a file) when given.
fn send(g: &Gateway, to: &str, subject: &str, body: &str, attachment: Option<&Path>) {
    let attach = attachment
        .map(|p| {
            format!(
                "m.add_attachment(open({:?},'rb').read(), maintype='application', subtype='octet-stream', filename='terms.bin')\n",
                p.display().to_string()
            )
        })
        .unwrap_or_default();
    python(&format!(
        "import smtplib\nfrom email.message import EmailMessage\nm = EmailMessage()\n\
         m['From'] = 'Alice <alice@example.org>'\nm['To'] = {to:?}\nm['Subject'] = {subject:?}\n\
         m['Message-ID'] = '<orig-{n}@example.org>'\nm.set_content({body:?})\n{attach}\
         s = smtplib.SMTP('127.0.0.1', {port})\ns.send_message(m)\ns.quit()\n",
        port = g.smtp_port,
        n = rand_tag(),
    ));
}

fn rand_tag() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// The messages of `sink` for `rcpt` whose text contains `needle`, waiting up to 30 s for one.
fn wait_mail(sink: &Sink, rcpt: &str, needle: &str) -> Stored {
    let mut found = None;
    wait_until(Duration::from_secs(30), || {
        found = sink
            .messages()
            .into_iter()
            .rev()
            .find(|m| m.rcpts().iter().any(|r| r == rcpt) && m.text().contains(needle));
        found.is_some()
    });
    found.unwrap_or_else(|| panic!("no mail to {rcpt} with {needle:?} arrived"))
}

/// The set-up link (path and query) in a notification.
fn setup_path(note: &Stored) -> String {
    let text = note.text();
    let i = text.find("/setup?t=").expect("a set-up link");
    text[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/?=".contains(*c))
        .collect()
}

/// The code named in a receipt (after "set-up code … : ").
fn receipt_code(receipt: &Stored, rcpt: &str) -> String {
    let text = receipt.text();
    let after = &text[text.find(rcpt).expect("recipient in receipt")..];
    let line = after.lines().nth(1).expect("a code line");
    line.rsplit(": ").next().unwrap().trim().to_string()
}

struct Setup {
    _dir: tempfile::TempDir,
    g: Gateway,
    inbound: Sink,
    outbound: Sink,
    port: u16,
}

fn start() -> Setup {
    let d = tempfile::tempdir().unwrap();
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    let outbound = Sink::start(&d.path().join("outbound"), &[]);
    let port = free_port();
    let g = Gateway::start(
        &d.path().join("gw"),
        inbound.port,
        outbound.port,
        &format!(
            "[portal]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\n\
             public_url = \"http://127.0.0.1:{port}\"\nexclude = [\"@excluded.test\"]\n"
        ),
    );
    Setup {
        _dir: d,
        g,
        inbound,
        outbound,
        port,
    }
}

fn chromedriver() -> Option<PathBuf> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipient_reads_downloads_and_replies_in_chromium() {
    let Some(driver) = chromedriver() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromedriver missing in CI (see .ci/install-deps.sh)"
        );
        eprintln!("SKIPPED portal browser test: chromedriver not installed");
        return;
    };
    let s = start();
    let attachment: Vec<u8> = (0..50_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let file = s.g.dir.join("terms.bin");
    std::fs::write(&file, &attachment).unwrap();
    send(
        &s.g,
        "eve@outside.test",
        "[encrypt] Contract terms [code:tiger-42]",
        "Dear Eve,\nthe secret terms are attached.\n",
        Some(&file),
    );

    // The notification: a link, no content.
    let note = wait_mail(&s.outbound, "eve@outside.test", "/setup?t=");
    let text = note.text();
    assert!(
        !text.contains("secret terms") && !text.contains("Contract"),
        "no content:\n{text}"
    );
    assert!(
        !text.contains("terms.bin") && !text.contains("tiger-42"),
        "no attachment, no code"
    );
    assert!(text.contains("alice@example.org"), "names the sender");
    // The receipt to the sender names the recipient.
    let receipt = wait_mail(&s.inbound, "alice@example.org", "eve@outside.test");
    assert!(
        receipt.text().contains("the one you chose"),
        "{}",
        receipt.text()
    );
    assert!(
        !receipt.text().contains("/setup?t="),
        "the link goes to the recipient only"
    );

    let wd = free_port();
    let _driver = Proc::spawn(
        "chromedriver",
        Command::new(driver)
            .arg(format!("--port={wd}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_port(wd);
    let profile = s.g.dir.join("chromium-profile");
    std::fs::create_dir_all(&profile).unwrap();
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("/usr/bin/chromium");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                     "--disable-dev-shm-usage", "--window-size=1100,900",
                     format!("--user-data-dir={}", profile.display())]
        }),
    );
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{wd}"))
        .await
        .expect("a WebDriver session");
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let body_text = || async {
        match c.find(Locator::Css("body")).await {
            Ok(b) => b.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    };
    macro_rules! wait_for {
        ($needle:expr) => {{
            let mut t = String::new();
            for _ in 0..100 {
                t = body_text().await;
                if t.contains($needle) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(t.contains($needle), "page never showed {:?}:\n{t}", $needle);
            t
        }};
    }
    let shot = |name: &'static str| {
        let c = c.clone();
        let shots = shots.clone();
        async move {
            let png = c.screenshot().await.unwrap();
            std::fs::write(shots.join(format!("portal-{name}.png")), png).unwrap();
        }
    };
    let fill = |css: &'static str, value: String| {
        let c = c.clone();
        async move {
            let e = c.find(Locator::Css(css)).await.unwrap();
            e.send_keys(&value).await.unwrap();
        }
    };

    // Set-up: the link, the sender's code, a password.
    c.goto(&format!("http://127.0.0.1:{}{}", s.port, setup_path(&note)))
        .await
        .unwrap();
    wait_for!("Set your password");
    shot("setup").await;
    fill("#code", "TIGER-42".into()).await;
    fill("#password", PW.into()).await;
    fill("#password2", PW.into()).await;
    c.find(Locator::Css("#submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let inbox = wait_for!("Contract terms");
    assert!(!inbox.contains("[code:"), "the code tag left the subject");
    shot("inbox").await;

    // Read.
    c.find(Locator::Css("a.msg"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for!("the secret terms are attached");
    shot("message").await;

    // Download the attachment with the browser's session.
    let href = c
        .find(Locator::Css("a.attachment"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let cookie = c.get_named_cookie("segl_portal").await.unwrap();
    let got = request(s.port, "GET", &href, Some(cookie.value()), None, &[]);
    assert_eq!(got.status, 200);
    assert!(got
        .header("content-disposition")
        .unwrap_or_default()
        .contains("terms.bin"));
    assert!(got.body == attachment, "attachment bytes identical");

    // Reply.
    fill("#reply", "Thank you, Alice. Agreed.".into()).await;
    c.find(Locator::Css("#send"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for!("Your reply was sent");
    shot("replied").await;
    let reply = wait_mail(&s.inbound, "alice@example.org", "Thank you, Alice. Agreed.");
    assert_eq!(reply.mail_from(), "eve@outside.test");
    let rt = reply.text();
    assert!(rt.contains("From: <eve@outside.test>"), "{rt}");
    assert!(rt.contains("Re: Contract terms"), "{rt}");
    assert!(
        rt.contains("X-Segl-Portal:"),
        "marked as from the portal: {rt}"
    );

    // German pages.
    c.goto(&format!("http://127.0.0.1:{}/login?lang=de", s.port))
        .await
        .unwrap();
    wait_for!("Anmelden");
    shot("login-de").await;
    c.close().await.unwrap();
}

#[test]
fn links_lockout_isolation_and_no_admin_on_the_portal() {
    let s = start();
    let p = s.port;
    let origin = format!("http://127.0.0.1:{p}");
    let post = |path: &str, session: Option<&str>, form: &str| {
        request(p, "POST", path, session, Some(form), &[("Origin", &origin)])
    };

    // Two recipients, random codes (no [code:] tag).
    send(
        &s.g,
        "bob@outside.test",
        "[encrypt] For Bob",
        "bob's secret",
        None,
    );
    let bob_note = wait_mail(&s.outbound, "bob@outside.test", "/setup?t=");
    let bob_receipt = wait_mail(&s.inbound, "alice@example.org", "bob@outside.test");
    let bob_code = receipt_code(&bob_receipt, "bob@outside.test");
    assert_eq!(bob_code.len(), 10, "a random code: {bob_code}");
    send(
        &s.g,
        "carol@outside.test",
        "[encrypt] For Carol",
        "carol's secret",
        None,
    );
    let carol_note = wait_mail(&s.outbound, "carol@outside.test", "/setup?t=");

    // An excluded recipient keeps today's notice.
    send(
        &s.g,
        "dave@excluded.test",
        "[encrypt] For Dave",
        "dave's secret",
        None,
    );
    let notice = wait_mail(&s.inbound, "alice@example.org", "dave@excluded.test");
    assert!(!notice.text().contains("web mailbox"), "{}", notice.text());

    // Headers on the portal.
    let login = request(p, "GET", "/login", None, None, &[]);
    assert_eq!(login.status, 200);
    assert!(login
        .header("content-security-policy")
        .is_some_and(|v| v.contains("frame-ancestors 'none'")));
    assert_eq!(login.header("x-frame-options").as_deref(), Some("DENY"));

    // Set-up: a wrong code is refused, the right one works; the link then is dead.
    let bob_link = setup_path(&bob_note);
    let token = bob_link.rsplit('=').next().unwrap().to_string();
    let form = |code: &str| {
        format!(
            "token={token}&code={}&password={}&password2={}&lang=en",
            enc(code),
            enc(PW),
            enc(PW)
        )
    };
    let wrong = post("/setup", None, &form("WRONGCODE1"));
    assert_eq!(wrong.status, 403);
    assert!(wrong.text().contains("The code is wrong"));
    let cross = request(
        p,
        "POST",
        "/setup",
        None,
        Some(&form(&bob_code)),
        &[("Origin", "http://evil.test")],
    );
    assert_eq!(cross.status, 403, "cross-origin set-up refused");
    let ok = post("/setup", None, &form(&bob_code));
    assert_eq!(ok.status, 303, "{}", ok.text());
    let bob = ok.session().expect("a session cookie");
    let reused = request(p, "GET", &bob_link, None, None, &[]);
    assert_eq!(reused.status, 404);
    assert!(reused.text().contains("not valid"), "{}", reused.text());
    assert_eq!(
        post("/setup", None, &form(&bob_code)).status,
        404,
        "reused link"
    );

    // Bob reads his own message, not Carol's (by URL).
    let list = request(p, "GET", "/messages", Some(&bob), None, &[]);
    assert!(list.text().contains("For Bob") && !list.text().contains("For Carol"));
    let metas: Vec<serde_json::Value> = std::fs::read_dir(s.g.dir.join("data/portal/messages"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
        .collect();
    let id_of = |who: &str| {
        metas
            .iter()
            .find(|m| m["recipient"] == who)
            .map(|m| m["id"].as_str().unwrap().to_string())
            .unwrap()
    };
    let carol_id = id_of("carol@outside.test");
    let mine = request(
        p,
        "GET",
        &format!("/messages/{}", id_of("bob@outside.test")),
        Some(&bob),
        None,
        &[],
    );
    assert_eq!(mine.status, 200);
    assert!(
        mine.text().contains("s secret") && mine.text().contains("For Bob"),
        "{}",
        mine.text()
    );
    times_in_the_configured_zone(&s, &bob, &metas);
    for path in [
        format!("/messages/{carol_id}"),
        format!("/messages/{carol_id}/attachments/0"),
    ] {
        let other = request(p, "GET", &path, Some(&bob), None, &[]);
        assert_eq!(other.status, 404, "{path}");
        assert!(!other.text().contains("carol"), "{path}: {}", other.text());
    }
    let no_csrf = post(
        &format!("/messages/{carol_id}/reply"),
        Some(&bob),
        "text=hi",
    );
    assert_eq!(no_csrf.status, 403, "a POST without the CSRF token");
    let anon = request(p, "GET", &format!("/messages/{carol_id}"), None, None, &[]);
    assert_eq!(anon.status, 303, "not logged in: to the login");

    // No admin page or API on the portal listener (not even with the ctl token).
    let token_ctl = std::fs::read_to_string(s.g.dir.join("data/ctl.token")).unwrap();
    let bearer = format!("Bearer {}", token_ctl.trim());
    for path in [
        "/api/v1/status",
        "/api/v1/queue",
        "/api/v1/users",
        "/keys",
        "/users",
        "/queue",
        "/portal",
        "/audit",
        "/license",
        "/health",
    ] {
        let a = request(
            p,
            "GET",
            path,
            Some(&bob),
            None,
            &[("Authorization", &bearer)],
        );
        assert_eq!(a.status, 404, "{path} on the portal: {}", a.text());
    }
    let add = request(
        p,
        "POST",
        "/api/v1/users",
        None,
        Some("x=1"),
        &[("Authorization", &bearer)],
    );
    assert_eq!(add.status, 404);
    // …and the portal's session is nothing on the admin listener.
    let admin = request(
        s.g.admin_port,
        "GET",
        "/api/v1/status",
        Some(&bob),
        None,
        &[],
    );
    assert_eq!(admin.status, 401);

    // Expired link: Carol's link is made old.
    let carol_user = std::fs::read_dir(s.g.dir.join("data/portal/users"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .contains("carol@outside.test")
        })
        .unwrap();
    let mut u: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&carol_user).unwrap()).unwrap();
    u["setup_expires"] = 1.into();
    std::fs::write(&carol_user, serde_json::to_vec(&u).unwrap()).unwrap();
    let expired = request(p, "GET", &setup_path(&carol_note), None, None, &[]);
    assert_eq!(expired.status, 410);
    assert!(expired.text().contains("expired"), "{}", expired.text());

    // Lockout: three wrong passwords; then even the right one is refused.
    let login_form = |pw: &str| format!("address=bob%40outside.test&password={}&lang=en", enc(pw));
    assert_eq!(post("/login", None, &login_form(PW)).status, 303);
    assert_eq!(post("/login", None, &login_form("wrong one 1")).status, 401);
    assert_eq!(post("/login", None, &login_form("wrong one 2")).status, 401);
    let third = post("/login", None, &login_form("wrong one 3"));
    assert_eq!(third.status, 403);
    assert!(third.text().contains("locked"), "{}", third.text());
    let right = post("/login", None, &login_form(PW));
    assert_eq!(
        right.status, 403,
        "locked: the right password is refused too"
    );
    // The sender's resend brings a new link (to Bob) and a new code (to Alice).
    send(
        &s.g,
        "bob@outside.test",
        "[encrypt] For Bob again",
        "second",
        None,
    );
    let bob_notes = || -> Vec<Stored> {
        s.outbound
            .messages()
            .into_iter()
            .filter(|m| m.rcpts().iter().any(|r| r == "bob@outside.test"))
            .collect()
    };
    assert!(wait_until(Duration::from_secs(30), || bob_notes().len() >= 2));
    let new_link = setup_path(bob_notes().last().unwrap());
    assert_ne!(new_link, bob_link);
    let receipt = wait_mail(&s.inbound, "alice@example.org", "For Bob again");
    let new_code = receipt_code(&receipt, "bob@outside.test");
    assert_ne!(new_code, bob_code);
    let token = new_link.rsplit('=').next().unwrap();
    let pw2 = "a new password 2";
    let ok = post(
        "/setup",
        None,
        &format!(
            "token={token}&code={new_code}&password={}&password2={}&lang=en",
            enc(pw2),
            enc(pw2)
        ),
    );
    assert_eq!(ok.status, 303, "{}", ok.text());
    let bob2 = post("/login", None, &login_form(pw2))
        .session()
        .expect("logged in again");

    // A forgotten password: noted (the same answer for an unknown address); the sender's next
    // message brings a new link and code, and the old password works until a new one is set.
    let noted = post("/forgot", None, "address=bob%40outside.test&lang=en");
    assert_eq!(noted.status, 200);
    assert!(noted.text().contains("Noted"), "{}", noted.text());
    let unknown = post("/forgot", None, "address=nobody%40outside.test&lang=en");
    assert_eq!(unknown.text(), noted.text());
    send(
        &s.g,
        "bob@outside.test",
        "[encrypt] For Bob third",
        "third",
        None,
    );
    let receipt = wait_mail(&s.inbound, "alice@example.org", "For Bob third");
    assert!(
        receipt.text().contains("set-up code (give"),
        "{}",
        receipt.text()
    );
    assert!(wait_until(Duration::from_secs(30), || bob_notes().len() >= 3));
    assert_eq!(post("/login", None, &login_form(pw2)).status, 303);

    // The admin page lists portal users and held messages; an administrator revokes Bob.
    let pw = s.g.dir.join("root.pw");
    std::fs::write(&pw, "admin password 1\n").unwrap();
    let out = s.g.ctl(&[
        "admin",
        "add",
        "root",
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = s.g.admin_port;
    let login = request(
        a,
        "POST",
        "/login",
        None,
        Some("name=root&password=admin+password+1"),
        &[],
    );
    assert_eq!(login.status, 303, "{}", login.text());
    let cookie = format!("segl_session={}", login.cookie("segl_session").unwrap());
    let page = request(a, "GET", "/portal", None, None, &[("Cookie", &cookie)]);
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("bob@outside.test") && html.contains("carol@outside.test"),
        "{html}"
    );
    assert!(
        !html.contains("For Bob") && !html.contains("secret"),
        "no content on the admin page"
    );
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let admin_origin = format!("http://127.0.0.1:{a}");
    let revoked = request(
        a,
        "POST",
        "/portal/revoke",
        None,
        Some(&format!("csrf={csrf}&address=bob%40outside.test")),
        &[("Cookie", &cookie), ("Origin", &admin_origin)],
    );
    assert_eq!(revoked.status, 303);
    assert_eq!(
        post("/login", None, &login_form(pw2)).status,
        401,
        "revoked"
    );
    let ended = request(p, "GET", "/messages", Some(&bob2), None, &[]);
    assert_eq!(ended.status, 303, "the revoked user's session ended");
    let page = request(a, "GET", "/portal", None, None, &[("Cookie", &cookie)]).text();
    assert!(page.contains("revoked"), "{page}");

    // Expiry: Carol's unread message is made old; the sender is told.
    let carol_meta =
        s.g.dir
            .join(format!("data/portal/messages/{carol_id}.json"));
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&carol_meta).unwrap()).unwrap();
    m["expires"] = 1.into();
    std::fs::write(&carol_meta, serde_json::to_vec(&m).unwrap()).unwrap();
    let gone = wait_mail(&s.inbound, "alice@example.org", "expired unread");
    assert!(gone.text().contains("carol@outside.test"));
    assert!(wait_until(Duration::from_secs(10), || !carol_meta.exists()));
    assert!(!s
        .g
        .dir
        .join(format!("data/portal/messages/{carol_id}.msg"))
        .exists());
}

/// The inbox and a message show their times (received, expires) as local time of the zone set
/// over the admin API (`PUT /api/v1/time`) with its abbreviation, not UTC.
fn times_in_the_configured_zone(s: &Setup, session: &str, metas: &[serde_json::Value]) {
    let token = std::fs::read_to_string(s.g.dir.join("data/ctl.token")).unwrap();
    let set = request(
        s.g.admin_port,
        "PUT",
        "/api/v1/time",
        None,
        Some(r#"{"ntp":[],"timezone":"Asia/Tokyo"}"#),
        &[
            ("Authorization", &format!("Bearer {}", token.trim())),
            ("Content-Type", "application/json"),
        ],
    );
    assert_eq!(set.status, 200, "{}", set.text());
    let tokyo = jiff::tz::db().get("Asia/Tokyo").unwrap();
    let at = |ts: &serde_json::Value, tz: &jiff::tz::TimeZone, fmt: &str| {
        jiff::Timestamp::from_second(ts.as_i64().expect("unix seconds"))
            .unwrap()
            .to_zoned(tz.clone())
            .strftime(fmt)
            .to_string()
    };
    let meta = metas
        .iter()
        .find(|m| m["recipient"] == "bob@outside.test")
        .unwrap();
    let (created, expires) = (&meta["created"], &meta["expires"]);
    let utc = jiff::tz::TimeZone::UTC;
    let list = request(s.port, "GET", "/messages", Some(session), None, &[]).text();
    for ts in [created, expires] {
        let local = at(ts, &tokyo, "%Y-%m-%d %H:%M JST");
        assert!(list.contains(&local), "{local} in {list}");
        assert!(!list.contains(&at(ts, &utc, "%Y-%m-%d %H:%M")), "{list}");
    }
    let path = format!("/messages/{}", meta["id"].as_str().unwrap());
    let page = request(s.port, "GET", &path, Some(session), None, &[]).text();
    let local = at(created, &tokyo, "%Y-%m-%d %H:%M JST");
    assert!(page.contains(&local), "{local} in {page}");
    assert!(
        !page.contains(&at(created, &utc, "%Y-%m-%d %H:%M")),
        "{page}"
    );
}

/// On a non-loopback address the portal speaks HTTPS with a self-signed certificate made in
/// `<data_dir>/portal-tls/` (Python's ssl verifies the chain against it), with HSTS.
#[test]
fn portal_speaks_https_with_a_self_signed_certificate() {
    let d = tempfile::tempdir().unwrap();
    let port = free_port();
    let g = Gateway::start(
        &d.path().join("gw"),
        0,
        0,
        &format!(
            "[relay]\nlocal_domains = []\n[delivery]\ninbound_next_hop = \"\"\n\
             [portal]\nenabled = true\nlisten = \"0.0.0.0:{port}\"\n"
        ),
    );
    let cert = g.dir.join("data/portal-tls/cert.pem");
    assert!(cert.exists() && g.dir.join("data/portal-tls/pin.sha256").exists());
    let out = python(&format!(
        "import ssl, http.client\nctx = ssl.create_default_context(cafile={cert:?})\n\
         ctx.check_hostname = False\nc = http.client.HTTPSConnection('127.0.0.1', {port}, context=ctx)\n\
         c.request('GET', '/login')\nr = c.getresponse()\n\
         print(r.status, r.getheader('strict-transport-security'), c.sock.version())\n",
        cert = cert.display().to_string()
    ));
    assert!(out.starts_with("200 max-age="), "{out}");
    assert!(out.contains("TLSv1.3") || out.contains("TLSv1.2"), "{out}");
}
