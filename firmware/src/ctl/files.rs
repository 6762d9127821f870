//! Local files `segl ctl` reads and sends (the API never reads the admin's files itself).

use std::path::Path;

use base64::Engine;

use super::CtlError;

/// The bytes of `p`.
pub(super) fn read(p: &Path) -> Result<Vec<u8>, CtlError> {
    std::fs::read(p).map_err(|e| CtlError::Usage(format!("cannot read {}: {e}", p.display())))
}

/// The bytes of `p`, base64.
pub(super) fn b64(p: &Path) -> Result<String, CtlError> {
    Ok(base64::engine::general_purpose::STANDARD.encode(read(p)?))
}

/// A password or passphrase file: its text without the final line break.
pub(super) fn secret(p: &Path) -> Result<String, CtlError> {
    let s = String::from_utf8(read(p)?)
        .map_err(|_| CtlError::Usage(format!("{} is not text", p.display())))?;
    Ok(s.trim_end_matches(['\r', '\n']).to_string())
}
