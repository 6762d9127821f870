//! The API token: 32 random bytes (hex) in `<data_dir>/ctl.token`, mode 0600, made on first
//! start; requests carry it as `Authorization: Bearer …`, compared in constant time by
//! [`super::guard::api`].

use std::path::Path;

/// Read the API token, making one (32 random bytes, hex, mode 0600) on first start.
pub fn ensure_token(data_dir: &Path) -> std::io::Result<String> {
    let p = data_dir.join("ctl.token");
    if let Ok(t) = std::fs::read_to_string(&p) {
        let t = t.trim().to_string();
        if t.len() >= 32 {
            crate::durable::set_private(&p);
            return Ok(t);
        }
    }
    let bytes: [u8; 32] = rand::random();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    crate::durable::write_private(&p, format!("{token}\n").as_bytes())?;
    Ok(token)
}
