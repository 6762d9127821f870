//! Checks before `segl serve` touches anything: it does not run as root on an appliance, and
//! its data directory can be written. Each failure is one sentence an administrator can act on
//! and a non-zero exit, never a panic halfway through opening the spool or the keystore.

use std::io;
use std::path::Path;

/// A box is marked by this directory (the images carry their factory configuration there).
/// Development machines and CI have none, so tests and `cargo run` may run as root.
pub const APPLIANCE_MARKER: &str = "/etc/segl";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    #[error(
        "refusing to run as root on an appliance ({marker} exists): segl runs as user segl \
         (the image's segl-run does that); start it as that user, or pass --allow-root if you \
         really mean to"
    )]
    Root { marker: String },
    #[error(
        "data directory {dir} is not writable ({source}): segl must write its spool and keystore \
         there; check that the file system is not mounted read-only and that the directory \
         belongs to the user segl runs as"
    )]
    NotWritable { dir: String, source: io::Error },
}

/// The appliance marker in force: [`APPLIANCE_MARKER`], or in debug builds the path in
/// `SEGL_TEST_APPLIANCE_MARKER` (tests make a box of a temporary directory).
fn marker() -> String {
    #[cfg(debug_assertions)]
    if let Ok(p) = std::env::var("SEGL_TEST_APPLIANCE_MARKER") {
        return p;
    }
    APPLIANCE_MARKER.to_string()
}

/// Whether this runs on a box (the appliance marker exists): settings then go to `/data` and
/// root helpers apply them (`appliance`).
pub fn on_appliance() -> bool {
    Path::new(&marker()).exists()
}

/// Refuses root on an appliance unless `allow_root` (`--allow-root`); root elsewhere and root
/// with the override are logged as warnings, since a compromised session would own the box.
pub fn check_user(allow_root: bool) -> Result<(), StartupError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let marker = marker();
    let on_box = Path::new(&marker).exists();
    if on_box && !allow_root {
        return Err(StartupError::Root { marker });
    }
    if on_box {
        tracing::warn!("running as root on an appliance because --allow-root was given");
    }
    Ok(())
}

/// Proves that `dir` takes a new file (created, synced, removed): a read-only mount or a
/// directory owned by someone else fails here, at start, with the reason.
pub fn check_writable(dir: &Path) -> Result<(), StartupError> {
    let probe = dir.join(".segl-write-check");
    let res =
        crate::durable::write_synced(&probe, b"ok").and_then(|()| std::fs::remove_file(&probe));
    res.map_err(|source| StartupError::NotWritable {
        dir: dir.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writable_dir_passes_and_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        check_writable(d.path()).unwrap();
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_missing_dir_names_itself() {
        let e = check_writable(Path::new("/nonexistent/segl")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/segl is not writable"));
    }
}
