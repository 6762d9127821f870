//! Security and API tests of the web admin against the in-process router (no sockets): what
//! answers without a session or token, CSRF, cross-origin POSTs, the login rate limit, cookie
//! flags, security headers, the read-only role, the set-up link, the audit log and the
//! recipient check. Certificates are made at test time with openssl.

mod common;
#[path = "policy_common/mod.rs"]
mod policy_common;
#[path = "smime_common/mod.rs"]
mod smime_common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{to_bytes, Body};
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use base64::Engine;
use segl::admin::auth::{AuthState, Role};
use segl::admin::{router, AdminState};
use segl::clock::SystemClock;
use segl::config::Config;
use segl::keystore::{Keystore, Settings};
use segl::policy::PolicyCtx;
use segl::queue::{Queue, Stages};
use segl::smtp::outbound::deliver::Deliverer;
use segl::smtp::outbound::route::Resolver;
use segl::spool::Spool;
use segl::users::UserStore;
use tower::ServiceExt;

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const PW: &str = "correct horse battery";

fn state(dir: &Path, https: bool) -> Arc<AdminState> {
    let mut cfg = Config::default_config();
    cfg.storage.data_dir = dir.to_path_buf();
    let cfg = Arc::new(cfg);
    let spool = Arc::new(Spool::open(dir).unwrap());
    let keystore = Keystore::open(dir, Settings::from_config(&cfg)).unwrap();
    let config = segl::liveconf::ConfigService::new(cfg.clone(), None);
    let deliverer = segl::liveconf::Live::new(Arc::new(Deliverer {
        cfg: cfg.clone(),
        resolver: Resolver::new(&cfg),
        tls: segl::tls::client_tls(&cfg).unwrap(),
        cache: segl::smtp::outbound::cache::ConnectionCache::new(),
    }));
    let license = segl::license::Licensing::open(keystore.clone(), dir).unwrap();
    let policy = segl::liveconf::Live::new(Arc::new(PolicyCtx {
        cfg: cfg.clone(),
        keystore: keystore.clone(),
        directory: None,
        license: license.clone(),
        users: None,
    }));
    segl::liveconf::rebuild_on_change(&config, &policy, &deliverer);
    let stages = Stages {
        process: policy.clone(),
        transport: deliverer,
        clock: Arc::new(SystemClock),
    };
    let queue = Queue::new(cfg.clone(), spool, stages);
    let monitor = segl::monitor::Monitor::open(dir, &cfg.relay.local_domains);
    let auth = AuthState::open(dir, https, monitor).unwrap();
    Arc::new(AdminState {
        cfg,
        queue,
        users: Arc::new(UserStore::open(dir).unwrap()),
        keystore,
        license,
        policy,
        token: TOKEN.into(),
        started: Instant::now(),
        auth: Arc::new(auth),
        config,
    })
}

struct App {
    st: Arc<AdminState>,
    app: Router,
    host: &'static str,
}

impl App {
    fn new(dir: &Path, https: bool) -> App {
        let st = state(dir, https);
        let app =
            router(st.clone()).layer(MockConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40000))));
        App {
            st,
            app,
            host: "segl.test",
        }
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let r: Response<Body> = self.app.clone().oneshot(req).await.unwrap();
        let (parts, body) = r.into_parts();
        let b = to_bytes(body, 1 << 24).await.unwrap();
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&b).into_owned(),
        )
    }

    fn get(&self, path: &str, cookie: Option<&str>) -> Request<Body> {
        let mut b = Request::get(path).header(header::HOST, self.host);
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        b.body(Body::empty()).unwrap()
    }

    fn form(&self, path: &str, cookie: Option<&str>, body: &str) -> Request<Body> {
        let mut b = Request::post(path)
            .header(header::HOST, self.host)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(
                header::ORIGIN,
                format!(
                    "{}://{}",
                    if self.st.auth.https { "https" } else { "http" },
                    self.host
                ),
            );
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        b.body(Body::from(body.to_string())).unwrap()
    }

    fn json(&self, method: &str, path: &str, auth: Auth<'_>, body: &str) -> Request<Body> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.host)
            .header(header::CONTENT_TYPE, "application/json");
        match auth {
            Auth::Token => b = b.header(header::AUTHORIZATION, format!("Bearer {TOKEN}")),
            Auth::Session(c, csrf) => {
                b = b.header(header::COOKIE, c);
                if let Some(t) = csrf {
                    b = b.header("x-csrf-token", t);
                }
            }
            Auth::None => {}
        }
        b.body(Body::from(body.to_string())).unwrap()
    }

    /// Log in; returns (cookie header value, CSRF token of the session).
    async fn login(&self, name: &str, pw: &str) -> (String, String) {
        let (s, h, _) = self
            .send(self.form("/login", None, &format!("name={name}&password={}", enc(pw))))
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER, "login of {name}");
        let set = h
            .get(header::SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let cookie = set.split(';').next().unwrap().to_string();
        let (s, _, page) = self.send(self.get("/account", Some(&cookie))).await;
        assert_eq!(s, StatusCode::OK);
        (cookie, csrf_of(&page))
    }
}

enum Auth<'a> {
    Token,
    Session(&'a str, Option<&'a str>),
    None,
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn csrf_of(page: &str) -> String {
    let i = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    page[i..i + 64].to_string()
}

async fn with_admins(dir: &Path, https: bool) -> App {
    let app = App::new(dir, https);
    app.st.auth.admins.add("root", PW, Role::Admin).unwrap();
    app.st
        .auth
        .admins
        .add("viewer", PW, Role::Readonly)
        .unwrap();
    app
}

