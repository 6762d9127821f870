//! What `/init` tells segl about this boot: the board, the slot that runs, whether it runs on
//! trial, and the devices. `/init` writes `/run/segl-firmware/boot.conf` (`key=value` lines)
//! from the kernel command line GRUB built, and copies each slot's `slot.toml` next to it.
//!
//! ```text
//! board=x86_64-local
//! slot=a
//! trial=0
//! boot_dev=/dev/vda1
//! slot_a_dev=/dev/vda2
//! slot_b_dev=/dev/vda3
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where `/init` puts the boot facts (`SEGL_FIRMWARE_BOOT` names another file, for tests).
pub const DEFAULT_BOOT_CONF: &str = "/run/segl-firmware/boot.conf";

/// One of the two boot slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Slot {
    A,
    B,
}

impl Slot {
    pub fn name(self) -> &'static str {
        match self {
            Slot::A => "a",
            Slot::B => "b",
        }
    }
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }
    pub fn parse(s: &str) -> Option<Slot> {
        match s.trim() {
            "a" | "A" => Some(Slot::A),
            "b" | "B" => Some(Slot::B),
            _ => None,
        }
    }
}

/// A slot's own description (`slot.toml` inside the slot image), written by the image build.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct SlotInfo {
    pub version: String,
    pub board: String,
}

/// The facts of this boot.
#[derive(Debug, Clone)]
pub struct BootInfo {
    pub board: String,
    pub slot: Slot,
    pub trial: bool,
    pub boot_dev: PathBuf,
    slot_devs: [PathBuf; 2],
    /// The directory of `boot.conf`: slot-a.toml, slot-b.toml, the `good` marker and the
    /// `reboot-request` file for the root helper.
    pub run_dir: PathBuf,
}

impl BootInfo {
    /// Reads `boot.conf`; `Err` says why this box cannot update itself.
    pub fn load(path: &Path) -> Result<BootInfo, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "not an A/B firmware image ({}: {e}); update by re-flashing",
                path.display()
            )
        })?;
        Self::parse(&text, path.parent().unwrap_or(Path::new("/")))
    }

    fn parse(text: &str, run_dir: &Path) -> Result<BootInfo, String> {
        let kv: HashMap<&str, &str> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        let get = |k: &str| {
            kv.get(k)
                .filter(|v| !v.is_empty())
                .map(|v| v.to_string())
                .ok_or_else(|| format!("boot.conf has no {k}"))
        };
        let slot = get("slot")?;
        Ok(BootInfo {
            board: get("board")?,
            slot: Slot::parse(&slot).ok_or_else(|| format!("boot.conf: slot={slot}?"))?,
            trial: kv.get("trial").is_some_and(|v| *v == "1"),
            boot_dev: get("boot_dev")?.into(),
            slot_devs: [get("slot_a_dev")?.into(), get("slot_b_dev")?.into()],
            run_dir: run_dir.to_path_buf(),
        })
    }

    pub fn slot_dev(&self, s: Slot) -> &Path {
        match s {
            Slot::A => &self.slot_devs[0],
            Slot::B => &self.slot_devs[1],
        }
    }

    /// What `/init` found in slot `s` at boot (None: empty, unreadable or never written).
    pub fn slot_info(&self, s: Slot) -> Option<SlotInfo> {
        let p = self.run_dir.join(format!("slot-{}.toml", s.name()));
        let text = std::fs::read_to_string(p).ok()?;
        toml::from_str(&text).ok()
    }

    /// The marker the trial watchdog of `/init` waits for.
    pub fn good_marker(&self) -> PathBuf {
        self.run_dir.join("good")
    }

    /// The file the root helper (`/sbin/segl-firmwared`) reboots for.
    pub fn reboot_request(&self) -> PathBuf {
        self.run_dir.join("reboot-request")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_boot_conf() {
        let b = BootInfo::parse(
            "board=x86_64-local\nslot=b\ntrial=1\nboot_dev=/dev/vda1\nslot_a_dev=/dev/vda2\nslot_b_dev=/dev/vda3\n",
            Path::new("/run/x"),
        )
        .expect("parse");
        assert_eq!(b.slot, Slot::B);
        assert!(b.trial);
        assert_eq!(b.slot_dev(b.slot.other()), Path::new("/dev/vda2"));
        assert!(BootInfo::parse("slot=c\n", Path::new("/")).is_err());
        assert!(BootInfo::load(Path::new("/nonexistent/boot.conf"))
            .unwrap_err()
            .contains("re-flashing"));
    }
}
