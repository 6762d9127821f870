//! `segl ctl firmware install FILE [--force] [--reboot]` and `segl ctl firmware status`.
//!
//! The install is one upload; while the box verifies and writes the slot, a second thread
//! polls `GET /firmware` and prints each phase with its progress.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Subcommand;
use serde_json::Value;

use super::client::Client;
use super::output::{print_json, s};
use super::CtlError;

#[derive(Debug, Subcommand)]
pub enum FirmwareVerb {
    /// Install a signed update bundle into the inactive slot; it boots once on trial at the
    /// next restart and becomes the default only if segl starts healthy.
    Install {
        file: PathBuf,
        /// Install an older or equal version too.
        #[arg(long)]
        force: bool,
        /// Restart into the new slot right away.
        #[arg(long)]
        reboot: bool,
        #[arg(long)]
        json: bool,
    },
    /// Slots, versions, trial state and the last update's result.
    Status {
        #[arg(long)]
        json: bool,
    },
}

fn show(v: &Value) {
    if v["supported"].as_bool() != Some(true) {
        println!("firmware updates: not supported here: {}", s(v, "reason"));
        return;
    }
    println!(
        "running:     {} in slot {}{}",
        s(v, "running_version"),
        s(v, "running_slot"),
        if v["trial"].as_bool() == Some(true) {
            " (on trial, not yet marked good)"
        } else {
            ""
        }
    );
    println!("board:       {}", s(v, "board"));
    for slot in v["slots"].as_array().into_iter().flatten() {
        let mut tags = vec![];
        for (k, t) in [
            ("running", "running"),
            ("good", "default"),
            ("trial_next", "boots once on trial next"),
        ] {
            if slot[k].as_bool() == Some(true) {
                tags.push(t);
            }
        }
        if let Some(state) = slot["state"].as_str() {
            tags.push(state);
        }
        println!(
            "slot {}:      {:<12} {}",
            s(slot, "slot"),
            slot["version"].as_str().unwrap_or("(empty)"),
            tags.join(", ")
        );
    }
    if let Some(l) = v["last"].as_object() {
        println!(
            "last update: {} — {}",
            l.get("result").and_then(Value::as_str).unwrap_or("?"),
            l.get("message").and_then(Value::as_str).unwrap_or("")
        );
    }
    if v["development_key"].as_bool() == Some(true) {
        println!("development build: accepts bundles signed with the development update key");
    }
}

pub(super) fn firmware(c: &Client, verb: FirmwareVerb) -> Result<(), CtlError> {
    match verb {
        FirmwareVerb::Status { json } => {
            let v = c.call("GET", "/firmware", None)?;
            if json {
                print_json(&v);
            } else {
                show(&v);
            }
        }
        FirmwareVerb::Install {
            file,
            force,
            reboot,
            json,
        } => {
            let data = std::fs::read(&file)
                .map_err(|e| CtlError::Usage(format!("{}: {e}", file.display())))?;
            if !json {
                println!(
                    "uploading {} ({:.1} MB)",
                    file.display(),
                    data.len() as f64 / 1e6
                );
            }
            let path = format!("/firmware?force={force}&reboot={reboot}");
            let finished = AtomicBool::new(false);
            let v = std::thread::scope(|scope| {
                if !json {
                    scope.spawn(|| watch(c, &finished));
                }
                let r = c.post_bytes(&path, &data);
                finished.store(true, Ordering::Relaxed);
                r
            })?;
            if json {
                print_json(&v);
            } else if v["rauc"].as_bool() == Some(true) {
                println!("installed by RAUC: {}", s(&v, "message"));
            } else {
                println!(
                    "installed version {} in slot {} (written and read back: SHA-256 matches)",
                    s(&v["installed"], "version"),
                    s(&v, "slot")
                );
                if reboot {
                    println!("restarting: the new slot boots once on trial; it stays only if segl starts healthy");
                } else {
                    println!(
                        "restart the box to try it (segl ctl firmware status shows the slots)"
                    );
                }
            }
        }
    }
    Ok(())
}

/// Prints the install's phases (with percent) until `finished`.
fn watch(c: &Client, finished: &AtomicBool) {
    let mut last = String::new();
    while !finished.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(300));
        let Ok(v) = c.call("GET", "/firmware", None) else {
            continue;
        };
        let p = &v["progress"];
        let phase = s(p, "phase");
        let (done, total) = (
            p["done"].as_u64().unwrap_or(0),
            p["total"].as_u64().unwrap_or(0),
        );
        let line = if total > 0 && phase != "idle" {
            format!("{phase}: {}%", done * 100 / total)
        } else {
            phase.to_string()
        };
        if line != last && !finished.load(Ordering::Relaxed) {
            println!("  {line}");
            last = line;
        }
    }
}