#[tokio::test]
async fn nothing_answers_without_session_or_token() {
    let d = tempfile::tempdir().unwrap();
    let app = with_admins(d.path(), false).await;
    for p in [
        "/",
        "/partners",
        "/partners/pending",
        "/keys",
        "/queue",
        "/maillog",
        "/users",
        "/backup",
        "/audit",
        "/recipients",
        "/domains",
        "/account",
        "/keys/ca.pem",
    ] {
        let (s, h, _) = app.send(app.get(p, None)).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{p}");
        assert_eq!(h.get(header::LOCATION).unwrap(), "/login", "{p}");
    }
    let (s, _, _) = app
        .send(app.form("/partners/abc/disable", None, "csrf=x"))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    for p in [
        "/api/v1/status",
        "/api/v1/partners",
        "/api/v1/admins",
        "/api/v1/openapi.json",
    ] {
        let (s, _, _) = app.send(app.json("GET", p, Auth::None, "")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{p}");
    }
    let (s, _, _) = app
        .send(app.json(
            "GET",
            "/api/v1/status",
            Auth::Session("segl_session=00", None),
            "",
        ))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A wrong token is refused, the right one works and is exempt from CSRF.
    let mut r = app.json("GET", "/api/v1/status", Auth::None, "");
    r.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {}", "f".repeat(64)).parse().unwrap(),
    );
    assert_eq!(app.send(r).await.0, StatusCode::UNAUTHORIZED);
    let (s, _, body) = app
        .send(app.json("GET", "/api/v1/status", Auth::Token, ""))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, _, body) = app
        .send(app.json(
            "POST",
            "/api/v1/admins",
            Auth::Token,
            &format!("{{\"name\":\"ops\",\"password\":\"{PW}\",\"role\":\"readonly\"}}"),
        ))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    // Open: login page, stylesheet, health.
    assert_eq!(app.send(app.get("/login", None)).await.0, StatusCode::OK);
    assert_eq!(
        app.send(app.get("/static/segl.css", None)).await.0,
        StatusCode::OK
    );
    assert_eq!(app.send(app.get("/health", None)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn csrf_origin_headers_and_cookie_flags() {
    let d = tempfile::tempdir().unwrap();
    let app = with_admins(d.path(), false).await;
    let (s, h, _) = app
        .send(app.form("/login", None, &format!("name=root&password={}", enc(PW))))
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let set = h.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(set.starts_with("segl_session="), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "plain HTTP on loopback: {set}");
    let (cookie, csrf) = app.login("root", PW).await;

    // Security headers on pages and API answers.
    for r in [
        app.get("/", Some(&cookie)),
        app.json("GET", "/api/v1/status", Auth::Token, ""),
    ] {
        let (s, h, _) = app.send(r).await;
        assert_eq!(s, StatusCode::OK);
        let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'")
                && csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
        assert_eq!(h.get("referrer-policy").unwrap(), "same-origin");
    }
    // Form POSTs: no token, wrong token, right token.
    let (s, _, _) = app
        .send(app.form("/account/language", Some(&cookie), "lang=de"))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let wrong = "0".repeat(64);
    let (s, _, _) = app
        .send(app.form(
            "/account/language",
            Some(&cookie),
            &format!("lang=de&csrf={wrong}"),
        ))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = app
        .send(app.form("/queue/retry", Some(&cookie), &format!("csrf={wrong}")))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = app
        .send(app.form(
            "/account/language",
            Some(&cookie),
            &format!("lang=de&csrf={csrf}"),
        ))
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, _, page) = app.send(app.get("/", Some(&cookie))).await;
    assert!(
        page.contains("<h1>Übersicht</h1>"),
        "German after the switch"
    );
    // Cross-origin form POSTs are refused even with the right token.
    let mut r = app.form("/queue/retry", Some(&cookie), &format!("csrf={csrf}"));
    r.headers_mut()
        .insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    assert_eq!(app.send(r).await.0, StatusCode::FORBIDDEN);
    let mut r = app.form("/queue/retry", Some(&cookie), &format!("csrf={csrf}"));
    r.headers_mut().remove(header::ORIGIN);
    r.headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    assert_eq!(app.send(r).await.0, StatusCode::FORBIDDEN);
    let mut r = app.form("/login", None, &format!("name=root&password={}", enc(PW)));
    r.headers_mut()
        .insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    assert_eq!(app.send(r).await.0, StatusCode::FORBIDDEN, "login CSRF");
    // Session-authenticated API writes need X-CSRF-Token.
    let body = format!("{{\"name\":\"second\",\"password\":\"{PW}\"}}");
    let (s, _, _) = app
        .send(app.json(
            "POST",
            "/api/v1/admins",
            Auth::Session(&cookie, None),
            &body,
        ))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = app
        .send(app.json(
            "POST",
            "/api/v1/admins",
            Auth::Session(&cookie, Some(&wrong)),
            &body,
        ))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, b) = app
        .send(app.json(
            "POST",
            "/api/v1/admins",
            Auth::Session(&cookie, Some(&csrf)),
            &body,
        ))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, _, _) = app
        .send(app.json("GET", "/api/v1/admins", Auth::Session(&cookie, None), ""))
        .await;
    assert_eq!(s, StatusCode::OK, "reads need no CSRF token");
    // Logout ends the session.
    let (s, _, _) = app
        .send(app.form("/logout", Some(&cookie), &format!("csrf={csrf}")))
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(
        app.send(app.get("/", Some(&cookie))).await.0,
        StatusCode::SEE_OTHER
    );
    // The audit log names who did what.
    let audit = std::fs::read_to_string(d.path().join("audit.log")).unwrap();
    assert!(
        audit.contains("\"who\":\"root\"") && audit.contains("POST /api/v1/admins"),
        "{audit}"
    );
    assert!(
        !audit.contains("POST /account/language"),
        "language changes are not audited"
    );
}

