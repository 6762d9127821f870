//! What segl learns about a RAUC bundle before it hands it to the root helper: the manifest,
//! read by the real `rauc info` with the box's keyring (so the signature is judged as RAUC
//! judges it, and a bundle RAUC would refuse never reaches `segl-raucd`), and the version rule
//! the local image uses ([`super::bundle::newer_or_forced`]), because RAUC itself installs any
//! compatible bundle its keyring accepts, older ones too.
//!
//! `rauc info` runs as user segl. RAUC takes a read lease on the bundle (`F_SETLEASE`) so that
//! no one else holds it open; without `CAP_LEASE` the kernel grants that only to the file's
//! owner — segl wrote the upload itself, so it is.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::UpdateError;

/// The facts of a bundle's manifest segl decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleInfo {
    pub compatible: String,
    pub version: String,
}

/// What segl reads from RAUC's `system.conf`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct SystemConf {
    pub compatible: Option<String>,
    /// `[keyring] path`, resolved: relative to the file's directory as RAUC does, and an
    /// absolute one under the box's root (`/` on the box, a directory in tests).
    pub keyring: Option<PathBuf>,
}

impl SystemConf {
    /// Parses the key file `text` of `conf` on the box whose root is `root`.
    pub fn parse(text: &str, conf: &Path, root: &Path) -> SystemConf {
        let mut out = SystemConf::default();
        let mut section = String::new();
        for line in text.lines().map(str::trim) {
            if line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.trim().to_string();
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim().to_string();
            match (section.as_str(), key.trim()) {
                ("system", "compatible") => out.compatible = Some(value),
                ("keyring", "path") => {
                    out.keyring = Some(match value.strip_prefix('/') {
                        Some(rel) => root.join(rel),
                        None => conf.parent().unwrap_or(root).join(value),
                    })
                }
                _ => {}
            }
        }
        out
    }
}

/// Runs `rauc info --conf CONF --keyring KEYRING --output-format=shell BUNDLE` and returns the
/// manifest's compatible and version; RAUC's own reason when it refuses the bundle.
pub(super) fn read_bundle(
    conf: &Path,
    sys: &SystemConf,
    bundle: &Path,
) -> Result<BundleInfo, UpdateError> {
    let mut cmd = Command::new("rauc");
    cmd.arg("info").arg("--conf").arg(conf);
    if let Some(k) = &sys.keyring {
        cmd.arg("--keyring").arg(k);
    }
    let out = cmd
        .arg("--output-format=shell")
        .arg(bundle)
        .output()
        .map_err(|e| UpdateError::State(format!("cannot run rauc info: {e}")))?;
    if !out.status.success() {
        return Err(UpdateError::Rauc(rauc_error(&String::from_utf8_lossy(
            &out.stderr,
        ))));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| {
        shell_value(&text, key)
            .ok_or_else(|| UpdateError::Rauc(format!("rauc info printed no {key} for the bundle")))
    };
    Ok(BundleInfo {
        compatible: field("RAUC_MF_COMPATIBLE")?,
        version: field("RAUC_MF_VERSION")?,
    })
}

/// RAUC's reason: the last line of its error output that is not one of its progress messages.
fn rauc_error(stderr: &str) -> String {
    stderr
        .lines()
        .map(str::trim)
        .rev()
        .find(|l| !l.is_empty() && !l.starts_with("rauc-Message"))
        .unwrap_or("rauc info failed")
        .to_string()
}

/// The value of `KEY=...` in RAUC's shell output (quoted with `g_shell_quote`: single quotes,
/// `'\''` for a quote inside).
pub(super) fn shell_value(text: &str, key: &str) -> Option<String> {
    let raw = text
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))?;
    let mut out = String::new();
    let mut quoted = false;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (_, '\'') => quoted = !quoted,
            (false, '\\') => out.extend(chars.next()),
            (_, c) => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_compatible_and_keyring_as_rauc_resolves_them() {
        let root = Path::new("/tmp/box");
        let conf = root.join("etc/rauc/system.conf");
        let text = "# c\n[system]\ncompatible=segl-x86_64\nbootloader=grub\n\n[keyring]\npath=/etc/rauc/keyring.pem\n[slot.rootfs.0]\npath=x\n";
        let s = SystemConf::parse(text, &conf, root);
        assert_eq!(s.compatible.as_deref(), Some("segl-x86_64"));
        assert_eq!(s.keyring, Some(root.join("etc/rauc/keyring.pem")));
        let s = SystemConf::parse("[keyring]\npath = ca.pem\n", &conf, root);
        assert_eq!(s.keyring, Some(root.join("etc/rauc/ca.pem")));
        assert_eq!(SystemConf::parse("", &conf, root), SystemConf::default());
    }

    #[test]
    fn unquotes_raucs_shell_values() {
        let out = "RAUC_MF_COMPATIBLE='segl-test'\nRAUC_MF_VERSION='2.0'\nRAUC_MF_DESCRIPTION='it'\\''s'\nRAUC_MF_IMAGES=1\n";
        assert_eq!(shell_value(out, "RAUC_MF_VERSION").as_deref(), Some("2.0"));
        assert_eq!(
            shell_value(out, "RAUC_MF_DESCRIPTION").as_deref(),
            Some("it's")
        );
        assert_eq!(shell_value(out, "RAUC_MF_IMAGES").as_deref(), Some("1"));
        assert_eq!(shell_value(out, "RAUC_MF"), None);
        assert_eq!(
            rauc_error("rauc-Message: x\nsignature verification failed: bad\n\n"),
            "signature verification failed: bad"
        );
    }
}
