//! Hardening: damaged state on disk costs the damaged entry, never the rest. A truncated spool
//! message, one with a byte flipped in place (same length: caught by the record's checksum) and
//! an envelope record that is not JSON are moved to `spool/hold/` with an error log line and a
//! reason `segl ctl queue held` shows, while the other queued message (its record stripped of
//! the checksum, as the previous firmware wrote it) and a later one are delivered; a damaged keystore record (a sled value cut in half) is named in
//! `segl ctl status`, and the other keys still list and sign; a read-only data dir stops
//! `segl serve` with a clear error and a non-zero exit, no panic. Least privilege: as root on an
//! appliance (a box marked by `/etc/segl`; here a test marker), `segl serve` refuses to start
//! unless given `--allow-root`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

/// Sends one message to `to` (from a trusted client, so it is relayed out).
fn send(g: &Gateway, from: &str, to: &str, subject: &str) {
    let (ok, t) = swaks(&[
        "--server",
        &g.smtp_addr(),
        "--from",
        from,
        "--to",
        to,
        "--header",
        &format!("Subject: {subject}"),
    ]);
    assert!(ok, "{t}");
}

/// The queued file with extension `ext` (`env`, `mail`) whose bytes name `rcpt`.
fn queued_file(g: &Gateway, rcpt: &str, ext: &str) -> PathBuf {
    let q = g.dir.join("data/spool/queue");
    std::fs::read_dir(&q)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .find(|p| {
            let bytes = std::fs::read(p).unwrap();
            bytes.windows(rcpt.len()).any(|w| w == rcpt.as_bytes())
        })
        .unwrap_or_else(|| panic!("no queued .{ext} file for {rcpt} in {}", q.display()))
}

/// Cuts `path` to half its length.
fn cut_in_half(path: &Path) {
    let len = std::fs::metadata(path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(len / 2).unwrap();
}

/// Changes one byte in the middle of `path` (the length stays).
fn flip_middle_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 4;
    bytes[mid] ^= 0x20;
    std::fs::write(path, &bytes).unwrap();
}

/// The two-file layout (`storage.spool_layout = "two-files"`, what firmware before 2026-12
/// wrote): a cut `.msg`, a `.env` that is not JSON, a flipped byte in a `.msg`, and a record
/// without a checksum (as older firmware wrote it), which must still be delivered.
fn damage_two_files(g: &Gateway) -> [&'static str; 3] {
    cut_in_half(&queued_file(g, "cut@partner.test", "env").with_extension("msg"));
    std::fs::write(
        queued_file(g, "garbled@partner.test", "env"),
        b"{\"version\": 1, \"id\": tru",
    )
    .unwrap();
    flip_middle_byte(&queued_file(g, "flipped@partner.test", "env").with_extension("msg"));
    let whole = queued_file(g, "whole@partner.test", "env");
    let mut rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&whole).unwrap()).unwrap();
    let sum = rec.as_object_mut().unwrap().remove("checksum");
    assert!(
        sum.as_ref()
            .and_then(|s| s.as_str())
            .is_some_and(|s| s.starts_with("crc32:")),
        "new records carry a checksum: {sum:?}"
    );
    std::fs::write(&whole, serde_json::to_vec_pretty(&rec).unwrap()).unwrap();
    ["truncated", "line 1 column", "damaged: checksum mismatch"]
}