#[tokio::test]
async fn https_cookie_is_secure_and_host_bound() {
    let d = tempfile::tempdir().unwrap();
    let app = with_admins(d.path(), true).await;
    let (s, h, _) = app
        .send(app.form("/login", None, &format!("name=root&password={}", enc(PW))))
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let set = h.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(
        set.starts_with("__Host-segl_session=")
            && set.contains("; Secure")
            && set.contains("HttpOnly")
            && set.contains("SameSite=Strict"),
        "{set}"
    );
    let (s, h, _) = app.send(app.get("/login", None)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(h.get("strict-transport-security").is_some());
}

#[tokio::test]
async fn sixth_wrong_password_in_a_minute_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let app = with_admins(d.path(), false).await;
    for i in 0..5 {
        let (s, _, page) = app
            .send(app.form("/login", None, "name=root&password=wrong-password"))
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "attempt {i}");
        assert!(page.contains("Wrong name or password"));
    }
    let (s, _, page) = app
        .send(app.form("/login", None, &format!("name=root&password={}", enc(PW))))
        .await;
    assert_eq!(
        s,
        StatusCode::TOO_MANY_REQUESTS,
        "sixth attempt, even with the right password"
    );
    assert!(page.contains("Too many failed attempts"));
    // Per user: the other admin from the same address is limited too (per address).
    let (s, _, _) = app
        .send(app.form("/login", None, &format!("name=viewer&password={}", enc(PW))))
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn readonly_changes_nothing_but_may_check_recipients() {
    let d = tempfile::tempdir().unwrap();
    let app = with_admins(d.path(), false).await;
    let (cookie, csrf) = app.login("viewer", PW).await;
    for p in [
        "/",
        "/partners",
        "/keys",
        "/queue",
        "/maillog",
        "/users",
        "/audit",
        "/recipients",
        "/domains",
        "/backup",
    ] {
        let (s, _, page) = app.send(app.get(p, Some(&cookie))).await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert!(page.contains("read-only administrator"), "{p} says so");
    }
    for (p, body) in [
        ("/queue/retry", String::new()),
        ("/partners/abc/disable", String::new()),
        ("/keys/generate", "email=a%40example.org".to_string()),
        (
            "/domains/dkim/generate",
            "domain=example.org&algorithm=ed25519".to_string(),
        ),
        (
            "/admins/add",
            format!("name=x&password={}&role=admin", enc(PW)),
        ),
        (
            "/users/add",
            "name=u&addresses=u%40example.org&password=longenough1".to_string(),
        ),
        ("/backup/download", "passphrase=longenough1".to_string()),
    ] {
        let sep = if body.is_empty() { "" } else { "&" };
        let (s, _, _) = app
            .send(app.form(p, Some(&cookie), &format!("{body}{sep}csrf={csrf}")))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{p}");
    }
    let (s, _, _) = app
        .send(app.json(
            "POST",
            "/api/v1/queue/retry",
            Auth::Session(&cookie, Some(&csrf)),
            "",
        ))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = app
        .send(app.json(
            "DELETE",
            "/api/v1/admins/root",
            Auth::Session(&cookie, Some(&csrf)),
            "",
        ))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(app.st.auth.admins.list().len(), 2);
    let (s, _, b) = app
        .send(app.json(
            "POST",
            "/api/v1/recipients/check",
            Auth::Session(&cookie, Some(&csrf)),
            "{\"addresses\":[\"x@unknown.test\"]}",
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _, page) = app
        .send(app.form(
            "/recipients",
            Some(&cookie),
            &format!("addresses=x%40unknown.test&csrf={csrf}"),
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("not encrypted"));
}

#[tokio::test]
async fn setup_link_creates_the_first_admin_once() {
    let d = tempfile::tempdir().unwrap();
    let app = App::new(d.path(), false);
    let token = app.st.auth.new_setup_token().unwrap();
    assert_eq!(
        app.send(app.get("/setup?token=nope", None)).await.0,
        StatusCode::FORBIDDEN
    );
    let (s, _, page) = app
        .send(app.get(&format!("/setup?token={token}"), None))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Create the first administrator"));
    let (s, _, _) = app
        .send(app.form(
            "/setup",
            None,
            &format!("token={token}&name=first&password=short&password2=short"),
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "too short");
    let f = format!(
        "token={token}&name=first&password={p}&password2={p}",
        p = enc(PW)
    );
    let (s, h, _) = app.send(app.form("/setup", None, &f)).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(h.get(header::SET_COOKIE).is_some(), "logged in at once");
    assert_eq!(app.st.auth.admins.list()[0].role, Role::Admin);
    let f = format!(
        "token={token}&name=second&password={p}&password2={p}",
        p = enc(PW)
    );
    assert_eq!(
        app.send(app.form("/setup", None, &f)).await.0,
        StatusCode::FORBIDDEN,
        "one time only"
    );
    assert!(
        app.st.auth.new_setup_token().is_none(),
        "no new link once an admin exists"
    );
}

#[tokio::test]
async fn partner_upload_and_recipient_check() {
    let d = tempfile::tempdir().unwrap();
    let pki = policy_common::Pki::new(&d.path().join("pki"));
    pki.user("bob", "email:bob@partner.test");
    let pem = pki.read("bob.pem");
    let app = with_admins(&d.path().join("segl"), false).await;
    let (cookie, csrf) = app.login("root", PW).await;
    // Multipart upload through the page, with the CSRF token in the form.
    let boundary = "XyZ";
    let mut body = Vec::new();
    for (name, file, data) in [
        ("csrf", None, csrf.as_bytes()),
        ("file", Some("bob.pem"), pem.as_slice()),
    ] {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes(),
        );
        if let Some(f) = file {
            body.extend_from_slice(
                format!("; filename=\"{f}\"\r\nContent-Type: application/x-pem-file").as_bytes(),
            );
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let req = Request::post("/partners/upload")
        .header(header::HOST, app.host)
        .header(header::ORIGIN, "http://segl.test")
        .header(header::COOKIE, &cookie)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap();
    let (s, h, _) = app.send(req).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(h.get(header::LOCATION).unwrap(), "/partners");
    let (_, _, page) = app.send(app.get("/partners?q=bob", Some(&cookie))).await;
    assert!(
        page.contains("bob@partner.test") && page.contains("Partner CA"),
        "listed with issuer"
    );
    assert!(page.contains("imported 1 certificate"), "flash message");
    let (_, _, page) = app.send(app.get("/partners?q=nobody", Some(&cookie))).await;
    assert!(!page.contains("bob@partner.test"), "search filters");
    // Recipient check over the API (ctl token) for a known and an unknown address.
    let (s, _, b) = app
        .send(app.json(
            "POST",
            "/api/v1/recipients/check",
            Auth::Token,
            "{\"addresses\":[\"Bob@partner.test\",\"eve@partner.test\"]}",
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v[0]["address"], "bob@partner.test");
    assert_eq!(v[0]["encrypt"], true);
    assert_eq!(v[0]["source"], "imported");
    assert!(v[0]["not_after"].as_str().unwrap().starts_with("20"));
    assert_eq!(v[1]["encrypt"], false);
    // Download the certificate back.
    let id = v[0]["certificate_id"].as_str().unwrap();
    let (s, h, body) = app
        .send(app.get(&format!("/partners/{id}/download"), Some(&cookie)))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(h
        .get(header::CONTENT_DISPOSITION)
        .unwrap()
        .to_str()
        .unwrap()
        .contains("bob@partner.test.pem"));
    assert!(body.contains("BEGIN CERTIFICATE"));
    // Disable: the recipient check no longer finds it; the audit log has the change.
    let (s, _, _) = app
        .send(app.form(
            &format!("/partners/{id}/disable"),
            Some(&cookie),
            &format!("csrf={csrf}"),
        ))
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let r = segl::admin::accounts::check(&app.st, &["bob@partner.test".into()]);
    assert!(!r[0].encrypt);
    let (_, _, page) = app.send(app.get("/audit", Some(&cookie))).await;
    assert!(
        page.contains(&format!("POST /partners/{id}/disable"))
            && page.contains("POST /partners/upload")
    );
    // OpenAPI is generated and names the endpoints.
    let (s, _, b) = app
        .send(app.json("GET", "/api/v1/openapi.json", Auth::Token, ""))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.contains("\"openapi\":\"3.") && b.contains("/api/v1/recipients/check"));
    openapi_names_every_route(&b);
    let _ = base64::engine::general_purpose::STANDARD.encode(b"unused");
}

/// Every route of the `/api/v1` router, with each of its methods, is in the OpenAPI document
/// (the list comes from the router itself, so an endpoint added without `#[utoipa::path]` fails).
fn openapi_names_every_route(doc: &str) {
    let v: serde_json::Value = serde_json::from_str(doc).unwrap();
    if let Ok(f) = std::env::var("SEGL_DUMP_OPENAPI") {
        std::fs::write(f, doc).unwrap();
    }
    let table = segl::admin::api_route_table();
    // The table is read from the router: it must have found the routes.
    assert!(table.len() > 40, "route table not read: {table:?}");
    assert!(
        table.contains(&("get".into(), "/api/v1/status".into())),
        "{table:?}"
    );
    assert!(table.contains(&("post".into(), "/api/v1/users/import".into())));
    let missing: Vec<_> = table
        .iter()
        .filter(|(method, path)| {
            let ops = &v["paths"][path];
            if method == "*" {
                !ops.is_object()
            } else {
                !ops[method].is_object()
            }
        })
        .collect();
    assert!(
        missing.is_empty(),
        "routes without OpenAPI description: {missing:?}"
    );
    // Operation ids are unique (clients generate function names from them).
    let mut ids: Vec<&str> = v["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|ops| ops.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap())
        .collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate operationId");
    // Every schema a path refers to is in the document's components.
    let mut refs = vec![];
    schema_refs(&v["paths"], &mut refs);
    assert!(refs.iter().any(|r| r.ends_with("/Status")), "{refs:?}");
    for r in &refs {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(
            v["components"]["schemas"][name].is_object(),
            "{r} not in components"
        );
    }
    // And the document describes nothing the router does not have.
    let paths = v["paths"].as_object().unwrap();
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            assert!(
                table.contains(&(method.clone(), path.clone())),
                "{method} {path} documented but not routed"
            );
        }
    }
}

/// The `$ref` targets anywhere in `v`.
fn schema_refs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x.as_str()) {
                    ("$ref", Some(r)) => out.push(r.to_string()),
                    _ => schema_refs(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| schema_refs(x, out)),
        _ => {}
    }
}

/// What askama's HTML escaping makes of a text (for finding API values in a page).
fn html_escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

#[tokio::test]
async fn domains_page_generates_dkim_keys_and_shows_the_api_record() {
    let d = tempfile::tempdir().unwrap();
    let app = with_admins(d.path(), false).await;
    let (cookie, csrf) = app.login("root", PW).await;
    let (s, _, page) = app.send(app.get("/domains", Some(&cookie))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("action=\"/domains/dkim/generate\""), "{page}");
    // Without the session's CSRF token the form is refused and makes no key.
    let (s, _, _) = app
        .send(app.form(
            "/domains/dkim/generate",
            Some(&cookie),
            "domain=example.org&selector=s0&algorithm=ed25519&csrf=wrong",
        ))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Generate through the form: one RSA key, then an Ed25519 key with a new selector (rollover).
    for (sel, alg) in [("s1", "rsa"), ("s2", "ed25519")] {
        let (s, h, _) = app
            .send(app.form(
                "/domains/dkim/generate",
                Some(&cookie),
                &format!("domain=example.org&selector={sel}&algorithm={alg}&csrf={csrf}"),
            ))
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{sel}");
        assert_eq!(h.get(header::LOCATION).unwrap(), "/domains");
    }
    let (s, _, api) = app
        .send(app.json("GET", "/api/v1/dkim/example.org", Auth::Token, ""))
        .await;
    assert_eq!(s, StatusCode::OK, "{api}");
    let keys: serde_json::Value = serde_json::from_str(&api).unwrap();
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), 2, "{api}");
    // By the selector field: the key material in the JSON may contain "s0" by chance.
    assert!(!keys.iter().any(|k| k["selector"] == "s0"), "{api}");
    let (s, _, page) = app.send(app.get("/domains", Some(&cookie))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("generated DKIM key s2"), "flash shown");
    for k in keys {
        let sel = k["selector"].as_str().unwrap();
        let txt = k["txt"].as_str().unwrap();
        assert!(txt.starts_with("v=DKIM1;"), "{txt}");
        assert!(
            page.contains(&html_escaped(txt)),
            "page shows the record of {sel}: {page}"
        );
        assert!(page.contains(&format!("{sel}._domainkey.example.org")));
    }
    assert!(page.contains("rsa-sha256") && page.contains("ed25519-sha256"));
    // The RSA key was replaced: retired, with the date until which it stays published.
    assert!(page.contains("retired, keep published until"), "{page}");
    assert!(page.contains(">signing<"), "{page}");
    // German page: the same table in German.
    let (s, _, _) = app
        .send(app.form(
            "/account/language",
            Some(&cookie),
            &format!("lang=de&csrf={csrf}"),
        ))
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, _, page) = app.send(app.get("/domains", Some(&cookie))).await;
    assert!(page.contains("DKIM-Schlüssel erzeugen") && page.contains("stillgelegt"));
}

