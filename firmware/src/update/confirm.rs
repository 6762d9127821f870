//! The start of a slot: on a trial boot, mark the slot good once segl is healthy; after a
//! fallback, record that the other slot's trial failed.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::{Slot, Updater};
use crate::config::{parse_listen, Config};

/// How long a trial boot may take to become healthy before segl gives up (the `/init` watchdog
/// reboots later still).
const HEALTH_WAIT: Duration = Duration::from_secs(90);

/// How the admin listener's health is asked (`app` passes an HTTPS client pinned to the
/// listener's certificate; this module stays below `ctl` and `admin` in the module map).
pub type AdminCheck = dyn Fn(&Config) -> Result<(), String>;

/// Runs once after segl started (keystore opened, listeners bound): the boot decisions.
/// Blocking (network checks, raw device writes): call on a blocking thread.
pub fn after_start(u: &Updater, cfg: &Config, admin_health: &AdminCheck) {
    let Ok(b) = u.boot() else {
        return;
    };
    let env = match u.env(b) {
        Ok((_, v)) => v,
        Err(e) => {
            tracing::warn!(error = %e, "firmware: cannot read the boot loader environment");
            return;
        }
    };
    let tried = env.get("tried").and_then(|s| Slot::parse(s));
    let tried_version = env.get("tried_version").cloned().unwrap_or_default();
    if b.trial {
        match healthy(cfg, HEALTH_WAIT, admin_health) {
            Ok(()) => mark_good(u, b.slot, &tried_version),
            Err(why) => {
                tracing::error!(reason = %why, slot = b.slot.name(), "firmware: trial boot not healthy; not marking the slot good (the boot loader falls back at the next restart)");
            }
        }
        return;
    }
    if let Some(t) = tried.filter(|t| *t != b.slot) {
        let running = b.slot_info(b.slot).map(|i| i.version).unwrap_or_default();
        let msg = format!(
            "version {tried_version} in slot {} did not become healthy on its trial boot; back on version {running} in slot {}",
            t.name(),
            b.slot.name()
        );
        tracing::error!("firmware: {msg}");
        u.record("failed", &tried_version, t.name(), msg);
        if let Err(e) = u.set_env(b, |v| {
            v.insert("tried".into(), String::new());
            v.insert("tried_version".into(), String::new());
        }) {
            tracing::warn!(error = %e, "firmware: cannot clear the trial record");
        }
    }
}

pub(super) fn mark_good(u: &Updater, slot: Slot, version: &str) {
    let Ok(b) = u.boot() else {
        return;
    };
    let r = u.set_env(b, |v| {
        v.insert("slot_good".into(), slot.name().into());
        v.insert("slot_try".into(), String::new());
        v.insert("tried".into(), String::new());
        v.insert("tried_version".into(), String::new());
    });
    match r {
        Ok(()) => {
            let _ = std::fs::write(b.good_marker(), b"good\n");
            let version = b
                .slot_info(slot)
                .map(|i| i.version)
                .unwrap_or_else(|| version.to_string());
            let msg = format!(
                "version {version} in slot {} started healthy and is now the default",
                slot.name()
            );
            tracing::info!("firmware: {msg}");
            u.record("good", &version, slot.name(), msg);
        }
        Err(e) => tracing::error!(error = %e, "firmware: cannot mark the slot good"),
    }
}

/// The health a trial boot must show: the SMTP banner on the first SMTP listener and `ok` from
/// the admin listener's `/health` (the keystore is open, since this runs after start).
pub fn healthy(cfg: &Config, wait: Duration, admin_health: &AdminCheck) -> Result<(), String> {
    let deadline = Instant::now() + wait;
    let mut last = String::new();
    while Instant::now() < deadline {
        match smtp_banner(cfg).and_then(|()| admin_health(cfg)) {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    Err(last)
}

/// The address to reach a listener on this box (`0.0.0.0` → loopback).
pub fn local(listen: &str) -> Result<SocketAddr, String> {
    let mut a = parse_listen(listen).map_err(|e| e.to_string())?;
    if a.ip().is_unspecified() {
        a.set_ip(if a.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    Ok(a)
}

fn smtp_banner(cfg: &Config) -> Result<(), String> {
    let listen = cfg
        .smtp
        .listen
        .first()
        .or(cfg.smtp.submission_listen.first())
        .ok_or("no SMTP listener configured")?;
    let addr = local(listen)?;
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("SMTP {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(&s)
        .read_line(&mut line)
        .map_err(|e| format!("SMTP {addr}: {e}"))?;
    let _ = std::io::Write::write_all(&mut &s, b"QUIT\r\n");
    if line.starts_with("220") {
        Ok(())
    } else {
        Err(format!("SMTP {addr} greets with {line:?}"))
    }
}
