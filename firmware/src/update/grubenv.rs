//! GRUB's environment block (`grubenv`): the 1024-byte file GRUB reads with `load_env` and
//! rewrites in place with `save_env`. The boot slot choice lives there because GRUB itself must
//! read it before any Linux runs, and because GRUB's `save_env` clears the one-shot trial flag
//! before the trial kernel starts — which is what makes the fallback work without Linux.
//!
//! segl changes the block in place on the raw boot partition (it never moves: GRUB writes it
//! through its block list, so its position is fixed once the image is made), which needs no
//! mount and no root: `/init` gives the `segl` user the boot partition device.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// GRUB's header line; the block is padded with `#` to [`SIZE`].
pub const HEADER: &[u8] = b"# GRUB Environment Block\n";
pub const SIZE: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("no GRUB environment block on {0}")]
    NotFound(String),
    #[error("GRUB environment block: {0}")]
    Malformed(String),
    #[error("GRUB environment block on {0}: {1}")]
    Io(String, std::io::Error),
}

/// Parses a block into its variables.
pub fn parse(block: &[u8]) -> Result<BTreeMap<String, String>, EnvError> {
    if block.len() != SIZE || !block.starts_with(HEADER) {
        return Err(EnvError::Malformed("no header or not 1024 bytes".into()));
    }
    let mut vars = BTreeMap::new();
    for line in block[HEADER.len()..].split(|b| *b == b'\n') {
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let line = std::str::from_utf8(line)
            .map_err(|_| EnvError::Malformed("a line is not UTF-8".into()))?;
        if let Some((k, v)) = line.split_once('=') {
            vars.insert(k.to_string(), v.to_string());
        }
    }
    Ok(vars)
}

/// Writes `vars` as a block. Only plain values (no newline, backslash or `#` at the start of
/// a name) are written; GRUB would need escapes for anything else.
pub fn serialize(vars: &BTreeMap<String, String>) -> Result<[u8; SIZE], EnvError> {
    let mut out = [b'#'; SIZE];
    let mut text = HEADER.to_vec();
    for (k, v) in vars {
        let bad_key = k.is_empty() || k.starts_with('#') || k.contains(['\n', '\\', '=']);
        if bad_key || v.contains(['\n', '\\']) {
            return Err(EnvError::Malformed(format!("cannot store {k:?}")));
        }
        text.extend_from_slice(format!("{k}={v}\n").as_bytes());
    }
    if text.len() > SIZE {
        return Err(EnvError::Malformed(
            "more than 1024 bytes of variables".into(),
        ));
    }
    out[..text.len()].copy_from_slice(&text);
    Ok(out)
}

/// The byte offset of the block on `dev` (a partition holding the file `grubenv`): the first
/// 512-byte-aligned sector that starts with the header and parses.
pub fn locate(dev: &Path) -> Result<u64, EnvError> {
    let io = |e| EnvError::Io(dev.display().to_string(), e);
    let mut f = std::fs::File::open(dev).map_err(io)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut base = 0u64;
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            let n = f.read(&mut buf[filled..]).map_err(io)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        // Only whole blocks; the buffer size is a multiple of 512 and of 1024.
        let mut off = 0;
        while off + SIZE <= filled {
            if buf[off..].starts_with(HEADER) && parse(&buf[off..off + SIZE]).is_ok() {
                return Ok(base + off as u64);
            }
            off += 512;
        }
        if filled < buf.len() {
            return Err(EnvError::NotFound(dev.display().to_string()));
        }
        base += filled as u64;
    }
}

/// The block at `offset` of `dev`.
pub fn read_at(dev: &Path, offset: u64) -> Result<BTreeMap<String, String>, EnvError> {
    let io = |e| EnvError::Io(dev.display().to_string(), e);
    let mut f = std::fs::File::open(dev).map_err(io)?;
    f.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut b = [0u8; SIZE];
    f.read_exact(&mut b).map_err(io)?;
    parse(&b)
}

/// Replaces the block at `offset` of `dev` with `vars`, synchronously (one 1024-byte write
/// within two sectors; GRUB writes it the same way).
pub fn write_at(dev: &Path, offset: u64, vars: &BTreeMap<String, String>) -> Result<(), EnvError> {
    let io = |e| EnvError::Io(dev.display().to_string(), e);
    let block = serialize(vars)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(dev)
        .map_err(io)?;
    f.seek(SeekFrom::Start(offset)).map_err(io)?;
    f.write_all(&block).map_err(io)?;
    f.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_locate() {
        let mut vars = BTreeMap::new();
        vars.insert("slot_good".to_string(), "a".to_string());
        vars.insert("slot_try".to_string(), String::new());
        let block = serialize(&vars).expect("serialize");
        assert_eq!(parse(&block).expect("parse"), vars);
        // Placed at a sector inside a larger "partition".
        let dir = tempfile::tempdir().expect("tmp");
        let dev = dir.path().join("boot.img");
        let mut img = vec![0u8; 3 << 20];
        let at = (1 << 20) + 4096;
        img[at..at + SIZE].copy_from_slice(&block);
        std::fs::write(&dev, &img).expect("write");
        assert_eq!(locate(&dev).expect("locate"), at as u64);
        vars.insert("slot_try".to_string(), "b".to_string());
        write_at(&dev, at as u64, &vars).expect("write_at");
        assert_eq!(read_at(&dev, at as u64).expect("read"), vars);
        assert_eq!(std::fs::metadata(&dev).expect("meta").len(), 3 << 20);
    }

    #[test]
    fn grub_editenv_format_is_read() {
        // What `grub-editenv grubenv create; grub-editenv grubenv set slot_good=b` writes.
        let mut b = [b'#'; SIZE];
        let t = b"# GRUB Environment Block\nslot_good=b\n";
        b[..t.len()].copy_from_slice(t);
        assert_eq!(parse(&b).expect("parse")["slot_good"], "b");
        assert!(locate(Path::new("/nonexistent")).is_err());
    }

    #[test]
    fn unsafe_values_are_refused() {
        let mut vars = BTreeMap::new();
        vars.insert("a".to_string(), "x\ny".to_string());
        assert!(serialize(&vars).is_err());
        let mut vars = BTreeMap::new();
        vars.insert("a".to_string(), "x".repeat(2000));
        assert!(serialize(&vars).is_err());
    }
}