/// Multipart body with the CSRF token and one file field `file`.
fn multipart(boundary: &str, csrf: &str, file: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"l.lic\"\r\n\
         Content-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[tokio::test]
async fn licence_upload_needs_the_admin_role_and_shows_refusals() {
    let d = tempfile::tempdir().unwrap();
    let app = with_admins(&d.path().join("segl"), false).await;
    let lic = common::dev_license(
        &d.path().join("l.lic"),
        &["--keys", "3", "--expires", "+30", "--id", "L-RO"],
    );
    let file = std::fs::read(&lic).unwrap();
    let upload = |cookie: &str, csrf: &str, data: &[u8]| {
        Request::post("/license/upload")
            .header(header::HOST, app.host)
            .header(header::ORIGIN, "http://segl.test")
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=LiC")
            .body(Body::from(multipart("LiC", csrf, data)))
            .unwrap()
    };
    // A read-only administrator sees the page but can neither upload nor install over the API.
    let (cookie, csrf) = app.login("viewer", PW).await;
    let (s, _, page) = app.send(app.get("/license", Some(&cookie))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("read-only administrator") && !page.contains("/license/upload"));
    let (s, _, _) = app.send(upload(&cookie, &csrf, &file)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&file);
    let (s, _, _) = app
        .send(app.json(
            "POST",
            "/api/v1/license",
            Auth::Session(&cookie, Some(&csrf)),
            &format!("{{\"data\":\"{b64}\"}}"),
        ))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        app.st.license.status().license.is_none(),
        "nothing installed"
    );
    // The admin: without the CSRF token refused; a broken file shows the reason; the file
    // issued above is installed.
    let (cookie, csrf) = app.login("root", PW).await;
    let (s, _, _) = app.send(upload(&cookie, "wrong", &file)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = app.send(upload(&cookie, &csrf, b"not a licence\n")).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, _, page) = app.send(app.get("/license", Some(&cookie))).await;
    assert!(
        page.contains("flash err") && page.contains("licence refused"),
        "{page}"
    );
    assert!(app.st.license.status().license.is_none());
    let (s, _, _) = app.send(upload(&cookie, &csrf, &file)).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, _, page) = app.send(app.get("/license", Some(&cookie))).await;
    assert!(
        page.contains("licence installed") && page.contains("L-RO"),
        "{page}"
    );
    assert!(page.contains("id=\"keys-licensed\">3<"), "{page}");
    // 30 days left: the warning is on the dashboard.
    let (_, _, page) = app.send(app.get("/", Some(&cookie))).await;
    assert!(
        page.contains("license-alert") && page.contains("expires in"),
        "{page}"
    );
}

