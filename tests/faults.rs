//! Hardening: faults inside the gateway must not wedge what they held. A panic injected with the
//! debug-build hook `SEGL_TEST_PANIC` (`firmware/src/testhook.rs`) in a delivery round and in an
//! SMTP session: the message is tried again and delivered (no busy mark left until restart), and
//! the client address's connection slot is given back (no 421 "too many connections" later).
//! A panic in the process stage quarantines the message; `segl ctl queue release` brings it back
//! and it is delivered.

mod common;

use common::*;

/// Restarts `g` with the debug-build fault hook `var` (`SEGL_TEST_PANIC`, `SEGL_TEST_STALL`).
fn restarted_with(g: &mut Gateway, var: &str, hook: &str) {
    g.stop();
    g.env.push((var.into(), hook.into()));
    g.up();
}

#[test]
fn panic_in_a_delivery_round_releases_the_message() {
    let d = temp_dir("segl-faults-");
    let smart = Sink::start(&d.path().join("smart"), &[]);
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    let mut g = Gateway::start(&d.path().join("gw"), inbound.port, smart.port, "");
    restarted_with(&mut g, "SEGL_TEST_PANIC", "deliver:boom@partner.test");
    g.send_plain("a@example.org", "boom@partner.test");
    // The first round panicked (logged), the message was released and the next round
    // delivered it — without a restart.
    let m = smart.wait_for(1, 30);
    assert_eq!(m[0].rcpts(), vec!["boom@partner.test"]);
    let log = g.log_text();
    assert!(
        log.contains("injected panic at deliver"),
        "the hook fired:\n{log}"
    );
    assert!(log.contains("work on the message panicked"), "{log}");
    g.wait_queue_empty(10);
}

#[test]
fn panic_in_a_session_gives_the_address_slot_back() {
    let d = temp_dir("segl-faults-");
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    let mut g = Gateway::start(
        &d.path().join("gw"),
        inbound.port,
        0,
        "[smtp]\nmax_connections_per_ip = 2\nmax_connections_per_trusted_ip = 2\n",
    );
    restarted_with(&mut g, "SEGL_TEST_PANIC", "session:boom.test:3");
    // Three sessions from 127.0.0.1 panic at EHLO; with only two slots per address, a slot
    // that was not given back would refuse the third (and every later) connection with 421.
    for _ in 0..3 {
        let mut r = Raw::connect(g.smtp_port);
        r.send(b"EHLO boom.test\r\n");
        assert!(r.closed(), "the panicking session ends");
    }
    let (ok, t) = swaks(&[
        "--server",
        &g.smtp_addr(),
        "--from",
        "bob@partner.test",
        "--to",
        "alice@example.org",
    ]);
    assert!(ok, "a normal client still gets in: {t}");
    inbound.wait_for(1, 30);
    assert_eq!(
        g.log_text().matches("SMTP session panicked").count(),
        3,
        "each panic released its slot"
    );
}

/// Sends one message from a trusted client (signed by alice's key on the way out).
fn send_one(g: &Gateway, to: &str, subject: &str) {
    let (ok, t) = swaks(&[
        "--server",
        &g.smtp_addr(),
        "--from",
        "alice@example.org",
        "--to",
        to,
        "--header",
        &format!("Subject: {subject}"),
    ]);
    assert!(ok, "{t}");
}

fn wait_log(g: &Gateway, needle: &str) {
    assert!(
        wait_until(std::time::Duration::from_secs(30), || g
            .log_text()
            .contains(needle)),
        "log never showed {needle:?}:\n{}",
        g.log_text()
    );
}

