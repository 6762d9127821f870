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
    Storage(#[from] sled::Error),
    /// The backing store cannot be opened in this directory.
    #[error("keystore storage: {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: sled::Error,
    },
    /// A stored record does not decode (damaged, or written by an incompatible version).
    #[error("keystore storage: record encoding: {0}")]
    Record(#[from] serde_json::Error),
    /// A stored value is damaged in another way.
    #[error("keystore storage: {0}")]
    Damaged(String),
    /// A file of the keystore directory (device key, passphrase) cannot be used.
    #[error("keystore file {path}: {message}")]
    File { path: String, message: String },
    /// The PKCS#12 password (or backup passphrase) is wrong: the MAC or decryption failed.
    #[error("wrong password: {0}")]
    WrongPassword(String),
    /// The input is not a PKCS#12 / PEM / certificate / CRL we can read.
    #[error("cannot read input: {0}")]
    BadInput(String),
    /// The input does not parse as S/MIME, CMS or a certificate (the engine says why).
    #[error("cannot read input: {0}")]
    Unreadable(#[from] crate::smime::SmimeError),
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
    /// The certificate generator refused.
    #[error("cannot create key or certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// Fetching a CRL over the network failed.
    #[error("CRL fetch from {url}: {message}")]
    Fetch { url: String, message: String },
}