/// The live configuration over the API: keys set and applied at once (the policy context
/// follows), invalid values refused with 422 naming the key and nothing written, revisions
/// listed, compared and restored, listener changes reported for the next start.
#[tokio::test]
async fn config_api_sets_validates_compares_and_restores() {
    let d = tempfile::tempdir().unwrap();
    let app = with_admins(d.path(), false).await;
    let file = d.path().join("segl.toml");
    let call = |m: &'static str, p: &'static str, b: &'static str| app.json(m, p, Auth::Token, b);
    let (s, _, b) = app.send(call("GET", "/api/v1/config", "")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert!(v["revision"].is_null());
    assert_eq!(v["config"]["mark"]["encrypted"], "[encrypted]");

    let (s, _, b) = app
        .send(call(
            "POST",
            "/api/v1/config/set",
            r#"{"set":{"mark.encrypted":"[crypt]"}}"#,
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["revision"], 2);
    assert_eq!(v["changed"], serde_json::json!(["mark.encrypted"]));
    assert_eq!(
        app.st.policy.get().cfg.mark.encrypted,
        "[crypt]",
        "the policy follows"
    );
    assert!(std::fs::read_to_string(&file).unwrap().contains("[crypt]"));

    let written = std::fs::read(&file).unwrap();
    for (body, key) in [
        (
            r#"{"set":{"relay.trusted_networks":["10.0.0.0/33"]}}"#,
            "trusted_networks",
        ),
        (r#"{"set":{"mark.proof_part":"yes"}}"#, "proof_part"),
        (r#"{"set":{"mark.no_such_key":"x"}}"#, "no_such_key"),
    ] {
        let (s, _, b) = app.send(call("POST", "/api/v1/config/set", body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
        assert!(b.contains(key), "{b}");
    }
    assert_eq!(std::fs::read(&file).unwrap(), written, "nothing written");
    let (s, _, b) = app
        .send(call(
            "POST",
            "/api/v1/config/check",
            r#"{"text":"[smtp]\nlisten_typo = 1\n"}"#,
        ))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");

    let (s, _, b) = app
        .send(call(
            "POST",
            "/api/v1/config/set",
            r#"{"set":{"smtp.listen":["127.0.0.1:2999"]}}"#,
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b.contains(r#""restart_needed":["smtp.listen"]"#), "{b}");
    let (_, _, b) = app.send(call("GET", "/api/v1/config", "")).await;
    assert!(b.contains(r#""restart_pending":["smtp.listen"]"#), "{b}");

    let (s, _, b) = app.send(call("GET", "/api/v1/config/revisions", "")).await;
    assert_eq!(s, StatusCode::OK);
    let revs: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(revs.as_array().unwrap().len(), 3);
    assert_eq!(revs[0]["who"], "ctl");
    let (_, _, b) = app
        .send(call("GET", "/api/v1/config/diff?from=1&to=2", ""))
        .await;
    assert!(b.contains(r#"+encrypted = \"[crypt]\""#), "{b}");
    let (s, _, b) = app
        .send(call("POST", "/api/v1/config/revisions/1/restore", ""))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(app.st.policy.get().cfg.mark.encrypted, "[encrypted]");
    assert_eq!(app.st.config.get().smtp.listen, vec!["127.0.0.1:2525"]);
    let (s, _, _) = app
        .send(call("POST", "/api/v1/config/revisions/99/restore", ""))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, _, b) = app.send(call("GET", "/api/v1/openapi.json", "")).await;
    assert!(b.contains("/api/v1/config/revisions/{id}/restore"));
}

/// The configuration pages: a form sets only what changed, a refused value comes back next to
/// its field (422, nothing written), a read-only administrator sees the pages but cannot save.
#[tokio::test]
async fn config_pages_save_refuse_and_stay_readonly() {
    let d = tempfile::tempdir().unwrap();
    let app = with_admins(d.path(), false).await;
    let file = d.path().join("segl.toml");
    let (cookie, csrf) = app.login("root", PW).await;
    for p in [
        "/gateway",
        "/gateway/encrypt",
        "/gateway/sign",
        "/gateway/decrypt",
        "/relay",
        "/config/revisions",
    ] {
        let (s, _, page) = app.send(app.get(p, Some(&cookie))).await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert!(!page.contains("read-only administrator"), "{p}");
    }
    let (s, _, page) = app.send(app.get("/relay", Some(&cookie))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains("applies at the next start"),
        "listeners are marked"
    );

    // Only the submitted field that changed is written.
    let (s, _, _) = app
        .send(app.form(
            "/gateway/verify",
            Some(&cookie),
            &format!(
                "mark.signed={}&mark.invalid={}&csrf={csrf}",
                enc("[OK]"),
                enc("[signed: INVALID]")
            ),
        ))
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("signed = \"[OK]\""), "{text}");
    assert!(
        !text.contains("invalid"),
        "unchanged fields stay out of the file: {text}"
    );
    assert_eq!(app.st.config.get().mark.signed, "[OK]");

    // A checkbox left unchecked arrives as the hidden empty field: false.
    let (s, _, _) = app
        .send(app.form(
            "/gateway/verify",
            Some(&cookie),
            &format!("mark.proof_part=&csrf={csrf}"),
        ))
        .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(!app.st.config.get().mark.proof_part);

    let before = std::fs::read(&file).unwrap();
    let (s, _, page) = app
        .send(app.form(
            "/relay",
            Some(&cookie),
            &format!("relay.trusted_networks={}&csrf={csrf}", enc("10.0.0.0/33")),
        ))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("id=\"error-relay-trusted_networks\""),
        "{page}"
    );
    assert!(page.contains("10.0.0.0/33"), "the entered value is kept");
    let (s, _, page) = app
        .send(app.form(
            "/relay",
            Some(&cookie),
            &format!("smtp.max_recipients=many&csrf={csrf}"),
        ))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"error-smtp-max_recipients\""), "{page}");
    assert_eq!(std::fs::read(&file).unwrap(), before, "nothing written");

    let (vcookie, vcsrf) = app.login("viewer", PW).await;
    let (s, _, page) = app.send(app.get("/gateway/verify", Some(&vcookie))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("[OK]") && page.contains("readonly"));
    assert!(!page.contains("id=\"save\""));
    let (s, _, _) = app
        .send(app.form(
            "/gateway/verify",
            Some(&vcookie),
            &format!("mark.signed=x&csrf={vcsrf}"),
        ))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = app
        .send(app.form(
            "/config/revisions/1/restore",
            Some(&vcookie),
            &format!("csrf={vcsrf}"),
        ))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = app
        .send(app.json(
            "POST",
            "/api/v1/config/set",
            Auth::Session(&vcookie, Some(&vcsrf)),
            r#"{"set":{"mark.signed":"x"}}"#,
        ))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(app.st.config.get().mark.signed, "[OK]");
}

/// `/metrics` in the Prometheus text format: refused without credentials, served with the ctl
/// token, an admin session, or the separate token of `admin.metrics_token_file`; the mail
/// counters go up with what the dashboard counts.
#[tokio::test]
async fn metrics_need_credentials_and_count() {
    let d = tempfile::tempdir().unwrap();
    let app = with_admins(d.path(), false).await;
    let (s, h, _) = app.send(app.get("/metrics", None)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(h.get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");
    let bearer = |t: &str| {
        Request::get("/metrics")
            .header(header::HOST, app.host)
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .body(Body::empty())
            .unwrap()
    };
    let (s, _, _) = app.send(bearer("wrong-token-wrong-token")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    app.st
        .auth
        .monitor
        .counters
        .add(segl::clock::unix_now(), segl::monitor::Counter::Inbound);
    let (s, h, b) = app.send(bearer(TOKEN)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(h[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    assert!(b.contains("# TYPE segl_mail_total counter"), "{b}");
    assert!(b.contains("segl_mail_total{kind=\"inbound\"} 1\n"), "{b}");
    assert!(b.contains("segl_mail_total{kind=\"encrypted\"} 0\n"), "{b}");
    assert!(b.contains("segl_queue_messages 0\n"), "{b}");
    assert!(b.contains("segl_config_revision 0\n"), "{b}");
    // Every sample line is `name{labels} value` or `name value`.
    for l in b.lines().filter(|l| !l.starts_with('#')) {
        let (name, v) = l.rsplit_once(' ').unwrap();
        assert!(name.starts_with("segl_"), "{l}");
        v.parse::<u64>().unwrap_or_else(|_| panic!("{l}"));
    }

    let (cookie, _) = app.login("viewer", PW).await;
    let (s, _, _) = app.send(app.get("/metrics", Some(&cookie))).await;
    assert_eq!(s, StatusCode::OK);

    let scraper = "scraper-token-0123456789abcdef";
    std::fs::write(d.path().join("metrics.token"), format!("{scraper}\n")).unwrap();
    let path = d.path().join("metrics.token");
    let body = serde_json::json!({ "set": { "admin.metrics_token_file": path } }).to_string();
    let (s, _, b) = app
        .send(app.json("POST", "/api/v1/config/set", Auth::Token, &body))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _, b) = app.send(bearer(scraper)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.contains("segl_config_revision 2\n"), "{b}");
    assert!(
        b.contains("segl_config_restart_pending 0\n"),
        "the token file applies at once: {b}"
    );
}

/// The audit and mail logs over the API, filtered, for every administrator (reading only).
#[tokio::test]
async fn audit_and_mail_logs_over_the_api() {
    let d = tempfile::tempdir().unwrap();
    let app = with_admins(d.path(), false).await;
    let (s, _, _) = app
        .send(app.json(
            "POST",
            "/api/v1/config/set",
            Auth::Token,
            r#"{"set":{"mark.signed":"[ok]"}}"#,
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    for ev in [("Q1", "bob@partner.test"), ("Q2", "carol@other.test")] {
        app.st.auth.monitor.log.append(&segl::monitor::MailEvent {
            time: segl::clock::unix_now(),
            id: ev.0.into(),
            event: "accepted".into(),
            from: ev.1.into(),
            to: vec!["alice@example.org".into()],
            detail: String::new(),
        });
    }
    let (cookie, _) = app.login("viewer", PW).await;
    let (s, _, b) = app
        .send(app.get("/api/v1/audit?q=config", Some(&cookie)))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "{b}");
    assert_eq!(v[0]["who"], "ctl");
    assert_eq!(v[0]["what"], "POST /api/v1/config/set");
    let (s, _, b) = app
        .send(app.get("/api/v1/maillog?address=bob%40partner.test", Some(&cookie)))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "{b}");
    assert_eq!(v[0]["id"], "Q1");
    let (_, _, b) = app
        .send(app.get("/api/v1/maillog?id=Q&limit=1", Some(&cookie)))
        .await;
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "{b}");
    let (s, _, _) = app.send(app.get("/api/v1/maillog", None)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

/// Release from hold is an admin action: a `readonly` administrator is refused (API and form),
/// an unknown id is 404, a malformed one 400, and an admin's attempt is audit-logged with who.
#[tokio::test]
async fn release_from_hold_needs_admin_and_a_held_id() {
    let d = tempfile::tempdir().unwrap();
    let app = with_admins(d.path(), false).await;
    let (cookie, csrf) = app.login("viewer", PW).await;
    let (s, _, _) = app
        .send(app.json(
            "POST",
            "/api/v1/queue/held/ABC123/release",
            Auth::Session(&cookie, Some(&csrf)),
            "",
        ))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = app
        .send(app.form(
            "/queue/ABC123/release",
            Some(&cookie),
            &format!("csrf={csrf}"),
        ))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, b) = app
        .send(app.json("POST", "/api/v1/queue/held/ABC123/release", Auth::Token, ""))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    let (s, _, _) = app
        .send(app.json("POST", "/api/v1/queue/held/..%2Fx/release", Auth::Token, ""))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, b) = app
        .send(app.get("/api/v1/audit?q=release", Some(&cookie)))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert!(
        v.as_array().unwrap().iter().any(|e| e["who"] == "ctl"
            && e["what"] == "POST /api/v1/queue/held/ABC123/release"
            && e["status"] == 404),
        "{b}"
    );
}

/// A self-signed certificate and its key made with openssl: (cert PEM, key PEM, SHA-256 hex).
fn openssl_pair(dir: &Path, name: &str) -> (String, String, String) {
    let (c, k) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    let st = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        ])
        .args(["-subj", &format!("/CN={name}")])
        .arg("-keyout")
        .arg(&k)
        .arg("-out")
        .arg(&c)
        .output()
        .unwrap();
    assert!(st.status.success(), "{st:?}");
    let fp = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&c)
        .output()
        .unwrap();
    let fp = String::from_utf8_lossy(&fp.stdout);
    let hex: String = fp
        .split('=')
        .nth(1)
        .unwrap()
        .trim()
        .replace(':', "")
        .to_ascii_lowercase();
    (
        std::fs::read_to_string(c).unwrap(),
        std::fs::read_to_string(k).unwrap(),
        hex,
    )
}

/// Listener certificates over the API and the pages: a pair whose key belongs to another
/// certificate is refused with the reason and nothing changes; a good pair is stored (key 0600)
/// and configured for the next start; the read-only role cannot install; reset goes back to
/// self-signed; the OpenAPI tags are area names.
#[tokio::test]
async fn tls_certificates_are_checked_stored_and_configured() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("segl");
    let app = with_admins(&data, false).await;
    let (cert, key, sha) = openssl_pair(d.path(), "mx.example.org");
    let (_, other_key, _) = openssl_pair(d.path(), "other.example.org");
    let body = |c: &str, k: &str| serde_json::json!({ "cert_pem": c, "key_pem": k }).to_string();

    let (s, _, b) = app
        .send(app.json("GET", "/api/v1/tls", Auth::Token, ""))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["configured"] == false));

    // Refusals: another key, garbage, an unknown listener; nothing written.
    let (s, _, b) = app
        .send(app.json(
            "PUT",
            "/api/v1/tls/smtp",
            Auth::Token,
            &body(&cert, &other_key),
        ))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b.contains("does not belong to the certificate"), "{b}");
    let (s, _, b) = app
        .send(app.json("PUT", "/api/v1/tls/smtp", Auth::Token, &body("junk", &key)))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, _, _) = app
        .send(app.json("PUT", "/api/v1/tls/imap", Auth::Token, &body(&cert, &key)))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(app.st.config.get().smtp.tls.cert.is_empty());
    assert!(!data.join("segl.toml").exists(), "no change written");

    // The read-only role cannot install.
    let (vc, vcsrf) = app.login("viewer", PW).await;
    let (s, _, _) = app
        .send(app.json(
            "PUT",
            "/api/v1/tls/admin",
            Auth::Session(&vc, Some(&vcsrf)),
            &body(&cert, &key),
        ))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // A good pair for the admin listener.
    let (s, _, b) = app
        .send(app.json("PUT", "/api/v1/tls/admin", Auth::Token, &body(&cert, &key)))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["cert"]["sha256"], sha.as_str());
    assert!(v["applied"]["restart_needed"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k == "admin.tls_cert"));
    let cfg = app.st.config.get();
    let (cp, kp) = (cfg.admin.tls_cert.clone(), cfg.admin.tls_key.clone());
    assert!(
        cp.contains("tls-installed") && Path::new(&cp).is_absolute(),
        "{cp}"
    );
    assert_eq!(std::fs::read_to_string(&cp).unwrap(), cert);
    let mode = std::fs::metadata(&kp).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "key file mode");
    let file = std::fs::read_to_string(data.join("segl.toml")).unwrap();
    assert!(file.contains("tls_cert") && file.contains(&cp), "{file}");
    let (_, _, b) = app
        .send(app.json("GET", "/api/v1/tls", Auth::Token, ""))
        .await;
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    let admin = v
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["service"] == "admin")
        .unwrap();
    assert_eq!(admin["configured"], true);
    assert_eq!(admin["restart_pending"], true);
    assert_eq!(admin["cert"]["sha256"], sha.as_str());

    // The pages: System › Settings shows it; an upload on the relay page with a wrong key
    // shows the reason, with the right key installs the STARTTLS certificate.
    let (cookie, csrf) = app.login("root", PW).await;
    let (s, _, page) = app.send(app.get("/system", Some(&cookie))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains("Web admin HTTPS certificate") && page.contains(&sha),
        "{page}"
    );
    assert!(page.contains("SMTP host name"), "{page}");
    let upload = |c: &str, k: &str| {
        let mut b = format!(
            "--TlS\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
             --TlS\r\nContent-Disposition: form-data; name=\"cert\"; filename=\"c.pem\"\r\n\r\n{c}\r\n\
             --TlS\r\nContent-Disposition: form-data; name=\"key\"; filename=\"k.pem\"\r\n\r\n{k}\r\n--TlS--\r\n"
        );
        b.shrink_to_fit();
        Request::post("/tls/smtp")
            .header(header::HOST, app.host)
            .header(header::ORIGIN, "http://segl.test")
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=TlS")
            .body(Body::from(b))
            .unwrap()
    };
    let (s, _, _) = app.send(upload(&cert, &other_key)).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, _, page) = app.send(app.get("/relay", Some(&cookie))).await;
    assert!(
        page.contains("flash err") && page.contains("does not belong"),
        "{page}"
    );
    assert!(app.st.config.get().smtp.tls.cert.is_empty());
    let (s, _, _) = app.send(upload(&cert, &key)).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, _, page) = app.send(app.get("/relay", Some(&cookie))).await;
    assert!(
        page.contains("Certificate installed") && page.contains(&sha),
        "{page}"
    );
    assert!(!app.st.config.get().smtp.tls.cert.is_empty());

    // Back to self-signed.
    let (s, _, b) = app
        .send(app.json("DELETE", "/api/v1/tls/admin", Auth::Token, ""))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(app.st.config.get().admin.tls_cert.is_empty());
    assert!(app.st.config.get().admin.tls_key.is_empty());

    // OpenAPI: the new routes are described and tagged by area.
    let (_, _, doc) = app
        .send(app.json("GET", "/api/v1/openapi.json", Auth::Token, ""))
        .await;
    assert!(doc.contains("/api/v1/tls/{service}"));
    assert!(!doc.contains("super::"), "tags are area names");
    let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(v["paths"]["/api/v1/tls"]["get"]["tags"][0], "tls");
}