/// The one-file layout (`<id>.mail`, the default): a cut file, one whose records are all
/// overwritten, and a flipped byte in a message.
fn damage_one_file(g: &Gateway) -> [&'static str; 3] {
    let names = std::fs::read_dir(g.dir.join("data/spool/queue"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<Vec<_>>();
    assert!(
        names.iter().all(|n| n.ends_with(".mail")),
        "one file per message: {names:?}"
    );
    cut_in_half(&queued_file(g, "cut@partner.test", "mail"));
    let garbled = queued_file(g, "garbled@partner.test", "mail");
    let message_len =
        segl::spool::mailfile::read_record(&mut std::fs::File::open(&garbled).unwrap())
            .unwrap()
            .message_len as usize;
    let mut bytes = std::fs::read(&garbled).unwrap();
    bytes[message_len..].fill(b'x');
    std::fs::write(&garbled, &bytes).unwrap();
    flip_middle_byte(&queued_file(g, "flipped@partner.test", "mail"));
    [
        "cut off or damaged",
        "cut off or damaged",
        "damaged: checksum mismatch",
    ]
}

#[test]
fn damaged_one_file_spool_entries_are_held_and_the_rest_flows() {
    damaged_spool_files_are_held_and_the_rest_flows("auto", damage_one_file);
}

#[test]
fn damaged_two_file_spool_entries_are_held_and_the_rest_flows() {
    damaged_spool_files_are_held_and_the_rest_flows("two-files", damage_two_files);
}

fn damaged_spool_files_are_held_and_the_rest_flows(
    layout: &str,
    damage: fn(&Gateway) -> [&'static str; 3],
) {
    let d = temp_dir("segl-corrupt-");
    let mut smart = Sink::start(&d.path().join("smart"), &[]);
    smart.down();
    let inbound = Sink::start(&d.path().join("inbound"), &[]);
    let extra = format!("[storage]\nspool_layout = \"{layout}\"\n");
    let mut g = Gateway::start(&d.path().join("gw"), inbound.port, smart.port, &extra);
    let all = ["cut", "garbled", "flipped", "whole"];
    for who in all {
        send(&g, "a@example.org", &format!("{who}@partner.test"), who);
    }
    // All four wait for the next hop, in the delivery stage.
    assert!(
        wait_until(Duration::from_secs(30), || g.queue_len() == all.len()
            && all.iter().all(|w| {
                let q = g.ctl_json(&["queue", "list", "--json"]);
                q.to_string().contains(&format!("{w}@partner.test"))
            })),
        "four queued messages"
    );
    g.stop();
    let expected = damage(&g);
    smart.up();
    g.up();
    send(&g, "a@example.org", "later@partner.test", "marker");
    let m = smart.wait_for(2, 60);
    g.wait_queue_empty(30);
    let rcpts: Vec<Vec<String>> = smart.messages().iter().map(|m| m.rcpts()).collect();
    assert!(
        rcpts.contains(&vec!["whole@partner.test".to_string()]),
        "{rcpts:?}"
    );
    assert!(
        rcpts.contains(&vec!["later@partner.test".to_string()]),
        "{rcpts:?}"
    );
    assert_eq!(m.len(), 2, "nothing damaged was delivered: {rcpts:?}");
    let held = g.ctl_json(&["queue", "held", "--json"]);
    let reasons: Vec<&str> = held
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 3, "{held}");
    for want in expected {
        assert!(
            reasons.iter().any(|r| r.contains(want)),
            "{want}: {reasons:?}"
        );
    }
    assert_eq!(
        g.log_text()
            .matches("spool record quarantined to spool/hold")
            .count(),
        2,
        "one admin-visible log line each for the two found at start"
    );
    assert!(
        g.log_text().contains("message quarantined to spool/hold"),
        "the damage found when read is logged too"
    );
}

/// Cuts the sled value of the own key for `email` in half (the gateway must be stopped).
fn damage_key_record(data: &Path, email: &str) -> String {
    use segl::keystore::store::{KvStore, SledStore};
    let db = SledStore::open(&data.join("keystore/db")).unwrap();
    let (id, value) = db
        .list("keys")
        .unwrap()
        .into_iter()
        .find(|(_, v)| String::from_utf8_lossy(v).contains(email))
        .unwrap_or_else(|| panic!("no key record for {email}"));
    db.put("keys", &id, &value[..value.len() / 2]).unwrap();
    db.flush().unwrap();
    id
}

#[test]
fn damaged_keystore_record_costs_only_its_entry() {
    let d = temp_dir("segl-corrupt-");
    let (_inbound, smart, mut g) = gateway_with_sinks(
        d.path(),
        "[sign]\ntrusted_relays = [\"127.0.0.1/32\"]\nkeys_without_auth = [\"@example.org\"]\n",
    );
    for who in ["alice", "bob"] {
        let out = g.ctl(&["key", "generate", "--email", &format!("{who}@example.org")]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    g.stop();
    let bad = damage_key_record(&g.dir.join("data"), "bob@example.org");
    g.up();
    let keys = g.ctl_json(&["key", "list", "--json"]).to_string();
    assert!(keys.contains("alice@example.org"), "{keys}");
    assert!(
        !keys.contains(&bad),
        "the damaged entry is left out: {keys}"
    );
    let status = g.ctl_json(&["status", "--json"]);
    let damaged = status["keystore_damaged"].as_array().unwrap();
    assert_eq!(damaged.len(), 1, "{status}");
    assert_eq!(damaged[0]["id"], bad.as_str());
    assert!(
        damaged[0]["error"]
            .as_str()
            .unwrap()
            .contains("cannot be decoded"),
        "{status}"
    );
    let text = g.ctl(&["status"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!("record keys/{bad} is damaged")),
        "{text}"
    );
    assert!(g.log_text().contains("unreadable keystore record skipped"));
    // The rest of the store works: alice's key still signs.
    send(&g, "alice@example.org", "p@partner.test", "signed");
    let m = smart.wait_for(1, 60);
    assert!(
        m[0].text().contains("multipart/signed"),
        "signed with alice's key"
    );
    // And it still takes changes.
    let out = g.ctl(&["key", "generate", "--email", "carol@example.org"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Unmounts the read-only bind mount when the test ends, however it ends.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn read_only_data_dir_stops_with_a_clear_error() {
    let d = temp_dir("segl-corrupt-");
    let mut g = Gateway::start(&d.path().join("gw"), 0, 0, "");
    g.stop();
    let data = g.dir.join("data");
    // A read-only bind mount: as root, file modes alone do not stop writes.
    let st = Command::new("mount")
        .args(["--bind"])
        .arg(&data)
        .arg(&data)
        .status()
        .unwrap();
    assert!(
        st.success(),
        "this test bind-mounts and needs root (CI runs as root)"
    );
    let _guard = Unmount(data.clone());
    let st = Command::new("mount")
        .args(["-o", "remount,bind,ro"])
        .arg(&data)
        .status()
        .unwrap();
    assert!(st.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_segl"))
        .arg("serve")
        .arg("--config")
        .arg(&g.config)
        .env_remove("SEGL_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut status = None;
    wait_until(Duration::from_secs(30), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    let Some(status) = status else {
        let _ = child.kill();
        panic!("segl kept running on a read-only data dir");
    };
    let err = child.wait_with_output().unwrap().stderr;
    let err = String::from_utf8_lossy(&err);
    assert!(!status.success(), "non-zero exit: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("read-only"), "names the cause: {err}");
    assert!(
        err.contains(&data.display().to_string()),
        "names the directory: {err}"
    );
}

/// Runs `segl serve` with `args` until it exits or its admin port answers; returns the exit
/// status (None: it started and was stopped) and its stderr.
fn serve_outcome(g: &Gateway, env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String) {
    let err_path = g.dir.join("serve.err");
    let err = std::fs::File::create(&err_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_segl"))
        .arg("serve")
        .arg("--config")
        .arg(&g.config)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("SEGL_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap();
    let mut status = None;
    let up = wait_until(Duration::from_secs(30), || {
        status = child.try_wait().unwrap();
        status.is_some() || http_get(g.admin_port, "/health").is_some_and(|b| b.contains("ok"))
    });
    assert!(up, "segl neither started nor exited");
    if status.is_none() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = child.wait();
    }
    (
        status.map(|s| s.code().unwrap_or(-1)),
        std::fs::read_to_string(&err_path).unwrap_or_default(),
    )
}

#[test]
fn root_on_an_appliance_is_refused_unless_allowed() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root (CI runs as root)");
        return;
    }
    let d = temp_dir("segl-corrupt-");
    let mut g = Gateway::start(&d.path().join("gw"), 0, 0, "");
    g.stop();
    let marker = d.path().join("etc-segl");
    let marker_s = marker.to_str().unwrap();
    // Not a box (no marker): root may run it, as CI and developers do.
    let (code, err) = serve_outcome(&g, &[("SEGL_TEST_APPLIANCE_MARKER", marker_s)], &[]);
    assert_eq!(code, None, "started without the marker: {err}");
    std::fs::create_dir(&marker).unwrap();
    let (code, err) = serve_outcome(&g, &[("SEGL_TEST_APPLIANCE_MARKER", marker_s)], &[]);
    assert_eq!(code, Some(2), "refused: {err}");
    assert!(
        err.contains("refusing to run as root on an appliance"),
        "{err}"
    );
    assert!(err.contains("--allow-root"), "says how to override: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let (code, err) = serve_outcome(
        &g,
        &[("SEGL_TEST_APPLIANCE_MARKER", marker_s)],
        &["--allow-root"],
    );
    assert_eq!(code, None, "--allow-root starts it: {err}");
    assert!(
        err.contains("running as root on an appliance because --allow-root"),
        "{err}"
    );
}
