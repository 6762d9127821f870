//! The keystore's error type: one typed variant per failure a caller may want to handle,
//! each with a sentence an administrator can act on. Never carries key material.

use thiserror::Error;

/// Result alias for keystore operations.
pub type Result<T> = core::result::Result<T, KeystoreError>;

/// What went wrong in the keystore.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// The backing store (sled) failed; the operation did not take effect.
    #[error("keystore storage: {0}")]
    Storage(String),
    /// A file of the keystore directory (device key, passphrase) cannot be used.
    #[error("keystore file {path}: {message}")]
    File { path: String, message: String },
    /// The PKCS#12 password (or backup passphrase) is wrong: the MAC or decryption failed.
    #[error("wrong password: {0}")]
    WrongPassword(String),
    /// The input is not a PKCS#12 / PEM / certificate / CRL we can read.
    #[error("cannot read input: {0}")]
    BadInput(String),
    /// The input uses an algorithm we do not implement.
    #[error("unsupported algorithm: {0}")]
    Unsupported(String),
    /// An object named by id or address does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The operation conflicts with what is stored (duplicate, wrong state).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Encrypting or decrypting a stored private key failed (wrong device key or passphrase,
    /// or damaged record).
    #[error("private key at rest cannot be decrypted: {0}")]
    Sealed(String),
    /// Making a key, certificate or CSR failed.
    #[error("cannot create key or certificate: {0}")]
    Issue(String),
    /// Fetching a CRL over the network failed.
    #[error("CRL fetch from {url}: {message}")]
    Fetch { url: String, message: String },
}

impl From<sled::Error> for KeystoreError {
    fn from(e: sled::Error) -> Self {
        KeystoreError::Storage(e.to_string())
    }
}

impl From<crate::smime::SmimeError> for KeystoreError {
    fn from(e: crate::smime::SmimeError) -> Self {
        KeystoreError::BadInput(e.to_string())
    }
}

impl From<rcgen::Error> for KeystoreError {
    fn from(e: rcgen::Error) -> Self {
        KeystoreError::Issue(e.to_string())
    }
}

impl From<serde_json::Error> for KeystoreError {
    fn from(e: serde_json::Error) -> Self {
        KeystoreError::Storage(format!("record encoding: {e}"))
    }
}
