//! Encryption of private keys at rest, and of backups.
//!
//! Every private key is stored as AES-256-GCM ciphertext under a 256-bit key-encryption key
//! (KEK). The KEK is either the *device key* (32 random bytes in `<data_dir>/keystore/device.key`,
//! mode 0600), or derived with Argon2id from an administrator passphrase
//! (`keystore.passphrase_file`), so a stolen disk image without the passphrase reveals nothing.
//! The record id is the GCM associated data: a sealed key cannot be moved to another record.
//! AES-GCM comes from aws-lc-rs (already our constant-time provider for RSA).

use std::path::Path;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::error::{KeystoreError, Result};

const VERSION: u8 = 1;

/// A 256-bit key that seals and opens records.
pub struct Kek {
    key: LessSafeKey,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(..)")
    }
}

fn rand_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| KeystoreError::Sealed("random generator failed".into()))?;
    Ok(b)
}

impl Kek {
    /// Wraps 32 raw key bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Kek> {
        let k = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| KeystoreError::Sealed("key must be 32 bytes".into()))?;
        Ok(Kek {
            key: LessSafeKey::new(k),
        })
    }

    /// Derives a key from a passphrase with Argon2id (memory-hard, so guessing is slow).
    pub fn from_passphrase(passphrase: &[u8], salt: &[u8]) -> Result<Kek> {
        let mut out = Zeroizing::new([0u8; 32]);
        argon2::Argon2::default()
            .hash_password_into(passphrase, salt, out.as_mut())
            .map_err(|e| KeystoreError::Sealed(format!("passphrase derivation: {e}")))?;
        Kek::from_bytes(out.as_ref())
    }

    /// Encrypts `plain`, binding it to `aad`: `version || nonce || ciphertext || tag`.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
        let nonce: [u8; NONCE_LEN] = rand_bytes()?;
        let mut buf = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| KeystoreError::Sealed("encryption failed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Decrypts what [`Kek::seal`] made with the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != VERSION {
            return Err(KeystoreError::Sealed(
                "record too short or unknown version".into(),
            ));
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[1..1 + NONCE_LEN]);
        let mut buf = Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
        let n = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                buf.as_mut_slice(),
            )
            .map_err(|_| {
                KeystoreError::Sealed(
                    "authentication failed (wrong device key or passphrase)".into(),
                )
            })?
            .len();
        buf.truncate(n);
        Ok(buf)
    }
}

/// Random bytes for salts and ids.
pub fn random<const N: usize>() -> Result<[u8; N]> {
    rand_bytes()
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> KeystoreError {
    KeystoreError::File {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Writes a small secret file with mode 0600 (tmp, fsync, rename), never world-readable.
pub fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    crate::durable::write_private(path, data).map_err(|e| file_err(path, e))
}

/// The KEK for the keystore in `dir`: from the passphrase file when one is configured,
/// otherwise the device key (made on first use).
pub fn load_kek(dir: &Path, passphrase_file: &str) -> Result<Kek> {
    if !passphrase_file.is_empty() {
        let pf = Path::new(passphrase_file);
        let pass = Zeroizing::new(std::fs::read(pf).map_err(|e| file_err(pf, e))?);
        let pass = trim_newline(&pass);
        if pass.is_empty() {
            return Err(file_err(pf, "passphrase file is empty"));
        }
        let salt_path = dir.join("passphrase.salt");
        let salt = match std::fs::read(&salt_path) {
            Ok(s) if s.len() == 16 => s,
            Ok(_) => return Err(file_err(&salt_path, "damaged (must be 16 bytes)")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let s: [u8; 16] = rand_bytes()?;
                write_private(&salt_path, &s)?;
                s.to_vec()
            }
            Err(e) => return Err(file_err(&salt_path, e)),
        };
        return Kek::from_passphrase(pass, &salt);
    }
    let path = dir.join("device.key");
    match std::fs::read(&path) {
        Ok(k) if k.len() == 32 => {
            let k = Zeroizing::new(k);
            crate::durable::set_private(&path);
            Kek::from_bytes(&k)
        }
        Ok(_) => Err(file_err(&path, "damaged (must be 32 bytes)")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let k = Zeroizing::new(rand_bytes::<32>()?);
            write_private(&path, k.as_ref())?;
            Kek::from_bytes(k.as_ref())
        }
        Err(e) => Err(file_err(&path, e)),
    }
}

/// A passphrase as read from a file, without its final line break.
pub fn trim_newline(b: &[u8]) -> &[u8] {
    let mut b = b;
    while let Some((last, rest)) = b.split_last() {
        if *last == b'\n' || *last == b'\r' {
            b = rest;
        } else {
            break;
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_aad_binding() {
        let k = Kek::from_bytes(&[7u8; 32]).unwrap();
        let s = k.seal(b"id1", b"secret").unwrap();
        assert_eq!(k.open(b"id1", &s).unwrap().as_slice(), b"secret");
        assert!(k.open(b"id2", &s).is_err());
        let other = Kek::from_bytes(&[8u8; 32]).unwrap();
        assert!(other.open(b"id1", &s).is_err());
    }
}