/// Pages show times in the box's zone with its abbreviation, the JSON API keeps UTC: after
/// `PUT /api/v1/time` with Asia/Tokyo (JST all year, so the test does not depend on the date),
/// the mail log, the audit log and a partner certificate's validity are shown in Tokyo time,
/// and the mail log's search by day takes Tokyo days.
#[tokio::test]
async fn pages_show_times_in_the_configured_zone() {
    let d = tempfile::tempdir().unwrap();
    let pki = policy_common::Pki::new(&d.path().join("pki"));
    pki.user("bob", "email:bob@partner.test");
    let app = with_admins(&d.path().join("segl"), false).await;
    let partner = app
        .st
        .keystore
        .import_partner(&pki.read("bob.pem"), None)
        .unwrap();
    // 2026-12-01T23:00:00Z is 2 December 08:00 in Tokyo; 2026-12-02T16:00:00Z is 3 December.
    for (id, time) in [("Q1", 1_796_166_000), ("Q2", 1_796_227_200)] {
        app.st.auth.monitor.log.append(&segl::monitor::MailEvent {
            time,
            id: id.into(),
            event: "accepted".into(),
            from: "bob@partner.test".into(),
            to: vec!["alice@example.org".into()],
            detail: String::new(),
        });
    }
    let (s, _, b) = app
        .send(app.json(
            "PUT",
            "/api/v1/time",
            Auth::Token,
            r#"{"ntp":[],"timezone":"Asia/Tokyo"}"#,
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let tokyo = jiff::tz::db().get("Asia/Tokyo").unwrap();
    let local = |ts: i64| {
        jiff::Timestamp::from_second(ts)
            .unwrap()
            .to_zoned(tokyo.clone())
            .strftime("%Y-%m-%d %H:%M:%S JST")
            .to_string()
    };
    let (cookie, _) = app.login("viewer", PW).await;

    let (_, _, page) = app.send(app.get("/maillog", Some(&cookie))).await;
    assert!(page.contains("2026-12-02 08:00:00 JST"), "{page}");
    assert!(page.contains("2026-12-03 01:00:00 JST"), "{page}");
    assert!(!page.contains("2026-12-01T23:00:00Z"), "{page}");
    // 2 December in Tokyo holds Q1 only (as UTC days it would be Q2).
    let (_, _, page) = app
        .send(app.get("/maillog?since=2026-12-02&until=2026-12-02", Some(&cookie)))
        .await;
    assert!(page.contains(">Q1<") && !page.contains(">Q2<"), "{page}");

    let (_, _, b) = app
        .send(app.get("/api/v1/audit?q=time", Some(&cookie)))
        .await;
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    let at = v[0]["time"].as_i64().expect("the API keeps unix seconds");
    let (_, _, page) = app.send(app.get("/audit", Some(&cookie))).await;
    assert!(page.contains(&local(at)), "{} in {page}", local(at));

    let not_after: jiff::Timestamp = partner[0].not_after.parse().unwrap();
    let (_, _, page) = app.send(app.get("/partners", Some(&cookie))).await;
    assert!(
        page.contains(&local(not_after.as_second())),
        "{} in {page}",
        local(not_after.as_second())
    );
    assert!(!page.contains(&partner[0].not_after), "{page}");
    let (_, _, b) = app.send(app.get("/api/v1/partners", Some(&cookie))).await;
    assert!(b.contains(&partner[0].not_after), "the API keeps UTC: {b}");

    // The dashboard's daily chart: days of Tokyo, labelled every fifth from 29 days ago
    // (differs from UTC days between 15:00 and 24:00 UTC; monitor::counters' unit test
    // checks the buckets at fixed times).
    let today = jiff::Timestamp::now().to_zoned(tokyo.clone()).date();
    let (_, _, page) = app.send(app.get("/", Some(&cookie))).await;
    for back in [29, 4] {
        let label = today.checked_sub(jiff::Span::new().days(back)).unwrap();
        let label = label.strftime(">%m-%d<").to_string();
        assert!(page.contains(&label), "{label} in {page}");
    }
}
