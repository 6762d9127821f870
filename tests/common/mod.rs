//! Test harness: starts the real `segl` binary and real peers (aiosmtpd sink, Postfix smtp-sink,
//! swaks, Python smtplib, dnsmasq) on loopback ports, each test with its own directory.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const SEGL: &str = env!("CARGO_BIN_EXE_segl");
/// The vendor's licence tool (not part of the firmware image).
pub const SEGL_LICENSE: &str = env!("CARGO_BIN_EXE_segl-license");

/// Runs `segl-license ARGS`; returns (success, stdout + stderr).
pub fn segl_license(args: &[&str]) -> (bool, String) {
    let out = Command::new(SEGL_LICENSE).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Issues a licence signed with the development key into `out`:
/// `segl-license issue --dev --customer Test --out OUT ARGS` (give at least `--keys` and
/// `--expires`).
pub fn dev_license(out: &Path, args: &[&str]) -> PathBuf {
    let _ = std::fs::remove_file(out);
    let mut a = vec![
        "issue",
        "--dev",
        "--customer",
        "Test customer",
        "--out",
        out.to_str().unwrap(),
    ];
    a.extend_from_slice(args);
    let (ok, text) = segl_license(&a);
    assert!(ok, "segl-license {a:?}: {text}");
    out.to_path_buf()
}

/// A child process that is killed when dropped.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command) -> Proc {
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot start {name}: {e} (is it installed? see .ci/install-deps.sh)")
        });
        Proc {
            child,
            name: name.to_string(),
        }
    }
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
    /// SIGTERM and wait for a clean exit.
    pub fn term(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill9();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A loopback port for a server a test starts (the gateway, a sink, a directory).
///
/// Asking the kernel for a free port (bind to port 0, then release it) is a race: until the
/// server binds it, any other test's bind(0) or outgoing connection may be handed the same
/// port. So ports come from below the kernel's ephemeral range (which it never hands out),
/// from a process-wide counter (never twice in one test binary) that starts at a point derived
/// from the process id (test binaries run side by side start apart); a busy port is skipped.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;
    const LOW: u32 = 10_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    static RANGE: OnceLock<(u32, u32)> = OnceLock::new();
    let &(high, start) = RANGE.get_or_init(|| {
        let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
            .unwrap_or(32_768);
        (ephemeral_low, std::process::id().wrapping_mul(7_919))
    });
    if high < LOW + 1_000 {
        // An unusual ephemeral range: fall back to asking the kernel.
        return TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
    }
    let span = high - LOW;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (LOW + start.wrapping_add(n) % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

pub fn wait_port(port: u16) {
    assert!(
        wait_until(Duration::from_secs(20), || TcpStream::connect((
            "127.0.0.1",
            port
        ))
        .is_ok()),
        "port {port} did not open"
    );
}

pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// A message stored by a sink.
#[derive(Debug, Clone)]
pub struct Stored {
    pub eml: Vec<u8>,
    pub meta: serde_json::Value,
}

impl Stored {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.eml).to_string()
    }
    pub fn rcpts(&self) -> Vec<String> {
        self.meta["rcpt_tos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }
    pub fn mail_from(&self) -> String {
        self.meta["mail_from"].as_str().unwrap_or("").to_string()
    }
    /// The body: everything after the first empty line.
    pub fn body(&self) -> Vec<u8> {
        let i = self
            .eml
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| i + 4)
            .unwrap_or(0);
        self.eml[i..].to_vec()
    }
}

/// The aiosmtpd sink (tests/peers/sink.py).
pub struct Sink {
    pub port: u16,
    pub dir: PathBuf,
    proc: Option<Proc>,
    args: Vec<String>,
}

impl Sink {
    pub fn start(dir: &Path, args: &[&str]) -> Sink {
        Sink::start_on(free_port(), dir, args)
    }

    pub fn start_on(port: u16, dir: &Path, args: &[&str]) -> Sink {
        let mut s = Sink {
            port,
            dir: dir.to_path_buf(),
            proc: None,
            args: args.iter().map(|s| s.to_string()).collect(),
        };
        s.up();
        s
    }

    pub fn up(&mut self) {
        std::fs::create_dir_all(&self.dir).unwrap();
        let ready = self.dir.join(".ready");
        let _ = std::fs::remove_file(&ready);
        let mut cmd = Command::new("python3");
        cmd.arg(peers_dir().join("sink.py"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--dir")
            .arg(&self.dir)
            .arg("--ready-file")
            .arg(&ready)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.proc = Some(Proc::spawn("python3 sink.py (aiosmtpd)", &mut cmd));
        assert!(
            wait_until(Duration::from_secs(20), || ready.exists()),
            "sink did not start"
        );
    }

    pub fn down(&mut self) {
        self.proc = None;
    }

    pub fn messages(&self) -> Vec<Stored> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .into_iter()
            .map(|p| Stored {
                eml: std::fs::read(&p).unwrap(),
                meta: serde_json::from_slice(&std::fs::read(p.with_extension("json")).unwrap())
                    .unwrap(),
            })
            .collect()
    }

    pub fn wait_for(&self, n: usize, secs: u64) -> Vec<Stored> {
        wait_until(Duration::from_secs(secs), || self.messages().len() >= n);
        let m = self.messages();
        assert!(m.len() >= n, "sink got {} messages, wanted {n}", m.len());
        m
    }
}

/// A running `segl serve` with its own config and data dir.
pub struct Gateway {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub smtp_port: u16,
    pub submission_port: u16,
    pub admin_port: u16,
    pub proc: Option<Proc>,
    pub log: PathBuf,
    /// Extra environment for `segl serve` (e.g. the debug-build fault hook `SEGL_TEST_PANIC`),
    /// applied at the next [`Gateway::up`].
    pub env: Vec<(String, String)>,
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// A fresh directory for one test, removed when dropped; `prefix` names the test file.
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(prefix).tempdir().unwrap()
}

impl Gateway {
    /// `127.0.0.1:PORT` of the MX/relay listener, as swaks' `--server` takes it.
    pub fn smtp_addr(&self) -> String {
        format!("127.0.0.1:{}", self.smtp_port)
    }

    /// Sends one small message from `from` to `to` with swaks over the MX/relay listener and
    /// asserts that it was accepted.
    pub fn send_plain(&self, from: &str, to: &str) {
        let (ok, t) = swaks(&["--server", &self.smtp_addr(), "--from", from, "--to", to]);
        assert!(ok, "{t}");
    }

    /// `inbound` and `smarthost`: sink ports (0: none). `extra`: TOML overriding the test base.
    /// The gateway runs with a development licence for 1000 individual keys, as a customer's
    /// box would (`tests/license.rs` checks the box without one: [`Gateway::start_unlicensed`]).
    pub fn start(dir: &Path, inbound: u16, smarthost: u16, extra: &str) -> Gateway {
        let g = Gateway::start_unlicensed(dir, inbound, smarthost, extra);
        let file = dev_license(
            &dir.join("test-license.txt"),
            &["--keys", "1000", "--expires", "+365"],
        );
        let out = g.ctl(&["license", "install", file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "license install: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        g
    }

    /// Like [`Gateway::start`], without a licence.
    pub fn start_unlicensed(dir: &Path, inbound: u16, smarthost: u16, extra: &str) -> Gateway {
        std::fs::create_dir_all(dir).unwrap();
        let smtp_port = free_port();
        let submission_port = free_port();
        let admin_port = free_port();
        let base = format!(
            r#"
[smtp]
listen = "127.0.0.1:{smtp_port}"
submission_listen = "127.0.0.1:{submission_port}"
hostname = "segl.test"
[relay]
trusted_networks = ["127.0.0.1/32"]
local_domains = ["example.org"]
[delivery]
inbound_next_hop = "127.0.0.1:{inbound}"
outbound_smarthost = "{smarthost}"
retry_initial_secs = 1
retry_max_secs = 2
connect_timeout_secs = 5
command_timeout_secs = 20
[storage]
data_dir = "{data}"
min_free_mb = 1
[admin]
listen = "127.0.0.1:{admin_port}"
[log]
level = "debug"
"#,
            smarthost = if smarthost == 0 {
                String::new()
            } else {
                format!("127.0.0.1:{smarthost}")
            },
            data = dir.join("data").display(),
        );
        let mut table: toml::Table = toml::from_str(&base).unwrap();
        merge(&mut table, toml::from_str(extra).expect("extra TOML"));
        let config = dir.join("segl.toml");
        std::fs::write(&config, toml::to_string(&table).unwrap()).unwrap();
        let mut g = Gateway {
            dir: dir.to_path_buf(),
            config,
            smtp_port,
            submission_port,
            admin_port,
            proc: None,
            log: dir.join("segl.log"),
            env: vec![],
        };
        g.up();
        g
    }

    pub fn up(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(SEGL);
        cmd.arg("serve")
            .arg("--config")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log)
            .env_remove("SEGL_LOG")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        self.proc = Some(Proc::spawn("segl", &mut cmd));
        let admin = self.admin_port;
        let ok = wait_until(Duration::from_secs(30), || {
            http_get(admin, "/health").is_some_and(|b| b.contains("ok"))
        });
        assert!(ok, "segl did not start; log:\n{}", self.log_text());
    }

    pub fn kill9(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill9();
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.term();
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn ctl(&self, args: &[&str]) -> Output {
        Command::new(SEGL)
            .arg("ctl")
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .unwrap()
    }

    /// `segl ctl ARGS`: whether it succeeded, and what it printed (stdout, then stderr).
    pub fn ctl_text(&self, args: &[&str]) -> (bool, String) {
        let out = self.ctl(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    pub fn ctl_json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.ctl(args);
        assert!(
            out.status.success(),
            "segl ctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("ctl --json prints JSON")
    }

    /// Waits until the queue is empty: everything the gateway accepted or made itself was
    /// delivered (the sinks store a message before they acknowledge it) or given up on. The
    /// positive marker to wait for before asserting that something did NOT arrive.
    pub fn wait_queue_empty(&self, secs: u64) {
        assert!(
            wait_until(Duration::from_secs(secs), || self.queue_len() == 0),
            "the queue did not empty within {secs} s"
        );
    }

    pub fn queue_len(&self) -> usize {
        self.ctl_json(&["queue", "list", "--json"])
            .as_array()
            .unwrap()
            .len()
    }

    pub fn add_user(&self, name: &str, email: &str, password: &str) {
        let pw = self.dir.join(format!("{name}.pw"));
        std::fs::write(&pw, format!("{password}\n")).unwrap();
        let out = self.ctl(&[
            "user",
            "add",
            name,
            "--email",
            email,
            "--password-file",
            pw.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "user add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- segl log ({}) ----\n{}",
                self.log.display(),
                self.log_text()
            );
        }
    }
}

/// A minimal HTTP GET for readiness checks (no auth).
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Run swaks; returns (success, transcript).
pub fn swaks(args: &[&str]) -> (bool, String) {
    let out = Command::new("swaks")
        .args(args)
        .output()
        .expect("swaks is installed (.ci/install-deps.sh)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Run a Python snippet (smtplib etc.); returns stdout, panics with stderr on failure.
pub fn python(code: &str) -> String {
    run_ok(Command::new("python3").arg("-c").arg(code))
}

/// A raw SMTP conversation for protocol edge cases that real clients would never send.
pub struct Raw {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut r = Raw {
            r: BufReader::new(sock.try_clone().unwrap()),
            w: sock,
        };
        let greeting = r.reply();
        assert!(greeting.starts_with("220"), "{greeting}");
        r
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).unwrap();
    }

    /// Read one full (possibly multi-line) reply.
    pub fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = self.r.read_line(&mut line).unwrap_or(0);
            if n == 0 {
                return all;
            }
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return all;
            }
        }
    }

    pub fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// Whether the server closed the connection.
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.r.read(&mut b), Ok(0))
    }
}

/// The usual set-up of a test: an inbound sink (the internal mail server), a smarthost sink
/// (the internet) and a licensed gateway between them, all under `dir`, with `extra`
/// configuration. Returns `(inbound, smart, gateway)`.
pub fn gateway_with_sinks(dir: &Path, extra: &str) -> (Sink, Sink, Gateway) {
    let inbound = Sink::start(&dir.join("inbound"), &[]);
    let smart = Sink::start(&dir.join("smart"), &[]);
    let g = Gateway::start(&dir.join("gw"), inbound.port, smart.port, extra);
    (inbound, smart, g)
}

/// Runs a tool of the test set-up (openssl, rauc, mkfs …) that must succeed; its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `len` incompressible bytes (xorshift32 from `seed`): payloads that compression or a
/// file system cannot shrink, the same in every run.
pub fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// The envelope records of the messages queued in `queue_dir` (`<data>/spool/queue`), of both
/// layouts: a `.env` file, or the newest record of a `.mail` file (read with the spool's own
/// `segl::spool::mailfile`).
pub fn spool_records(queue_dir: &Path) -> Vec<serde_json::Value> {
    let mut out = vec![];
    for e in std::fs::read_dir(queue_dir).unwrap().flatten() {
        let p = e.path();
        match p.extension().and_then(|x| x.to_str()) {
            Some("env") => out.push(serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()),
            Some("mail") => {
                let mut f = std::fs::File::open(&p).unwrap();
                let rec = segl::spool::mailfile::read_record(&mut f).unwrap();
                out.push(serde_json::to_value(rec.env).unwrap());
            }
            _ => {}
        }
    }
    out
}
