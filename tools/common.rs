//! What both vendor tools (`segl-license`, `segl-bundle`) share: reading inputs, writing new
//! output files with a mode, making an Ed25519 key pair, and the raw key of a PEM public key.
//! Each binary includes this file (`#[path = "../common.rs"] mod common;`), so it stays out of
//! the firmware library. Each tool uses a subset.
#![allow(dead_code)]

use std::path::Path;

use segl::license::vendor::VendorKey;
use segl::license::LicenseError;

#[derive(Debug, thiserror::Error)]
pub enum CommonError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}")]
    Key(#[from] LicenseError),
}

fn io_at(p: &Path) -> impl FnOnce(std::io::Error) -> CommonError + '_ {
    move |e| CommonError::Io(p.display().to_string(), e)
}

/// The bytes of an input file.
pub fn read(p: &Path) -> Result<Vec<u8>, CommonError> {
    std::fs::read(p).map_err(io_at(p))
}

/// The text of an input file (UTF-8).
pub fn read_text(p: &Path) -> Result<String, CommonError> {
    std::fs::read_to_string(p).map_err(io_at(p))
}

/// Writes `data` to a new file (never over an existing one) with `mode`, synced.
pub fn write_new(p: &Path, data: &[u8], mode: u32) -> Result<(), CommonError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(p)
        .map_err(io_at(p))?;
    f.write_all(data).map_err(io_at(p))?;
    f.sync_all().map_err(io_at(p))
}

/// A new key pair in `out`: `<name>.key` (PKCS#8 PEM, 0600, to be kept offline) and
/// `<name>.pub` (0644). Existing files are never overwritten.
pub fn keygen(out: &Path, name: &str) -> Result<VendorKey, CommonError> {
    std::fs::create_dir_all(out).map_err(io_at(out))?;
    let k = VendorKey::generate()?;
    write_new(
        &out.join(format!("{name}.key")),
        k.private_pem()?.as_bytes(),
        0o600,
    )?;
    write_new(
        &out.join(format!("{name}.pub")),
        k.public_pem().as_bytes(),
        0o644,
    )?;
    Ok(k)
}

/// The raw 32-byte key of a PEM `PUBLIC KEY` (Ed25519 SubjectPublicKeyInfo: 12 bytes of
/// algorithm header, then the key); `None` for anything else.
pub fn ed25519_public_of_pem(text: &str) -> Option<[u8; 32]> {
    use base64::Engine;
    let b64: String = text
        .lines()
        .skip_while(|l| l.trim() != "-----BEGIN PUBLIC KEY-----")
        .skip(1)
        .take_while(|l| l.trim() != "-----END PUBLIC KEY-----")
        .map(str::trim)
        .collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    if der.len() != 44 {
        return None;
    }
    <[u8; 32]>::try_from(&der[12..]).ok()
}