/// `kill -9` right after the process stage stored the signed copy and before it removed the
/// original (the window `queue/process.rs` claims is harmless): after the restart the message
/// is delivered, signed, exactly once.
#[test]
fn kill9_between_processing_and_removing_the_original_delivers_once() {
    let d = temp_dir("segl-faults-");
    let (_inbound, smart, mut g) = gateway_with_sinks(
        d.path(),
        "[sign]\ntrusted_relays = [\"127.0.0.1/32\"]\nkeys_without_auth = [\"@example.org\"]\n",
    );
    let out = g.ctl(&["key", "generate", "--email", "alice@example.org"]);
    assert!(out.status.success());
    restarted_with(&mut g, "SEGL_TEST_STALL", "processed:crash@partner.test");
    send_one(&g, "crash@partner.test", "stalled in processing");
    wait_log(&g, "SEGL_TEST_STALL: stalled at processed");
    g.kill9();
    g.env.clear();
    g.up();
    // Positive marker: a later message, sent after the restart, arrives after the first.
    send_one(&g, "later@partner.test", "marker");
    let m = smart.wait_for(2, 60);
    g.wait_queue_empty(30);
    let got = smart.messages();
    let crashed: Vec<_> = got
        .iter()
        .filter(|m| m.rcpts() == vec!["crash@partner.test"])
        .collect();
    assert_eq!(crashed.len(), 1, "exactly once: {} copies", crashed.len());
    assert!(crashed[0].text().contains("multipart/signed"), "signed");
    assert!(m.iter().any(|m| m.rcpts() == vec!["later@partner.test"]));
}

/// `kill -9` after the next hop accepted the message and before Segl recorded it: SMTP gives no
/// way to know, so the message is delivered again after the restart (at least once, the
/// standard MTA promise) — never lost, and never more than that one extra copy.
#[test]
fn kill9_after_the_next_hop_accepted_redelivers_never_loses() {
    let d = temp_dir("segl-faults-");
    let smart = Sink::start(&d.path().join("smart"), &[]);
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    let mut g = Gateway::start(&d.path().join("gw"), inbound.port, smart.port, "");
    restarted_with(&mut g, "SEGL_TEST_STALL", "delivered:crash@partner.test");
    send_one(&g, "crash@partner.test", "stalled after DATA");
    wait_log(&g, "SEGL_TEST_STALL: stalled at delivered");
    smart.wait_for(1, 30);
    g.kill9();
    g.env.clear();
    g.up();
    send_one(&g, "later@partner.test", "marker");
    let m = smart.wait_for(3, 60);
    g.wait_queue_empty(30);
    let copies = smart
        .messages()
        .iter()
        .filter(|m| m.rcpts() == vec!["crash@partner.test"])
        .count();
    assert_eq!(copies, 2, "delivered again after the crash, once");
    assert!(m.iter().any(|m| m.rcpts() == vec!["later@partner.test"]));
}

/// A panic inside the process stage quarantines the message ("internal error while
/// processing"); the admin sees it in `queue held`, releases it with `segl ctl queue release`,
/// and it is processed again and delivered to the next hop (the hook fires only once).
#[test]
fn panic_in_processing_holds_the_message_and_release_delivers_it() {
    let d = temp_dir("segl-faults-");
    let smart = Sink::start(&d.path().join("smart"), &[]);
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    let mut g = Gateway::start(&d.path().join("gw"), inbound.port, smart.port, "");
    restarted_with(&mut g, "SEGL_TEST_PANIC", "process:held@partner.test");
    let (ok, t) = swaks(&[
        "--server",
        &g.smtp_addr(),
        "--from",
        "a@example.org",
        "--to",
        "held@partner.test",
    ]);
    assert!(ok, "{t}");
    let mut held = serde_json::Value::Null;
    assert!(
        wait_until(std::time::Duration::from_secs(30), || {
            held = g.ctl_json(&["queue", "held", "--json"]);
            held.as_array().is_some_and(|a| !a.is_empty())
        }),
        "never held:\n{}",
        g.log_text()
    );
    let id = held[0]["id"].as_str().unwrap().to_string();
    let reason = held[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("internal error while processing"),
        "{reason}"
    );
    assert!(g.log_text().contains("injected panic at process"));
    let out = g.ctl(&["queue", "release", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = smart.wait_for(1, 30);
    assert_eq!(m[0].rcpts(), vec!["held@partner.test"]);
    g.wait_queue_empty(10);
    assert!(
        g.ctl_json(&["queue", "held", "--json"])
            .as_array()
            .unwrap()
            .is_empty(),
        "no longer held"
    );
    // Releasing it again: it is no longer held.
    let again = g.ctl(&["queue", "release", &id]);
    assert!(!again.status.success());
}
